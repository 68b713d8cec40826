"""Incremental tag runs (``mgc tag --incremental``): the previous run's output is the state.

A file whose path, size and modification time (ns) match its previous tag row, tagged with the
same model and options, is skipped and its row carried over; a new or changed file, and one
that failed last time (any error row, including a failed genre write), is processed again; a
file no longer matched disappears. The decision is taken inside the pipeline, by one
CoGroupByKey of the files found now with the previous rows keyed by path, so a catalog of a
million files is compared by the workers, not by the launcher.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import NamedTuple

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from fsspec.core import url_to_fs

from pipelines.audio.matching import normalise
from schemas.parquet import TAGS_VERSION

CARRIED = "carried"
STATE_KEY = "state_key"  # in run.json: which model and options produced the rows
# fsspec info() keys holding a modification time, by filesystem (local, s3, gcs, memory ...)
MTIME_KEYS = ("mtime", "LastModified", "updated", "last_modified", "created")


class Signature(NamedTuple):
    """What says a file is unchanged since it was tagged."""

    size: int
    mtime_ns: int | None


def _as_ns(value) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1e9)
    if isinstance(value, str):
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1e9)
    if isinstance(value, int | float):
        return int(value * 1e9)
    return None


def file_signature(path: str) -> Signature:
    """Size and modification time of a local file or an fsspec URL (raises if it is gone)."""
    if "://" not in path:
        st = os.stat(path)
        return Signature(st.st_size, st.st_mtime_ns)
    fs, inner = url_to_fs(path)
    info = fs.info(inner)
    mtime = next((_as_ns(info[k]) for k in MTIME_KEYS if info.get(k) is not None), None)
    return Signature(int(info["size"]), mtime)


def signature_or_none(path: str) -> Signature | None:
    """The file's signature, or None when it cannot be had: a file that cannot be read (its
    decoding then says why) or a store without stat-like info (the file is never skipped)."""
    try:
        return file_signature(path)
    except Exception:
        return None


def state_key(model_ref: str, options) -> str:
    """A digest of what makes a tag row (and a genre write) what it is: the model and every
    option that changes a row's content or what is written into the file, and the version
    of the rows' columns (an older mgc's rows lack the file's own tags). Batch size and the
    runner do not, nor the album and artist weights: every run decides again from the rows'
    own track scores (``pipelines.graph.evidence``)."""
    fields = asdict(options)
    for unkept in ("batch_size", "album_weight", "artist_weight"):
        fields.pop(unkept, None)
    fields["model"] = model_ref
    fields["tags_version"] = TAGS_VERSION
    return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class PreviousRun:
    """The shards of the previous run's outputs that the next run reads as its state."""

    tags: tuple[str, ...]
    errors: tuple[str, ...]
    writes: tuple[str, ...]
    undo: tuple[str, ...] = ()  # ``mgc undo``'s records of the files it restored


def previous_run(out: str, key: str) -> tuple[PreviousRun | None, str]:
    """The previous run's shards in ``out`` if its rows can be carried into a run with ``key``,
    else None; and why (for run.json and the log)."""
    fs, root = url_to_fs(normalise(out))
    run_json = posixpath.join(root, "run.json")
    if not fs.exists(run_json):
        return None, "no previous run in the output folder: every file is processed"
    try:
        with fs.open(run_json) as f:
            run = json.load(f)
    except ValueError:  # cut short or edited by hand: it cannot vouch for the rows
        return None, "the previous run.json is unreadable: every file is processed"
    if not isinstance(run, dict) or run.get(STATE_KEY) != key:
        return None, ("the previous run used another model or other options (or an older "
                      "mgc): every file is processed")

    def shards(name: str) -> tuple[str, ...]:
        found = sorted(fs.glob(posixpath.join(root, name, "*.parquet")))
        return tuple(fs.unstrip_protocol(f) if "://" in out else f for f in found)

    return (PreviousRun(shards("tags"), shards("errors"), shards("writes"), shards("undo")),
            "previous run used")


class ReadShard(beam.DoFn):
    """A Parquet shard of the previous run -> (path, row) for each of its rows."""

    def __init__(self, columns: list[str] | None = None) -> None:
        self.columns = columns

    def process(self, shard: str) -> Iterator[tuple[str, dict]]:
        fs, inner = url_to_fs(shard)
        with fs.open(inner, "rb") as f:
            for batch in pq.ParquetFile(f).iter_batches(columns=self.columns):
                for row in batch.to_pylist():
                    yield row["path"], row


class Decide(beam.DoFn):
    """(path, {"now", "tags", "errors", "writes", "undo"}) -> the path to process (main
    output), or the previous tag row carried over (``carried``), or nothing for a file no
    longer there."""

    def __init__(self, model_ref: str) -> None:
        self.model_ref = model_ref
        self.carried = Metrics.counter("mgc", "files_carried")
        self.changed = Metrics.counter("mgc", "files_changed")
        self.retried = Metrics.counter("mgc", "files_retried")
        self.new = Metrics.counter("mgc", "files_new")
        self.gone = Metrics.counter("mgc", "files_gone")

    def process(self, element) -> Iterator:
        path, joined = element
        now = joined["now"]
        if not now:
            self.gone.inc()
            return
        signature = now[0]
        rows = joined["tags"]
        if joined["errors"]:
            self.retried.inc()
            yield path
        elif not rows:
            self.new.inc()
            yield path
        elif signature is not None and self._unchanged(
                rows[0], joined["writes"] + [u for u in joined["undo"]
                                             if u["action"] in ("restored", "unchanged")],
                signature):
            self.carried.inc()
            row = dict(rows[0], size=signature.size, mtime_ns=signature.mtime_ns)
            yield pvalue.TaggedOutput(CARRIED, row)
        else:
            self.changed.inc()
            yield path

    def _unchanged(self, row: dict, writes: list[dict], now: Signature) -> bool:
        if row.get("model") != self.model_ref or now.mtime_ns is None:
            return False
        # A file whose genres were written last time is as the write left it; one whose
        # write was undone since is as the undo left it, and is not written again.
        known = [Signature(row.get("size"), row.get("mtime_ns"))]
        known += [Signature(w.get("size"), w.get("mtime_ns")) for w in writes]
        return now in known


class SplitByState(beam.PTransform):
    """Paths found now -> ``paths`` to process and ``carried`` tag rows, given the previous
    run's shards."""

    def __init__(self, previous: PreviousRun, model_ref: str) -> None:
        super().__init__()
        self.previous = previous
        self.model_ref = model_ref

    def expand(self, paths):
        p = paths.pipeline

        def read(name: str, shards: tuple[str, ...], columns: list[str] | None):
            return (
                p
                | f"{name}Shards" >> beam.Create(list(shards))
                | f"{name}Spread" >> beam.Reshuffle()
                | f"Read{name}" >> beam.ParDo(ReadShard(columns))
            )

        joined = {
            "now": paths | "Stat" >> beam.Map(lambda path: (path, signature_or_none(path))),
            "tags": read("PreviousTags", self.previous.tags, None),
            "errors": read("PreviousErrors", self.previous.errors, ["path"]),
            "writes": read("PreviousWrites", self.previous.writes,
                           ["path", "size", "mtime_ns"]),
            "undo": read("PreviousUndo", self.previous.undo, ["path", "action", "size",
                                                             "mtime_ns"]),
        } | "JoinWithPrevious" >> beam.CoGroupByKey()
        return joined | "Decide" >> beam.ParDo(Decide(self.model_ref)).with_outputs(
            CARRIED, main="paths")
