"""Each tag format mgc writes, in one place: how a file's genres and mgc's ``MGC_`` provenance
are read from it and set in it, for ID3 (MP3, WAV, AIFF, DSF, DSDIFF, TTA), Vorbis comments
(FLAC, Ogg Vorbis, Opus, Speex, Ogg FLAC), MP4 atoms (M4A, M4B, 3GP), APEv2 (APE, WavPack,
Musepack, TAK, OptimFROG) and ASF (WMA). Write-back and undo both set fields through
``set_fields``; adding a format means adding it here.

Only the genre and the ``MGC_`` fields change: audio, pictures, lyrics, replaygain, every
other tag and the ID3 version are kept. A pure library (mutagen, soundfile).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable, Mapping, Sequence

import mutagen
import mutagen.id3
import soundfile
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.dsdiff import DSDIFF
from mutagen.dsf import DSF
from mutagen.flac import FLAC
from mutagen.id3 import TCON, TXXX, Frames, ID3JunkFrameError, ID3v1SaveOptions, TextFrame
from mutagen.id3._id3v1 import find_id3v1
from mutagen.id3._tags import ID3Header, read_frames
from mutagen.monkeysaudio import MonkeysAudio
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, AtomDataType, MP4FreeForm
from mutagen.musepack import Musepack
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.optimfrog import OptimFROG
from mutagen.tak import TAK
from mutagen.trueaudio import TrueAudio
from mutagen.wave import WAVE
from mutagen.wavpack import WavPack

MODEL_KEY = "MGC_MODEL"
POLICY_KEY = "MGC_POLICY"
SCORES_KEY = "MGC_SCORES"
PROVENANCE_KEYS = (MODEL_KEY, POLICY_KEY, SCORES_KEY)
MP4_FREEFORM = "----:com.mgc:"
MP4_GENRE = "\xa9gen"
VORBIS_GENRE = "GENRE"
APE_GENRE = "Genre"
ASF_GENRE = "WM/Genre"
SEPARATOR = "; "  # joins several genres where a format holds one text (ID3v2.3)

# ID3v2.3 for files without an ID3v2 tag: the version every player reads (Windows Explorer,
# older iTunes, car stereos); v2.4's gains (UTF-8, null-separated values) do not matter for a
# genre, which v2.3 holds as one text joined with ``separator``.
NEW_ID3_VERSION = 3

ID3_TYPES = (MP3, WAVE, AIFF, DSF, DSDIFF, TrueAudio)
VORBIS_TYPES = (FLAC, OggVorbis, OggOpus, OggSpeex, OggFLAC)
APE_TYPES = (MonkeysAudio, WavPack, Musepack, TAK, OptimFROG)
SUPPORTED = (*ID3_TYPES, *VORBIS_TYPES, MP4, *APE_TYPES, ASF)
SUPPORTED_NAMES = ("MP3, FLAC, Ogg (Vorbis, Opus, Speex, FLAC), M4A/M4B/MP4, WAV, AIFF, "
                   "DSF, DSDIFF, APE, WavPack, Musepack, TAK, OptimFROG, TTA and WMA")


class WriteError(Exception):
    """A file mgc will not or cannot write; it becomes an error row (stage ``write``) and the
    file is left untouched."""


class UnsupportedFormat(WriteError):
    pass


class UnreadableTags(WriteError):
    pass


# --- reading ---------------------------------------------------------------------------------


def open_tags(path: str, kind: type[mutagen.FileType] | None = None) -> mutagen.FileType:
    """The file's tags as mutagen reads them. ``kind``: the class the file was first read as,
    for mgc's temp copy, whose name (``.tmp``) would lead mutagen's guess astray."""
    try:
        audio = kind(path) if kind is not None else mutagen.File(path, options=list(SUPPORTED))
    except mutagen.MutagenError as error:
        raise UnreadableTags(f"mutagen cannot read the file's tags ({_words(error)}): the tags "
                             "are damaged, or the file is not what its name says; file "
                             "untouched (fix its tags with another tagger to let mgc write)"
                             ) from None
    if audio is None:
        raise UnsupportedFormat(f"unsupported format for writing genres ({_kind(path)}): "
                                f"mutagen writes no tags there; mgc writes {SUPPORTED_NAMES}; "
                                "file untouched (its genres are in mgc's output)")
    return audio


def _words(error: BaseException) -> str:
    """An error's own words without the file's path, which the error row already names."""
    quoted = repr(getattr(error, "filename", None) or "")
    text = str(error).replace(f"{quoted} ", "").replace(quoted, "")
    return text.strip() or type(error).__name__


def _kind(path: str) -> str:
    with contextlib.suppress(Exception):
        other = mutagen.File(path)
        if other is not None:
            return type(other).__name__
    return os.path.splitext(path)[1].lstrip(".").upper() or "no extension"


def id3_version(audio: mutagen.FileType) -> int | None:
    """3 or 4 for an ID3v2.3/2.4 tag; None for no tag or an ID3v1 tag alone."""
    tags = audio.tags
    if tags is None or tags.version[0] != 2:
        return None
    if tags.version[1] not in (3, 4):
        raise UnsupportedFormat(
            f"ID3v2.{tags.version[1]} tag: mgc keeps a file's ID3 version and mutagen cannot "
            "write this one; convert the tag to ID3v2.3 or 2.4 first; file untouched")
    return tags.version[1]


def _split(values: Sequence[str], separator: str) -> list[str]:
    mark = separator.strip()
    return [part for value in values for part in value.split(mark)]


def _clean(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for v in values if v and v.strip())


def _riff_info_genre(path: str) -> list[str]:
    """A WAV file's RIFF INFO genre (IGNR): mutagen does not read it, but players do."""
    with contextlib.suppress(Exception), soundfile.SoundFile(path) as f:
        return [f.genre] if f.genre else []
    return []


