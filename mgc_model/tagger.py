"""What ``mgc tag --model`` names: a model that turns log-mel patches into genre scores and an
embedding, together with the front-end it expects and the genres it scores.

Names resolve to pretrained models shipped by installed packages (nothing is downloaded); a
path resolves to a model bundle written by ``mgc train`` (``mgc_model.bundle``). ``describe``
is cheap (no weights) so a pipeline can build its output schema at construction time; ``load``
runs on the workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from mgc_model.frontend import FrontendConfig

if TYPE_CHECKING:
    from mgc_model.head import LinearHead

DEFAULT_MODEL = "musicnn-yamnet"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    genres: tuple[str, ...]
    embedding_dim: int
    frontend: FrontendConfig  # the first front-end: one patch of it is one analysis window
    extra_frontends: tuple[FrontendConfig, ...] = ()  # more inputs over the same audio
    track_temperature: float | None = None  # mapping.sharpen after the mean over windows
    # a head bundle's (``mgc train --from-tags``): the pretrained model whose embedding the
    # head reads, and the head, which scores the track's mean embedding
    base: str | None = None
    track_head: LinearHead | None = field(default=None, compare=False, repr=False)

    @property
    def frontends(self) -> tuple[FrontendConfig, ...]:
        """Every front-end the model's networks need, computed in one pass over the audio."""
        return (self.frontend, *self.extra_frontends)

    @property
    def keeps_spelling(self) -> bool:
        """Genres spelt as a library spells them (a head learnt from its tags): written into
        files as they are, not title-cased."""
        return self.track_head is not None

    def track_scores(self, scores: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """A track's genre scores from the means over its windows of the scores and the
        embedding: the head on the mean embedding, or the mean scores sharpened, or as is."""
        if self.track_head is not None:
            return self.track_head.probabilities(embedding)
        if self.track_temperature is not None:
            from mgc_model.mapping import sharpen

            return sharpen(scores, self.track_temperature)
        return scores

    @property
    def ref(self) -> str:
        """``name@version``: what output rows and file tags record as provenance."""
        return f"{self.name}@{self.version}"


class GenreTagger(Protocol):
    info: ModelInfo

    def predict(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        """n analysis windows, one float32 array per front-end (``info.frontends``): the first
        (n, frames, mels), each further one (n, patches per window, frames, mels) -> genre
        scores (n, len(genres)), embeddings (n, dim)."""
        ...


class UnknownModel(ValueError):
    pass


def _pretrained() -> dict[str, ModelInfo]:
    from mgc_model import pretrained

    return {name: info for name, (info, _) in pretrained.MODELS.items()}


def describe(ref: str) -> ModelInfo:
    """Metadata of a model name or bundle folder, without loading weights."""
    models = _pretrained()
    if ref in models:
        return models[ref]
    from mgc_model import bundle

    if bundle.looks_like_path(ref):
        return bundle.describe_bundle(ref)
    raise UnknownModel(f"unknown model {ref!r}; available: {', '.join(sorted(models))}, or "
                       "the folder of a model bundle written by `mgc train`")


def load(ref: str) -> GenreTagger:
    """The ready-to-run model; call once per worker process."""
    info = describe(ref)
    if info.base is not None:
        from mgc_model.head import HeadTagger

        return HeadTagger(info, load(info.base))
    if ref not in _pretrained():
        from mgc_model.bundle import BundleTagger

        return BundleTagger(ref)
    from mgc_model import pretrained

    return pretrained.MODELS[ref][1](info)
