"""The beets plugin (beetsplug/mgc.py) against a real beets library: beets from PyPI (mgc's
``beets`` extra), a config folder and library made here, short generated files imported with
``beet import -A``, and every step through the ``beet`` command, as a user runs it.

One library for the module (each ``beet mgc`` runs mgc's pipeline): the fixture imports the
files and runs ``beet mgc -p`` then ``beet mgc``; the tests read what they left, and the last
ones change it further (``-f``, ``beet write``, an import with ``auto: yes``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import mutagen
import pytest

from audio import chord_track, write_audio

pytest.importorskip("beets", reason="mgc's beets extra: pip install -e '.[beets]'")

BEET = str(Path(sys.executable).parent / "beet")
SR = 22050
SECONDS = 3.0
# file name -> its own genre; the brackets check that a path is not read as a glob
FILES = {"a.mp3": None, "b.flac": None, "c.ogg": "Jazz", "d [live].mp3": None}
FORMAT = "$path|$genre|$genres|$mgc_genre|$mgc_score|$mgc_model"


def beet(env: dict, *args: str, timeout: int = 180) -> str:
    run = subprocess.run([BEET, *args], env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, f"beet {' '.join(args)}:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def listing(env: dict, *query: str) -> dict[str, list[str]]:
    """``beet ls -f FORMAT``: file name -> [genre, genres, mgc_genre, mgc_score, mgc_model]."""
    out = beet(env, "ls", "-f", FORMAT, *query)
    rows = [line.split("|") for line in out.splitlines() if line.count("|") == 5]
    return {Path(row[0]).name: row[1:] for row in rows}


def file_genres(path: Path) -> list[str]:
    return list(mutagen.File(path, easy=True).get("genre", []))


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def in_music(library, name: str) -> Path:
    return next(p for p in library.music.rglob("*") if p.name == name)


def make_file(path: Path, seed: int, genre: str | None, album: str | None = None) -> None:
    write_audio(path, chord_track(SECONDS, SR, seed=seed), SR)
    tags = mutagen.File(path, easy=True)
    if tags.tags is None:
        tags.add_tags()
    tags["artist"] = f"Artist {seed % 2}"
    # set, or beets' as-is import fills it in its database only and `beet write` adds it
    tags["albumartist"] = f"Artist {seed % 2}"
    tags["album"] = album or f"Album {seed % 2}"
    tags["title"] = path.stem
    if genre:
        tags["genre"] = genre
    tags.save()


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("beets")
    music, cfg = root / "music", root / "config"
    cfg.mkdir()
    for seed, (name, genre) in enumerate(FILES.items()):  # a folder per album, as beets likes
        make_file(music / f"artist {seed % 2}" / name, seed, genre)
    # min_score 0: the synthetic chords score low, and every file should get a genre here
    (cfg / "config.yaml").write_text(
        f"directory: {root / 'lib'}\n"
        f"library: {cfg / 'library.db'}\n"
        "import:\n  copy: no\n  write: yes\n"
        "plugins: mgc\n"
        f"mgc:\n  min_score: 0.0\n  output: {root / 'mgc-state'}\n")
    env = {**os.environ, "BEETSDIR": str(cfg)}
    beet(env, "import", "-A", "-q", str(music))
    imported = listing(env)
    files_before = fingerprint(music)
    db_before = (cfg / "library.db").read_bytes()
    pretend = beet(env, "mgc", "-p")
    state = SimpleNamespace(
        root=root, music=music, cfg=cfg, env=env, imported=imported, pretend=pretend,
        pretend_files=fingerprint(music) == files_before,
        pretend_db=(cfg / "library.db").read_bytes() == db_before,
        pretend_listing=listing(env))
    state.run = beet(env, "mgc")
    state.tagged = listing(env)
    return state


def test_import_made_the_library(library):
    assert set(library.imported) == set(FILES)
    assert library.imported["c.ogg"][1] == "Jazz"
    assert library.imported["a.mp3"][2] == "$mgc_genre"  # no mgc field yet


def test_pretend_changes_nothing(library):
    assert "would change 4 of 4 items" in library.pretend
    assert "mgc_genre" in library.pretend  # the changes are printed
    assert library.pretend_files and library.pretend_db
    assert library.pretend_listing == library.imported


def test_mgc_stores_genres_and_typed_fields(library):
    tagged = library.tagged
    assert "changed 4 of 4 items (1 kept their own genre" in library.run
    for name, (genre, genres, mgc_genre, score, model) in tagged.items():
        assert mgc_genre and mgc_genre != "$mgc_genre"
        assert 0.0 <= float(score) <= 1.0
        assert model.startswith("musicnn-yamnet")
        # $genre: the genres as one text on a beets whose genre is a list (2.14)
        assert genre == genres
        if FILES[name]:  # its own genre is kept without --force
            assert genres == FILES[name]
        else:
            assert genres == mgc_genre
    # mgc_score is a float field: beets' numeric range queries work on it
    assert set(listing(library.env, "mgc_score:0..1")) == set(FILES)
    assert listing(library.env, "mgc_score:1.01..") == {}
    assert set(listing(library.env, "mgc_genre:" + tagged["a.mp3"][2])) >= {"a.mp3"}


def test_files_agree_with_the_database(library):
    """import.write is on: beets wrote the genres it stored; ``beet write`` finds nothing to
    change."""
    for name, row in library.tagged.items():
        assert "; ".join(file_genres(in_music(library, name))) == row[1], name
    before = fingerprint(library.music)
    beet(library.env, "write")
    assert fingerprint(library.music) == before


def test_rerun_is_incremental(library):
    out = beet(library.env, "mgc")
    # the files beets wrote changed and are analysed again; the kept one is carried over
    assert "1 unchanged since the last run" in out
    assert "changed 0 of 4 items" in out
    out = beet(library.env, "mgc")
    assert "0 files analysed, 4 unchanged since the last run" in out


def test_force_replaces_and_write_setting_is_obeyed(library):
    """-f replaces an item's own genre; with import.write off beets stores it and leaves the
    file alone, until ``beet write`` makes the file agree with the database."""
    no_write = library.root / "no-write.yaml"
    no_write.write_text("import:\n  write: no\n")
    c = in_music(library, "c.ogg")
    out = beet(library.env, "-c", str(no_write), "mgc", "-f", "title:=c")
    assert "changed 1 of 1 items" in out
    row = listing(library.env, "title:=c")["c.ogg"]
    assert row[1] == row[2] != "Jazz"  # genres replaced by mgc's
    assert file_genres(c) == ["Jazz"]  # the file is not written
    beet(library.env, "write")
    assert "; ".join(file_genres(c)) == row[1]
    assert listing(library.env, "title:=c")["c.ogg"] == row


def test_min_score_auto_is_the_threshold_measured_on_the_library(library):
    """min_score: auto (the default) judges each item by run.json's calibration for its kind
    of evidence; the synthetic chords score under it: -f would replace no genre."""
    from mgc_model.calibration import kind_of
    from pipelines.graph.publish import read_tags

    auto = library.root / "min-score-auto.yaml"
    auto.write_text("mgc:\n  min_score: auto\n")
    out = beet(library.env, "-c", str(auto), "mgc", "-p", "-f")
    assert "would change 0 of 4 items" in out
    calibration = json.loads((library.root / "mgc-state" / "run.json").read_text())[
        "calibration"]
    rows = read_tags(str(library.root / "mgc-state")).to_table(
        columns=["genre_score", "genre_from"]).to_pylist()
    assert len(rows) == 4
    for row in rows:
        assert row["genre_score"] < calibration[kind_of(row["genre_from"])]["min_score"]


def test_auto_tags_imported_items(library):
    """auto: yes: an import stage notes the items, tagged when the import ends."""
    auto = library.root / "auto.yaml"
    auto.write_text("mgc:\n  auto: yes\n")
    new = library.root / "more" / "e.flac"
    make_file(new, 7, None, album="Another album")  # a new album: -q skips duplicates
    beet(library.env, "-c", str(auto), "import", "-A", "-q", str(new.parent))
    row = listing(library.env, "title:=e")["e.flac"]
    assert row[2] not in ("", "$mgc_genre")
    assert row[1] == row[2]
    assert "; ".join(file_genres(new)) == row[1]
