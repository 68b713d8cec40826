"""Crash consistency of the genre write-back: a writer process killed with SIGKILL at random
moments, many times, must leave every file whole and byte-equal to either its old or its new
version; the next run finishes the job and removes what the killed one left behind.

Two kinds of kill: from outside after a random delay (kill -9 as a user or the OOM killer
does it), and from inside just before a random one of the writer's calls that change files
(open, write, truncate, fsync, rename ...), so that the short windows between two of them are
hit as often as the long ones.
"""

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mutagen
import pytest

from pipelines.files import atomic
from tagged_files import FORMATS, audio_hash, make_tagged

TIMED_KILLS = 8
IO_KILLS = 16
# The writer: a light process (mutagen, no Beam, no TensorFlow), as a pipeline worker's last
# stage runs it. argv: kill-at (the n-th I/O call kills the process, 0 = never), then paths.
WRITER = """
import os, signal, sys, time
from pipelines.files.writeback import WriteOptions, write_genres

# Calls that change files; a kill before a read is the same as one after the last change.
IO = {"open", "write", "truncate", "flush", "close", "fsync", "move", "replace", "rename",
      "remove", "unlink", "utime", "chmod", "chown"}
kill_at, calls = int(sys.argv[1]), 0

def before_io(frame, event, arg):
    global calls
    if event == "c_call" and getattr(arg, "__name__", "") in IO:
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

scores = {"Rock": 0.92, "Electronic": 0.05, "Jazz": 0.03}
options = WriteOptions(policy="overwrite", count=2)
print("ready", flush=True)
start = time.monotonic()
sys.setprofile(before_io)
for path in sys.argv[2:]:
    write_genres(path, scores, "musicnn@0.1.0+fma1", options)
sys.setprofile(None)
print(calls, time.monotonic() - start, flush=True)
"""


def start_writer(paths: list[Path], kill_at: int = 0) -> subprocess.Popen:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(kill_at), *map(str, paths)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    return writer


def restore(originals: list[Path], folder: Path) -> list[Path]:
    for stale in folder.iterdir():
        stale.unlink()
    return [Path(shutil.copy2(source, folder / source.name)) for source in originals]


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("originals")
    return [make_tagged(root / f"{fmt}.{ext}", fmt, genres=["Jazz"], seconds=6.0)
            for fmt, (ext, _) in FORMATS.items()]


def test_kill_9_at_random_moments_leaves_old_or_new_files(originals, tmp_path):
    old = {p.name: p.read_bytes() for p in originals}
    done = tmp_path / "done"
    done.mkdir()
    writer = start_writer(restore(originals, done))
    io_calls, seconds = writer.stdout.readline().split()
    io_calls, seconds = int(io_calls), float(seconds)
    assert writer.wait() == 0
    new = {p.name: p.read_bytes() for p in done.iterdir()}
    assert set(new) == set(old) and all(new[name] != old[name] for name in old)

    rng = random.Random(7)
    lib = tmp_path / "lib"
    lib.mkdir()
    mid_run = 0
    kills = [0] * TIMED_KILLS + [rng.randint(1, io_calls) for _ in range(IO_KILLS)]
    for kill_at in kills:
        writer = start_writer(restore(originals, lib), kill_at)
        if kill_at:
            assert writer.wait() == -signal.SIGKILL
        else:  # the run may just have finished: then every file is new
            time.sleep(rng.uniform(0.0, seconds))
            writer.send_signal(signal.SIGKILL)
            assert writer.wait() in (0, -signal.SIGKILL)
        states = []
        for name in old:
            data = (lib / name).read_bytes()
            assert data in (old[name], new[name]), f"{name} is neither old nor new after kill"
            states.append(data == new[name])
        temps = [p for p in lib.iterdir() if atomic.TEMP_INFIX in p.name]
        mid_run += bool(temps) or 0 < sum(states) < len(states)
    # The kills did land inside the run, not only before or after it.
    assert mid_run >= len(kills) // 2, f"only {mid_run} of {len(kills)} kills landed mid-run"

    # The next run finishes the job: every file new, whole, readable; no temp file left.
    writer = start_writer(sorted(lib.iterdir()))
    writer.stdout.readline()
    assert writer.wait() == 0
    assert sorted(p.name for p in lib.iterdir()) == sorted(old)
    for original in originals:
        assert (lib / original.name).read_bytes() == new[original.name]
        assert mutagen.File(str(lib / original.name)) is not None
        assert audio_hash(lib / original.name) == audio_hash(original)
