"""A tag run's output folder: staged writes, atomic publication, run.json and its summary.

Beam writes shards into ``OUT/.staging-<id>/``; only a successful run moves them to
``OUT/tags`` and ``OUT/errors`` (replacing the previous run's) and writes ``OUT/run.json``.
Local or any fsspec URL.
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import fsspec
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

from pipelines.matching import normalise

OUTPUTS = ("tags", "errors")
OPTIONAL_OUTPUTS = ("writes",)  # only runs that asked for them; a run without retires them
CARRIED = "carried"  # staged only: the paths an incremental run carried over, for the counts


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
    writes: dict[str, int] = field(default_factory=dict)  # genre tag write-back, by action


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
    writes = _read_table(fs, posixpath.join(root, "writes"), ["action"])
    # an incremental run lists, in the staging folder only, the rows it carried over
    carried = _read_table(fs, posixpath.join(root, CARRIED), ["path"])
    skipped = carried.num_rows if carried is not None else 0
    tagged = (tags.num_rows if tags is not None else 0) - skipped
    failed_paths: dict[str, str] = {}
    if errors is not None:
        for path, stage in zip(errors["path"].to_pylist(), errors["stage"].to_pylist(),
                               strict=True):
            failed_paths.setdefault(path, stage)
    top = Counter(tags["genre"].to_pylist()).most_common() if tags is not None else []
    return RunSummary(
        out=root,
        # a file tagged whose genre could not be written has a tag row and an error row
        seen=len(set(tags["path"].to_pylist() if tags is not None else ()) | set(failed_paths)),
        tagged=tagged,
        skipped=skipped,
        failed=len(failed_paths),
        top_genres=top,
        failures_by_stage=dict(Counter(failed_paths.values())),
        writes=dict(Counter(writes["action"].to_pylist())) if writes is not None else {},
    )


def publish(staging: str, out: str, run: dict, optional: Sequence[str] = ()) -> RunSummary:
    """Move the staged outputs (and the ``optional`` ones this run made) into place and write
    run.json; returns the run's summary."""
    fs, root = url_to_fs(normalise(out))
    _, staged = url_to_fs(staging)
    summary = summarise(fs, staged)
    for name in [*OUTPUTS, *optional]:
        fs.makedirs(posixpath.join(staged, name), exist_ok=True)
    move_into_place(fs, staged, root, [*OUTPUTS, *optional], retire=OPTIONAL_OUTPUTS)
    summary.out = out
    summary.run = {
        "seen": summary.seen,
        "tagged": summary.tagged,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "failures_by_stage": summary.failures_by_stage,
        **({"writes": summary.writes} if optional else {}),
        **run,
    }
    tmp = posixpath.join(staged, "run.json")
    with fs.open(tmp, "w") as f:
        json.dump(summary.run, f, indent=2, default=str)
    fs.mv(tmp, posixpath.join(root, "run.json"))
    return summary


def move_into_place(fs: fsspec.AbstractFileSystem, staged: str, root: str,
                    names: Iterable[str], retire: Iterable[str] = ()) -> None:
    """Move staged entries (files or folders) to ``root``, replacing those of the same name.

    Replaced entries, and the ``retire`` entries of ``root`` that no new one replaces (shards
    of a previous run), are parked inside the staging folder, which ``discard`` removes.
    """
    parked = posixpath.join(staged, "previous")
    fs.makedirs(parked, exist_ok=True)
    names = list(names)
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
    table = _read_table(fs, posixpath.join(root, "writes"), None)
    return sorted(table.to_pylist(), key=lambda row: row["path"]) if table is not None else []
