"""The tags a file already carries (title, artist, album, album artist, track number, year and
its genres), read with mutagen from every format mgc writes (``formats.SUPPORTED``): ID3
(v2.3, 2.4 or ID3v1 alone), Vorbis comments, MP4 atoms, APEv2 and ASF.

They let a library teach mgc: its own genres are compared with the model's (``agreement``), and
title, artist and album make the library page searchable. A tag that is absent, broken or
unreadable gives nulls, never an error: the audio is what gets a track tagged. Genres are
read by ``pipelines.files.formats`` (the same reading that decides a write), so an ID3v1 genre
byte or a ``(17)`` reference comes back as its name; the genres an earlier ``mgc tag
--write-tags`` wrote (named in the file's ``MGC_SCORES``) are left out: they are mgc's, not
the library's.

A pure library (mutagen, fsspec for URLs): no Beam or TensorFlow import.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

import fsspec
import mutagen
import soundfile
from mutagen.asf import ASFTags
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags
from mutagen.wave import WAVE

from pipelines.files import formats

INT32_MAX = 2**31 - 1
_FIRST_NUMBER = re.compile(r"^\s*(\d+)")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_SPACES = re.compile(r"\s+")

# field -> where each tag family keeps it, in order of preference
ID3_FRAMES = {"title": ("TIT2",), "artist": ("TPE1",), "album": ("TALB",),
              "album_artist": ("TPE2",), "track_number": ("TRCK",),
              "year": ("TDRC", "TYER", "TORY", "TDOR")}
VORBIS_KEYS = {"title": ("TITLE",), "artist": ("ARTIST",), "album": ("ALBUM",),
               "album_artist": ("ALBUMARTIST", "ALBUM ARTIST", "ALBUM_ARTIST"),
               "track_number": ("TRACKNUMBER", "TRACK"),
               "year": ("DATE", "YEAR", "ORIGINALDATE", "ORIGINALYEAR")}
ASF_KEYS = {"title": ("Title",), "artist": ("Author",), "album": ("WM/AlbumTitle",),
            "album_artist": ("WM/AlbumArtist",), "track_number": ("WM/TrackNumber",),
            "year": ("WM/Year",)}
MP4_KEYS = {"title": ("\xa9nam",), "artist": ("\xa9ART",), "album": ("\xa9alb",),
            "album_artist": ("aART",), "track_number": ("trkn",), "year": ("\xa9day",)}
# a WAV file's RIFF INFO chunk, as soundfile reads it (mutagen does not)
RIFF_INFO = {"title": "title", "artist": "artist", "album": "album",
             "track_number": "tracknumber", "year": "date"}
JOIN = "; "  # several values of one text field (two artists), as one text


class FileTags(NamedTuple):
    """A file's own tags; None for each one it does not have (or that could not be read)."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    album_artist: str | None = None
    track_number: int | None = None
    year: int | None = None
    genres: tuple[str, ...] | None = None  # as spelt in the file, in its order; not mgc's

    def as_columns(self) -> dict:
        """The tag row's columns (``schemas.parquet.tags_schema``)."""
        row = self._asdict()
        genres = row.pop("genres")
        return {**row, "file_genres": list(genres) if genres else None}


NO_TAGS = FileTags()


def _text(values: Iterable) -> str | None:
    seen = []
    for value in values:
        text = str(value).replace("\x00", "").strip()
        if text and text not in seen:
            seen.append(text)
    return JOIN.join(seen) if seen else None


def _number(text: str | None) -> int | None:
    found = _FIRST_NUMBER.match(text or "")
    value = int(found.group(1)) if found else 0
    return value if 0 < value <= INT32_MAX else None


def _year(text: str | None) -> int | None:
    found = _YEAR.search(text or "")
    value = int(found.group(1)) if found else 0
    return value if value > 0 else None


def _id3_values(tags: ID3, field: str) -> list:
    for frame_id in ID3_FRAMES[field]:
        values = [v for frame in tags.getall(frame_id) for v in frame.text]
        if _text(values):
            return values
    return []


def _vorbis_values(tags, field: str) -> list:
    for key in VORBIS_KEYS[field]:
        if tags.get(key) and _text(tags[key]):
            return list(tags[key])
    return []


def _mp4_values(tags: MP4Tags, field: str) -> list:
    for key in MP4_KEYS[field]:
        values = tags.get(key) or []
        if key == "trkn":  # (number, total) pairs
            values = [pair[0] for pair in values if pair and pair[0]]
        if _text(values):
            return list(values)
    return []


def _riff_values(path: str, field: str) -> list:
    if field not in RIFF_INFO or "://" in path:
        return []
    with contextlib.suppress(Exception), soundfile.SoundFile(path) as f:
        return [getattr(f, RIFF_INFO[field]) or ""]
    return []


def _reader(audio: mutagen.FileType, path: str) -> Callable[[str], list]:
    """The function giving a field's raw values for this file's kind of tag."""
    tags = audio.tags
    if isinstance(tags, ID3) or isinstance(audio, formats.ID3_TYPES):
        def values(field: str) -> list:
            found = _id3_values(tags, field) if tags is not None else []
            if not found and isinstance(audio, WAVE):
                found = _riff_values(path, field)
            return found
        return values
    if isinstance(tags, MP4Tags):
        return lambda field: _mp4_values(tags, field)
    if isinstance(tags, ASFTags):
        return lambda field: [v for key in ASF_KEYS[field] for v in tags.get(key, [])]
    if tags is not None:  # Vorbis comments and APEv2: keys alike, any case
        return lambda field: _vorbis_values(tags, field)
    return lambda field: []


