"""Look at a written copy before it replaces someone's file.

A tag library can damage a file it does not fully understand (found on mutagen's own test
files: a WAV with a zero-size chunk lost its format chunk, an M4A with an unusual atom had its
audio offsets broken). So write-back and undo take a ``Snapshot`` of the copy before editing it
and another after, and the rename goes ahead only if the two hold the same audio (the same
streams and parameters, and the same audio packets, demuxed by FFmpeg through PyAV and hashed:
no decoding), the intended genres and ``MGC_`` fields, and every other tag as it was.

A pure library (PyAV, mutagen, the standard library).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import av
import mutagen
from mutagen.apev2 import _APEv2Data
from mutagen.id3 import ID3
from mutagen.id3._id3v1 import find_id3v1

from pipelines.audio.decode import in_words
from pipelines.files.formats import (
    PROVENANCE_KEYS,
    WriteError,
    genre_keys,
    id3v1_trailer,
    open_tags,
    read_genres,
)


class CopyDiffers(WriteError):
    """The written copy is not the file with only mgc's fields changed: it is discarded."""


@dataclass(frozen=True)
class Snapshot:
    """What must survive a tag write: the audio, and every tag but the genre and ``MGC_``."""

    streams: tuple[tuple, ...]  # per audio stream: codec, rate, channels, layout
    packets: str  # SHA-256 of every audio packet's timestamps and bytes, in file order
    n_packets: int
    # the last packet, when the demuxer does not say where it lies (APE): it may run on
    # into the tags at the end of the file, so it is compared up to them (``same_last``)
    last: bytes
    trailer: int  # bytes of tags after the audio
    tags: tuple[tuple[str, str], ...]  # (key, repr of value), genre and MGC_ fields left out
    id3v1: bytes | None  # an MP3's ID3v1 trailer but its genre byte
    genres: tuple[str, ...]  # as mgc reads them (``formats.read_genres``)
    provenance: dict[str, str]  # its MGC_ fields

    @classmethod
    def of(cls, path: str, separator: str, kind: type | None = None,
           written: bool = False) -> Snapshot:
        """``separator``: as the write uses it; ``kind``: the mutagen class the file was read
        as (``formats.open_tags``); ``written``: the copy after the edit (its errors are the
        tag library's doing)."""
        end = audio_end(path)
        try:
            streams, digest, count, last = audio_packets(path, end)
        except av.FFmpegError as error:
            if written:
                raise CopyDiffers(f"the tag library would have left the file unreadable as "
                                  f"audio (FFmpeg: {in_words(error)}); file not written, it is "
                                  "as it was") from None
            raise CopyDiffers(f"FFmpeg cannot read the file's audio packets "
                              f"({in_words(error)}), so mgc cannot check that writing would "
                              "leave its audio intact; file not written") from None
        trailer = id3v1_trailer(path)
        audio = open_tags(path, kind)
        genres, provenance = read_genres(audio, path, separator)
        return cls(streams, digest, count, last, os.path.getsize(path) - end,
                   other_tags(audio), trailer[:127] if trailer is not None else None,
                   tuple(genres), provenance)

    def same_last(self, other: Snapshot) -> bool:
        short, long = sorted((self.last, other.last), key=len)
        return long.startswith(short) and len(long) - len(short) <= max(self.trailer,
                                                                         other.trailer)


