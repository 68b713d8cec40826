"""Playlists from a tag run: one UTF-8 extended M3U (``.m3u8``) per genre, style or mood.

Pure library code (no Beam): ``mgc playlists`` (``pipelines/commands/playlists.py``) calls
``write_playlists``. See docs/playlists.md for what a user sees.

- Which playlists a track is in (``values_of``): without a least score, the track's best value
  only (its ``genre`` for genres, the first entry of ``styles``/``moods``); with one, every
  entry of the list column scoring at least that.
- A playlist's order (``order_key``): album artist (else artist), album, track number, path;
  text compared case-blind, missing values last.
- An entry: ``#EXTINF:<whole seconds>,<artist> - <title>`` then the path, relative to the
  playlist's folder for a local file, absolute where it cannot be (another drive), a URL as
  the tags hold it.
- File names (``safe_name``): safe on every common filesystem; two values that would share a
  name (``Rock`` and ``rock`` on a case-blind disk) get `` (2)``, `` (3)``...
- Ownership: ``DIR/.mgc-playlists.json`` lists the files this code wrote, per kind. A later run
  rewrites or removes only those of its kind that are still as it wrote them (one changed
  since is the user's now); any other file in DIR (a user's own playlist, another kind's) is
  never overwritten or removed: a value whose name is taken gets the next free one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# --by -> the tag rows' list<{name, score}> column it reads
KINDS = {"genre": "genres", "style": "styles", "mood": "moods"}
EXTENSION = ".m3u8"
MANIFEST = ".mgc-playlists.json"
MANIFEST_VERSION = 1
COLUMNS = ["path", "duration_s", "title", "artist", "album", "album_artist", "track_number"]

# Not in a file name on Windows, macOS or Linux; control characters are dropped too.
FORBIDDEN = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
            *(f"LPT{i}" for i in range(1, 10))}
MAX_NAME_BYTES = 255  # ext4, APFS, NTFS (UTF-16 units there; UTF-8 bytes are never fewer)


class NoRun(Exception):
    """OUT holds no finished tag run."""


class MissingColumn(Exception):
    """The run in OUT was tagged by an mgc that did not write this kind of value."""


@dataclass
class Result:
    into: str
    by: str
    written: dict[str, str] = field(default_factory=dict)  # file name -> value
    entries: int = 0
    removed: list[str] = field(default_factory=list)  # stale playlists of an earlier run
    kept: list[str] = field(default_factory=list)  # written earlier, changed since: left alone
    skipped: list[str] = field(default_factory=list)  # paths an M3U line cannot hold


def read_rows(out: str, by: str) -> list[dict]:
    """The tag rows of the run in ``out`` with what a playlist needs and ``by``'s column."""
    from pipelines.graph.publish import read_tags

    column = KINDS[by]
    try:
        dataset = read_tags(out)
    except (FileNotFoundError, OSError, ValueError):
        raise NoRun(f"no tag run in {out!r}: run `mgc tag LIB --output {out}` first") from None
    names = set(dataset.schema.names)
    if "path" not in names:
        raise NoRun(f"no tag rows in {out!r}: run `mgc tag LIB --output {out}` first")
    if column not in names:
        raise MissingColumn(
            f"the run in {out!r} has no {column}: tag again with this mgc "
            f"(`mgc tag LIB --output {out}`) to have them")
    wanted = [c for c in COLUMNS if c in names] + [column]
    if by == "genre" and "genre" in names:
        wanted.append("genre")
    return dataset.to_table(columns=wanted).to_pylist()


def values_of(row: dict, by: str, min_score: float | None) -> list[str]:
    """The playlists ``row`` belongs to: its best value, or each scoring ``min_score`` or more."""
    listed = [e for e in row.get(KINDS[by]) or [] if e and e.get("name")]
    if min_score is None:
        if by == "genre" and row.get("genre"):
            return [row["genre"]]
        return [listed[0]["name"]] if listed else []
    seen: dict[str, None] = {}
    for entry in listed:
        if entry.get("score") is not None and entry["score"] >= min_score:
            seen.setdefault(entry["name"])
    return list(seen)


def _text(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _is_url(path: str) -> bool:
    return "://" in path


def _stem(path: str) -> str:
    base = path.rstrip("/").rsplit("/", 1)[-1]
    if not _is_url(path):
        base = os.path.basename(path)
    stem, _ = os.path.splitext(base)
    return stem or base


def order_key(row: dict) -> tuple:
    """Album artist (else artist), album, track number, path; missing values last."""
    def text(value) -> tuple:
        value = _text(value)
        return (0, value.casefold()) if value else (1, "")

    number = row.get("track_number")
    return (text(row.get("album_artist") or row.get("artist")), text(row.get("album")),
            (0, number) if number is not None else (1, 0), row["path"])


def extinf(row: dict) -> str:
    """``#EXTINF:<whole seconds>,<artist> - <title>``: the stem for a missing title, the title
    alone for a missing artist, -1 seconds when the length is unknown."""
    duration = row.get("duration_s")
    seconds = round(duration) if duration is not None and math.isfinite(duration) else -1
    title = _text(row.get("title")) or _text(_stem(row["path"]))
    artist = _text(row.get("artist"))
    return f"#EXTINF:{seconds},{f'{artist} - {title}' if artist else title}"


def entry_path(path: str, into: str) -> str:
    """The line for ``path`` in a playlist in ``into``: relative where it can be."""
    if _is_url(path):
        return path
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, os.path.abspath(into))
    except ValueError:  # another drive on Windows
        return absolute
    if relative.startswith("#"):  # would read as a comment
        relative = os.path.join(os.curdir, relative)
    return relative


