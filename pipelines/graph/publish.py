"""A run's output folder: staged writes, publication by the job's last step, its record.

Beam writes shards into ``OUT/.staging-<id>/``; once every write has finished, the job itself
moves them into place (for tag: ``OUT/tags`` and ``OUT/errors``, replacing the previous
run's) and writes the record (``OUT/run.json``) last. A failed job publishes nothing. Local
or any fsspec URL.
"""

from __future__ import annotations

import functools
import json
import posixpath
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import apache_beam as beam
import fsspec
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineState
from fsspec.core import url_to_fs

from mgc_model import decision
from mgc_model.calibration import as_json, kind_of
from mgc_model.contract import ModelInfo
from pipelines.audio.matching import normalise
from pipelines.files.writeback import AUTO
from pipelines.graph.checkpoint import discard_all as discard_checkpoints
from pipelines.graph.runners import runner_for
from pipelines.learn.agreement import agreement, calibrate_rows

OUTPUTS = ("tags", "errors")
# Only runs that asked for them; a run without retires them. No tag run makes "undo" (`mgc
# undo` records of the writes of the run in OUT): the next run retires it with those writes.
OPTIONAL_OUTPUTS = ("writes", "undo")
CARRIED = "carried"  # staged only: the paths an incremental run carried over, for the counts
RESTORED = "restored"  # staged only: the paths a resumed run kept from its checkpoint
PASSED_OVER = "passed_over"  # staged only: files found that are not audio, by extension
RUN_FILE = "run.json"
PLAN_FILE = "publication.json"  # staged only: a publication's plan, kept for a retry

# plan(fs, staged, root) -> (the record's counts, entries to move into place, entries to retire)
Plan = Callable[[fsspec.AbstractFileSystem, str, str], tuple[dict, list[str], list[str]]]


@dataclass
class RunSummary:
    """A published tag run, read back from ``OUT``: run.json's counts and the top genres."""

    out: str
    seen: int
    tagged: int
    skipped: int
    failed: int
    confident: int = 0
    top_genres: list[tuple[str, int]] = field(default_factory=list)
    failures_by_stage: dict[str, int] = field(default_factory=dict)
    run: dict = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)  # genre tag write-back, by action
    kept: int = 0  # files a killed run had committed, not decoded again (resumed)


def staging_dir(out: str, run_id: str) -> str:
    return posixpath.join(normalise(out), f".staging-{run_id}")


def shard_prefix(staging: str, name: str) -> str:
    return posixpath.join(staging, name, "part")


def read_shards(fs: fsspec.AbstractFileSystem, folder: str,
                columns: list[str] | None) -> pa.Table | None:
    """The Parquet shards of one output folder as one table; None when it has none."""
    files = sorted(fs.glob(posixpath.join(folder, "*.parquet")))
    tables = [pq.read_table(f, columns=columns, filesystem=fs) for f in files]
    if not tables:
        return None
    return pa.concat_tables(tables)


def failed_paths(fs: fsspec.AbstractFileSystem, root: str) -> dict[str, str]:
    """Each path with error rows in ``root/errors``, and the stage of its first one."""
    errors = read_shards(fs, posixpath.join(root, "errors"), ["path", "stage"])
    failed: dict[str, str] = {}
    if errors is not None:
        for path, stage in zip(errors["path"].to_pylist(), errors["stage"].to_pylist(),
                               strict=True):
            failed.setdefault(path, stage)
    return failed


def count_tags(fs: fsspec.AbstractFileSystem, root: str) -> dict:
    """run.json's counts, from what was written, not from what the pipeline believes it
    wrote."""
    tags = read_shards(fs, posixpath.join(root, "tags"), ["path", "damaged_packets"])
    writes = read_shards(fs, posixpath.join(root, "writes"), ["action"])
    # an incremental run lists, in the staging folder only, the rows it carried over
    carried = read_shards(fs, posixpath.join(root, CARRIED), ["path"])
    skipped = carried.num_rows if carried is not None else 0
    # a resumed run lists the files it kept from the checkpoint of a killed one
    restored = read_shards(fs, posixpath.join(root, RESTORED), ["path"])
    passed = read_shards(fs, posixpath.join(root, PASSED_OVER), ["extension", "files"])
    passed_over: Counter = Counter()
    if passed is not None:
        for ext, n in zip(passed["extension"].to_pylist(), passed["files"].to_pylist(),
                          strict=True):
            passed_over[ext] += n
    failed = failed_paths(fs, root)
    tagged_paths = set(tags["path"].to_pylist()) if tags is not None else set()
    return {
        # a file tagged whose genre could not be written has a tag row and an error row
        "seen": len(tagged_paths | set(failed)),
        "tagged": (tags.num_rows if tags is not None else 0) - skipped,
        "skipped": skipped,
        "failed": len(failed),
        "failures_by_stage": dict(Counter(failed.values())),
        "kept": restored.num_rows if restored is not None else 0,
        # not audio by their names: mgc read none of them (cover.jpg, album.cue ...)
        "passed_over": dict(passed_over.most_common()),
        "damaged": _damaged(tags),
        **({"writes": dict(Counter(writes["action"].to_pylist()))} if writes is not None
           else {}),
    }