def audio_end(path: str) -> int:
    """Where the audio ends: before the tags at the end of the file (APEv2, ID3v1), which some
    FFmpeg demuxers (APE, MP3) hand over as part of the last packet."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        with contextlib.suppress(Exception):
            _, offset = find_id3v1(f)
            if offset:
                end += offset
        with contextlib.suppress(Exception):
            ape = _APEv2Data(f)
            if ape.start is not None:
                end = min(end, ape.start)
    return end


def audio_packets(path: str, end: int) -> tuple[tuple[tuple, ...], str, int, bytes]:
    """The audio streams' parameters, a digest of their packets (their bytes up to ``end``,
    where the tags at the end of the file begin) but the last when its place is unknown, and
    that one, by demuxing only."""
    with av.open(path, metadata_errors="replace") as container:
        audio = [s for s in container.streams if s.type == "audio"]
        if not audio:
            raise CopyDiffers("FFmpeg finds no audio stream in the file, so mgc cannot "
                              "check that writing would leave its audio intact; file not "
                              "written")
        streams = tuple((s.index, s.codec_context.name, s.codec_context.sample_rate,
                         s.codec_context.channels, s.codec_context.layout.name)
                        for s in audio)
        digest, count, held = hashlib.sha256(), 0, b""
        for packet in container.demux(audio):
            if packet.size:
                digest.update(f"{len(held)}:".encode() + held)
                data = bytes(packet)
                placed = packet.pos is not None and packet.pos >= 0
                if placed:
                    data = data[:max(0, end - packet.pos)]
                head = f"{packet.stream.index}:{packet.pts}:{packet.dts}:".encode()
                digest.update(head + (f"{len(data)}:".encode() + data if placed else b""))
                held = b"" if placed else data
                count += 1
    return streams, digest.hexdigest(), count, held


def _is_ours(key: str, genre_names: frozenset[str]) -> bool:
    upper = key.upper()
    return upper in genre_names or any(upper.endswith(k) for k in PROVENANCE_KEYS)


def other_tags(audio: mutagen.FileType) -> tuple[tuple[str, str], ...]:
    """Every tag of a file mutagen has read, but its genre and mgc's own fields; for FLAC
    also its other metadata blocks (pictures, cue sheet, seek table, application data), for
    MP4 its chapters, for ID3 the frames mutagen could not parse."""
    names = frozenset(k.upper() for k in genre_keys(audio))
    found: list[tuple[str, str]] = []
    tags = audio.tags
    if tags is not None:
        if isinstance(tags, ID3):
            items = [(frame.HashKey, frame) for frame in tags.values()]
            items += [("unknown", bytes(frame)) for frame in tags.unknown_frames]
        elif hasattr(tags, "items"):
            items = list(tags.items())
        else:
            items = list(tags)
        found += [(str(key), repr(value)) for key, value in items
                  if not _is_ours(str(key), names)]
        if hasattr(tags, "vendor"):  # a Vorbis comment block's own field
            found.append(("vendor", tags.vendor))
    for block in getattr(audio, "metadata_blocks", ()):  # FLAC
        if type(block).__name__ not in ("VCFLACDict", "VCommentDict", "Padding"):
            found.append((type(block).__name__, repr(block.write())))
    for chapter in getattr(audio, "chapters", None) or ():  # MP4 audiobooks
        found.append(("chapter", repr((chapter.start, chapter.title))))
    return tuple(sorted(found))


def _changed_keys(before: Sequence[tuple[str, str]], after: Sequence[tuple[str, str]]
                  ) -> list[str]:
    lost, gained = set(before) - set(after), set(after) - set(before)
    return sorted({key for key, _ in lost | gained})


def check_copy(before: Snapshot, path: str, genres: Sequence[str],
               provenance: Mapping[str, str], separator: str, kind: type | None = None) -> None:
    """``CopyDiffers`` unless the copy at ``path`` holds ``before``'s audio and other tags and
    reads back with exactly ``genres`` and ``provenance``."""
    after = Snapshot.of(path, separator, kind, written=True)
    if after.streams != before.streams:
        raise CopyDiffers(f"the tag library would have changed the audio's format "
                          f"({_streams(before)} -> {_streams(after)}); file not written")
    if ((after.packets, after.n_packets) != (before.packets, before.n_packets)
            or not after.same_last(before)):
        raise CopyDiffers(f"the tag library would have changed the audio itself "
                          f"({before.n_packets} packets -> {after.n_packets}, or their "
                          "bytes); file not written")
    changed = _changed_keys(before.tags, after.tags)
    if not any(key == "vendor" for key, _ in before.tags):  # a new Vorbis comment block
        changed = [key for key in changed if key != "vendor"]
    if changed:
        raise CopyDiffers(f"the tag library would have changed other tags ({', '.join(changed)})"
                          "; file not written")
    if after.id3v1 != before.id3v1:
        raise CopyDiffers("the tag library would have changed the ID3v1 tag; file not written")
    if after.genres != tuple(genres):
        raise CopyDiffers(f"the genres read back as {'; '.join(after.genres) or '(none)'}, "
                          f"not {'; '.join(genres) or '(none)'}; file not written")
    if after.provenance != dict(provenance):
        raise CopyDiffers("mgc's MGC_ fields did not read back as written; file not written")


def _streams(snapshot: Snapshot) -> str:
    return ", ".join(f"{codec} {rate} Hz {channels} ch"
                     for _, codec, rate, channels, _ in snapshot.streams) or "no audio"


def checked(edit: Callable[[str], None], genres: Sequence[str], provenance: Mapping[str, str],
            separator: str, kind: type | None = None) -> Callable[[str], None]:
    """``edit`` of the atomic replace's copy, followed by ``check_copy`` against the copy as
    it was before the edit: what write-back and undo hand to ``replace_atomically``."""

    def edit_and_check(copy: str) -> None:
        before = Snapshot.of(copy, separator, kind)
        try:
            edit(copy)
        except WriteError:
            raise
        except Exception as error:  # the tag library's own failure, in words
            raise WriteError(f"the tag library (mutagen) failed while writing the file's tags "
                             f"({type(error).__name__}: {error}); file untouched; re-save its "
                             "tags with another tagger to let mgc write") from None
        check_copy(before, copy, genres, provenance, separator, kind)

    return edit_and_check
