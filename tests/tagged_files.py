"""Richly tagged audio files in every format mgc writes genres into, built by the tests, and
the independent views used to check them: demuxed audio packets (PyAV), every tag field as
mutagen reads it, and every field as beets' mediafile reads it."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import av
import mutagen
import mutagen.id3 as id3
from mediafile import MediaFile
from mutagen.aiff import AIFF
from mutagen.flac import FLAC, Picture
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm, MP4Tags
from mutagen.wave import WAVE
from PIL import Image

from audio import chord_track, write_audio

TITLE = "Tïtle ♫ 音楽"
ARTIST = "Ärtist Øne"
ALBUM = "Albüm – Live"
COMMENT = "ripped with care, ünïcode"
LYRICS = "Ünïcødé lyrics ♫\nsecond line, 歌"
RG_GAIN = "-6.50 dB"
RG_PEAK = "0.988525"
MB_TRACK = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
MB_ALBUM = "a1b2c3d4-e5f6-4789-8abc-def012345678"

# name -> (extension, what it holds)
FORMATS = {
    "mp3-v23": ("mp3", "ID3v2.3"),
    "mp3-v24": ("mp3", "ID3v2.4"),
    "mp3-v1": ("mp3", "ID3v1 only"),
    "mp3-bare": ("mp3", "no tag"),
    "flac": ("flac", "Vorbis comments + picture block"),
    "ogg": ("ogg", "Vorbis comments"),
    "opus": ("opus", "Vorbis comments"),
    "m4a": ("m4a", "iTunes atoms"),
    "wav": ("wav", "ID3v2.4 chunk"),
    "aiff": ("aiff", "ID3v2.3 chunk"),
}


def NO_PADDING(info) -> int:
    """Tags saved without padding, as some taggers leave them: any growth moves the audio."""
    return 0


def cover_png(size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


COVER = cover_png()


def make_tagged(path: Path, fmt: str, genres: list[str] | None = None,
                seconds: float = 2.0) -> Path:
    """Write a track in ``fmt`` (a key of FORMATS) with real tags: title, artist, album, date,
    track, cover picture, lyrics, comment, replaygain, MusicBrainz ids; and ``genres``."""
    ext, _ = FORMATS[fmt]
    sr = 48000 if ext == "opus" else 22050
    write_audio(path, chord_track(seconds, sr, seed=len(fmt)), sr)
    if fmt.startswith("mp3"):
        id3.delete(str(path))  # whatever the encoder wrote: the case decides the tags
        if fmt == "mp3-v1":
            with open(path, "ab") as f:
                f.write(id3v1_tag(genre=255))
        elif fmt != "mp3-bare":
            version = 3 if fmt == "mp3-v23" else 4
            _id3_tags(version, genres).save(str(path), v2_version=version, v23_sep=None,
                                            padding=NO_PADDING)
    elif ext in ("wav", "aiff"):
        audio = mutagen.File(str(path))
        audio.add_tags()
        version = 4 if ext == "wav" else 3
        for frame in _id3_tags(version, genres).values():
            audio.tags.add(frame)
        audio.save(v2_version=version, v23_sep=None, padding=NO_PADDING)
    elif ext in ("flac", "ogg", "opus"):
        _vorbis_tags(path, ext, genres)
    elif ext == "m4a":
        _mp4_tags(path, genres)
    return path


def id3v1_tag(genre: int) -> bytes:
    """An ID3v1.1 tag as some old taggers wrote it: fields padded with spaces (mutagen would
    write zeros), so any rebuilt tag shows."""
    def field(text: str, size: int) -> bytes:
        return text.encode("latin-1", "replace")[:size].ljust(size, b" ")

    return (b"TAG" + field(TITLE, 30) + field(ARTIST, 30) + field(ALBUM, 30) + b"2019"
            + field(COMMENT, 28) + b"\0" + bytes([3, genre]))


def _id3_tags(version: int, genres: list[str] | None) -> id3.ID3:
    tags = id3.ID3()
    tags.add(id3.TIT2(encoding=3, text=TITLE))
    tags.add(id3.TPE1(encoding=3, text=ARTIST))
    tags.add(id3.TALB(encoding=3, text=ALBUM))
    tags.add(id3.TRCK(encoding=3, text="3/12"))
    if version == 3:  # v2.3-only frames that a v2.4 translation would drop or rewrite
        tags.add(id3.TYER(encoding=3, text="2019"))
        tags.add(id3.TDAT(encoding=3, text="0405"))
        tags.add(id3.RVAD(adjustments=[-1200, -1200]))
        # two values, null-separated as some taggers store them in v2.3
        tags.add(id3.TXXX(encoding=3, desc="ARTISTS", text=["Ärtist Øne", "Twö"]))
    else:
        tags.add(id3.TDRC(encoding=3, text="2019-05-04"))
        tags.add(id3.RVA2(desc="track", channel=1, gain=-6.5, peak=0.98))
    tags.add(id3.APIC(encoding=3, mime="image/png", type=3, desc="cover", data=COVER))
    tags.add(id3.USLT(encoding=3, lang="eng", desc="", text=LYRICS))
    tags.add(id3.COMM(encoding=3, lang="eng", desc="", text=COMMENT))
    tags.add(id3.TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=RG_GAIN))
    tags.add(id3.TXXX(encoding=3, desc="REPLAYGAIN_TRACK_PEAK", text=RG_PEAK))
    tags.add(id3.TXXX(encoding=3, desc="MusicBrainz Album Id", text=MB_ALBUM))
    tags.add(id3.UFID(owner="http://musicbrainz.org", data=MB_TRACK.encode()))
    if genres:
        text = genres if version == 4 else ["; ".join(genres)]
        tags.add(id3.TCON(encoding=3, text=text))
    return tags


def _picture() -> Picture:
    picture = Picture()
    picture.type, picture.mime, picture.desc = 3, "image/png", "cover"
    picture.width = picture.height = 16
    picture.depth = 24
    picture.data = COVER
    return picture


def _vorbis_tags(path: Path, ext: str, genres: list[str] | None) -> None:
    audio = mutagen.File(str(path))
    if audio.tags is None:
        audio.add_tags()
    fields = {
        "TITLE": TITLE, "ARTIST": ARTIST, "ALBUM": ALBUM, "DATE": "2019-05-04",
        "TRACKNUMBER": "3", "LYRICS": LYRICS, "COMMENT": COMMENT,
        "REPLAYGAIN_TRACK_GAIN": RG_GAIN, "REPLAYGAIN_TRACK_PEAK": RG_PEAK,
        "MUSICBRAINZ_TRACKID": MB_TRACK, "MUSICBRAINZ_ALBUMID": MB_ALBUM,
    }
    if ext == "opus":
        fields["R128_TRACK_GAIN"] = "-1234"
    for key, value in fields.items():
        audio.tags[key] = [value]
    if genres:
        audio.tags["GENRE"] = list(genres)
    if isinstance(audio, FLAC):
        audio.add_picture(_picture())
    else:
        audio.tags["METADATA_BLOCK_PICTURE"] = [
            base64.b64encode(_picture().write()).decode("ascii")
        ]
    audio.save(padding=NO_PADDING)


def _mp4_tags(path: Path, genres: list[str] | None) -> None:
    audio = MP4(str(path))
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    tags["\xa9nam"], tags["\xa9ART"], tags["\xa9alb"] = [TITLE], [ARTIST], [ALBUM]
    tags["\xa9day"], tags["trkn"] = ["2019-05-04"], [(3, 12)]
    tags["\xa9lyr"], tags["\xa9cmt"] = [LYRICS], [COMMENT]
    tags["covr"] = [MP4Cover(COVER, imageformat=MP4Cover.FORMAT_PNG)]
    tags["----:com.apple.iTunes:replaygain_track_gain"] = [MP4FreeForm(RG_GAIN.encode())]
    tags["----:com.apple.iTunes:MusicBrainz Track Id"] = [MP4FreeForm(MB_TRACK.encode())]
    if genres:
        tags["\xa9gen"] = list(genres)
    audio.save(padding=NO_PADDING)


# --- independent views -----------------------------------------------------------------------


def audio_hash(path: Path) -> str:
    """SHA-256 of the demuxed audio packets and their timing: what a player decodes."""
    digest = hashlib.sha256()
    with av.open(str(path), metadata_errors="replace") as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            if packet.size:
                digest.update(f"{packet.pts}/{packet.dts}/{packet.duration}".encode())
                digest.update(bytes(packet))
    return digest.hexdigest()


def _is_genre_or_mgc(key: str) -> bool:
    key = key.upper()
    return (key in {"TCON", "GENRE", "\xa9GEN", "WM/GENRE"} or "MGC_" in key)


def mutagen_fields(path: Path, translate: bool = False) -> dict[str, list[str]]:
    """Every tag field but the genre and mgc's own, as mutagen reads it (values as repr, so
    pictures compare by their bytes); ID3 frames as stored unless ``translate``."""
    audio = mutagen.File(str(path))
    if isinstance(audio, (MP3, WAVE, AIFF)) and not translate:
        audio = type(audio)(str(path), translate=False)
    fields: dict[str, list[str]] = {}
    if audio.tags is not None:
        if isinstance(audio.tags, id3.ID3):
            items = [(frame.HashKey, repr(frame)) for frame in audio.tags.values()]
        elif isinstance(audio.tags, MP4Tags) or not isinstance(audio.tags, list):  # MP4, APEv2,
            items = [(key.upper(), repr(value)) for key, value in audio.tags.items()]  # ASF
        else:  # Vorbis comments: keys are case-insensitive, order is not meaningful
            items = [(key.upper(), repr(value)) for key, value in audio.tags]
        for key, value in items:
            if not _is_genre_or_mgc(key):
                fields.setdefault(key, []).append(value)
    for picture in getattr(audio, "pictures", []):  # FLAC picture blocks
        fields.setdefault("FLAC-PICTURE", []).append(repr(
            (picture.type, picture.mime, picture.desc, picture.data)))
    return {key: sorted(values) for key, values in fields.items()}


def mediafile_fields(path: Path) -> dict:
    """Every field beets' mediafile knows, but the genre."""
    fields = MediaFile(str(path)).as_dict()
    fields.pop("genre")
    fields.pop("genres")
    fields["images"] = [(i.data, i.mime_type, i.type, i.desc) for i in fields["images"] or []]
    return fields


