"""Writing genres into audio files: what a user who runs it on their only copy checks.

Every format is built with real tags (pictures, lyrics, replaygain, MusicBrainz ids, unicode),
written, then read back by mutagen and, independently, by beets' mediafile and FFmpeg (and
ffprobe when installed): the genre is there, the audio packets hash the same, every other field
is equal.
"""

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import mutagen
import pytest
import soundfile as sf

from audio import chord_track, write_audio
from mgc_model.decision import title_case
from pipelines.files import atomic, writeback
from pipelines.files.atomic import ChangedSinceRead, FileStat, ReadOnlyFile, Vanished
from pipelines.files.formats import UnreadableTags, UnsupportedFormat, read_current
from pipelines.files.writeback import (
    WriteOptions,
    apply,
    choose_genres,
    plan,
    write_genres,
)
from pipelines.graph.steps import ERRORS, Track, WriteGenreTags
from tagged_files import (
    FORMATS,
    audio_hash,
    ffmpeg_tags,
    id3_version,
    id3v1_bytes,
    id3v1_tag,
    make_tagged,
    mediafile_fields,
    mediafile_genres,
    mutagen_fields,
    raw_provenance,
)

MODEL = "musicnn@0.1.0+fma1"
SCORES = {"Blues": 0.01, "Electronic": 0.03, "Jazz": 0.02, "Pop": 0.03, "Rock": 0.91}
TWO = WriteOptions(count=2, min_score=0.03)
# Formats holding one genre text (ID3v2.3, also what ID3v1-only and untagged MP3 get).
SINGLE_TEXT = {"mp3-v23", "mp3-v1", "mp3-bare", "aiff"}
KEPT_ID3 = {"mp3-v23": (2, 3), "mp3-v24": (2, 4), "mp3-v1": (2, 3), "mp3-bare": (2, 3),
            "wav": (2, 4), "aiff": (2, 3)}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    """Each format without a genre, and with the genres ['Jazz', 'rock']; built once."""
    root = tmp_path_factory.mktemp("pristine")
    built = {}
    for fmt, (ext, _) in FORMATS.items():
        built[fmt] = make_tagged(root / f"{fmt}.{ext}", fmt)
        if fmt not in ("mp3-v1", "mp3-bare"):
            built[f"{fmt}+genre"] = make_tagged(root / f"{fmt}-genre.{ext}", fmt,
                                                genres=["Jazz", "rock"])
    return built


@pytest.fixture
def copy_of(pristine, tmp_path):
    def copy(name: str) -> Path:
        source = pristine[name]
        target = tmp_path / "lib" / source.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy2(source, target)
        return target

    return copy


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if atomic.TEMP_INFIX in p.name)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_gets_the_genres_and_keeps_everything_else(fmt, copy_of):
    path = copy_of(fmt)
    translate = fmt in ("mp3-v1", "mp3-bare")  # their frames are new: compare what they say
    before = {
        "audio": audio_hash(path), "mutagen": mutagen_fields(path, translate),
        "mediafile": mediafile_fields(path), "stat": path.stat(),
    }
    outcome = write_genres(str(path), SCORES, MODEL, TWO)
    assert outcome.action == "written"
    assert outcome.genres_before == () and outcome.genres_after == ("Rock", "Electronic")

    expected = ["Rock; Electronic"] if fmt in SINGLE_TEXT else ["Rock", "Electronic"]
    assert mediafile_genres(path) == expected
    assert read_current(str(path))[0] == ("Rock", "Electronic")
    ffmpeg = ffmpeg_tags(path)  # FFmpeg shows the first value, or all joined by ';'
    assert ffmpeg["genre"].split(";")[0].strip() == "Rock"
    assert ffmpeg["mgc_model"] == MODEL
    assert raw_provenance(path) == {
        "MGC_MODEL": MODEL, "MGC_POLICY": "fill",
        "MGC_SCORES": json.dumps({"Rock": 0.91, "Electronic": 0.03}),
    }
    assert audio_hash(path) == before["audio"]
    assert mutagen_fields(path, translate) == before["mutagen"]
    assert mediafile_fields(path) == before["mediafile"]
    if fmt in KEPT_ID3:
        assert id3_version(path) == KEPT_ID3[fmt]
    after = path.stat()
    assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(before["stat"].st_mode)
    assert after.st_mtime_ns == before["stat"].st_mtime_ns
    assert leftovers(path.parent) == []

    # A second run with the same model and policy changes no byte.
    written = path.read_bytes()
    again = write_genres(str(path), SCORES, MODEL, TWO)
    assert again.action == "unchanged"
    assert path.read_bytes() == written and path.stat().st_ino == after.st_ino


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe is not installed")
@pytest.mark.parametrize("fmt", ["mp3-v24", "flac", "ogg", "m4a"])
def test_ffprobe_reads_the_genre(fmt, copy_of):
    path = copy_of(fmt)
    write_genres(str(path), SCORES, MODEL, WriteOptions())
    probe = subprocess.run(["ffprobe", "-v", "quiet", "-print_format", "json", "-show_format",
                            "-show_streams", str(path)], capture_output=True, text=True,
                           check=True)
    info = json.loads(probe.stdout)
    tags = {**info["format"].get("tags", {}),
            **{k: v for s in info["streams"] for k, v in s.get("tags", {}).items()}}
    assert {k.lower(): v for k, v in tags.items()}["genre"] == "Rock"


