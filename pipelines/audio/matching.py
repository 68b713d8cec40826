"""Turn the user's INPUT arguments (files, directories, globs; local or fsspec URLs) into audio
file paths. Runs inside the pipeline, so a bucket with a million files is listed by a worker,
not by the launcher."""

from __future__ import annotations

import os
import posixpath
import stat
from collections import Counter
from collections.abc import Iterable, Iterator

import fsspec
import mutagen
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from pipelines.files.atomic import TEMP_INFIX, TEMP_SUFFIX

# What FFmpeg decodes, as collections name it: the common formats; lossless ones (APE, WavPack,
# Musepack, TAK, OptimFROG, TTA, DSD); audiobooks (M4B) and phone audio (3GP); Speex, AC-3,
# Matroska and WebM audio, CAF, Wave64, MPEG layer II, AMR.
AUDIO_EXTENSIONS = frozenset(
    {"mp3", "flac", "ogg", "oga", "opus", "wav", "aif", "aiff", "aifc", "m4a", "mp4", "aac",
     "wma", "ape", "wv", "mpc", "mp+", "mpp", "tak", "ofr", "ofs", "tta", "dsf", "dff", "m4b",
     "3gp", "3g2", "spx", "ac3", "eac3", "ec3", "mka", "weba", "webm", "caf", "w64", "mp2",
     "amr"}
)
GLOB_CHARS = frozenset("*?[")
# What else a music folder holds: never opened. A file of any other unknown extension is
# opened to see whether mutagen knows its header (an Ogg FLAC named .oggflac, an MP3 named .id3).
NOT_AUDIO_EXTENSIONS = frozenset(
    {"jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "txt", "nfo", "cue", "log",
     "m3u", "m3u8", "pls", "pdf", "db", "ini", "json", "xml", "html", "htm", "lrc", "sfv",
     "md5", "ffp", "accurip", "ds_store", "url", "sh", "py", "zip", "rar", "7z", "torrent",
     "tmp", "part", "crdownload", "bak", "old", "orig", "backup", "parquet", "mid", "midi",
     "kar"}  # a backup or a partial download is not the library's file, whatever it holds
)


class InputNotFound(FileNotFoundError):
    """An INPUT argument names nothing: the run stops before it starts."""


def is_apple_double(path: str) -> bool:
    """``._song.mp3``: the metadata macOS writes beside each file on a drive it does not own
    (a USB stick, a network share), never audio."""
    return posixpath.basename(path.replace(os.sep, "/")).startswith("._")


def is_audio_path(path: str) -> bool:
    _, ext = os.path.splitext(path)
    return ext[1:].lower() in AUDIO_EXTENSIONS and not is_apple_double(path)


def normalise(path: str) -> str:
    """Local paths become absolute (expanding ~); URLs stay as given."""
    if "://" in path:
        return path
    return os.path.abspath(os.path.expanduser(path))


def _full(fs: fsspec.AbstractFileSystem, original: str, path: str) -> str:
    """Paths as the user would write them: protocol kept for remote filesystems."""
    if "://" not in original:
        return path
    return fs.unstrip_protocol(path)


def extension(path: str) -> str:
    """A file's extension as the summary counts it: lower case, without the dot."""
    if is_apple_double(path):
        return "._ (macOS metadata)"
    return os.path.splitext(path)[1][1:].lower() or "(none)"


def expand_input(pattern: str, passed_over: Counter | None = None) -> Iterator[str]:
    """Yield the audio files one INPUT names, sorted; directories are walked recursively.
    Files found that are not audio are counted by extension in ``passed_over`` (mgc's own
    temp files aside).

    A file named explicitly is yielded whatever its extension, so that a mislabelled file
    becomes an error row rather than silently disappearing.
    """
    pattern = normalise(pattern)
    fs, path = url_to_fs(pattern)
    if any(c in path for c in GLOB_CHARS):
        matches = sorted(fs.glob(path))
        for match in matches:
            if fs.isdir(match):
                yield from _walk(fs, pattern, match, passed_over)
            elif _is_audio(fs, match):
                yield _full(fs, pattern, match)
            else:
                _count(match, passed_over)
        return
    if fs.isdir(path):
        yield from _walk(fs, pattern, path, passed_over)
    elif fs.exists(path) or os.path.islink(path):  # a broken link is reported when read
        yield _full(fs, pattern, path)


def _walk(fs: fsspec.AbstractFileSystem, original: str, root: str,
          passed_over: Counter | None) -> Iterator[str]:
    # Folders are listed too, so that one with an audio name (x.mp3/) becomes a match error
    # row of its own (``refusal``) while the files inside it are matched as any others.
    for found, info in sorted(fs.find(root, withdirs=True, detail=True).items()):
        if is_audio_path(found) or info.get("type") == "file" and _is_audio(fs, found):
            yield _full(fs, original, found)
        elif info.get("type") != "directory":
            _count(found, passed_over)


def _is_audio(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    """Audio by its name, or, for a local file whose extension says nothing (neither audio nor
    one of ``NOT_AUDIO_EXTENSIONS``), by its header as mutagen knows it."""
    if is_audio_path(path):
        return True
    if (extension(path) in NOT_AUDIO_EXTENSIONS or is_apple_double(path)
            or not isinstance(fs, LocalFileSystem)):
        return False  # an object store would be read for every cover and cue sheet
    try:
        return mutagen.File(path) is not None
    except Exception:  # not a file mutagen can read: not audio by anything it knows
        return False


def _count(path: str, passed_over: Counter | None) -> None:
    name = posixpath.basename(path)
    if passed_over is not None and not (TEMP_INFIX in name and name.endswith(TEMP_SUFFIX)):
        passed_over[extension(name)] += 1


# What a path that is not a regular file is, for its error row
KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISDIR, "a directory"))


def refusal(path: str) -> tuple[str, str] | None:
    """(error type, message) when a local path is not a regular file (nor a link to one), so
    must never be read: a named pipe blocks its reader forever, a device such as /dev/zero
    never ends. None for a regular file, and for URLs (object stores hold only files)."""
    if "://" in path and not path.startswith("file://"):
        return None
    local = path.removeprefix("file://")
    try:
        st = os.stat(local)
    except FileNotFoundError:
        if os.path.islink(local):
            return "BrokenLink", f"symbolic link to missing {os.readlink(local)!r}"
        return None  # gone since it was listed: reading it says so
    except OSError:
        return None  # e.g. permission denied: reading it says so
    if stat.S_ISREG(st.st_mode):
        return None
    kind = next((name for test, name in KINDS if test(st.st_mode)), "not a regular file")
    link = " (through a symbolic link)" if os.path.islink(local) else ""
    return "NotARegularFile", (f"{kind}{link}, not a regular file: not read, since reading it "
                               "could wait or run forever")


def check_inputs(inputs: Iterable[str]) -> list[str]:
    """Fail fast, before any pipeline starts, on an INPUT that names nothing at all."""
    checked = []
    for raw in inputs:
        pattern = normalise(raw)
        fs, path = url_to_fs(pattern)
        if any(c in path for c in GLOB_CHARS):
            found = bool(fs.glob(path))
        else:
            found = fs.exists(path) or os.path.islink(path)
        if not found:
            raise InputNotFound(f"input does not exist: {raw}")
        checked.append(pattern)
    return checked
