"""Runs that survive being killed (``pipelines.graph.checkpoint``): ``mgc tag`` over a library
of 150 files is stopped with Ctrl-C, then killed with SIGKILL at two later moments, each time
started again with the same command; the run that ends publishes exactly what an
uninterrupted run publishes (one row per file, the same genres and scores), says in run.json
how many files it kept, and decoded only the others. Also: with ``--incremental``, a shard
committed twice (a retried bundle), and genres written by a killed run not written again.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audio import chord_track, write_audio
from mgc_model import registry
from pipelines.cli import main
from pipelines.files.formats import read_current
from pipelines.files.undo import undo_run
from pipelines.files.writeback import WriteOptions
from pipelines.graph import checkpoint, publish, steps
from pipelines.graph.incremental import Signature, state_key
from pipelines.graph.tag import TagOptions, run_tag
from tagged_files import make_tagged

FILES = 150
SR = 16000
ARGS = ["--max-patches", "2", "--no-progress"]
OPTIONS = TagOptions(max_patches=2)
# Commit every quarter second (30 s in real runs), so that a short run commits often.
ENV = {**os.environ, "MGC_COMMIT_SECONDS": "0.25"}
TIMEOUT_S = 120  # no step of these tests waits longer for a run


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """150 short tracks of 3.5 s (two windows each) and one file that cannot be decoded."""
    lib = tmp_path_factory.mktemp("resume") / "lib"
    for i in range(FILES):
        write_audio(lib / f"t{i:03d}.wav", chord_track(3.5, SR, channels=1, seed=i), SR)
    (lib / "broken.mp3").write_bytes(b"ID3 and then nothing")
    return lib


def command(lib: Path, out: Path, *extra: str) -> list[str]:
    return ["tag", str(lib), "--output", str(out), *ARGS, *extra]


def checkpoint_of(out: Path, options: TagOptions = OPTIONS) -> str:
    return checkpoint.folder(str(out), state_key(registry.describe(options.model).ref, options))


def whole_paths(where: str) -> set[str]:
    """The files a checkpoint holds whole (their Track and both windows)."""
    def read(name: str, columns: list[str]) -> pd.DataFrame:
        shards = sorted(Path(where, name).glob("*.parquet"))  # not a killed write's *.tmp
        return pd.concat([pd.read_parquet(s, columns=columns) for s in shards]) if shards \
            else pd.DataFrame(columns=columns)

    patches = read("patches", ["path", "index"])
    tracks = read("tracks", ["path", "n_patches"])
    windows = patches.drop_duplicates().groupby("path").size()
    return {p for p, n in zip(tracks.path, tracks.n_patches, strict=True)
            if windows.get(p, 0) == n}


def start(lib: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", *command(lib, out, *extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def stop_when_committed(run: subprocess.Popen, out: Path, at_least: int,
                        sig: int = signal.SIGKILL) -> tuple[int, str]:
    """Send ``sig`` once the checkpoint holds ``at_least`` whole files; the exit code and
    stderr. Fails, never hangs, when the run ends first or takes too long."""
    where, deadline = checkpoint_of(out), time.monotonic() + TIMEOUT_S
    while len(whole_paths(where)) < at_least:
        if run.poll() is not None:
            pytest.fail(f"the run ended before {at_least} files were committed: "
                        f"{run.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            run.kill()
            pytest.fail(f"{at_least} files were not committed within {TIMEOUT_S} s")
        time.sleep(0.05)
    run.send_signal(sig)
    _, err = run.communicate(timeout=TIMEOUT_S)
    return run.returncode, err


def published(out: Path) -> dict:
    tags = pd.read_parquet(out / "tags").sort_values("path").reset_index(drop=True)
    errors = pd.read_parquet(out / "errors").sort_values("path").reset_index(drop=True)
    return {"tags": tags, "errors": errors, "run": json.loads((out / "run.json").read_text())}


def assert_same_output(got: dict, want: dict, unlike: tuple[str, ...] = ("tagged_at",)) -> None:
    """One row per file, and each row the uninterrupted run's (scores within float
    tolerance: a mean summed in another order)."""
    tags, expected = got["tags"], want["tags"]
    assert tags.path.is_unique and got["errors"].path.is_unique
    assert tags.path.tolist() == expected.path.tolist()
    assert tags.genre.tolist() == expected.genre.tolist()
    for column in expected.columns:
        if column in unlike:
            continue
        for a, b in zip(tags[column], expected[column], strict=True):
            if isinstance(b, np.ndarray) and b.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=column)
            elif isinstance(b, np.ndarray):
                assert a.tolist() == b.tolist(), column
            elif isinstance(b, float):
                assert a == pytest.approx(b, nan_ok=True), column
            else:
                assert a == b or (pd.isna(a) and pd.isna(b)), column
    pd.testing.assert_frame_equal(got["errors"], want["errors"])


def tag_recording_decodes(argv: list[str]) -> tuple[int, str, list[str]]:
    """``mgc tag`` in this process (the same command), recording every file it decodes."""
    decoded: list[str] = []
    real = steps.decoded_track
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.setenv("MGC_COMMIT_SECONDS", "0.25")

        def recording(path, *args, **kwargs):
            decoded.append(path)
            return real(path, *args, **kwargs)

        mp.setattr(steps, "decoded_track", recording)
        code = main(argv)
    return code, printed.getvalue(), decoded


@pytest.fixture(scope="module")
def uninterrupted(library, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    assert main(command(library, out)) == 0
    return published(out)


@pytest.fixture(scope="module")
def resumed(library, tmp_path_factory) -> dict:
    """Ctrl-C, then SIGKILL twice, each time the same command again; then a retried bundle's
    shards (every shard copied), and the run that ends."""
    out = tmp_path_factory.mktemp("resumed") / "out"
    where, seen = checkpoint_of(out), {}
    started = time.monotonic()
    seen["ctrl_c"] = stop_when_committed(start(library, out), out, 15, signal.SIGINT)
    seen["after_ctrl_c"] = {"whole": whole_paths(where),
                            "entries": sorted(p.name for p in out.iterdir())}
    for at_least in (60, 100):
        code, _ = stop_when_committed(start(library, out), out, at_least)
        seen.setdefault("kills", []).append((at_least, code, len(whole_paths(where))))
    seen["before_last"] = whole_paths(where)
    for name in ("tracks", "patches"):  # a retried bundle wrote its rows a second time
        for shard in list(Path(where, name).glob("*.parquet")):
            shutil.copy(shard, shard.with_name(f"{uuid.uuid4().hex}.parquet"))
    code, printed, decoded = tag_recording_decodes(command(library, out))
    seen.update(code=code, printed=printed, decoded=decoded, out=out,
                entries=sorted(p.name for p in out.iterdir()), **published(out))
    seen["seconds"] = time.monotonic() - started
    return seen


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(resumed):
    code, err = resumed["ctrl_c"]
    whole = resumed["after_ctrl_c"]["whole"]
    assert code == 130, err
    assert "Traceback" not in err and "ERROR" not in err, err
    assert f"Stopped. {len(whole)} files committed in " in err
    assert "run the same command again to resume" in err
    assert len(whole) >= 15
    # nothing published, no staging folder: only the checkpoint
    assert resumed["after_ctrl_c"]["entries"] == [Path(checkpoint_of(resumed["out"])).name]


def test_killed_runs_resume_to_the_uninterrupted_output(resumed, uninterrupted):
    assert [(at, code) for at, code, _ in resumed["kills"]] == [(60, -9), (100, -9)]
    assert resumed["code"] == 0
    assert_same_output(resumed, uninterrupted)
    assert len(resumed["tags"]) == FILES
    assert resumed["errors"].path.str.endswith("broken.mp3").tolist() == [True]
    # published: the checkpoint is gone (the killed runs' staging folders stay)
    assert not [e for e in resumed["entries"] if e.startswith(checkpoint.PREFIX)]


def test_the_rerun_decodes_only_what_was_not_committed(resumed, library):
    kept = resumed["before_last"]
    run = resumed["run"]
    assert run["resumed"] == {"kept": len(kept),
                              "from": Path(checkpoint_of(resumed["out"])).name}
    assert run["kept"] == len(kept) >= 100 and run["tagged"] == FILES
    everything = {str(p) for p in library.glob("*.wav")}
    assert not kept & set(resumed["decoded"])  # shards written twice were kept once
    assert len(resumed["decoded"]) == len(set(resumed["decoded"])) == FILES - len(kept)
    assert set(resumed["decoded"]) | kept == everything
    assert f"resumed: {len(kept)} kept from the interrupted run" in resumed["printed"]


def test_resume_with_incremental(library, uninterrupted, tmp_path):
    """A nightly --incremental run killed part-way: the rerun carries the unchanged files,
    keeps what the killed run committed, and decodes only the rest."""
    out = tmp_path / "out"
    assert main(command(library, out, "--incremental")) == 0  # last night
    touched = sorted(library.glob("t0[0-3]*.wav"))  # 40 files changed since (mtime)
    for path in touched:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    code, _ = stop_when_committed(start(library, out, "--incremental"), out, 10)
    assert code == -9
    kept = whole_paths(checkpoint_of(out))
    got, printed, decoded = tag_recording_decodes(command(library, out, "--incremental"))
    assert got == 0
    result = published(out)
    run = result["run"]
    assert (run["skipped"], run["kept"], run["tagged"]) == (FILES - 40, len(kept), 40)
    assert sorted(decoded) == sorted({str(p) for p in touched} - kept)
    assert_same_output(result, uninterrupted, unlike=("tagged_at", "mtime_ns"))


def test_a_shard_committed_twice_counts_once():
    """``Keep`` alone: windows given twice (a retried bundle's shard) are kept once; a file
    changed since, or missing a window, is decoded again."""
    signature = Signature(100, 5)
    track = steps.Track("a.wav", 3.5, SR, 1, 2, None, signature)
    row = checkpoint.as_row(checkpoint.TRACKS, ("a.wav", track))
    windows = [checkpoint.as_row(checkpoint.PATCHES, (("a.wav", i), (np.full(3, i, np.float32),
                                                                        np.zeros(2))))
               for i in (0, 1)]
    joined = {"now": [signature], "tracks": [row, row], "patches": windows + windows,
              "writes": []}
    out = list(checkpoint.Keep().process(("a.wav", joined)))
    by_tag = {}
    for element in out:
        by_tag.setdefault(getattr(element, "tag", "paths"), []).append(
            getattr(element, "value", element))
    assert [t for _, t in by_tag["tracks"]] == [track]
    assert [key for key, _ in by_tag["patches"]] == [("a.wav", 0), ("a.wav", 1)]
    assert by_tag["kept"] == [{"path": "a.wav"}] and "paths" not in by_tag
    changed = dict(joined, now=[Signature(100, 6)])
    assert list(checkpoint.Keep().process(("a.wav", changed))) == ["a.wav"]
    partial = dict(joined, patches=windows[:1])
    assert list(checkpoint.Keep().process(("a.wav", partial))) == ["a.wav"]
    assert list(checkpoint.Keep().process(("gone.wav", dict(joined, now=[])))) == []


def killed_after_writing(tmp_path: Path):
    """A run that dies after writing genres into two files (its publication fails): (lib,
    out, the files, the options, the files' bytes before the run)."""
    lib, out = tmp_path / "lib", tmp_path / "out"
    files = [make_tagged(lib / "a.mp3", "mp3-v23", seconds=3.0),
             make_tagged(lib / "b.flac", "flac", seconds=3.0)]
    before = {p: p.read_bytes() for p in files}
    options = TagOptions(max_patches=1, write=WriteOptions(min_score=0.0))
    with pytest.MonkeyPatch.context() as mp:
        def die(*args, **kwargs):
            raise RuntimeError("killed before publishing")

        mp.setattr(publish, "publish_tags", die)
        with pytest.raises(Exception, match="killed before publishing"):
            run_tag([str(lib)], str(out), options)
    return lib, out, files, options, before


def test_genres_a_killed_run_wrote_are_not_written_again(tmp_path):
    """The rerun keeps the files a killed run wrote and gives their committed write rows
    again, writing nothing."""
    lib, out, files, options, _ = killed_after_writing(tmp_path)
    written = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    committed = pd.read_parquet(Path(checkpoint_of(out, options)) / "writes")
    assert sorted(committed.action) == ["written", "written"]

    again = run_tag([str(lib)], str(out), options)
    assert again.kept == 2 and again.writes == {"written": 2}
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == written
    rows = publish.read_writes(str(out))
    assert [r["path"] for r in rows] == sorted(str(p) for p in files)
    assert [(r["size"], r["mtime_ns"]) for r in rows] == [
        (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(files)]


def test_undo_takes_back_what_a_killed_run_wrote(tmp_path):
    """No rerun needed: ``mgc undo`` finds a killed run's committed writes and undoes them."""
    _, out, files, _, before = killed_after_writing(tmp_path)
    assert all(read_current(str(p))[0] for p in files)
    summary = undo_run(str(out))
    assert summary.counts == {"restored": 2} and "interrupted" in summary.run_id
    assert all(read_current(str(p)) == ((), {}) for p in files)
    assert {p: p.read_bytes() for p in files} == before