def test_id3v1_only_file_keeps_its_v1_tag_and_gains_a_v2_tag(copy_of):
    path = copy_of("mp3-v1")
    v1 = id3v1_bytes(path)
    assert v1 is not None and id3_version(path) == (1, 1)
    write_genres(str(path), SCORES, MODEL, WriteOptions())
    assert id3_version(path) == (2, 3)
    new_v1 = id3v1_bytes(path)
    rock = [g.casefold() for g in mutagen.id3.TCON.GENRES].index("rock")
    assert new_v1[:127] == v1[:127], "ID3v1 title, artist, album, year, comment changed"
    assert new_v1[127] == rock and v1[127] == 255
    tags = mutagen.File(str(path)).tags
    assert str(tags["TIT2"]) == v1[3:33].decode("latin-1").strip()


def test_id3v1_genre_behind_an_id3v2_tag_counts_and_follows_the_new_genre(copy_of):
    path = copy_of("mp3-v24")
    jazz = [g.casefold() for g in mutagen.id3.TCON.GENRES].index("jazz")
    with open(path, "ab") as f:
        f.write(id3v1_tag(genre=jazz))
    v1 = id3v1_bytes(path)
    data = path.read_bytes()
    assert write_genres(str(path), SCORES, MODEL, WriteOptions()).genres_before == ("Jazz",)
    assert path.read_bytes() == data  # fill: the ID3v1 genre is a genre
    write_genres(str(path), SCORES, MODEL, WriteOptions(policy="overwrite"))
    rock = [g.casefold() for g in mutagen.id3.TCON.GENRES].index("rock")
    assert id3v1_bytes(path) == v1[:127] + bytes([rock])
    assert id3_version(path) == (2, 4) and mediafile_genres(path) == ["Rock"]


def test_dry_run_changes_no_byte_and_reports_the_change(copy_of):
    paths = [copy_of(fmt) for fmt in FORMATS]
    stale = paths[0].parent / f".{paths[0].name}.mgc-0123abcd.tmp"
    stale.write_bytes(b"left by a killed run")
    snapshot = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    for path in paths:
        outcome = write_genres(str(path), SCORES, MODEL, WriteOptions(dry_run=True))
        assert outcome.action == "would-write" and outcome.genres_after == ("Rock",)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths} == snapshot
    assert stale.exists()


@pytest.mark.parametrize("fmt", ["mp3-v24+genre", "flac+genre", "m4a+genre", "wav+genre"])
def test_fill_never_touches_a_file_that_has_a_genre(fmt, copy_of):
    path = copy_of(fmt)
    data = path.read_bytes()
    outcome = write_genres(str(path), SCORES, MODEL, WriteOptions(policy="fill"))
    assert outcome.action == "skipped" and "has a genre" in outcome.message
    assert outcome.genres_before == ("Jazz", "rock")
    assert path.read_bytes() == data


def test_fill_counts_a_wav_riff_info_genre(tmp_path):
    path = write_audio(tmp_path / "info.wav", chord_track(1.0, 16000), 16000)
    with sf.SoundFile(str(path), "r+") as f:
        f.genre = "Folk"
    data = path.read_bytes()
    outcome = write_genres(str(path), SCORES, MODEL, WriteOptions())
    assert (outcome.action, outcome.genres_before) == ("skipped", ("Folk",))
    assert path.read_bytes() == data


@pytest.mark.parametrize("fmt", ["mp3-v23+genre", "mp3-v24+genre", "flac+genre", "opus+genre",
                                 "m4a+genre", "aiff+genre"])
