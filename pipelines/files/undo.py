"""``mgc undo OUT``: put back the genres the run in ``OUT`` wrote into files.

``OUT/writes/`` records, for each file the run wrote, its genres before and after and the
file after the write (size, modification time). A file is restored only while it is still as
that run left it: same size and modification time, the genres the run wrote, the run's
``MGC_MODEL``; a file changed since is left alone and reported. Restoring is write-back in
reverse, through the same atomic replace (``pipelines.files.atomic``) and per-format code
(``pipelines.files.formats.set_fields``): the genres before
come back, the run's ``MGC_`` fields go (an earlier run's come back), a tag the run created
is removed, and the padding is chosen so that the file regains its size. Undo twice and the
second changes nothing. Each undo leaves a record, ``OUT/undo/undo-<time>.parquet``.

A light library (mutagen, pyarrow, fsspec): no Beam or TensorFlow import.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

from pipelines.audio.matching import normalise
from pipelines.files import atomic, formats, verify
from schemas.parquet import UNDO_SCHEMA

ACTIONS = ("restored", "would-restore", "unchanged", "changed-since", "missing", "failed")
UNDO_DIR = "undo"
# where a killed or stopped run committed its write rows (``pipelines.graph.checkpoint``)
KILLED_RUN_WRITES = posixpath.join(".checkpoint-*", "writes")


class NothingToUndo(ValueError):
    """``OUT`` holds no run whose genre writes could be undone."""


class UndoOutcome(NamedTuple):
    """One file's undo: a row of ``OUT/undo/``."""

    path: str
    action: str
    genres: tuple[str, ...]  # restored: the genres before the run
    genres_found: tuple[str, ...]  # what the file held when undo looked
    model: str
    message: str = ""
    size: int | None = None  # the file after undo
    mtime_ns: int | None = None

    def as_row(self, run_id: str) -> dict:
        return {**self._asdict(), "genres": list(self.genres),
                "genres_found": list(self.genres_found), "run_id": run_id}


@dataclass
class UndoSummary:
    out: str
    run_id: str
    outcomes: list[UndoOutcome]
    record: str | None  # the OUT/undo/ file written (None for a dry run)
    not_written: int = 0  # rows of OUT/writes the run did not write (skipped, unchanged ...)
    counts: Counter = field(default_factory=Counter)


# --- restoring one file ----------------------------------------------------------------------


def _padding_to(size: int | None, path: str) -> Callable | None:
    """A mutagen padding function that gives the file ``size`` bytes again, when it can."""
    if size is None:
        return None
    now = os.path.getsize(path)

    def padding(info) -> int:
        wanted = info.padding + size - now
        return max(0, wanted)

    return padding


def restore_tags(path: str, genres: Sequence[str], provenance: Mapping[str, str],
                 separator: str, size: int | None = None, created: bool = False,
                 kind: type | None = None) -> None:
    """Give the file at ``path`` (the temp copy, read as ``kind``) its genres and MGC_ fields
    from before; an ID3 or APEv2 tag the run created is removed whole."""
    if created and isinstance(formats.open_tags(path, kind),
                              (*formats.ID3_TYPES, *formats.APE_TYPES)):
        formats.remove_tag(path, genres, kind)
    else:
        formats.set_fields(path, genres, provenance, separator, _padding_to(size, path), kind)


def _provenance_before(row: Mapping) -> dict[str, str] | None:
    """The MGC_ fields the file held before the run; None for a row of an older mgc."""
    recorded = row.get("provenance_before")
    return json.loads(recorded) if recorded else None


def _changed_since(row: Mapping, st: os.stat_result, found: Sequence[str],
                   provenance: Mapping[str, str]) -> str | None:
    """Why the file is no longer as the run left it; None when it is."""
    after = tuple(row["genres_after"] or ())
    if tuple(found) != after:
        return (f"its genres are now {'; '.join(found) or '(none)'}, not the run's "
                f"{'; '.join(after)}; left alone")
    if provenance.get(formats.MODEL_KEY) != row["model"]:
        return f"its {formats.MODEL_KEY} is no longer {row['model']}; left alone"
    if (st.st_size, st.st_mtime_ns) != (row.get("size"), row.get("mtime_ns")):
        return "changed since the run wrote it (size or modification time); left alone"
    return None


