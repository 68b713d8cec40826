"""A peer's odd but real files: the test files of mutagen's own sdist (fetched from PyPI once,
cached), tagged with write-back and undone through the CLI, as a user would. Every file that
holds audio is tagged or an error row in words; none's audio or other tags change; undo gives
every written file back."""

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import av
import pyarrow.parquet as pq
import pytest

from pipelines.files.formats import read_current
from tagged_files import mutagen_fields

MUTAGEN = importlib.metadata.version("mutagen")
CACHE = Path(os.environ.get("MGC_TEST_CACHE", Path.home() / ".cache" / "mgc-tests"))
# What a Python exception looks like when it leaks into an error row unexplained.
BARE = re.compile(r"codec can't|\[Errno|object has no attribute|NoneType|Traceback|"
                  r"unpack requires|index out of range|KeyError|^\w+Error: ")


@pytest.fixture(scope="module")
def peer_files(tmp_path_factory) -> Path:
    """mutagen's tests/data, from its sdist on PyPI (the installed version), cached."""
    sdist = CACHE / f"mutagen-{MUTAGEN}.tar.gz"
    if not sdist.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        fetched = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--quiet", f"mutagen=={MUTAGEN}", "-d", str(CACHE)],
            capture_output=True, text=True, timeout=300)
        assert fetched.returncode == 0 and sdist.exists(), fetched.stderr[-2000:]
    root = tmp_path_factory.mktemp("mutagen-sdist")
    prefix = f"mutagen-{MUTAGEN}/tests/data/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)]
        for member in members:
            member.name = member.name[len(prefix):]
        tar.extractall(root, members=members, filter="data")
    assert len(members) > 90
    return root


def holds_audio(path: Path) -> bool:
    """FFmpeg finds an audio stream and decodes at least one frame of it."""
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            stream = next(s for s in container.streams if s.type == "audio")
            return next(iter(container.decode(stream)), None) is not None
    except Exception:
        return False


def decoded(path: Path) -> str:
    """SHA-256 of the samples FFmpeg decodes: what a player plays. (Packets would not do: some
    demuxers hand the ID3v1 or APEv2 tag at the end over inside the last packet.)"""
    digest = hashlib.sha256()
    with av.open(str(path), metadata_errors="replace") as container:
        for frame in container.decode(audio=0):
            digest.update(frame.to_ndarray().tobytes())
    return digest.hexdigest()


def state(path: Path) -> dict:
    """What must survive: the bytes, or failing that the decoded audio and the other tags."""
    found = {"bytes": path.read_bytes()}
    for name, read in (("audio", decoded), ("tags", mutagen_fields),
                       ("genres", lambda p: read_current(str(p)))):
        try:
            found[name] = read(path)
        except Exception as error:  # mutagen or FFmpeg cannot read it: only bytes compare
            found[name] = type(error).__name__
    return found


def mgc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True,
                          text=True, timeout=600)


def rows(folder: Path) -> list[dict]:
    return [row for shard in sorted(folder.glob("*.parquet"))
            for row in pq.read_table(shard).to_pylist()]


@pytest.mark.timeout(900)
def test_mutagens_own_test_files_are_tagged_written_and_undone_unharmed(peer_files, tmp_path):
    library = tmp_path / "library"
    shutil.copytree(peer_files, library)
    files = sorted(p for p in library.iterdir())
    before = {p.name: state(p) for p in files}
    with_audio = {p.name for p in files if holds_audio(p)}

    out = tmp_path / "out"
    tagged = mgc("tag", str(library), "--output", str(out), "--write-tags", "fill",
                 "--min-score", "0")
    assert tagged.returncode == 0, tagged.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    tags = {Path(r["path"]).name for r in rows(out / "tags")}
    errors = {Path(r["path"]).name: r for r in rows(out / "errors")}
    writes = {Path(r["path"]).name: r for r in rows(out / "writes")}

    # Nothing holding audio passed over: tagged or an error row, whatever its name (.oggflac,
    # .oggtheora, an MP3 named .id3); what is not audio is counted by extension in run.json.
    assert with_audio - tags - set(errors) == set()
    assert len(tags) >= 60, sorted(with_audio - tags)
    assert sum(run["passed_over"].values()) == len(files) - len(tags | set(errors))
    # Every error row in words a user can act on, not a bare exception.
    for name, row in errors.items():
        assert not BARE.search(row["message"]), (name, row["message"])
        assert len(row["message"].split()) >= 5, (name, row["message"])

    # No file's audio or other tags changed; a file not written is byte for byte as it was.
    written = [name for name, row in writes.items() if row["action"] == "written"]
    assert len(written) >= 40, writes
    for name, was in before.items():
        now = state(library / name)
        if name in written:
            assert (now["audio"], now["tags"]) == (was["audio"], was["tags"]), name
            assert now["genres"][0], name
        else:
            assert now["bytes"] == was["bytes"], name

    # Undo gives every written file back: its audio, its tags, its genres (none).
    undone = mgc("undo", str(out))
    assert undone.returncode == 0, undone.stderr[-3000:]
    same_bytes = 0
    for name in written:
        now, was = state(library / name), before[name]
        assert (now["audio"], now["tags"], now["genres"]) == (
            was["audio"], was["tags"], was["genres"]), name
        same_bytes += now["bytes"] == was["bytes"]
    assert not [p.name for p in library.iterdir() if ".mgc-" in p.name]
    print(f"{len(files)} files, {len(with_audio)} holding audio, {len(tags)} tagged, "
          f"{len(errors)} error rows, {len(written)} written and undone "
          f"({same_bytes} byte for byte), passed over: {run['passed_over']}")