def test_merge_adds_the_models_genres_after_the_existing_ones(fmt, copy_of):
    path = copy_of(fmt)
    outcome = write_genres(str(path), SCORES, MODEL,
                           WriteOptions(policy="merge", count=2, min_score=0.03))
    assert outcome.action == "written"
    assert outcome.genres_after == ("Jazz", "rock", "Electronic")  # 'rock' is Rock already
    single = fmt.split("+")[0] in SINGLE_TEXT
    expected = ["Jazz; rock; Electronic"] if single else ["Jazz", "rock", "Electronic"]
    assert mediafile_genres(path) == expected
    assert raw_provenance(path)["MGC_POLICY"] == "merge"
    data = path.read_bytes()
    assert write_genres(str(path), SCORES, MODEL,
                        WriteOptions(policy="merge", count=2, min_score=0.03)).action == "unchanged"
    assert path.read_bytes() == data


@pytest.mark.parametrize("fmt", ["mp3-v23+genre", "ogg+genre", "m4a+genre", "wav+genre"])
def test_overwrite_replaces_the_genres_and_follows_a_new_answer(fmt, copy_of):
    path = copy_of(fmt)
    options = WriteOptions(policy="overwrite")
    assert write_genres(str(path), SCORES, MODEL, options).genres_after == ("Rock",)
    assert mediafile_genres(path) == ["Rock"]
    data = path.read_bytes()
    assert write_genres(str(path), SCORES, MODEL, options).action == "unchanged"
    assert path.read_bytes() == data
    newer = write_genres(str(path), {**SCORES, "Jazz": 0.95}, "musicnn@0.2.0", options)
    assert (newer.action, newer.genres_before, newer.genres_after) == (
        "written", ("Rock",), ("Jazz",))
    assert mediafile_genres(path) == ["Jazz"]
    assert raw_provenance(path)["MGC_MODEL"] == "musicnn@0.2.0"


def test_choosing_genres_count_score_vocabulary_and_case():
    assert choose_genres(SCORES, WriteOptions(count=3, min_score=0.02)) == [
        ("Rock", 0.91), ("Electronic", 0.03), ("Pop", 0.03)]
    assert choose_genres(SCORES, WriteOptions(count=3, min_score=0.4)) == [("Rock", 0.91)]
    assert choose_genres(SCORES, WriteOptions(count=3)) == [("Rock", 0.91)]  # 0.85 default
    vocabulary = ("electronic", "jazz", "Drum And Bass")
    assert choose_genres(SCORES, WriteOptions(count=2, min_score=0.02, vocabulary=vocabulary)
                         ) == [("Electronic", 0.03), ("Jazz", 0.02)]
    assert choose_genres(SCORES, WriteOptions(vocabulary=vocabulary, title_case=False,
                                              min_score=0.02)) == [("electronic", 0.03)]
    assert title_case("hip-hop") == "Hip-Hop"
    assert title_case("Soul-RnB") == "Soul-RnB"  # str.title() would say 'Soul-Rnb'
    assert title_case("old-time / historic") == "Old-Time / Historic"


def test_nothing_above_the_minimum_score_is_skipped(copy_of):
    path = copy_of("flac")
    data = path.read_bytes()
    outcome = write_genres(str(path), SCORES, MODEL, WriteOptions(min_score=0.95))
    assert outcome.action == "skipped" and "at least 0.95" in outcome.message
    assert path.read_bytes() == data


def test_bad_options_say_what_to_do(tmp_path):
    genres = ["Rock", "Old-Time / Historic"]
    with pytest.raises(ValueError, match="--write-tags must be one of fill, merge, overwrite"):
        WriteOptions(policy="replace").validate(genres)
    with pytest.raises(ValueError, match="--genre-count must be at least 1"):
        WriteOptions(count=0).validate(genres)
    with pytest.raises(ValueError, match="separator '/' occurs in the genre"):
        WriteOptions(separator="/").validate(genres)
    with pytest.raises(ValueError, match="none of the model's genres"):
        WriteOptions(vocabulary=("Vaporwave",)).validate(genres)
    with pytest.raises(ValueError, match="cannot read"):
        writeback.read_vocabulary(str(tmp_path / "missing.txt"))
    vocabulary = tmp_path / "genres.txt"
    vocabulary.write_text("# mine\nrock\n\nJazz  # and this\nrock\n", encoding="utf-8")
    assert writeback.read_vocabulary(str(vocabulary)) == ("rock", "Jazz")


def test_read_only_file_is_refused_and_untouched(copy_of):
    path = copy_of("mp3-v24")
    path.chmod(0o444)
    data = path.read_bytes()
    with pytest.raises(ReadOnlyFile, match="read-only"):
        write_genres(str(path), SCORES, MODEL, WriteOptions())
    assert path.read_bytes() == data and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert leftovers(path.parent) == []


