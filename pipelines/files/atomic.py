"""The atomic replace that write-back and undo both go through: the file is copied beside
itself under a hidden mgc temp name, the copy is edited, flushed to disk, and renamed over the
original only if the original has not changed since it was read. A crash at any moment leaves
the old file or the new one, never a mix. A pure library (the standard library).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Sequence
from typing import NamedTuple

from pipelines.files.formats import WriteError

TEMP_INFIX = ".mgc-"
TEMP_SUFFIX = ".tmp"
_TEMP_TOKEN = re.compile(r"[0-9a-f]{8}")


class ReadOnlyFile(WriteError):
    pass


class Vanished(WriteError):
    pass


class ChangedSinceRead(WriteError):
    pass


class OwnerNotKept(WriteError):
    pass


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
