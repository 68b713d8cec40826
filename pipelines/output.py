"""A tag run's output folder: staged writes, atomic publication, run.json and its summary.

Beam writes shards into ``OUT/.staging-<id>/``; only a successful run moves them to
``OUT/tags`` and ``OUT/errors`` (replacing the previous run's) and writes ``OUT/run.json``.
Local or any fsspec URL.
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from dataclasses import dataclass, field

import fsspec
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

from pipelines.matching import normalise

OUTPUTS = ("tags", "errors")


@dataclass
class RunSummary:
    out: str
    seen: int
    tagged: int
    skipped: int
    failed: int
    top_genres: list[tuple[str, int]] = field(default_factory=list)
    failures_by_stage: dict[str, int] = field(default_factory=dict)
    run: dict = field(default_factory=dict)


def staging_dir(out: str, run_id: str) -> str:
    return posixpath.join(normalise(out), f".staging-{run_id}")


def shard_prefix(staging: str, name: str) -> str:
    return posixpath.join(staging, name, "part")


def _read_table(fs: fsspec.AbstractFileSystem, folder: str, columns: list[str]):
    files = sorted(fs.glob(posixpath.join(folder, "*.parquet")))
    tables = [pq.read_table(f, columns=columns, filesystem=fs) for f in files]
    if not tables:
        return None
    return pa.concat_tables(tables)


def summarise(fs: fsspec.AbstractFileSystem, root: str) -> RunSummary:
    """Counts from what was written, not from what the pipeline believes it wrote."""
    tags = _read_table(fs, posixpath.join(root, "tags"), ["path", "genre"])
    errors = _read_table(fs, posixpath.join(root, "errors"), ["path", "stage"])
    tagged = tags.num_rows if tags is not None else 0
    failed_paths: dict[str, str] = {}
    if errors is not None:
        for path, stage in zip(errors["path"].to_pylist(), errors["stage"].to_pylist(),
                               strict=True):
            failed_paths.setdefault(path, stage)
    top = Counter(tags["genre"].to_pylist()).most_common() if tags is not None else []
    return RunSummary(
        out=root,
        seen=tagged + len(failed_paths),
        tagged=tagged,
        skipped=0,
        failed=len(failed_paths),
        top_genres=top,
        failures_by_stage=dict(Counter(failed_paths.values())),
    )


def publish(staging: str, out: str, run: dict) -> RunSummary:
    """Move the staged outputs into place and write run.json; returns the run's summary."""
    fs, root = url_to_fs(normalise(out))
    _, staged = url_to_fs(staging)
    summary = summarise(fs, staged)
    for name in OUTPUTS:
        target = posixpath.join(root, name)
        new = posixpath.join(staged, name)
        if not fs.exists(new):
            fs.makedirs(new, exist_ok=True)
        if fs.exists(target):
            fs.mv(target, posixpath.join(staged, f"previous-{name}"), recursive=True)
        fs.mv(new, target, recursive=True)
    summary.out = out
    summary.run = {
        "seen": summary.seen,
        "tagged": summary.tagged,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "failures_by_stage": summary.failures_by_stage,
        **run,
    }
    tmp = posixpath.join(staged, "run.json")
    with fs.open(tmp, "w") as f:
        json.dump(summary.run, f, indent=2, default=str)
    fs.mv(tmp, posixpath.join(root, "run.json"))
    return summary


def discard(staging: str) -> None:
    fs, path = url_to_fs(staging)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def read_tags(out: str) -> ds.Dataset:
    """The tags of a finished run, as a pyarrow dataset."""
    fs, root = url_to_fs(normalise(out))
    return ds.dataset(posixpath.join(root, "tags"), filesystem=fs, format="parquet")
