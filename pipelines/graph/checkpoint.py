"""Runs that survive being killed: the tag job commits its costly work as it goes, and the
same command run again resumes from it.

While a run decodes and scores, ``Commit`` steps write what they receive into
``OUT/.checkpoint-<state key>/`` (the key of ``pipelines.graph.incremental.state_key``: the
model and every option that changes a row, so a run with other options never reads it):

- ``patches/``: each window's model outputs, ``(path, index, scores, embedding)``;
- ``tracks/``: each decoded file's ``Track`` (its duration, stat, signature, own tags);
- ``writes/``: each genre write-back outcome (``mgc undo`` needs those of a killed run too).

Rows are buffered and written as one Parquet shard every ``COMMIT_SECONDS`` (or
``COMMIT_ROWS`` rows; writes every ``WRITE_COMMIT_SECONDS``) and at the end of each bundle,
under a temporary name then renamed, so a shard is whole or absent; a run killed at any moment
loses about the last half minute. (A file written in the last second before a kill, its
record lost, is decoded again and planned from what it now holds.)

The next run with the same key (with or without ``--incremental``) reads those shards inside
the pipeline (``SplitByCheckpoint``: one CoGroupByKey by path, as the incremental split):
a file is *kept* when its ``Track`` is there with every one of its windows' outputs and the
file is as it was then (size and modification time, or as its committed write left it).
Kept files skip decoding and inference: their outputs and ``Track`` join the fresh ones
before the per-track mean, so the rest of the graph runs unchanged and the output is an
uninterrupted run's. A retried bundle (Dataflow) may have written a shard twice: rows are
deduplicated by (path, window index) and by path. Files that failed are tried again.

A published run removes every checkpoint of its ``OUT``; a run that fails, is killed or is
stopped with Ctrl-C keeps its own, for the next run.
"""

from __future__ import annotations

import os
import pickle
import posixpath
import time
import uuid
from collections.abc import Iterator
from typing import NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue
from fsspec.core import url_to_fs

from pipelines.audio.matching import normalise
from pipelines.graph.incremental import ReadShard, Signature, signature_or_none
from schemas.parquet import WRITES_SCHEMA

PREFIX = ".checkpoint-"
PATCHES, TRACKS, WRITES = "patches", "tracks", "writes"
KEPT = "kept"
# A shard at least this often while rows arrive, and at most this many rows in memory.
# MGC_COMMIT_SECONDS overrides the interval (tests commit every second).
COMMIT_SECONDS = 30.0
COMMIT_ROWS = 4096
# A genre write changes a user's file: its record (what undo needs) is committed within a
# second, not half a minute.
WRITE_COMMIT_SECONDS = 1.0

PATCHES_SCHEMA = pa.schema([
    pa.field("path", pa.string(), nullable=False),
    pa.field("index", pa.int32(), nullable=False),
    pa.field("scores", pa.list_(pa.float64())),  # float64 holds float32 outputs exactly
    pa.field("embedding", pa.list_(pa.float64())),
])
TRACKS_SCHEMA = pa.schema([
    pa.field("path", pa.string(), nullable=False),
    pa.field("n_patches", pa.int32(), nullable=False),
    pa.field("size", pa.int64()),
    pa.field("mtime_ns", pa.int64()),
    pa.field("track", pa.binary(), nullable=False),  # the pickled Track
])
SCHEMAS = {PATCHES: PATCHES_SCHEMA, TRACKS: TRACKS_SCHEMA, WRITES: WRITES_SCHEMA}


def folder(out: str, key: str) -> str:
    """The checkpoint of runs with state key ``key`` into ``out``."""
    return posixpath.join(normalise(out), PREFIX + key)


def commit_seconds() -> float:
    return float(os.environ.get("MGC_COMMIT_SECONDS", COMMIT_SECONDS))


class Checkpoint(NamedTuple):
    """The shards of a checkpoint found at launch (a run reads only those, never the ones it
    writes itself)."""

    folder: str
    patches: tuple[str, ...]
    tracks: tuple[str, ...]
    writes: tuple[str, ...]


def find(out: str, key: str) -> Checkpoint | None:
    """The checkpoint a run with ``key`` into ``out`` resumes from; None when it has no
    decoded file committed."""
    where = folder(out, key)
    fs, root = url_to_fs(where)

    def shards(name: str) -> tuple[str, ...]:
        found = sorted(fs.glob(posixpath.join(root, name, "*.parquet")))
        return tuple(fs.unstrip_protocol(f) if "://" in where else f for f in found)

    found = Checkpoint(where, shards(PATCHES), shards(TRACKS), shards(WRITES))
    return found if found.tracks else None