def test_vanished_file_is_an_error(copy_of, tmp_path):
    with pytest.raises(Vanished):
        write_genres(str(tmp_path / "gone.mp3"), SCORES, MODEL, WriteOptions())
    path = copy_of("flac")
    planned = plan(str(path), SCORES, MODEL, WriteOptions())
    path.unlink()
    with pytest.raises(Vanished):
        apply(planned, WriteOptions())
    assert not path.exists() and leftovers(path.parent) == []


def test_file_changed_since_it_was_read_is_not_written(copy_of):
    path = copy_of("ogg")
    read_at_decode = FileStat.of(path.stat())
    with open(path, "ab") as f:  # someone edits the file after mgc decoded it
        f.write(b"\0")
    edited = path.read_bytes()
    with pytest.raises(ChangedSinceRead, match="changed since it was read"):
        write_genres(str(path), SCORES, MODEL, WriteOptions(), read_at_decode)
    assert path.read_bytes() == edited and leftovers(path.parent) == []

    planned = plan(str(path), SCORES, MODEL, WriteOptions())
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # touched after planning
    with pytest.raises(ChangedSinceRead):
        apply(planned, WriteOptions())
    assert path.read_bytes() == edited


def test_unsupported_and_unreadable_files_are_untouched(tmp_path):
    mka = write_audio(tmp_path / "song.mka", chord_track(1.0, 22050), 22050)
    data = mka.read_bytes()
    with pytest.raises(UnsupportedFormat, match="unsupported format .*MKA.* file untouched"):
        write_genres(str(mka), SCORES, MODEL, WriteOptions())
    assert mka.read_bytes() == data
    text = tmp_path / "notes.mp3"
    text.write_text("not audio")
    with pytest.raises(UnreadableTags):
        write_genres(str(text), SCORES, MODEL, WriteOptions())
    assert text.read_text() == "not audio" and leftovers(tmp_path) == []


def test_stale_temp_files_of_a_killed_run_are_removed_by_the_next_write(copy_of):
    path = copy_of("flac")
    folder = path.parent
    stale = folder / f".{path.name}.mgc-0123abcd.tmp"
    stale.write_bytes(b"half a file")
    not_ours = [folder / f".{path.name}.mgc-notes.tmp", folder / ".other.flac.mgc-89abcdef.tmp"]
    for other in not_ours:
        other.write_bytes(b"keep")
    write_genres(str(path), SCORES, MODEL, WriteOptions())
    assert not stale.exists() and all(other.exists() for other in not_ours)


def test_symlink_is_kept_and_its_target_written(copy_of, tmp_path):
    target = copy_of("m4a")
    link = tmp_path / "link.m4a"
    link.symlink_to(target)
    write_genres(str(link), SCORES, MODEL, WriteOptions())
    assert link.is_symlink() and mediafile_genres(target) == ["Rock"]


def test_update_mtime_when_asked(copy_of):
    path = copy_of("wav")
    os.utime(path, ns=(10**18, 10**18))
    write_genres(str(path), SCORES, MODEL, WriteOptions(keep_mtime=False))
    assert path.stat().st_mtime_ns > 10**18


def test_beam_stage_is_safe_to_retry_and_turns_failures_into_rows(copy_of):
    fn = WriteGenreTags(WriteOptions(), tuple(SCORES), MODEL)
    path = copy_of("mp3-v23")
    row = {"path": str(path), "genre_scores": list(SCORES.values())}
    track = Track(str(path), 2.0, 22050, 2, 1, FileStat.of(path.stat()))
    element = (str(path), {"tags": [row], "track": [track]})
    first = list(fn.process(element))
    data = path.read_bytes()
    retried = list(fn.process(element))  # same element, stale decode-time stat: a retry
    assert [r["action"] for r in first + retried] == ["written", "unchanged"]
    assert path.read_bytes() == data

    locked = copy_of("flac")
    locked.chmod(0o444)
    element = (str(locked), {"tags": [{**row, "path": str(locked)}], "track": []})
    out = list(fn.process(element))
    error = next(o.value for o in out if getattr(o, "tag", None) == ERRORS)
    assert (error.path, error.stage, error.error) == (str(locked), "write", "ReadOnlyFile")
    assert [o["action"] for o in out if isinstance(o, dict)] == ["failed"]
    assert list(fn.process((str(locked), {"tags": [], "track": []}))) == []
