"""Write-back and undo on the formats of lossless and audiobook collections (WavPack, TTA, M4B,
3GP, WMA), a clear refusal where mutagen writes no tags (AC-3, Matroska), and the check that
discards a copy the tag library damaged, leaving the file as it was."""

import struct
from pathlib import Path

import mutagen
import mutagen.id3 as id3
import pytest
from mutagen.apev2 import APEv2File
from mutagen.asf import ASF
from mutagen.mp4 import MP4

from audio import chord_track, write_audio
from pipelines.audio.decode import AudioReader
from pipelines.files import formats, undo, writeback
from pipelines.files.formats import UnsupportedFormat, read_current
from pipelines.files.tags import read_file_tags
from pipelines.files.verify import CopyDiffers
from pipelines.files.writeback import WriteOptions, write_genres
from tagged_files import audio_hash, mutagen_fields

MODEL = "musicnn@0.1.0+fma1"
SCORES = {"Electronic": 0.3, "Jazz": 0.02, "Rock": 0.6}
TWO = WriteOptions(count=2, min_score=0.1)


def tag_it(path: Path) -> None:
    """Title, artist, album, replaygain and a cover, as the format's own taggers write them."""
    audio = mutagen.File(str(path))
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    if isinstance(audio, APEv2File):
        tags.update({"Title": "Sóng", "Artist": "Ärtist", "Album": "Albüm",
                     "Replaygain_Track_Gain": "-7.10 dB"})
    elif isinstance(audio, MP4):
        tags.update({"\xa9nam": ["Sóng"], "\xa9ART": ["Ärtist"], "\xa9alb": ["Albüm"],
                     "covr": [b"\xff\xd8\xff" + bytes(200)]})
    elif isinstance(audio, ASF):
        tags.update({"Title": ["Sóng"], "Author": ["Ärtist"], "WM/AlbumTitle": ["Albüm"]})
    else:  # ID3 (TTA)
        for frame in (id3.TIT2(encoding=3, text="Sóng"), id3.TPE1(encoding=3, text="Ärtist"),
                      id3.TALB(encoding=3, text="Albüm"),
                      id3.APIC(encoding=3, mime="image/png", type=3, desc="", data=bytes(99))):
            tags.add(frame)
    audio.save()


