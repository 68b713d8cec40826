"""Beam RunInference over mgc models: batches of patches formed across tracks, one model per
worker process shared by its threads (RunInference's default model sharing)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from mgc_model import registry
from mgc_model.contract import GenreTagger

# On CPU, batches of 8 to 64 patches score at the same rate, but TensorFlow's peak memory grows
# with the batch (musicnn's front-end activations are ~20 MB per patch): 1.4 GB at 16, 3.2 GB
# at 64 (bench/).
DEFAULT_BATCH_SIZE = 16


Window = tuple[np.ndarray, ...]  # one input per front-end of the model


def stack_windows(batch: Sequence[Window]) -> tuple[np.ndarray, ...]:
    """Windows -> one batched array per front-end, as ``GenreTagger.predict`` takes them."""
    return tuple(np.stack(parts) for parts in zip(*batch, strict=True))


class GenreModelHandler(ModelHandler[Window, PredictionResult, GenreTagger]):
    """Loads an mgc model by reference (name or bundle) and scores batches of windows.

    The result's ``inference`` is ``(genre_scores, embedding)``; the patch itself is not carried
    on (``example`` is None), so nothing large travels to the aggregation.
    """

    def __init__(self, model_ref: str, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        super().__init__()
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.model_ref = model_ref
        self.batch_size = batch_size

    def load_model(self) -> GenreTagger:
        return registry.load(self.model_ref)

    def run_inference(self, batch: Sequence[Window], model: GenreTagger,
                      inference_args: dict[str, Any] | None = None) -> Iterable[PredictionResult]:
        inputs = stack_windows(batch)  # genre scores, then any descriptors the model has
        scores, embeddings = (model.predict(inputs, descriptors=True) if model.info.descriptors
                              else model.predict(inputs))
        if not (np.isfinite(scores).all() and np.isfinite(embeddings).all()):
            raise FloatingPointError("the model produced non-finite outputs")
        return [PredictionResult(None, (s, e)) for s, e in zip(scores, embeddings, strict=True)]

    def get_num_bytes(self, batch: Sequence[Window]) -> int:
        return sum(part.nbytes for window in batch for part in window)

    def batch_elements_kwargs(self) -> dict[str, Any]:
        # full batches keep the matmuls efficient; a bundle's leftovers still flush at its end
        return {"min_batch_size": self.batch_size, "max_batch_size": self.batch_size}

    def get_metrics_namespace(self) -> str:
        return "mgc"
