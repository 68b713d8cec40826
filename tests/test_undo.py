"""``mgc undo``: the genres a run wrote come back out, byte for byte, only from files still as
the run left them; everything else is reported and left alone. Runs are made with the
write-back library (``tagged_files.record_run``), so no model or pipeline is needed."""

import os
import shutil
from pathlib import Path

import mutagen
import pandas as pd
import pytest

from audio import chord_track, write_audio
from pipelines.cli import main
from pipelines.files.undo import NothingToUndo, undo_run
from tagged_files import (
    FORMATS,
    audio_hash,
    make_tagged,
    mediafile_genres,
    mutagen_fields,
    raw_provenance,
    record_run,
)

# untagged files: the write creates their tag, and undo takes it away again
BARE = {"bare-wav": "wav", "bare-aiff": "aiff", "bare-ogg": "ogg", "bare-flac": "flac"}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Per starting state, a file of every format: without a genre, and with two."""
    root = tmp_path_factory.mktemp("pristine")
    made = {"none": {}, "genres": {}}
    for fmt, (ext, _) in FORMATS.items():
        made["none"][fmt] = make_tagged(root / "none" / f"{fmt}.{ext}", fmt, seconds=2.0)
        made["genres"][fmt] = make_tagged(root / "genres" / f"{fmt}.{ext}", fmt,
                                          genres=["Jazz", "Blues"], seconds=2.0)
    for name, ext in BARE.items():
        path = root / "none" / f"{name}.{ext}"
        write_audio(path, chord_track(2.0, 22050), 22050)
        made["none"][name] = path
    return made


def library(pristine, state: str, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: Path(shutil.copy2(path, folder / path.name))
            for name, path in pristine[state].items()}


@pytest.mark.parametrize(("policy", "state"), [("fill", "none"), ("merge", "genres"),
                                               ("overwrite", "genres")])
def test_undo_gives_every_file_back_byte_for_byte(pristine, tmp_path, policy, state):
    files = library(pristine, state, tmp_path / "lib")
    before = {name: path.read_bytes() for name, path in files.items()}
    mtimes = {name: path.stat().st_mtime_ns for name, path in files.items()}
    rows = record_run(tmp_path / "out", list(files.values()), policy)
    assert {row["action"] for row in rows} == {"written"}
    assert all(files[n].read_bytes() != before[n] for n in files)

    summary = undo_run(str(tmp_path / "out"))
    assert summary.counts == {"restored": len(files)}
    for name, path in files.items():
        assert not raw_provenance(path), name
        assert path.stat().st_mtime_ns == mtimes[name]
        if name == "bare-flac":  # mutagen always writes a PADDING block: 4 bytes, empty
            assert len(path.read_bytes()) == len(before[name]) + 4
            assert mutagen_fields(path) == mutagen_fields(pristine[state][name])
            assert mediafile_genres(path) == []
            assert audio_hash(path) == audio_hash(pristine[state][name])
        else:
            assert path.read_bytes() == before[name], f"{name} is not as before the {policy}"

    again = undo_run(str(tmp_path / "out"))
    assert again.counts == {"unchanged": len(files)}
    restored = {name: path.read_bytes() for name, path in files.items()}
    assert restored == {name: path.read_bytes() for name, path in files.items()}


def test_earlier_runs_genres_and_provenance_come_back(pristine, tmp_path):
    files = library(pristine, "none", tmp_path / "lib")
    paths = [files["mp3-v23"], files["flac"], files["m4a"]]
    record_run(tmp_path / "first", paths, "fill", model="musicnn@0.1.0")
    after_first = {p: p.read_bytes() for p in paths}
    record_run(tmp_path / "second", paths, "overwrite", model="other@2",
               scores={"Classical": 0.9})
    assert mediafile_genres(paths[0]) == ["Classical"]
    assert undo_run(str(tmp_path / "second")).counts == {"restored": 3}
    assert {p: p.read_bytes() for p in paths} == after_first
    assert raw_provenance(paths[1])["MGC_MODEL"] == "musicnn@0.1.0"


def test_files_changed_since_the_run_are_left_alone_and_reported(pristine, tmp_path):
    files = library(pristine, "none", tmp_path / "lib")
    out = tmp_path / "out"
    record_run(out, list(files.values()), "fill")
    retagged, touched, gone, locked = (files[n] for n in ("mp3-v24", "flac", "ogg", "m4a"))
    audio = mutagen.File(str(retagged))  # another tagger changed the genre since
    audio.tags.delall("TCON")
    audio.tags.add(mutagen.id3.TCON(encoding=3, text=["Ambient"]))
    audio.save()
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    gone.unlink()
    locked.chmod(0o444)
    kept = {p: p.read_bytes() for p in (retagged, touched, locked)}

    summary = undo_run(str(out))
    by_path = {o.path: o for o in summary.outcomes}
    assert by_path[str(retagged)].action == "changed-since"
    assert "its genres are now Ambient" in by_path[str(retagged)].message
    assert by_path[str(touched)].action == "changed-since"
    assert "size or modification time" in by_path[str(touched)].message
    assert by_path[str(gone)].action == "missing"
    assert by_path[str(locked)].action == "failed"
    assert "ReadOnlyFile" in by_path[str(locked)].message
    assert summary.counts["restored"] == len(files) - 4
    assert {p: p.read_bytes() for p in kept} == kept

    record = pd.read_parquet(summary.record).set_index("path")
    assert record.loc[str(touched), "action"] == "changed-since"
    assert record.loc[str(files["wav"]), "action"] == "restored"
    assert list(record.loc[str(files["wav"]), "genres_found"]) == ["Rock", "Electronic"]
    assert set(record["run_id"]) == {"run1"}


def test_dry_run_changes_no_byte(pristine, tmp_path):
    files = library(pristine, "none", tmp_path / "lib")
    record_run(tmp_path / "out", list(files.values()), "fill")
    written = {name: path.read_bytes() for name, path in files.items()}
    summary = undo_run(str(tmp_path / "out"), dry_run=True)
    assert summary.counts == {"would-restore": len(files)} and summary.record is None
    assert {name: path.read_bytes() for name, path in files.items()} == written
    assert not (tmp_path / "out" / "undo").exists()


def test_only_written_files_are_undone(pristine, tmp_path):
    files = library(pristine, "genres", tmp_path / "lib")
    for untagged in ("mp3-v1", "mp3-bare"):  # made without genres
        files.pop(untagged).unlink()
    before = {name: path.read_bytes() for name, path in files.items()}
    rows = record_run(tmp_path / "out", list(files.values()), "fill")  # all have a genre
    assert {row["action"] for row in rows} == {"skipped"}
    summary = undo_run(str(tmp_path / "out"))
    assert summary.outcomes == [] and summary.not_written == len(files)
    assert {name: path.read_bytes() for name, path in files.items()} == before


def test_nothing_to_undo_says_why(tmp_path):
    with pytest.raises(NothingToUndo, match="no tag run"):
        undo_run(str(tmp_path))
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(NothingToUndo, match="without --write-tags"):
        undo_run(str(tmp_path))


def test_mgc_undo_prints_each_file_and_a_summary(pristine, tmp_path, capfd):
    files = library(pristine, "none", tmp_path / "lib")
    out = tmp_path / "out"
    record_run(out, [files["mp3-v23"], files["opus"]], "fill")
    files["opus"].touch()

    assert main(["undo", str(out), "--dry-run"]) == 0
    printed = capfd.readouterr().out
    assert f"would-restore {files['mp3-v23']}: Rock; Electronic -> (no genre)" in printed
    assert "(dry run: no file was changed)" in printed

    assert main(["undo", str(out)]) == 0
    printed = capfd.readouterr().out
    assert f"restored      {files['mp3-v23']}: Rock; Electronic -> (no genre)" in printed
    assert f"changed-since {files['opus']}: changed since the run wrote it" in printed
    assert "Undid run run1: restored 1, changed-since 1" in printed
    assert f"record in {out}/undo/undo-" in printed

    assert main(["undo", str(tmp_path / "nowhere")]) == 1
    assert "mgc undo: no tag run" in capfd.readouterr().err
