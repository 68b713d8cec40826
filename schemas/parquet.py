"""Parquet schemas of a tag run's outputs: ``OUT/tags/`` and ``OUT/errors/``.

The genre label order of ``genre_scores`` travels in the schema metadata (``mgc.genres``), so
a reader never has to guess which score is which.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa

GENRES_METADATA_KEY = b"mgc.genres"
MODEL_METADATA_KEY = b"mgc.model"

STAGES = ("match", "decode", "frontend", "inference", "write")

GENRE_SCORE = pa.struct([("name", pa.string()), ("score", pa.float32())])


def tags_schema(genres: Sequence[str], model: str) -> pa.Schema:
    """One row per tagged track."""
    fields = [
        pa.field("path", pa.string(), nullable=False),
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("duration_s", pa.float64()),
        pa.field("sample_rate", pa.int32()),
        pa.field("channels", pa.int32()),
        pa.field("genre", pa.string()),
        pa.field("genre_score", pa.float32()),
        pa.field("genres", pa.list_(GENRE_SCORE)),
        pa.field("genre_scores", pa.list_(pa.float32())),
        pa.field("embedding", pa.list_(pa.float32())),
        pa.field("n_patches", pa.int32()),
        pa.field("model", pa.string()),
        pa.field("tagged_at", pa.timestamp("us", tz="UTC")),
    ]
    metadata = {
        GENRES_METADATA_KEY: json.dumps(list(genres)).encode(),
        MODEL_METADATA_KEY: model.encode(),
    }
    return pa.schema(fields, metadata=metadata)


ERRORS_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error", pa.string(), nullable=False),
        pa.field("message", pa.string()),
    ]
)


def genre_labels(schema: pa.Schema) -> list[str]:
    """The label order of ``genre_scores``, read back from a tags dataset's schema."""
    return json.loads(schema.metadata[GENRES_METADATA_KEY])
