"""Crash consistency of ``mgc undo``: an undo process killed with SIGKILL at random moments
leaves every file whole and byte-equal to either what the run wrote or what it was before;
the next undo finishes the job and removes what the killed one left behind. The same two kinds
of kill as tests/test_writeback_crash.py: after a random delay, and just before a random one of
the undo's calls that change files."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mutagen
import pandas as pd
import pytest

from pipelines.files import atomic
from pipelines.files.undo import undo_run
from tagged_files import FORMATS, make_tagged, record_run

TIMED_KILLS = 6
IO_KILLS = 14
UNDO = """
import os, signal, sys, time
from pipelines.files.undo import undo_run

IO = {"open", "write", "truncate", "flush", "close", "fsync", "move", "replace", "rename",
      "remove", "unlink", "utime", "chmod", "chown"}
kill_at, calls = int(sys.argv[1]), 0

def before_io(frame, event, arg):
    global calls
    if event == "c_call" and getattr(arg, "__name__", "") in IO:
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

print("ready", flush=True)
start = time.monotonic()
sys.setprofile(before_io)
undo_run(sys.argv[2])
sys.setprofile(None)
print(calls, time.monotonic() - start, flush=True)
"""


def start_undo(out: Path, kill_at: int = 0) -> subprocess.Popen:
    undo = subprocess.Popen([sys.executable, "-c", UNDO, str(kill_at), str(out)],
                            stdout=subprocess.PIPE, text=True)
    assert undo.stdout.readline().strip() == "ready"
    return undo


@pytest.fixture(scope="module")
def states(tmp_path_factory) -> tuple[dict[str, bytes], dict[str, bytes], Path]:
    """Every format before a fill and after it, and the run's OUT (paths in ``lib``)."""
    root = tmp_path_factory.mktemp("undo-crash")
    lib = root / "lib"
    files = [make_tagged(lib / f"{fmt}.{ext}", fmt, seconds=6.0)
             for fmt, (ext, _) in FORMATS.items()]
    before = {p.name: p.read_bytes() for p in files}
    record_run(root / "out", files, "fill")
    after = {p.name: p.read_bytes() for p in files}
    return before, after, root


def reset(states) -> tuple[Path, Path]:
    """The library as the run left it, and a fresh copy of its OUT."""
    _, after, root = states
    lib = root / "lib"
    for stale in lib.iterdir():
        stale.unlink()
    for name, data in after.items():
        (lib / name).write_bytes(data)
    shutil.rmtree(root / "out" / "undo", ignore_errors=True)
    # the run recorded each file's modification time: the copies get it back
    for row in pd.read_parquet(root / "out" / "writes").itertuples():
        os.utime(row.path, ns=(row.mtime_ns, row.mtime_ns))
    return lib, root / "out"


@pytest.mark.timeout(300)
def test_kill_9_during_undo_leaves_old_or_new_files(states):
    before, after, _ = states
    lib, out = reset(states)
    undo = start_undo(out)
    io_calls, seconds = undo.stdout.readline().split()
    io_calls, seconds = int(io_calls), float(seconds)
    assert undo.wait() == 0
    assert {p.name: p.read_bytes() for p in lib.iterdir()} == before

    rng = random.Random(13)
    mid_run = 0
    kills = [0] * TIMED_KILLS + [rng.randint(1, io_calls) for _ in range(IO_KILLS)]
    for kill_at in kills:
        lib, out = reset(states)
        undo = start_undo(out, kill_at)
        if kill_at:
            assert undo.wait() == -signal.SIGKILL
        else:
            time.sleep(rng.uniform(0.0, seconds))
            undo.send_signal(signal.SIGKILL)
            assert undo.wait() in (0, -signal.SIGKILL)
        restored = []
        for name in before:
            data = (lib / name).read_bytes()
            assert data in (before[name], after[name]), f"{name} is neither old nor new"
            restored.append(data == before[name])
        temps = [p for p in lib.iterdir() if atomic.TEMP_INFIX in p.name]
        mid_run += bool(temps) or 0 < sum(restored) < len(restored)

        # the next undo finishes the job: every file as before, no temp file left
        assert not undo_run(str(out)).counts["failed"]
        assert sorted(p.name for p in lib.iterdir()) == sorted(before)
        assert {p.name: p.read_bytes() for p in lib.iterdir()} == before
    assert mid_run >= len(kills) // 2, f"only {mid_run} of {len(kills)} kills landed mid-run"
    assert all(mutagen.File(str(lib / name)) is not None for name in before)
