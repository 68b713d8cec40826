"""Parquet schemas: a tag run's ``OUT/tags/``, ``OUT/errors/`` and ``OUT/writes/``, and
``mgc undo``'s ``OUT/undo/``; an extracted dataset's ``DIR/tracks/`` (and ``DIR/errors/``).

The genre label order of ``genre_scores`` travels in the schema metadata (``mgc.genres``), so
a reader never has to guess which score is which.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa

from mgc_model.descriptors import KINDS

GENRES_METADATA_KEY = b"mgc.genres"
MODEL_METADATA_KEY = b"mgc.model"

# Bump when a tag row gains or changes a column, or is computed from other windows: an
# incremental run carries over only rows of its own version
# (``pipelines.graph.incremental.state_key``).
# 4: a capped track's windows are the middles of N equal parts, no longer first to last.
# 5: ``genre_from``; album and artist evidence decide the genre columns.
# 6: ``damaged_packets``: packets FFmpeg could not decode and skipped; ``styles``, ``moods``,
#    ``voice``, ``instruments`` (``mgc_model.descriptors``).
TAGS_VERSION = 6

STAGES = ("match", "decode", "frontend", "features", "inference", "write")

GENRE_SCORE = pa.struct([("name", pa.string()), ("score", pa.float32())])
# a style, mood, voice or instrument: a style's ``parent`` is its FMA genre (else null)
DESCRIPTOR = pa.struct([("name", pa.string()), ("score", pa.float32()),
                        ("parent", pa.string())])
DESCRIPTOR_KINDS = KINDS  # a column each: styles, moods, voice, instruments


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
        # the track's own scores, before its album and its artist's other albums joined them
        # (``pipelines.graph.evidence``): what an incremental run decides from again
        pa.field("track_genre_scores", pa.list_(pa.float32())),
        # where the genre came from: 'audio', 'audio+album', 'audio+album+artist'
        pa.field("genre_from", pa.string()),
        pa.field("embedding", pa.list_(pa.float32())),
        pa.field("n_patches", pa.int32()),
        # packets of a damaged file that did not decode and were skipped, as ffmpeg does
        pa.field("damaged_packets", pa.int32()),
        # what else the default model hears (mgc_model.descriptors); null for a model without
        *(pa.field(kind, pa.list_(DESCRIPTOR)) for kind in DESCRIPTOR_KINDS),
        pa.field("model", pa.string()),
        pa.field("tagged_at", pa.timestamp("us", tz="UTC")),
        # the file as it was read: an incremental run skips it while both are unchanged
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        # the file's own tags as it was read (``pipelines.files.tags``); null when absent
        pa.field("title", pa.string()),
        pa.field("artist", pa.string()),
        pa.field("album", pa.string()),
        pa.field("album_artist", pa.string()),
        pa.field("track_number", pa.int32()),
        pa.field("year", pa.int32()),
        pa.field("file_genres", pa.list_(pa.string())),
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

# One row per tagged file of a run with --write-tags (``OUT/writes/``): what was done to its
# genre tag. action: written, unchanged, would-write (dry run), skipped, failed. size and
# mtime_ns: the file after it (an incremental run knows a file it wrote is unchanged since;
# ``mgc undo`` only restores a file still as it was). size_before, tag_created and
# provenance_before (JSON): what undo needs to put the file back as it was (its padding; a tag
# mgc created is removed; an earlier run's MGC_ fields come back).
WRITES_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("policy", pa.string()),
        pa.field("genres_before", pa.list_(pa.string())),
        pa.field("genres_after", pa.list_(pa.string())),
        pa.field("model", pa.string()),
        pa.field("message", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("size_before", pa.int64()),
        pa.field("tag_created", pa.bool_()),
        pa.field("provenance_before", pa.string()),
    ]
)

# One row per file a ``mgc undo`` looked at (``OUT/undo/undo-<time>.parquet``): the files the
# run in OUT wrote. action: restored, would-restore (dry run), unchanged (already as before
# the run), changed-since (left alone), missing, failed. genres: restored (genres before the
# run); genres_found: what the file held when undo looked. size and mtime_ns: the file after
# undo (an incremental run knows a restored file is unchanged since).
UNDO_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("genres", pa.list_(pa.string())),
        pa.field("genres_found", pa.list_(pa.string())),
        pa.field("model", pa.string()),
        pa.field("message", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("run_id", pa.string()),
    ]
)


FEATURES_METADATA_KEY = b"mgc.features"


def tracks_schema(feature_names: Sequence[str]) -> pa.Schema:
    """One row per track of an extracted dataset (``DIR/tracks/``); ``labels`` are ids into
    the dataset's labels.json, ``features`` the handcrafted features named in the schema
    metadata (``mgc.features``)."""
    fields = [
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("labels", pa.list_(pa.int32())),
        pa.field("artist", pa.string()),
        pa.field("duration_s", pa.float64()),
        pa.field("n_patches", pa.int32()),
        pa.field("features", pa.list_(pa.float32())),
    ]
    metadata = {FEATURES_METADATA_KEY: json.dumps(list(feature_names)).encode()}
    return pa.schema(fields, metadata=metadata)


def feature_names(schema: pa.Schema) -> list[str]:
    """Names of the ``features`` values, read back from a tracks dataset's schema."""
    return json.loads(schema.metadata[FEATURES_METADATA_KEY])


def predictions_schema(labels: Sequence[str], model: str) -> pa.Schema:
    """One row per evaluated track (``REPORT/predictions.parquet`` of ``mgc evaluate``):
    true labels, the best-scored label and the per-track mean scores (order: ``mgc.genres``)."""
    fields = [
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("labels", pa.list_(pa.string())),
        pa.field("label_ids", pa.list_(pa.int32())),
        pa.field("predicted", pa.string()),
        pa.field("predicted_score", pa.float32()),
        pa.field("scores", pa.list_(pa.float32())),
        pa.field("n_patches", pa.int32()),
    ]
    metadata = {
        GENRES_METADATA_KEY: json.dumps(list(labels)).encode(),
        MODEL_METADATA_KEY: model.encode(),
    }
    return pa.schema(fields, metadata=metadata)


def genre_labels(schema: pa.Schema) -> list[str]:
    """The label order of ``genre_scores``, read back from a tags dataset's schema."""
    return json.loads(schema.metadata[GENRES_METADATA_KEY])