def render(value: str, rows: Iterable[dict], into: str, skipped: list[str] | None = None) -> str:
    """The text of the playlist of ``value``."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_text(value)}"]
    for row in sorted(rows, key=order_key):
        path = entry_path(row["path"], into)
        if "\n" in path or "\r" in path:  # one line per path: M3U cannot hold it
            if skipped is not None:
                skipped.append(row["path"])
            continue
        lines += [extinf(row), path]
    return "\n".join(lines) + "\n"


def safe_name(value: str) -> str:
    """A file name stem for ``value``, valid on Windows, macOS and Linux; unicode kept (NFC)."""
    name = FORBIDDEN.sub("_", unicodedata.normalize("NFC", value))
    name = "".join(c for c in name if unicodedata.category(c) != "Cc").strip()
    name = name.rstrip(". ")
    if name.startswith("."):  # hidden, or "." / ".."
        name = "_" + name[1:]
    if name.split(".", 1)[0].strip().upper() in RESERVED:
        name = "_" + name
    budget = MAX_NAME_BYTES - len(EXTENSION) - len(" (999)")
    while len(name.encode()) > budget:
        name = name[:-1]
    return name.rstrip(". ") or "_"


def assign_names(values: Sequence[str], taken: Iterable[str]) -> dict[str, str]:
    """value -> file name, in the order of ``values``; a name is never one of ``taken`` nor
    another value's, compared case-blind (``Rock`` and ``rock`` are one file on macOS)."""
    used = {unicodedata.normalize("NFC", t).casefold() for t in taken}
    names = {}
    for value in values:
        stem = safe_name(value)
        candidate, n = stem + EXTENSION, 1
        while candidate.casefold() in used:
            n += 1
            candidate = f"{stem} ({n}){EXTENSION}"
        used.add(candidate.casefold())
        names[value] = candidate
    return names


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomically(path: str, data: bytes) -> None:
    """A temporary file in the same folder, then renamed over ``path``; readable as a plain
    ``open`` would make it (a media server running as another user reads it)."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".mgc-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_manifest(into: str) -> dict:
    """``{kind: {file name: {"value", "sha256"}}}`` of what this code wrote into ``into``."""
    try:
        with open(os.path.join(into, MANIFEST), encoding="utf-8") as f:
            data = json.load(f)
    except (FileNotFoundError, ValueError):
        return {}
    kinds = data.get("playlists") if isinstance(data, dict) else None
    return kinds if isinstance(kinds, dict) else {}


def _matches(path: str, sha256: str | None) -> bool:
    try:
        with open(path, "rb") as f:
            return _digest(f.read()) == sha256
    except OSError:
        return False


def write_playlists(rows: Sequence[dict], into: str, by: str = "genre",
                    min_score: float | None = None) -> Result:
    """One playlist per value of ``by`` among ``rows`` into the folder ``into``."""
    if by not in KINDS:
        raise ValueError(f"by must be one of {', '.join(KINDS)}, not {by!r}")
    os.makedirs(into, exist_ok=True)
    result = Result(into=into, by=by)
    members: dict[str, list[dict]] = {}
    for row in rows:
        for value in values_of(row, by, min_score):
            members.setdefault(value, []).append(row)
    manifest = read_manifest(into)
    mine = {}  # what this kind wrote before and is still as it wrote it
    for name, was in (manifest.get(by) or {}).items():
        path = os.path.join(into, name)
        # only a playlist's own name in DIR: a damaged manifest reaches nothing else
        if name != os.path.basename(name) or not name.endswith(EXTENSION):
            continue
        if not os.path.exists(path):
            continue
        if isinstance(was, dict) and _matches(path, was.get("sha256")):
            mine[name] = was
        else:  # changed since: the user's now
            result.kept.append(name)
    # every other file in DIR is someone else's: never overwritten, never removed
    taken = [n for n in os.listdir(into) if n not in mine]
    values = sorted(members, key=lambda v: (v.casefold(), v))
    names = assign_names(values, taken)
    written = {}
    for value in values:
        data = render(value, members[value], into, result.skipped).encode("utf-8")
        _write_atomically(os.path.join(into, names[value]), data)
        written[names[value]] = {"value": value, "sha256": _digest(data)}
        result.entries += len(members[value])
    result.entries -= len(result.skipped)
    result.skipped = sorted(set(result.skipped))
    result.written = {name: w["value"] for name, w in written.items()}
    for name in sorted(mine):
        if name not in written:
            os.unlink(os.path.join(into, name))
            result.removed.append(name)
    manifest[by] = written
    body = {"version": MANIFEST_VERSION, "written_by": "mgc playlists", "playlists": manifest}
    _write_atomically(os.path.join(into, MANIFEST),
                      (json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
                      .encode("utf-8"))
    return result