def committed_files(where: str) -> int:
    """How many files a checkpoint holds whole (their Track and every window's outputs): what
    the next run keeps if they are unchanged."""
    fs, root = url_to_fs(where)

    def read(name: str, columns: list[str]) -> list[dict]:
        rows: list[dict] = []
        for shard in sorted(fs.glob(posixpath.join(root, name, "*.parquet"))):
            try:
                rows += pq.read_table(shard, columns=columns, filesystem=fs).to_pylist()
            except Exception:  # noqa: S112  (a shard half-written by hand: not committed)
                continue
        return rows

    windows: dict[str, set[int]] = {}
    for row in read(PATCHES, ["path", "index"]):
        windows.setdefault(row["path"], set()).add(row["index"])
    n_patches = {row["path"]: row["n_patches"] for row in read(TRACKS, ["path", "n_patches"])}
    return sum(len(windows.get(path, ())) == n for path, n in n_patches.items())


def discard_all(out: str) -> None:
    """Remove every checkpoint in ``out`` (a published run's output supersedes them)."""
    fs, root = url_to_fs(normalise(out))
    for found in fs.glob(posixpath.join(root, PREFIX + "*")):
        fs.rm(found, recursive=True)


def write_shard(where: str, name: str, rows: list[dict]) -> str:
    """``rows`` as one Parquet shard of ``where/name/``, written under a temporary name and
    renamed, so that a reader never sees half a shard."""
    fs, root = url_to_fs(where)
    target = posixpath.join(root, name)
    fs.makedirs(target, exist_ok=True)
    shard = f"{uuid.uuid4().hex}.parquet"
    tmp = posixpath.join(target, f"{shard}.tmp")  # not a *.parquet a reader would take
    table = pa.Table.from_pylist(rows, schema=SCHEMAS[name])
    with fs.open(tmp, "wb") as f:
        pq.write_table(table, f)
    fs.mv(tmp, posixpath.join(target, shard))
    return shard