def _damaged(tags: pa.Table | None) -> dict[str, int]:
    """Files tagged although a few of their packets did not decode (skipped, as ffmpeg does)."""
    counts = [n for n in (tags["damaged_packets"].to_pylist() if tags is not None else [])
              if n]
    return {"files": len(counts), "packets": sum(counts)}


LIBRARY_COLUMNS = ["path", "genre", "genre_scores", "genre_from", "file_genres", "artist",
                   "album", "album_artist"]


def count_library(fs: fsspec.AbstractFileSystem, root: str, min_score: float | str,
                  info: ModelInfo) -> dict:
    """run.json's judgement of the run against the library's own genres, over every row
    published, carried ones included: ``agreement`` (``pipelines.learn.agreement``), the
    ``calibration`` (``mgc_model.calibration``: the threshold per kind of evidence that
    ``--min-score auto`` used, and why), and ``confident``: the tracks whose top genre
    scored at least the threshold they were judged by."""
    rows: list[dict] = []
    for shard in sorted(fs.glob(posixpath.join(root, "tags", "*.parquet"))):
        with fs.open(shard, "rb") as f:
            parquet = pq.ParquetFile(f)
            if set(LIBRARY_COLUMNS) <= set(parquet.schema_arrow.names):  # not a foreign shard
                rows += parquet.read(columns=LIBRARY_COLUMNS).to_pylist()
    thresholds = calibrate_rows(rows, info)

    def least(row: dict) -> float:
        return (thresholds[kind_of(row["genre_from"])].min_score if min_score == AUTO
                else float(min_score))

    return {
        "agreement": agreement((row["file_genres"], row["genre"]) for row in rows),
        "calibration": as_json(thresholds),
        "confident": sum(decision.is_confident(max(row["genre_scores"]), least(row))
                         for row in rows if row["genre_scores"]),
    }


def publish_tags(staging: str, out: str, run: dict, info: ModelInfo,
                 optional: Sequence[str] = ()) -> None:
    """A tag run's publication: ``tags``, ``errors`` (and the ``optional`` outputs this run
    made, such as ``writes``) replace the previous run's, then ``run.json``; ``info``: the
    model, whose measure on the library (``count_library``) it holds. Then every checkpoint
    in ``out`` is removed."""

    def plan(fs: fsspec.AbstractFileSystem, staged: str, root: str):
        names = [*OUTPUTS, *optional]
        for name in names:  # a branch with no rows still publishes an empty folder
            fs.makedirs(posixpath.join(staged, name), exist_ok=True)
        counts = {**count_tags(fs, staged),
                  **count_library(fs, staged, run.get("min_score", AUTO), info)}
        if run.get("checkpoint"):  # resumed: how many files the killed run had committed
            counts["resumed"] = {"kept": counts["kept"], "from": run["checkpoint"]}
        return counts, names, list(OPTIONAL_OUTPUTS)

    publish(staging, out, RUN_FILE, run, plan)
    # the published output supersedes what killed runs committed (pipelines.graph.checkpoint)
    discard_checkpoints(out)


def publish(staging: str, out: str, record: str, run: dict, plan: Plan) -> None:
    """Publish a run's staged outputs into ``out``: the pipeline's last step, run by a worker
    once every write has finished, so a job publishes itself even when nobody waits for it
    (a Flex Template launch). ``plan(fs, staged, root)`` gives the counts for the ``record``
    file (run.json, extract.json), the staged entries to move into place and the previous
    entries to retire. Safe to run again after a crash part-way (a runner retries a failed
    step): the plan is taken once and kept in the staging folder, entries already moved are
    not moved twice, and a run whose record is in place is done."""
    fs, root = url_to_fs(normalise(out))
    _, staged = url_to_fs(staging)
    if _recorded_run_id(fs, posixpath.join(root, record)) == run["run_id"]:
        return
    plan_file = posixpath.join(staged, PLAN_FILE)
    if fs.exists(plan_file):
        with fs.open(plan_file) as f:
            taken = json.load(f)
    else:
        counts, names, retire = plan(fs, staged, root)
        finished = datetime.now(timezone.utc)
        started = datetime.fromisoformat(run["started_at"])
        taken = {"record": {**counts, **run, "finished_at": finished.isoformat(),
                            "wall_time_s": round((finished - started).total_seconds(), 3)},
                 "names": names, "retire": retire}
        with fs.open(plan_file, "w") as f:
            json.dump(taken, f, default=str)
    move_into_place(fs, staged, root, taken["names"], retire=taken["retire"])
    tmp = posixpath.join(staged, record)
    with fs.open(tmp, "w") as f:
        json.dump(taken["record"], f, indent=2, default=str)
    fs.mv(tmp, posixpath.join(root, record))
    discard(staging)


def _recorded_run_id(fs: fsspec.AbstractFileSystem, path: str) -> str | None:
    try:
        with fs.open(path) as f:
            recorded = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return recorded.get("run_id") if isinstance(recorded, dict) else None