def mediafile_genres(path: Path) -> list[str]:
    return list(MediaFile(str(path)).genres or [])


def id3_version(path: Path) -> tuple[int, int] | None:
    audio = mutagen.File(str(path))
    return None if audio.tags is None else tuple(audio.tags.version[:2])


def id3v1_bytes(path: Path) -> bytes | None:
    data = path.read_bytes()
    return data[-128:] if data[-128:-125] == b"TAG" else None


def raw_provenance(path: Path) -> dict[str, str]:
    """mgc's MGC_ fields read straight from the container's own tag structure."""
    audio = mutagen.File(str(path))
    found: dict[str, str] = {}
    if audio.tags is None:
        return found
    if isinstance(audio.tags, id3.ID3):
        for frame in audio.tags.getall("TXXX"):
            if frame.desc.startswith("MGC_"):
                found[frame.desc] = str(frame.text[0])
    elif isinstance(audio.tags, MP4Tags):
        for key, values in audio.tags.items():
            if key.startswith("----:com.mgc:"):
                found[key.rsplit(":", 1)[1]] = bytes(values[0]).decode()
    else:
        for key, value in audio.tags:
            if key.upper().startswith("MGC_"):
                found[key.upper()] = value
    return found


def ffmpeg_tags(path: Path) -> dict[str, str]:
    """Tags as FFmpeg's demuxers read them (PyAV bundles libavformat, what ffprobe uses):
    container and audio stream metadata, keys lower-cased."""
    with av.open(str(path), metadata_errors="replace") as container:
        found = {**container.metadata, **container.streams.audio[0].metadata}
    return {key.lower(): value for key, value in found.items()}