class Commit(beam.DoFn):
    """Rows of one kind (``patches``, ``tracks``, ``writes``) -> shards of the checkpoint,
    written every ``seconds`` while rows arrive, every ``COMMIT_ROWS`` rows and at the end of
    the bundle. Outputs nothing."""

    def __init__(self, where: str, name: str, seconds: float | None = None) -> None:
        self.where = where
        self.name = name
        if seconds is None:
            seconds = commit_seconds()
            if name == WRITES:
                seconds = min(seconds, WRITE_COMMIT_SECONDS)
        self.seconds = seconds
        self.committed = Metrics.counter("mgc", f"checkpoint_{name}")

    def setup(self) -> None:
        self.start_bundle()  # for a runner that calls no start_bundle

    def start_bundle(self) -> None:
        self._rows: list[dict] = []
        self._since = time.monotonic()

    def process(self, element) -> None:
        self._rows.append(as_row(self.name, element))
        if (len(self._rows) >= COMMIT_ROWS
                or time.monotonic() - self._since >= self.seconds):
            self._flush()

    def finish_bundle(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self._rows:
            write_shard(self.where, self.name, self._rows)
            self.committed.inc(len(self._rows))
        self._rows = []
        self._since = time.monotonic()


def as_row(name: str, element) -> dict:
    """An element of the graph as the checkpoint's row: ``((path, index), (scores,
    embedding))``, ``(path, Track)``, or a write-back row."""
    if name == PATCHES:
        (path, index), (scores, embedding) = element
        return {"path": path, "index": index,
                "scores": np.asarray(scores, dtype=np.float64).ravel().tolist(),
                "embedding": np.asarray(embedding, dtype=np.float64).ravel().tolist()}
    if name == TRACKS:
        path, track = element
        signature = track.signature
        return {"path": path, "n_patches": track.n_patches,
                "size": signature.size if signature else None,
                "mtime_ns": signature.mtime_ns if signature else None,
                "track": pickle.dumps(track)}
    return element


class NumberPatches(beam.DoFn):
    """Wraps a decode DoFn: its ``(path, window)`` outputs become ``((path, index),
    window)``, the index counting the file's windows from 0; tagged outputs (the file's
    ``Track`` or error row, which end its windows) pass as they are. Counted by the path
    each output names, so a decoder that emits a file's windows later (one that decodes
    ahead, ``bench/experiments.py``) is numbered alike."""

    def __init__(self, decode: beam.DoFn) -> None:
        self.decode = decode

    def setup(self) -> None:
        self.decode.setup()

    def start_bundle(self) -> None:
        self._next: dict[str, int] = {}
        self.decode.start_bundle()

    def process(self, path: str) -> Iterator:
        for out in self.decode.process(path):
            yield self._number(out)

    def finish_bundle(self) -> Iterator:
        for out in self.decode.finish_bundle() or ():
            yield self._number(out)

    def _number(self, out):
        if isinstance(out, WindowedValue):
            return out.with_value(self._number(out.value))
        if isinstance(out, pvalue.TaggedOutput):  # the file is done: forget its count
            value = out.value.value if isinstance(out.value, WindowedValue) else out.value
            self._next.pop(value[0], None)
            return out
        path, window = out
        index = self._next.get(path, 0)
        self._next[path] = index + 1
        return (path, index), window

    def teardown(self) -> None:
        self.decode.teardown()


class Keep(beam.DoFn):
    """(path, {"now", "tracks", "patches", "writes"}) -> the path to decode (main output), or,
    for a file the checkpoint holds whole and unchanged, its ``Track`` (``tracks``), its
    windows' outputs (``patches``), its committed write-back row if the file is as that write
    left it (``writes``) and the path (``kept``)."""

    def __init__(self) -> None:
        self.kept = Metrics.counter("mgc", "files_resumed")

    def process(self, element) -> Iterator:
        path, joined = element
        if joined["now"]:  # else committed by the killed run, not an input of this one
            yield from self._keep_or_decode(path, joined)

    def _keep_or_decode(self, path: str, joined: dict) -> Iterator:
        now = joined["now"][0]
        track = _track(joined["tracks"])
        windows = {row["index"]: row for row in joined["patches"]}  # a shard twice: once
        written = [row for row in joined["writes"] if row["action"] != "failed"
                   and Signature(row["size"], row["mtime_ns"]) == now]
        whole = (track is not None and track.n_patches > 0
                 and sorted(windows) == list(range(track.n_patches)))
        # unchanged since, or changed only by the write the killed run made
        unchanged = (now is not None and now.mtime_ns is not None
                     and (now == track.signature or bool(written)) if whole else False)
        if not unchanged:
            yield path
        else:
            self.kept.inc()
            yield pvalue.TaggedOutput(TRACKS, (path, track))
            for index, row in sorted(windows.items()):
                yield pvalue.TaggedOutput(PATCHES, ((path, index), (
                    np.asarray(row["scores"], dtype=np.float64),
                    np.asarray(row["embedding"], dtype=np.float64))))
            for row in written[:1]:
                yield pvalue.TaggedOutput(WRITES, (path, row))
            yield pvalue.TaggedOutput(KEPT, {"path": path})


def _track(rows: list[dict]):
    for row in rows:
        try:
            return pickle.loads(row["track"])  # noqa: S301  (our own checkpoint, in OUT)
        except Exception:  # noqa: S112  (from another mgc version: decode the file again)
            continue
    return None


class SplitByCheckpoint(beam.PTransform):
    """Paths to process -> ``paths`` still to decode, and for the files the checkpoint holds
    whole: ``tracks``, ``patches``, ``writes`` and ``kept`` (see ``Keep``)."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        super().__init__()
        self.checkpoint = checkpoint

    def expand(self, paths):
        p = paths.pipeline

        def read(name: str, shards: tuple[str, ...]):
            return (
                p
                | f"Checkpoint{name}" >> beam.Create(list(shards))
                | f"Checkpoint{name}Spread" >> beam.Reshuffle()
                | f"ReadCheckpoint{name}" >> beam.ParDo(ReadShard())
            )

        joined = {
            "now": paths | "StatNow" >> beam.Map(lambda path: (path, signature_or_none(path))),
            "tracks": read("Tracks", self.checkpoint.tracks),
            "patches": read("Patches", self.checkpoint.patches),
            "writes": read("Writes", self.checkpoint.writes),
        } | "JoinWithCheckpoint" >> beam.CoGroupByKey()
        return joined | "Keep" >> beam.ParDo(Keep()).with_outputs(
            TRACKS, PATCHES, WRITES, KEPT, main="paths")