def undo_file(row: Mapping, separator: str = "; ", dry_run: bool = False) -> UndoOutcome:
    """Undo one ``written`` row of ``OUT/writes/``, if the file is still as the run left it."""
    path, model = row["path"], row["model"]
    before = tuple(row["genres_before"] or ())
    target = os.path.realpath(path)

    def outcome(action: str, found: Sequence[str] = (), message: str = "") -> UndoOutcome:
        try:
            st = os.stat(target)
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size = mtime = None
        return UndoOutcome(path, action, before, tuple(found), model, message, size, mtime)

    try:
        st = os.stat(target)
    except FileNotFoundError:
        return outcome("missing", message="the file is gone; nothing to restore")
    try:
        if not stat.S_ISREG(st.st_mode):
            return outcome("changed-since", message="no longer a regular file; left alone")
        audio = formats.open_tags(target)
        found, provenance = formats.read_genres(audio, target, separator)
        earlier = _provenance_before(row)
        if found == before and (provenance == earlier if earlier is not None
                                else provenance.get(formats.MODEL_KEY) != model):
            return outcome("unchanged", found, "already as before the run")
        why = _changed_since(row, st, found, provenance)
        if why is not None:
            return outcome("changed-since", found, why)
        if dry_run:
            atomic.check_writable(target)
            return outcome("would-restore", found)
        atomic.replace_atomically(
            target,
            verify.checked(
                lambda tmp: restore_tags(tmp, before, earlier or {}, separator,
                                         row.get("size_before"), bool(row.get("tag_created")),
                                         type(audio)),
                before, earlier or {}, separator, type(audio)),
            (atomic.FileStat.of(st),))
    except Exception as error:  # one file's failure is a row; the undo goes on
        return outcome("failed", message=f"{type(error).__name__}: {error}")
    return outcome("restored", found)


# --- a whole run -----------------------------------------------------------------------------


def _interrupted_writes(fs, root: str) -> list[dict]:
    """The write rows a killed or stopped run committed (``pipelines.graph.checkpoint``),
    one per file (a retried bundle may have committed one twice)."""
    shards = sorted(fs.glob(posixpath.join(root, KILLED_RUN_WRITES, "*.parquet")))
    rows = {row["path"]: row for shard in shards
            for row in pq.read_table(shard, filesystem=fs).to_pylist()}
    return list(rows.values())


def _read_run(out: str) -> tuple[dict, list[dict]]:
    """The run whose writes to undo: an interrupted run's committed writes when ``out`` holds
    them (its genres are the last written), else the published run's."""
    fs, root = url_to_fs(normalise(out))
    interrupted = _interrupted_writes(fs, root)
    if interrupted:
        run = {"run_id": "interrupted (its checkpoint)"}
        if fs.exists(posixpath.join(root, "run.json")):  # its options, where the last run had
            with fs.open(posixpath.join(root, "run.json")) as f:  # the same
                run["options"] = json.load(f).get("options")
        return run, sorted(interrupted, key=lambda r: r["path"])
    try:
        with fs.open(posixpath.join(root, "run.json")) as f:
            run = json.load(f)
    except FileNotFoundError:
        raise NothingToUndo(f"no tag run in {out!r} (no run.json)") from None
    folder = posixpath.join(root, "writes")
    if not fs.exists(folder) or not fs.glob(posixpath.join(folder, "*.parquet")):
        raise NothingToUndo(f"the run in {out!r} wrote no genre tags (no writes/: it ran "
                            "without --write-tags)")
    rows = ds.dataset(folder, filesystem=fs, format="parquet").to_table().to_pylist()
    return run, sorted(rows, key=lambda r: r["path"])


def _write_record(out: str, outcomes: Sequence[UndoOutcome], run_id: str) -> str:
    """``OUT/undo/undo-<UTC time>.parquet``, written beside and renamed into place."""
    fs, root = url_to_fs(normalise(out))
    folder = posixpath.join(root, UNDO_DIR)
    fs.makedirs(folder, exist_ok=True)
    for stale in fs.glob(posixpath.join(folder, ".undo-*.tmp")):  # left by a killed undo
        fs.rm(stale)
    name = f"undo-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}.parquet"
    table = pa.Table.from_pylist([o.as_row(run_id) for o in outcomes], schema=UNDO_SCHEMA)
    tmp = posixpath.join(folder, f".{name}.tmp")
    with fs.open(tmp, "wb") as f:
        pq.write_table(table, f)
    fs.mv(tmp, posixpath.join(folder, name))
    return posixpath.join(folder, name)


def undo_run(out: str, dry_run: bool = False) -> UndoSummary:
    """Undo every genre write of the run in ``out`` that can be undone; a dry run only says
    what would be. Raises ``NothingToUndo`` when ``out`` has no run with genre writes."""
    run, rows = _read_run(out)
    separator = ((run.get("options") or {}).get("write") or {}).get("separator") or "; "
    written = [row for row in rows if row["action"] == "written"]
    outcomes = [undo_file(row, separator, dry_run) for row in written]
    run_id = run.get("run_id", "")
    record = None if dry_run or not outcomes else _write_record(out, outcomes, run_id)
    return UndoSummary(out, run_id, outcomes, record, len(rows) - len(written),
                       Counter(o.action for o in outcomes))
