"""``mgc tag --write-tags`` as a user runs it: a dry run first, then the real thing, on a tiny
library with a file that has a genre, a read-only file and a broken one; and the flags that
cannot apply, refused before any work with a message saying what to do."""

import json

import pandas as pd
import pytest

from pipelines.cli import main
from tagged_files import make_tagged, mediafile_genres


@pytest.fixture
def library(tmp_path):
    lib = tmp_path / "lib"
    files = {
        "a": make_tagged(lib / "a.mp3", "mp3-v23", seconds=4.0),
        "b": make_tagged(lib / "b.flac", "flac", genres=["Jazz"], seconds=4.0),
        "c": make_tagged(lib / "sub" / "c.m4a", "m4a", seconds=4.0),
        "locked": make_tagged(lib / "locked.ogg", "ogg", seconds=4.0),
    }
    files["locked"].chmod(0o444)
    files["broken"] = lib / "broken.mp3"
    files["broken"].write_bytes(b"ID3 but nothing else")
    return lib, files


def run(capfd, *args) -> tuple[int, str]:
    code = main(["tag", *map(str, args), "--max-patches", "1", "--min-score", "0"])
    return code, capfd.readouterr().out


def test_dry_run_then_fill_writes_the_best_genre_and_records_every_file(library, tmp_path,
                                                                      capfd):
    lib, files = library
    out = tmp_path / "out"
    snapshot = {name: path.read_bytes() for name, path in files.items()}

    code, printed = run(capfd, lib, "--output", out, "--write-tags", "fill", "--dry-run")
    assert code == 0
    assert {name: path.read_bytes() for name, path in files.items()} == snapshot
    best = pd.read_parquet(out / "tags").set_index("path")["genre"]
    assert f"would-write {files['a']}: (no genre) -> {best[str(files['a'])]}" in printed
    assert f"skipped     {files['b']}: Jazz (has a genre; fill keeps it)" in printed
    assert f"failed      {files['locked']}: read-only file" in printed
    assert ("Genre tags (dry run: no file was changed): would-write 2, skipped 1, failed 1"
            in printed)

    code, printed = run(capfd, lib, "--output", out, "--write-tags", "fill")
    assert code == 0
    assert "Genre tags: written 2, skipped 1, failed 1" in printed
    for name in ("a", "c"):
        assert mediafile_genres(files[name]) == [best[str(files[name])]]
    for name in ("b", "locked", "broken"):
        assert files[name].read_bytes() == snapshot[name]

    writes = pd.read_parquet(out / "writes").set_index("path")
    assert writes.loc[str(files["a"]), "action"] == "written"
    assert list(writes.loc[str(files["b"]), "genres_before"]) == ["Jazz"]
    assert writes.loc[str(files["locked"]), "action"] == "failed"
    assert str(files["broken"]) not in writes.index  # never tagged: only a decode error row
    errors = pd.read_parquet(out / "errors").set_index("path")["stage"]
    assert errors.to_dict() == {str(files["broken"]): "decode", str(files["locked"]): "write"}
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["writes"] == {"written": 2, "skipped": 1, "failed": 1}
    assert run_json["seen"] == 5 and run_json["options"]["write"]["policy"] == "fill"


@pytest.mark.parametrize(("args", "message"), [
    (["--dry-run"], "--dry-run only applies with --write-tags"),
    (["--genre-count", "2"], "--genre-count only applies with --write-tags"),
    (["--write-tags", "fill", "--demo"], "would change the demo files shipped inside mgc"),
    (["gs://bucket/music", "--write-tags", "fill"], "writes into local files only"),
    (["--write-tags", "fill", "--runner", "DataflowRunner"], "needs a local runner"),
    (["--write-tags", "fill", "--separator", "/"], "occurs in the genre 'Old-Time / Historic'"),
    (["--write-tags", "fill", "--vocabulary", "missing.txt"], "--vocabulary: cannot read"),
    (["--write-tags", "fill", "--genre-count", "0"], "--genre-count must be at least 1"),
])
def test_flags_that_cannot_apply_are_refused_with_what_to_do(args, message, tmp_path,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.mp3").write_bytes(b"")
    with pytest.raises(SystemExit) as refused:
        main(["tag", *args, "--output", "out"] if "://" in args[0] else
             ["tag", "a.mp3", "--output", "out", *args])
    assert message in str(refused.value.code)
    assert not (tmp_path / "out").exists()


def test_policy_choices_and_the_recommendation_are_in_the_help(capfd):
    with pytest.raises(SystemExit):
        main(["tag", "x", "--output", "o", "--write-tags", "fil"])
    refused = capfd.readouterr().err
    assert "--write-tags: invalid choice: 'fil'" in refused and "'merge'" in refused
    with pytest.raises(SystemExit):
        main(["tag", "--help"])
    help_text = " ".join(capfd.readouterr().out.split())
    assert "fill (recommended" in help_text and "--dry-run" in help_text