def record_run(out: Path, paths: list[Path], policy: str = "fill", model: str = "musicnn@test",
               scores: dict[str, float] | None = None, run_id: str = "run1") -> list[dict]:
    """What a ``mgc tag --write-tags`` run leaves in ``out`` for ``mgc undo``, made by the
    write-back library itself (no model, no Beam): genres written into ``paths``, their rows
    in ``out/writes/`` and a ``run.json``. Returns the rows."""
    import json
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.files.writeback import WriteOptions, write_genres
    from schemas.parquet import WRITES_SCHEMA

    options = WriteOptions(policy=policy, count=2, min_score=0.3)
    scores = scores or {"Rock": 0.61, "Electronic": 0.32, "Jazz": 0.05}
    rows = []
    for path in paths:
        outcome = write_genres(str(path), scores, model, options)
        st = os.stat(path)
        rows.append({**outcome.as_row(), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    (out / "writes").mkdir(parents=True, exist_ok=True)
    for old in (out / "writes").glob("*.parquet"):
        old.unlink()
    pq.write_table(pa.Table.from_pylist(rows, schema=WRITES_SCHEMA),
                   out / "writes" / "part-00000.parquet")
    (out / "run.json").write_text(json.dumps({
        "run_id": run_id, "model": model,
        "options": {"write": {"policy": policy, "separator": options.separator}}}))
    return rows
