"""What ``mgc tag --model`` names, resolved: a pretrained model by name (an entry of
``mgc_model.pretrained.MODELS``, shipped by installed packages: nothing is downloaded), or the
folder of a bundle written by ``mgc train`` (``mgc_model.bundle``), a head bundle resolving its
base model here too.

``describe`` is cheap (no weights) so a pipeline can build its output schema at construction
time; ``load`` runs on the workers. The contract both return is ``mgc_model.contract``.
"""

from __future__ import annotations

from mgc_model import bundle, pretrained
from mgc_model.contract import GenreTagger, ModelInfo, UnknownModel
from mgc_model.head import HeadTagger

DEFAULT_MODEL = "musicnn-yamnet"


def describe(ref: str) -> ModelInfo:
    """Metadata of a model name or bundle folder, without loading weights."""
    if ref in pretrained.MODELS:
        return pretrained.MODELS[ref][0]
    if bundle.looks_like_path(ref):
        return bundle.describe_bundle(ref, describe_base=describe)
    raise UnknownModel(f"unknown model {ref!r}; available: {', '.join(sorted(pretrained.MODELS))}"
                       ", or the folder of a model bundle written by `mgc train`")


def load(ref: str) -> GenreTagger:
    """The ready-to-run model; call once per worker process."""
    info = describe(ref)
    if info.base is not None:
        return HeadTagger(info, load(info.base))
    if ref in pretrained.MODELS:
        return pretrained.MODELS[ref][1](info)
    return bundle.BundleTagger(ref)
