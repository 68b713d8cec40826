"""Nearest tracks by cosine similarity of their embeddings (seed 004's similarity use).

The whole library's embeddings sit in one L2-normalised float32 matrix; a query is one
matrix-vector product and an ``argpartition``: for 100,000 tracks of 400 values (160 MB) that
is a few tens of milliseconds, with no index to build or keep in step with the tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


class UnknownTrack(KeyError):
    """The path is not among the tagged tracks; the message says what to give instead."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Neighbour:
    path: str
    genre: str
    similarity: float


def embedding_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A Parquet ``list<float32>`` column of equal-length vectors as an (n, dim) float32 array,
    without a Python loop over the rows."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.zeros((0, 0), np.float32)
    if array.null_count:
        raise ValueError("some tracks have no embedding")
    lengths = array.value_lengths().to_numpy(zero_copy_only=False)
    if lengths.min() != lengths.max():
        raise ValueError(f"embeddings differ in length ({lengths.min()} to {lengths.max()}): "
                         "the tags mix models; tag the library again with one model")
    values = array.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return values.reshape(len(array), int(lengths[0]))


class SimilarityIndex:
    """Tracks (path, genre) and their normalised embeddings, queried by path."""

    def __init__(self, paths: Sequence[str], genres: Sequence[str],
                 embeddings: np.ndarray) -> None:
        if not len(paths) == len(genres) == len(embeddings):
            raise ValueError("paths, genres and embeddings must have one entry per track")
        self.paths = list(paths)
        self.genres = list(genres)
        self._row = {path: i for i, path in enumerate(self.paths)}
        matrix = np.asarray(embeddings, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True) if matrix.size else None
        # a zero embedding is similar to nothing (similarity 0) rather than a division by zero
        self._unit = matrix / np.where(norms > 0, norms, 1) if norms is not None else matrix

    @classmethod
    def from_table(cls, table: pa.Table) -> SimilarityIndex:
        """From a tags table (``OUT/tags``): its ``path``, ``genre`` and ``embedding``."""
        return cls(table.column("path").to_pylist(), table.column("genre").to_pylist(),
                   embedding_matrix(table.column("embedding")))

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, path: str) -> bool:
        return path in self._row

    def neighbours(self, path: str, k: int = 10) -> list[Neighbour]:
        """The ``k`` tracks most similar to ``path`` (itself excluded), most similar first."""
        if k <= 0:
            raise ValueError("k must be a positive whole number")
        row = self._row.get(path)
        if row is None:
            raise UnknownTrack(f"{path!r} is not among the {len(self)} tagged tracks; give a "
                               "path exactly as the tags' `path` column spells it")
        similarity = self._unit @ self._unit[row]
        similarity[row] = -np.inf  # never one's own neighbour
        k = min(k, len(self) - 1)
        if k <= 0:
            return []
        top = np.argpartition(-similarity, k - 1)[:k]
        top = top[np.argsort(-similarity[top], kind="stable")]
        return [Neighbour(self.paths[i], self.genres[i], float(similarity[i])) for i in top]