def written_row(outcome: writeback.Outcome, path: Path) -> dict:
    st = path.stat()
    return {**outcome.as_row(), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


@pytest.mark.parametrize("ext", ["wv", "tta", "m4b", "3gp", "wma"])
def test_collection_formats_are_written_and_undone_keeping_audio_and_tags(ext, tmp_path):
    path = write_audio(tmp_path / f"song.{ext}", chord_track(2.0, 22050, seed=4), 22050)
    tag_it(path)
    before = {"audio": audio_hash(path), "tags": mutagen_fields(path)}
    assert read_file_tags(str(path)).artist == "Ärtist"

    outcome = write_genres(str(path), SCORES, MODEL, TWO)
    assert outcome.action == "written"
    assert read_current(str(path)) == (("Rock", "Electronic"), {
        "MGC_MODEL": MODEL, "MGC_POLICY": "fill", "MGC_SCORES": '{"Rock": 0.6, "Electronic": 0.3}'})
    assert audio_hash(path) == before["audio"]
    assert mutagen_fields(path) == before["tags"]
    assert read_file_tags(str(path)).album == "Albüm"

    restored = undo.undo_file(written_row(outcome, path))
    assert restored.action == "restored", restored.message
    assert read_current(str(path)) == ((), {})
    assert audio_hash(path) == before["audio"]
    assert mutagen_fields(path) == before["tags"]


@pytest.mark.parametrize("ext", ["ac3", "mka"])
def test_formats_mutagen_cannot_tag_are_decoded_but_never_written(ext, tmp_path):
    path = write_audio(tmp_path / f"song.{ext}", chord_track(2.0, 44100), 44100)
    with AudioReader(str(path)) as reader:
        frames = sum(block.shape[0] for block in reader.blocks())
    assert frames / reader.info.sample_rate == pytest.approx(2.0, abs=0.1)
    data = path.read_bytes()
    with pytest.raises(UnsupportedFormat, match=f"{ext.upper()}.*mutagen writes no tags there"):
        write_genres(str(path), SCORES, MODEL, TWO)
    assert path.read_bytes() == data


def damaging(monkeypatch, harm) -> None:
    """A tag library that writes the genre and then does ``harm`` to the copy."""
    real = formats.set_fields

    def set_fields(path, *args, **kwargs):
        real(path, *args, **kwargs)
        harm(path)

    monkeypatch.setattr(writeback, "set_fields", set_fields)


def flip_audio_byte(path: str) -> None:
    with open(path, "r+b") as f:
        f.seek(-2000, 2)
        byte = f.read(1)
        f.seek(-2000, 2)
        f.write(bytes([byte[0] ^ 0x55]))


def drop_album(path: str) -> None:
    tags = id3.ID3(path)
    tags.delall("TALB")
    tags.save(path)


def wav_rate_halved(path: str) -> None:
    """The format chunk's sample rate rewritten: the audio's bytes stay, it plays wrong."""
    with open(path, "r+b") as f:
        data = f.read()
        at = data.index(b"fmt ") + 12
        f.seek(at)
        f.write(struct.pack("<I", struct.unpack("<I", data[at:at + 4])[0] // 2))


def cut_short(path: str) -> None:
    with open(path, "r+b") as f:
        f.truncate(40)


@pytest.mark.parametrize(("ext", "harm", "says"), [
    ("mp3", flip_audio_byte, "changed the audio itself"),
    ("mp3", drop_album, r"changed other tags \(TALB\)"),
    ("wav", wav_rate_halved, r"changed the audio's format \(pcm_s16le 22050 Hz"),
    ("wav", cut_short, "left the file unreadable as audio"),
])
def test_any_change_beyond_the_genre_stops_the_write(ext, harm, says, tmp_path, monkeypatch):
    path = write_audio(tmp_path / f"song.{ext}", chord_track(3.0, 22050), 22050)
    audio = mutagen.File(str(path))
    audio.add_tags()
    audio.tags.add(id3.TALB(encoding=3, text="Albüm"))
    audio.save()
    data = path.read_bytes()
    damaging(monkeypatch, harm)
    with pytest.raises(CopyDiffers, match=says):
        write_genres(str(path), SCORES, MODEL, TWO)
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no copy left behind


def test_an_id3v1_tag_is_kept_whatever_the_v2_frames_hold(tmp_path):
    """mutagen rebuilds ID3v1 from the v2 frames and fails on a year that is not ASCII (a real
    file: mutagen's bad-TYER-frame.mp3); mgc puts the v1 tag back byte for byte instead."""
    path = write_audio(tmp_path / "song.mp3", chord_track(2.0, 22050), 22050)
    tags = id3.ID3()
    tags.add(id3.TYER(encoding=1, text="２０１９"))
    tags.save(str(path), v2_version=3)
    v1 = b"TAG" + b"Title".ljust(30) + b"Artist".ljust(30) + b"Album".ljust(30) + b"2019" \
        + b"".ljust(28) + b"\0\3" + bytes([255])
    with open(path, "ab") as f:
        f.write(v1)
    outcome = write_genres(str(path), {"Rock": 0.9}, MODEL, WriteOptions(min_score=0.5))
    assert outcome.action == "written"
    assert path.read_bytes()[-128:] == v1[:127] + bytes([id3.TCON.GENRES.index("Rock")])
    assert id3.ID3(str(path), translate=False).getall("TYER")[0].text == ["２０１９"]


def test_empty_frames_are_kept(tmp_path):
    """mutagen reads past a text frame without text and would save the tag without it; mgc
    keeps it (an empty TYER and a TXXX without a value, as some taggers leave them)."""
    path = write_audio(tmp_path / "song.mp3", chord_track(2.0, 22050), 22050)
    id3.delete(str(path))

    def frame(name: bytes, data: bytes) -> bytes:  # ID3v2.3: plain 32-bit sizes
        return name + struct.pack(">I", len(data)) + b"\0\0" + data

    empty = [frame(b"TYER", b"\0"), frame(b"TXXX", b"\0EMPTY\0")]
    body = frame(b"TIT2", b"\0Song") + b"".join(empty) + bytes(64)
    size = bytes((len(body) >> shift) & 0x7F for shift in (21, 14, 7, 0))
    path.write_bytes(b"ID3\x03\x00\x00" + size + body + path.read_bytes())
    outcome = write_genres(str(path), {"Rock": 0.9}, MODEL, WriteOptions(min_score=0.5))
    assert outcome.action == "written"
    head = path.read_bytes()[:400]
    assert all(raw in head for raw in empty)
    assert read_current(str(path))[0] == ("Rock",)
    restored = undo.undo_file(written_row(outcome, path))
    assert restored.action == "restored" and all(raw in path.read_bytes()[:400] for raw in empty)