def _written_by_mgc(provenance: dict[str, str]) -> set[str]:
    """The genres an earlier ``--write-tags`` put in the file (its ``MGC_SCORES``)."""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        return {name.casefold() for name in json.loads(provenance[formats.SCORES_KEY])}
    return set()


def _genres(audio: mutagen.FileType, path: str) -> tuple[str, ...] | None:
    """The library's own genres: those mgc wrote itself are not (they would agree with mgc
    by construction)."""
    provenance: dict[str, str] = {}
    try:
        genres, provenance = formats.read_genres(audio, path, formats.SEPARATOR)
    except formats.UnsupportedFormat:  # an ID3v2.2 tag: mgc cannot write it, but reads it
        found = [g.strip() for frame in audio.tags.getall("TCON") for g in frame.genres]
        genres = [g for g in found if g]
    ours = _written_by_mgc(provenance) if formats.SCORES_KEY in provenance else set()
    return tuple(g for g in genres if g.casefold() not in ours) or None


def _open(path: str) -> mutagen.FileType | None:
    if "://" not in path:
        return formats.open_tags(path)
    with fsspec.open(path, "rb") as f:  # mutagen reads the tags it needs, seeking
        return mutagen.File(f, options=list(formats.SUPPORTED))


def read_file_tags(path: str) -> FileTags:
    """The tags ``path`` carries (a local file or an fsspec URL); never raises: what cannot be
    read is None."""
    try:
        audio = _open(path)
    except Exception:
        return NO_TAGS
    if audio is None:
        return NO_TAGS
    try:
        values = _reader(audio, path)
    except Exception:
        return NO_TAGS
    fields: dict = {}
    parse = {"track_number": lambda v: _number(_text(v[:1])),
             "year": lambda v: _year(_text(v[:1]))}
    for field in ("title", "artist", "album", "album_artist", "track_number", "year"):
        with contextlib.suppress(Exception):  # one broken field leaves the others
            fields[field] = parse.get(field, _text)(values(field))
    with contextlib.suppress(Exception):
        fields["genres"] = _genres(audio, path)
    return FileTags(**fields)


# --- albums -----------------------------------------------------------------------------------


def _name(text: str | None) -> str:
    return _SPACES.sub(" ", text or "").strip().casefold()


def folder_of(path: str) -> str:
    """The folder holding a local path or a URL."""
    return path.replace("\\", "/").rsplit("/", 1)[0] if "/" in path.replace("\\", "/") else ""


def album_key(row: Mapping) -> str:
    """The album of a tag row (or any mapping with path, artist, album_artist, album): album
    artist (else artist) and album, case and spacing ignored; the folder when the file has no
    album tag, or names no artist."""
    album, who = _name(row.get("album")), _name(row.get("album_artist") or row.get("artist"))
    if album and who:
        return f"album\0{who}\0{album}"
    if album:
        return f"album\0{folder_of(row['path'])}\0{album}"
    return f"folder\0{folder_of(row['path'])}"


def evidence_album(row: Mapping) -> str:
    """The album whose tracks speak for one another (``pipelines.graph.evidence``): the
    file's ``album_key`` when it has an album tag; else the file alone, since a folder of
    loose, untagged files (a downloads folder) says nothing of their genres."""
    return album_key(row) if _name(row.get("album")) else f"file\0{row['path']}"


# Album artists that say an album is a compilation ('Various Artists' in MusicBrainz's and
# Picard's spelling, and the common others), as ``_name`` spells them.
VARIOUS_ARTISTS = frozenset({"various artists", "various", "va", "v.a.", "v/a",
                             "multiple artists", "verschiedene interpreten", "artistes divers",
                             "varios artistas", "artisti vari", "diverse artiesten"})


def is_compilation(rows: Sequence[Mapping]) -> bool:
    """Whether one album's rows are a compilation: its album artist says so ('Various
    Artists'), or no one artist holds half its tracks among three or more."""
    if any(_name(row.get("album_artist")) in VARIOUS_ARTISTS for row in rows):
        return True
    artists = Counter(_name(row.get("artist")) for row in rows if _name(row.get("artist")))
    return len(artists) >= 3 and max(artists.values()) * 2 < len(rows)


def artist_key(rows: Sequence[Mapping]) -> str | None:
    """The artist whose other albums may speak for one album's rows: its album artist, else
    the artist of at least half its tracks; None for a compilation or an album naming none."""
    if is_compilation(rows):
        return None
    album_artists = {_name(row.get("album_artist")) for row in rows} - {""}
    if len(album_artists) == 1:
        return f"artist\0{album_artists.pop()}"
    artists = Counter(_name(row.get("artist")) for row in rows if _name(row.get("artist")))
    if artists:
        name, tracks = artists.most_common(1)[0]
        if tracks * 2 >= len(rows):
            return f"artist\0{name}"
    return None
