"""Write the model's genres into the audio files themselves, safely enough for someone's only
copy of their library.

``plan`` reads a file's genres and its ``MGC_`` provenance with mutagen and decides what to do;
``apply`` does it atomically: the file is copied beside itself under a hidden mgc temp name,
the copy's tags are changed, flushed to disk, and renamed over the original only if the
original has not changed since it was read. A crash at any moment leaves the old file or the
new one, never a mix. Only the genre and the ``MGC_`` fields change: audio, pictures, lyrics,
replaygain, every other tag and the ID3 version are kept.

A pure library (mutagen and the standard library): no Beam or TensorFlow import, so it runs
in a light process and is easy to call from a script.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import mutagen
import soundfile
from mutagen.aiff import AIFF
from mutagen.flac import FLAC
from mutagen.id3 import TCON, TXXX, ID3v1SaveOptions
from mutagen.id3._id3v1 import find_id3v1
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, AtomDataType, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

POLICIES = ("fill", "merge", "overwrite")
ACTIONS = ("written", "unchanged", "would-write", "skipped", "failed")

MODEL_KEY = "MGC_MODEL"
POLICY_KEY = "MGC_POLICY"
SCORES_KEY = "MGC_SCORES"
PROVENANCE_KEYS = (MODEL_KEY, POLICY_KEY, SCORES_KEY)
MP4_FREEFORM = "----:com.mgc:"
MP4_GENRE = "\xa9gen"
VORBIS_GENRE = "GENRE"
SCORE_DECIMALS = 2  # scores are rounded so a rerun writes the same bytes

# ID3v2.3 for files without an ID3v2 tag: the version every player reads (Windows Explorer,
# older iTunes, car stereos); v2.4's gains (UTF-8, null-separated values) do not matter for a
# genre, which v2.3 holds as one text joined with ``separator``.
NEW_ID3_VERSION = 3

ID3_TYPES = (MP3, WAVE, AIFF)
VORBIS_TYPES = (FLAC, OggVorbis, OggOpus)
SUPPORTED = (*ID3_TYPES, *VORBIS_TYPES, MP4)
SUPPORTED_NAMES = "MP3, FLAC, Ogg Vorbis, Opus, M4A/MP4, WAV and AIFF"

TEMP_INFIX = ".mgc-"
TEMP_SUFFIX = ".tmp"
_TEMP_TOKEN = re.compile(r"[0-9a-f]{8}")


class WriteError(Exception):
    """A file mgc will not or cannot write; it becomes an error row (stage ``write``) and the
    file is left untouched."""


class UnsupportedFormat(WriteError):
    pass


class UnreadableTags(WriteError):
    pass


class ReadOnlyFile(WriteError):
    pass


class Vanished(WriteError):
    pass


class ChangedSinceRead(WriteError):
    pass


class OwnerNotKept(WriteError):
    pass


# The top score above which the default model is right at least 9 times in 10: on the
# real-music check corpus (scripts/check_real_music.py, leave-one-source-out) the tracks
# scored at least this were 22% of all and 90.9% of them right. The write-back default, and
# what run.json, the summary and the classify page count as confident.
CONFIDENT_SCORE = 0.85


@dataclass(frozen=True)
class WriteOptions:
    """How genres are written (the ``--write-tags`` family of flags of ``mgc tag``).

    ``fill`` (recommended) writes only into files without a genre and never touches a file
    that has one, whoever wrote it; ``merge`` adds the model's genres after the existing ones;
    ``overwrite`` replaces them. ``vocabulary`` limits the names written (spelt as it spells
    them; default: the model's genres); ``separator`` joins several genres only where a format
    holds a single text (ID3v2.3).
    """

    policy: str = "fill"
    count: int = 1
    min_score: float = CONFIDENT_SCORE
    vocabulary: tuple[str, ...] | None = None
    title_case: bool = True
    separator: str = "; "
    keep_mtime: bool = True
    dry_run: bool = False

    def validate(self, model_genres: Sequence[str] | None = None) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"--write-tags must be one of {', '.join(POLICIES)} (fill is the "
                             f"safe choice), not {self.policy!r}")
        if self.count < 1:
            raise ValueError("--genre-count must be at least 1")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError("--min-score must be between 0 and 1")
        if not self.separator.strip():
            raise ValueError("--separator must contain a visible character, e.g. '; '")
        if self.vocabulary is not None and not self.vocabulary:
            raise ValueError("--vocabulary names no genre")
        names = list(self.vocabulary or model_genres or ())
        for name in names:
            if self.separator.strip() in name:
                raise ValueError(f"--separator {self.separator!r} occurs in the genre {name!r};"
                                 " choose another separator")
        if self.vocabulary and model_genres is not None:
            known = {g.casefold() for g in model_genres}
            if not any(v.casefold() in known for v in self.vocabulary):
                raise ValueError("--vocabulary has none of the model's genres, so nothing could "
                                 f"be written; the model's genres: {', '.join(model_genres)}")


class FileStat(NamedTuple):
    """What a file was when it was read: a write goes ahead only if it still is."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


def file_stat(path: str) -> FileStat | None:
    """The stat of a local file, None for a URL (write-back is for local files only)."""
    if "://" in path:
        return None
    return FileStat.of(os.stat(path))


class Plan(NamedTuple):
    """What ``apply`` will do to one file: ``write``, or nothing (``unchanged``, ``skipped``)."""

    path: str  # as given
    target: str  # the real file (symbolic links resolved)
    action: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    provenance: dict[str, str]
    reason: str
    stat: FileStat  # the file as the plan read it
    creates_tag: bool = False  # the file has no tag of its format yet: the write adds one
    provenance_before: dict[str, str] = {}  # the MGC_ fields the file held (an earlier run's)


class Outcome(NamedTuple):
    """One file's write-back result: a row of ``OUT/writes/``."""

    path: str
    action: str
    policy: str
    genres_before: tuple[str, ...]
    genres_after: tuple[str, ...]
    model: str
    message: str = ""
    # what ``mgc undo`` needs to put the file back as it was: its size before the write (the
    # padding to restore), whether the write created the file's tag (undo removes it) and the
    # MGC_ fields it held before (JSON; an earlier run's, put back)
    size_before: int | None = None
    tag_created: bool = False
    provenance_before: str = "{}"

    def as_row(self) -> dict:
        row = self._asdict()
        row["genres_before"] = list(self.genres_before)
        row["genres_after"] = list(self.genres_after)
        return row


def failed(path: str, options: WriteOptions, model: str, error: BaseException) -> Outcome:
    return Outcome(path, "failed", options.policy, (), (), model,
                   f"{type(error).__name__}: {error}")


def title_case(name: str) -> str:
    """Capitalise each word's first letter and leave the rest alone ('hip-hop' -> 'Hip-Hop',
    'Soul-RnB' stays): ``str.title`` would make 'Soul-Rnb'."""
    return re.sub(r"(^|[\s\-/&(])(\w)", lambda m: m.group(1) + m.group(2).upper(), name)


def read_vocabulary(path: str) -> tuple[str, ...]:
    """A vocabulary file: one genre per line; blank lines and ``#`` comments are ignored."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.split("#", 1)[0].strip() for line in f]
    except OSError as error:
        raise ValueError(f"--vocabulary: cannot read {path!r}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"--vocabulary: {path!r} is not UTF-8 text") from None
    names = tuple(dict.fromkeys(line for line in lines if line))
    if not names:
        raise ValueError(f"--vocabulary: {path!r} names no genre (one genre per line)")
    return names


def choose_genres(scores: Mapping[str, float], options: WriteOptions) -> list[tuple[str, float]]:
    """The model's genres to write, best first: in the vocabulary, scoring at least
    ``min_score``, at most ``count``; ties keep the model's label order."""
    vocabulary = None
    if options.vocabulary is not None:
        vocabulary = {name.casefold(): name for name in options.vocabulary}
    chosen: list[tuple[str, float]] = []
    for name, score in sorted(scores.items(), key=lambda item: -item[1]):
        if score < options.min_score or len(chosen) == options.count:
            break
        if vocabulary is not None:
            if name.casefold() not in vocabulary:
                continue
            name = vocabulary[name.casefold()]
        if options.title_case:
            name = title_case(name)
        chosen.append((name, float(score)))
    return chosen


def provenance_of(chosen: Sequence[tuple[str, float]], model: str,
                  options: WriteOptions) -> dict[str, str]:
    scores = {name: round(score, SCORE_DECIMALS) for name, score in chosen}
    return {
        MODEL_KEY: model,
        POLICY_KEY: options.policy,
        SCORES_KEY: json.dumps(scores, ensure_ascii=False),
    }


# --- reading ---------------------------------------------------------------------------------


def open_tags(path: str) -> mutagen.FileType:
    try:
        audio = mutagen.File(path, options=list(SUPPORTED))
    except mutagen.MutagenError as error:
        raise UnreadableTags(f"mutagen cannot read the file's tags: {error}") from None
    if audio is None:
        raise UnsupportedFormat(f"unsupported format for writing genres ({_kind(path)}); mgc "
                                f"writes {SUPPORTED_NAMES}; file untouched")
    return audio


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


def read_current(path: str, separator: str = "; ") -> tuple[tuple[str, ...], dict[str, str]]:
    """A file's genres as a player shows them, and the ``MGC_`` provenance it carries."""
    return read_tags(open_tags(path), path, separator)


def read_tags(audio: mutagen.FileType, path: str,
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
    elif tags is not None:  # MP4
        genres = list(tags.get(MP4_GENRE, []))
        for key in PROVENANCE_KEYS:
            values = tags.get(MP4_FREEFORM + key)
            if values:
                provenance[key] = bytes(values[0]).decode("utf-8", "replace")
    return _clean(genres), provenance


# --- deciding --------------------------------------------------------------------------------


def plan(path: str, scores: Mapping[str, float], model: str,
         options: WriteOptions) -> Plan:
    """Decide what to write into one file, from what it holds now and the model's scores.

    Unchanged when the file already holds what this model and policy would write (a rerun, or
    a retried Beam bundle): scores are not compared, so the last digit of a recomputed score
    never causes a rewrite. ``fill`` on a file that has a genre touches nothing.
    """
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        raise Vanished("the file vanished since it was read; file not written") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedFormat("not a regular file")
    audio = open_tags(target)
    before, current = read_tags(audio, target, options.separator)
    chosen = choose_genres(scores, options)
    provenance = provenance_of(chosen, model, options)
    ours = current.get(MODEL_KEY) == model and current.get(POLICY_KEY) == options.policy

    def decided(action: str, after: Sequence[str], reason: str = "") -> Plan:
        return Plan(path, target, action, before, tuple(after), provenance, reason,
                    FileStat.of(st), not has_tag(audio), current)

    if not chosen:
        where = " in the vocabulary" if options.vocabulary else ""
        return decided("skipped", before,
                       f"no genre{where} scored at least {options.min_score:g}")
    names = [name for name, _ in chosen]
    if options.policy == "fill" and before:
        if ours:
            return decided("unchanged", before, f"already filled by {model}")
        by = f" (written by {current[MODEL_KEY]})" if MODEL_KEY in current else ""
        return decided("skipped", before, f"has a genre{by}; fill keeps it")
    if options.policy == "merge":
        known = {g.casefold() for g in before}
        after = [*before, *(n for n in names if n.casefold() not in known)]
    else:
        after = names
    if tuple(after) == before and ours:
        return decided("unchanged", before, f"already tagged by {model} ({options.policy})")
    return decided("write", after)


# --- writing ---------------------------------------------------------------------------------


def _temp_stem(name: str) -> str:
    if len(name.encode("utf-8")) <= 200:
        return name
    return hashlib.sha1(name.encode("utf-8")).hexdigest()


def temp_files(path: str) -> list[str]:
    """mgc's temp files beside ``path``: ``.<name>.mgc-<8 hex>.tmp``."""
    directory, name = os.path.split(os.path.realpath(path))
    prefix = f".{_temp_stem(name)}{TEMP_INFIX}"
    found = []
    with os.scandir(directory or ".") as entries:
        for entry in entries:
            token = entry.name[len(prefix):-len(TEMP_SUFFIX)]
            if (entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX)
                    and _TEMP_TOKEN.fullmatch(token) and entry.is_file(follow_symlinks=False)):
                found.append(entry.path)
    return sorted(found)


def _same(now: FileStat, expected: FileStat | None) -> None:
    if expected is not None and now != expected:
        raise ChangedSinceRead("the file changed since it was read (size, modification time "
                               "or inode); not written, run again to tag it")


def check_writable(target: str) -> None:
    """ReadOnlyFile unless mgc may replace the file: what a dry run checks."""
    _writable(target, os.stat(target))


def _writable(target: str, st: os.stat_result) -> None:
    # Checked by hand: a rename replaces a read-only file (only the folder's permission
    # counts), and root may write anything. A file without write permission stays as it is.
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(
            target, os.W_OK):
        raise ReadOnlyFile("read-only file; make it writable to let mgc write its genre")


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


def _write_id3(path: str, kind: type, version: int | None, genres: Sequence[str],
               provenance: Mapping[str, str], separator: str) -> None:
    if version is None:  # no ID3v2 tag: create one, carrying any ID3v1 fields over
        audio = kind(path, translate=True, v2_version=NEW_ID3_VERSION)
        version = NEW_ID3_VERSION
    else:  # frames as they are: no v2.3 <-> v2.4 translation, nothing merged from ID3v1
        audio = kind(path, translate=False, load_v1=False)
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    tags.delall("TCON")
    tags.add(TCON(encoding=3, text=list(genres) if version == 4 else [separator.join(genres)]))
    for key, value in provenance.items():
        tags.delall(f"TXXX:{key}")
        tags.add(TXXX(encoding=3, desc=key, text=[value]))
    if kind is MP3:
        v1 = id3v1_trailer(path)
        # v23_sep=None writes multi-valued v2.3 frames back null-separated, as they were read
        audio.save(v1=ID3v1SaveOptions.UPDATE, v2_version=version, v23_sep=None)
        if v1 is not None:
            restore_id3v1(path, v1, id3v1_genre(genres, v1[127]))
    else:
        audio.save(v2_version=version, v23_sep=None)


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


def _write_tags(path: str, genres: Sequence[str], provenance: Mapping[str, str],
                separator: str) -> None:
    audio = open_tags(path)
    if isinstance(audio, ID3_TYPES):
        _write_id3(path, type(audio), id3_version(audio), genres, provenance, separator)
        return
    if audio.tags is None:
        audio.add_tags()
    if isinstance(audio, VORBIS_TYPES):
        set_comment(audio.tags, VORBIS_GENRE, genres)
        for key, value in provenance.items():
            set_comment(audio.tags, key, [value])
    else:
        audio.tags[MP4_GENRE] = list(genres)
        for key, value in provenance.items():
            audio.tags[MP4_FREEFORM + key] = [
                MP4FreeForm(value.encode("utf-8"), dataformat=AtomDataType.UTF8)
            ]
    audio.save()


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_owner(st: os.stat_result, path: str) -> None:
    if (st.st_uid, st.st_gid) == (os.getuid(), os.getgid()):
        return
    try:
        os.chown(path, st.st_uid, st.st_gid)
    except PermissionError:
        raise OwnerNotKept("the new file could not keep the file's owner and group; "
                           "file not written") from None


def replace_atomically(target: str, edit: Callable[[str], None],
                       expected: Sequence[FileStat | None] = (), keep_mtime: bool = True) -> None:
    """Change a file's tags so that a crash at any moment leaves the old file or the new one:
    copy it beside itself, ``edit(copy)``, keep its permissions, times and owner, flush it to
    disk, and rename it over the file, only if the file still matches each of ``expected``
    (and has not changed while it was copied). Write-back and ``mgc undo`` both use it."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        raise Vanished("the file vanished since it was read; file not written") from None
    _writable(target, st)
    for stale in temp_files(target):  # left by a killed run
        with contextlib.suppress(FileNotFoundError):
            os.remove(stale)
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{_temp_stem(name)}{TEMP_INFIX}{secrets.token_hex(4)}"
                                  f"{TEMP_SUFFIX}")
    try:
        with open(target, "rb") as src:
            read = FileStat.of(os.fstat(src.fileno()))
            for stat_ in expected:
                _same(read, stat_)
            with open(tmp, "xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            _same(FileStat.of(os.fstat(src.fileno())), read)
        edit(tmp)
        shutil.copystat(target, tmp)  # permission bits, times, extended attributes
        if not keep_mtime:
            os.utime(tmp)
        _keep_owner(st, tmp)
        _fsync(tmp)
        _same(FileStat.of(os.stat(target)), read)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync(directory)


def _undo_facts(plan: Plan) -> dict:
    return {"size_before": plan.stat.size, "tag_created": plan.creates_tag,
            "provenance_before": json.dumps(plan.provenance_before, ensure_ascii=False,
                                            sort_keys=True)}


def apply(plan: Plan, options: WriteOptions, expected: FileStat | None = None) -> Outcome:
    """Carry out a plan: write the copy, then rename it over the file (``would-write`` for a
    dry run). ``expected`` is the file as it was first read (at decode time); if the file no
    longer matches it, or the plan, nothing is written (``ChangedSinceRead``)."""
    model = plan.provenance[MODEL_KEY]
    if plan.action != "write":
        return Outcome(plan.path, plan.action, options.policy, plan.before, plan.after, model,
                       plan.reason)
    if options.dry_run:  # a preview also tells which files could not be written
        check_writable(plan.target)
        return Outcome(plan.path, "would-write", options.policy, plan.before, plan.after, model,
                       **_undo_facts(plan))
    replace_atomically(
        plan.target, lambda tmp: _write_tags(tmp, plan.after, plan.provenance, options.separator),
        (expected, plan.stat), options.keep_mtime)
    return Outcome(plan.path, "written", options.policy, plan.before, plan.after, model,
                   **_undo_facts(plan))


def write_genres(path: str, scores: Mapping[str, float], model: str, options: WriteOptions,
                 expected: FileStat | None = None) -> Outcome:
    """Plan and apply in one call: what the pipeline's last stage does for each file."""
    return apply(plan(path, scores, model, options), options, expected)
