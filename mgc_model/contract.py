"""The contract every model of ``mgc tag --model`` keeps: ``ModelInfo`` (what a model is,
cheap to build, no weights) and ``GenreTagger`` (what a loaded model does).

This module imports no model, so pretrained networks, bundles and heads can all import it;
``mgc_model.registry`` resolves names and paths to models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mgc_model.frontend import FrontendConfig


class TrackHead(Protocol):
    """A head that scores a track's mean embedding (``mgc_model.head.LinearHead``)."""

    def probabilities(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    genres: tuple[str, ...]
    embedding_dim: int
    frontend: FrontendConfig  # the first front-end: one patch of it is one analysis window
    extra_frontends: tuple[FrontendConfig, ...] = ()  # more inputs over the same audio
    track_temperature: float | None = None  # mapping.sharpen after the mean over windows
    # the least top score right 9 times in 10 on music the model never learnt from, where a
    # library has too few tracks with genres to measure it: mgc's real-music check corpus for
    # the default model, the library's own tags held out by artist for a head (None: none)
    held_out_min_score: float | None = None
    # a head bundle's (``mgc train --from-tags``): the pretrained model whose embedding the
    # head reads, and the head, which scores the track's mean embedding
    base: str | None = None
    track_head: TrackHead | None = field(default=None, compare=False, repr=False)
    # the albums (``album_key``) such a head was fitted on: its scores there were fitted to
    # their own genres, so they cannot say how far to trust it (``mgc_model.calibration``)
    fitted_on: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # what else the model scores per window (``mgc_model.descriptors.NAMES``: styles, moods,
    # voice, instruments), after the genres when ``predict(..., descriptors=True)``
    descriptors: tuple[str, ...] = ()

    @property
    def frontends(self) -> tuple[FrontendConfig, ...]:
        """Every front-end the model's networks need, computed in one pass over the audio."""
        return (self.frontend, *self.extra_frontends)

    @property
    def keeps_spelling(self) -> bool:
        """Genres spelt as a library spells them (a head learnt from its tags): written into
        files as they are, not title-cased."""
        return self.track_head is not None

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
