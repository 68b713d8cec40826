"""INPUT arguments -> audio files: directories, globs, extensions, fsspec URLs."""

import os
from collections import Counter

import fsspec
import pytest

from pipelines.audio.matching import InputNotFound, check_inputs, expand_input, is_audio_path


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return str(path)


def test_extensions_are_case_insensitive():
    for name in ["a.MP3", "b.Flac", "c.ogg", "d.OGA", "e.opus", "f.wav", "g.AIF", "h.aiff",
                 "i.m4a", "j.mp4", "k.aac", "l.WMA"]:
        assert is_audio_path(name), name
    for name in ["cover.jpg", "notes.txt", "mp3", "track.mp3.part"]:
        assert not is_audio_path(name), name


def test_directories_are_walked_recursively_and_sorted(tmp_path):
    wanted = [touch(tmp_path / "b" / "deep" / "x.flac"), touch(tmp_path / "a.MP3"),
              touch(tmp_path / "b" / "y.wav")]
    touch(tmp_path / "cover.jpg")
    assert list(expand_input(str(tmp_path))) == sorted(wanted)


def test_globs_and_relative_paths(tmp_path, monkeypatch):
    touch(tmp_path / "one.mp3")
    touch(tmp_path / "two.ogg")
    monkeypatch.chdir(tmp_path)
    assert list(expand_input("*.mp3")) == [str(tmp_path / "one.mp3")]


def test_a_file_named_explicitly_is_kept_whatever_its_extension(tmp_path):
    path = touch(tmp_path / "song.unknown")
    assert list(expand_input(path)) == [path]


def test_broken_links_are_listed_so_they_can_be_reported(tmp_path):
    os.symlink(tmp_path / "missing.mp3", tmp_path / "link.mp3")
    assert list(expand_input(str(tmp_path))) == [str(tmp_path / "link.mp3")]


def test_fsspec_urls_keep_their_protocol():
    fs = fsspec.filesystem("memory")
    fs.pipe("/lib/a/song.mp3", b"x")
    fs.pipe("/lib/readme.txt", b"x")
    (found,) = expand_input("memory://lib")
    assert found.startswith("memory://") and found.endswith("/lib/a/song.mp3")
    assert fsspec.open(found).open().read() == b"x"


def test_missing_input_is_refused_before_any_work(tmp_path):
    with pytest.raises(InputNotFound, match="does not exist"):
        check_inputs([str(tmp_path / "nope")])
    with pytest.raises(InputNotFound):
        check_inputs([str(tmp_path / "*.mp3")])
    assert check_inputs([str(tmp_path)]) == [str(tmp_path)]


def special_files(root) -> dict[str, str]:
    """Paths with audio names that are not regular files: each would hang or never end a
    decode. name -> what its error message calls it."""
    import socket

    root.mkdir(parents=True, exist_ok=True)
    os.mkfifo(root / "fifo.mp3")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "socket.ogg"))
    os.symlink("/dev/zero", root / "zero-device.wav")
    os.symlink("/dev/urandom", root / "urandom.wav")
    (root / "folder").mkdir()
    os.symlink(root / "folder", root / "folder-link.flac")
    return {"fifo.mp3": "a named pipe (FIFO)", "socket.ogg": "a socket",
            "zero-device.wav": "a character device (through a symbolic link)",
            "urandom.wav": "a character device (through a symbolic link)",
            "folder-link.flac": "a directory (through a symbolic link)"}


@pytest.mark.timeout(60)
def test_only_regular_files_are_read_the_rest_are_match_error_rows(tmp_path):
    from pipelines.audio.matching import refusal
    from pipelines.graph.steps import ERRORS, MatchAudioFiles

    special = special_files(tmp_path / "lib")
    good = touch(tmp_path / "lib" / "song.mp3")
    os.symlink(good, tmp_path / "lib" / "link.mp3")  # a link to a regular file is read
    results = list(MatchAudioFiles().process(str(tmp_path / "lib")))
    paths = [r for r in results if isinstance(r, str)]
    rows = {os.path.basename(r.value.path): r.value for r in results if not isinstance(r, str)}
    assert paths == [str(tmp_path / "lib" / "link.mp3"), good]
    assert set(rows) == set(special) and {r.tag for r in results if r not in paths} == {ERRORS}
    for name, kind in special.items():
        assert rows[name].stage == "match" and rows[name].error == "NotARegularFile"
        assert rows[name].message.startswith(f"{kind}, not a regular file"), rows[name]
    assert refusal("memory://lib/a.mp3") is None and refusal(good) is None


@pytest.mark.timeout(60)
def test_a_folder_with_an_audio_name_is_an_error_row_and_its_files_are_matched(tmp_path):
    from pipelines.graph.steps import ERRORS, MatchAudioFiles

    inside = touch(tmp_path / "lib" / "album.mp3" / "song.flac")
    (tmp_path / "lib" / "empty.ogg").mkdir()
    results = list(MatchAudioFiles().process(str(tmp_path / "lib")))
    assert [r for r in results if isinstance(r, str)] == [inside]
    rows = {os.path.basename(r.value.path): r for r in results if not isinstance(r, str)}
    assert set(rows) == {"album.mp3", "empty.ogg"}
    for row in rows.values():
        assert row.tag == ERRORS and row.value.stage == "match"
        assert row.value.message.startswith("a directory, not a regular file")


def test_collection_formats_are_audio_and_other_files_are_counted_by_extension(tmp_path):
    audio = [touch(tmp_path / "lossless" / name) for name in
             ["a.ape", "b.wv", "c.mpc", "d.tak", "e.tta", "f.dsf", "g.dff", "h.ofr"]]
    audio += [touch(tmp_path / "books" / "i.M4B"), touch(tmp_path / "j.spx"),
              touch(tmp_path / "k.ac3"), touch(tmp_path / "l.mka")]
    for other in ["cover.jpg", "back.JPG", "album.cue", "rip.log", "README", "._a.ape",
                  ".a.ape.mgc-0123abcd.tmp"]:  # the last: a temp copy of mgc's own
        touch(tmp_path / "lossless" / other)
    passed_over = Counter()
    assert list(expand_input(str(tmp_path), passed_over)) == sorted(audio)
    assert passed_over == {"jpg": 2, "cue": 1, "log": 1, "(none)": 1,
                           "._ (macOS metadata)": 1}


def test_a_file_of_an_unknown_extension_is_matched_when_its_header_is_audio(tmp_path):
    from audio import chord_track, write_audio

    mp3 = write_audio(tmp_path / "lib" / "tune.mp3", chord_track(1.0, 22050), 22050)
    odd = mp3.rename(tmp_path / "lib" / "tune.id3")  # as mutagen's own test files name one
    touch(tmp_path / "lib" / "notes.weird")
    (tmp_path / "lib" / "cover.jpg").write_bytes(odd.read_bytes())  # never opened
    passed_over = Counter()
    assert list(expand_input(str(tmp_path / "lib"), passed_over)) == [str(odd)]
    assert passed_over == {"weird": 1, "jpg": 1}