class PublishWhenWritten(beam.PTransform):
    """Applied to the results of every write of a run (their file names): once all have
    finished, ``publish()`` runs, once, on one worker."""

    def __init__(self, publish: Callable[[], None]) -> None:
        super().__init__()
        self.publish = publish

    def expand(self, written):
        publish = self.publish
        return (
            written
            | "AllWritten" >> beam.Flatten()
            | "CountFiles" >> beam.combiners.Count.Globally()  # waits for every write
            | "Publish" >> beam.FlatMap(lambda _: publish() or [])
        )


def run_and_publish(out: str, pipeline_args: Sequence[str], record: str, run: dict,
                    build: Callable[[beam.Pipeline, str], Sequence[beam.PCollection]],
                    publish: Callable[[str, str, dict], None]) -> dict | None:
    """Run a job whose outputs are staged in ``OUT/.staging-<run id>/`` and published by its
    own last step (``publish(staging, out, run)``); returns the published ``record``, or None
    when the runner returned before the job ended (it publishes itself when it does).

    ``build(p, staging)`` wires the job and returns its writes' results. A failed job
    publishes nothing: the previous outputs stay as they were, and its staging is removed.
    """
    options = PipelineOptions(list(pipeline_args))
    run_id = uuid.uuid4().hex[:12]
    staging = staging_dir(out, run_id)
    run = {**run, "run_id": run_id,
           "runner": options.view_as(StandardOptions).runner or "DirectRunner",
           "started_at": datetime.now(timezone.utc).isoformat()}
    try:
        p = beam.Pipeline(runner=runner_for(options), options=options)
        written = build(p, staging)
        tuple(written) | "PublishWhenWritten" >> PublishWhenWritten(
            functools.partial(publish, staging, out, run))
        state = p.run().wait_until_finish()
    except BaseException:
        discard(staging)
        raise
    if not PipelineState.is_terminal(state):
        return None  # the job runs on, and publishes itself: its staging is not ours to remove
    discard(staging)  # published ones removed their own; this is for the rest
    if state != PipelineState.DONE:
        raise RuntimeError(f"the job ended {state}: nothing was published to {out}")
    return read_record(out, record, run_id)


def read_record(out: str, record: str, run_id: str | None = None) -> dict:
    """A published run's record (run.json, extract.json); with ``run_id``, refused unless it
    is that run's."""
    fs, root = url_to_fs(normalise(out))
    path = posixpath.join(root, record)
    with fs.open(path) as f:
        recorded = json.load(f)
    if run_id is not None and recorded.get("run_id") != run_id:
        raise RuntimeError(f"the job ended without publishing its outputs: {path} is from "
                           f"run {recorded.get('run_id')}, not {run_id}")
    return recorded


def tag_summary(out: str, record: dict) -> RunSummary:
    """What ``mgc tag`` prints about a published run."""
    fs, root = url_to_fs(normalise(out))
    tags = read_shards(fs, posixpath.join(root, "tags"), ["genre"])
    return RunSummary(
        out=out, seen=record["seen"], tagged=record["tagged"], skipped=record["skipped"],
        failed=record["failed"], failures_by_stage=record["failures_by_stage"],
        confident=record.get("confident", 0),
        top_genres=Counter(tags["genre"].to_pylist()).most_common() if tags is not None
        else [],
        writes=record.get("writes", {}), run=record, kept=record.get("kept", 0),
    )


def move_into_place(fs: fsspec.AbstractFileSystem, staged: str, root: str,
                    names: Iterable[str], retire: Iterable[str] = ()) -> None:
    """Move staged entries (files or folders) to ``root``, replacing those of the same name.

    Replaced entries, and the ``retire`` entries of ``root`` that no new one replaces (shards
    of a previous run), are parked inside the staging folder, which ``discard`` removes. A
    name no longer staged was moved by an earlier attempt and is left alone.
    """
    parked = posixpath.join(staged, "previous")
    fs.makedirs(parked, exist_ok=True)
    names = list(names)
    retire = [name for name in retire if name not in names]
    names = [name for name in names if fs.exists(posixpath.join(staged, name))]
    for name in [*retire, *names]:
        target = posixpath.join(root, name)
        if fs.exists(target):
            fs.mv(target, posixpath.join(parked, name), recursive=True)
    fs.makedirs(root, exist_ok=True)
    for name in names:
        fs.mv(posixpath.join(staged, name), posixpath.join(root, name), recursive=True)


def discard(staging: str) -> None:
    fs, path = url_to_fs(staging)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def read_tags(out: str) -> ds.Dataset:
    """The tags of a finished run, as a pyarrow dataset."""
    fs, root = url_to_fs(normalise(out))
    return ds.dataset(posixpath.join(root, "tags"), filesystem=fs, format="parquet")


def read_writes(out: str) -> list[dict]:
    """The genre write-back outcomes of a finished run (``OUT/writes/``), sorted by path."""
    fs, root = url_to_fs(normalise(out))
    table = read_shards(fs, posixpath.join(root, "writes"), None)
    return sorted(table.to_pylist(), key=lambda row: row["path"]) if table is not None else []