def has_tag(audio: mutagen.FileType) -> bool:
    """Whether the file already has a tag of the kind mgc writes (an ID3v1 tag alone does not
    count for MP3: mgc adds an ID3v2 tag beside it)."""
    if isinstance(audio, ID3_TYPES):
        return id3_version(audio) is not None
    return audio.tags is not None


def read_current(path: str, separator: str = SEPARATOR) -> tuple[tuple[str, ...], dict[str, str]]:
    """A file's genres as a player shows them, and the ``MGC_`` provenance it carries."""
    return read_genres(open_tags(path), path, separator)


def read_genres(audio: mutagen.FileType, path: str,
                separator: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """``read_current`` of a file mutagen has opened."""
    tags = audio.tags
    genres: list[str] = []
    provenance: dict[str, str] = {}
    if isinstance(audio, ID3_TYPES):
        version = id3_version(audio)
        if tags is not None:
            genres = [g for frame in tags.getall("TCON") for g in frame.genres]
            if version != 4:  # one text value: several genres are joined by the separator
                genres = _split(genres, separator)
            for key in PROVENANCE_KEYS:
                frames = tags.getall(f"TXXX:{key}")
                if frames and frames[0].text:
                    provenance[key] = str(frames[0].text[0])
        if not _clean(genres) and isinstance(audio, WAVE):
            genres = _riff_info_genre(path)
    elif tags is not None and isinstance(audio, VORBIS_TYPES):
        genres = list(tags.get(VORBIS_GENRE, []))
        for key in PROVENANCE_KEYS:
            if tags.get(key):
                provenance[key] = tags[key][0]
    elif tags is not None and isinstance(audio, MP4):
        genres = list(tags.get(MP4_GENRE, []))
        for key in PROVENANCE_KEYS:
            values = tags.get(MP4_FREEFORM + key)
            if values:
                provenance[key] = bytes(values[0]).decode("utf-8", "replace")
    elif tags is not None:  # APEv2 and ASF: a key holds a list of values
        genres = [str(v) for v in tags.get(genre_keys(audio)[0], [])]
        for key in PROVENANCE_KEYS:
            values = [str(v) for v in tags.get(key, [])]
            if values:
                provenance[key] = values[0]
    return _clean(genres), provenance


def genre_keys(audio: mutagen.FileType) -> tuple[str, ...]:
    """The keys under which the file's kind of tag keeps its genre."""
    if isinstance(audio, ID3_TYPES):
        return ("TCON",)
    if isinstance(audio, VORBIS_TYPES):
        return (VORBIS_GENRE,)
    if isinstance(audio, MP4):
        return (MP4_GENRE,)
    return (ASF_GENRE,) if isinstance(audio, ASF) else (APE_GENRE,)


# --- setting ---------------------------------------------------------------------------------


def id3v1_trailer(path: str) -> bytes | None:
    with open(path, "rb") as f:
        tag, offset = find_id3v1(f)
        if tag is None or offset != -128:
            return None
        f.seek(-128, os.SEEK_END)
        return f.read(128)


def id3v1_genre(genres: Sequence[str], original: int) -> int:
    """The ID3v1 genre byte for ``genres``: the first one's index when ID3v1's list of 148
    has it, 255 (none) for no genre, else ``original``."""
    if not genres:
        return 255
    index = {g.casefold(): i for i, g in enumerate(TCON.GENRES)}.get(genres[0].casefold())
    return original if index is None else index


def restore_id3v1(path: str, original: bytes, genre: int) -> None:
    """Put back the ID3v1 tag byte for byte, except its genre byte (mutagen would otherwise
    rebuild every field)."""
    with open(path, "r+b") as f:
        f.seek(-128, os.SEEK_END)
        if f.read(3) != b"TAG":
            raise WriteError("the ID3v1 tag moved while saving; file not written")
        f.seek(-128, os.SEEK_END)
        f.write(original[:127] + bytes([genre]))


def set_comment(tags: list[tuple[str, str]], key: str, values: Sequence[str]) -> None:
    """Replace a Vorbis comment's values where the first one stood (mutagen's ``tags[key] =``
    moves them to the end), so that the other comments keep their order and an undo can put
    the file back byte for byte. No values: the comment is removed."""
    comments = list(tags)  # a Vorbis comment block is a list of (key, value)
    at = [i for i, (name, _) in enumerate(comments) if name.casefold() == key.casefold()]
    index = at[0] if at else len(comments)
    kept = [c for i, c in enumerate(comments) if i not in at]
    kept[index:index] = [(key, value) for value in values]
    tags.clear()
    tags.extend(kept)


def set_fields(path: str, genres: Sequence[str], provenance: Mapping[str, str], separator: str,
               padding: Callable | None = None, kind: type[mutagen.FileType] | None = None
               ) -> None:
    """Give the file at ``path`` exactly these genres and ``MGC_`` fields (a key absent from
    ``provenance`` is removed; no genres: the genre is removed), keeping everything else.
    ``padding``: mutagen's padding function (undo uses it to give a file its size back).
    ``kind``: as for ``open_tags``."""
    audio = open_tags(path, kind)
    if isinstance(audio, ID3_TYPES):
        _set_id3(path, type(audio), id3_version(audio), genres, provenance, separator, padding)
        return
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    if isinstance(audio, VORBIS_TYPES):
        set_comment(tags, VORBIS_GENRE, genres)
        for key in PROVENANCE_KEYS:
            set_comment(tags, key, [provenance[key]] if key in provenance else [])
    elif isinstance(audio, MP4):  # atoms are written in mutagen's order, whatever the order set
        tags.pop(MP4_GENRE, None)
        if genres:
            tags[MP4_GENRE] = list(genres)
        for key in PROVENANCE_KEYS:
            tags.pop(MP4_FREEFORM + key, None)
            if key in provenance:
                tags[MP4_FREEFORM + key] = [
                    MP4FreeForm(provenance[key].encode("utf-8"), dataformat=AtomDataType.UTF8)]
    else:  # APEv2 and ASF: a key, a list of texts
        fields = {genre_keys(audio)[0]: list(genres),
                  **{key: [provenance[key]] if key in provenance else [] for key in
                     PROVENANCE_KEYS}}
        for key, values in fields.items():
            if key in tags:
                del tags[key]
            if values:
                tags[key] = values
    if isinstance(audio, APE_TYPES):
        audio.save()  # no padding to choose: an APEv2 tag sits at the end of the file
    else:
        audio.save(padding=padding)


def _set_id3(path: str, kind: type, version: int | None, genres: Sequence[str],
             provenance: Mapping[str, str], separator: str, padding: Callable | None) -> None:
    v1 = id3v1_trailer(path) if kind is MP3 else None
    # frames mutagen would drop from an existing tag (none in a tag created now)
    dropped = frames_mutagen_drops(path) if version is not None else []
    if version is None:  # no ID3v2 tag: create one, carrying any ID3v1 fields over
        audio = kind(path, translate=True, v2_version=NEW_ID3_VERSION)
        version = NEW_ID3_VERSION
    else:  # frames as they are: no v2.3 <-> v2.4 translation, nothing merged from ID3v1
        audio = kind(path, translate=False, load_v1=False)
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    tags.unknown_frames.extend(dropped)
    tags.delall("TCON")
    if genres:
        tags.add(TCON(encoding=3, text=list(genres) if version == 4
                      else [separator.join(genres)]))
    for key in PROVENANCE_KEYS:
        tags.delall(f"TXXX:{key}")
        if key in provenance:
            tags.add(TXXX(encoding=3, desc=key, text=[provenance[key]]))
    # v23_sep=None writes multi-valued v2.3 frames back null-separated, as they were read.
    # An ID3v1 tag is taken off and put back byte for byte but its genre: mutagen would
    # rebuild it from the v2 frames (and fails on a TYER frame that is not ASCII).
    extra = {}
    if kind is MP3:
        extra["v1"] = ID3v1SaveOptions.REMOVE if v1 is not None else ID3v1SaveOptions.UPDATE
    audio.save(v2_version=version, v23_sep=None, padding=padding, **extra)
    if v1 is not None:
        with open(path, "ab") as f:
            f.write(v1[:127] + bytes([id3v1_genre(genres, v1[127])]))


def frames_mutagen_drops(path: str) -> list[bytes]:
    """The raw bytes of the text frames without text (an empty TDRC, a TXXX without a value)
    in the ID3v2 tag at the start of the file: mutagen reads past them and would save the tag
    without them. Handed back to it as frames it keeps as they are (``unknown_frames``)."""
    with open(path, "rb") as f:
        if f.read(3) != b"ID3":
            return []
        f.seek(0)
        try:
            header = ID3Header(f)
        except mutagen.MutagenError:
            return []
        data = f.read(header.size - 10)
    _, raw_frames, _ = read_frames(header, data, {})  # no known frames: every one raw
    dropped = []
    for raw in raw_frames:
        frame_class = Frames.get(raw[:4].decode("ascii", "replace"))
        if frame_class is None or not issubclass(frame_class, TextFrame):
            continue
        try:
            frame = frame_class._fromData(header, struct.unpack(">H", raw[8:10])[0], raw[10:])
        except ID3JunkFrameError:
            dropped.append(raw)
            continue
        except Exception:  # anything else mutagen reads or refuses on its own
            continue
        if not str(frame):
            dropped.append(raw)
    return dropped


def remove_tag(path: str, genres_v1: Sequence[str] = (),
               kind: type[mutagen.FileType] | None = None) -> None:
    """Take away whole a tag mgc created: an ID3v2 tag (or ID3 chunk), keeping an MP3's ID3v1
    tag byte for byte but its genre byte, set from ``genres_v1``; or an APEv2 tag."""
    kind = type(open_tags(path, kind))
    if issubclass(kind, APE_TYPES):
        kind(path).delete()
        return
    v1 = id3v1_trailer(path) if kind is MP3 else None
    if kind is MP3:
        mutagen.id3.delete(path, delete_v1=False, delete_v2=True)
    else:
        kind(path).delete()
    if v1 is not None:
        restore_id3v1(path, v1, id3v1_genre(genres_v1, v1[127]))
