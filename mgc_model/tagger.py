"""What ``mgc tag --model`` names: a model that turns log-mel patches into genre scores and an
embedding, together with the front-end it expects and the genres it scores.

Names resolve to pretrained models shipped by installed packages (nothing is downloaded); a
path resolves to a model bundle written by ``mgc train`` (``mgc_model.bundle``). ``describe``
is cheap (no weights) so a pipeline can build its output schema at construction time; ``load``
runs on the workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mgc_model.frontend import FrontendConfig

DEFAULT_MODEL = "musicnn"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    genres: tuple[str, ...]
    embedding_dim: int
    frontend: FrontendConfig

    @property
    def ref(self) -> str:
        """``name@version``: what output rows and file tags record as provenance."""
        return f"{self.name}@{self.version}"


class GenreTagger(Protocol):
    info: ModelInfo

    def predict(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, frames, mels) float32 -> genre scores (n, len(genres)), embeddings (n, dim)."""
        ...


class UnknownModel(ValueError):
    pass


def _pretrained() -> dict[str, ModelInfo]:
    from mgc_model import pretrained

    return {pretrained.MUSICNN_INFO.name: pretrained.MUSICNN_INFO}


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
    if ref not in _pretrained():
        from mgc_model.bundle import BundleTagger

        return BundleTagger(ref)
    from mgc_model import pretrained

    return pretrained.MusicnnGenreTagger(info)
