"""What ``mgc tag --model`` names, resolved: a model by name (an entry of ``MODELS``: the
pretrained ones, whose networks installed packages ship, and ``fast``, distilled from the
default and shipped with mgc: nothing is downloaded), or the folder of a bundle written by
``mgc train`` (``mgc_model.bundle``), a head bundle resolving its base model here too.

``describe`` is cheap (no weights) so a pipeline can build its output schema at construction
time; ``load`` runs on the workers. The contract both return is ``mgc_model.contract``.
"""

from __future__ import annotations

import difflib

from mgc_model import bundle, pretrained, student
from mgc_model.contract import GenreTagger, ModelInfo, UnknownModel
from mgc_model.head import HeadTagger

DEFAULT_MODEL = "musicnn-yamnet"
MODELS = {
    pretrained.DEFAULT_INFO.name: (pretrained.DEFAULT_INFO, pretrained.MusicnnYamnetTagger),
    pretrained.MUSICNN_INFO.name: (pretrained.MUSICNN_INFO, pretrained.MusicnnGenreTagger),
    student.FAST_INFO.name: (student.FAST_INFO, student.StudentTagger),
}


def describe(ref: str) -> ModelInfo:
    """Metadata of a model name or bundle folder, without loading weights."""
    if ref in MODELS:
        return MODELS[ref][0]
    if bundle.looks_like_path(ref):
        return bundle.describe_bundle(ref, describe_base=describe)
    close = difflib.get_close_matches(ref, MODELS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UnknownModel(f"unknown model {ref!r}{hint}; available: {', '.join(sorted(MODELS))}"
                       ", or the folder of a model bundle written by `mgc train`")


def load(ref: str) -> GenreTagger:
    """The ready-to-run model; call once per worker process."""
    info = describe(ref)
    if info.base is not None:
        return HeadTagger(info, load(info.base))
    if ref in MODELS:
        return MODELS[ref][1](info)
    return bundle.BundleTagger(ref)
