"""Filesystem building blocks for the filesystem driver: layout, symlink check, durable writes.

Every name the driver keeps for itself contains ``~`` (temp files, the
``~uploads`` folder), which no valid path component can, so such names never
collide with stored paths and are filtered out of listings. Temp files a
killed process left behind are swept once they are ``STALE_AFTER`` old.
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import stat
import sys
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timezone
from typing import TypeVar

from ..errors import DriverError

__all__ = [
    "ATTEMPTS",
    "HIDDEN",
    "NAME_MAX",
    "STALE_AFTER",
    "UPLOADS",
    "StorageRoot",
    "create_in",
    "fsync_dir",
    "is_hidden",
    "mod_time",
    "remove_empty_dirs",
    "remove_tree",
    "replace_into",
    "sweep_if_stale",
    "temp_name",
    "write_all",
]

T = TypeVar("T")

#: The marker of every name the driver keeps for itself.
HIDDEN = "~"
UPLOADS = "~uploads"
#: The longest file name the common filesystems take (ext4, XFS, Btrfs, tmpfs, APFS, NTFS).
NAME_MAX = 255
#: Tries of an operation whose directory a concurrent delete keeps removing.
ATTEMPTS = 100
#: Seconds after its last change when a temp file counts as left by a killed process. A
#: live writer changes its temp file within seconds, and one that loses it retries anyway.
STALE_AFTER = 3600.0
_TEMP = "~tmp."
#: A temp file name: beside a stored file ``~tmp.<hex>``, in ``~uploads`` ``<key>~~tmp.<hex>``.
_TEMP_NAME = re.compile(r"~tmp\.[0-9a-f]{16}\Z")
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
_NO_SUCH_DIRECTORY = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})
_O_PATH = getattr(os, "O_PATH", 0)
#: Where Linux shows what an open descriptor really refers to ("" elsewhere).
_PROC_FD = "/proc/self/fd/" if _O_PATH and os.path.isdir("/proc/self/fd") else ""


def is_hidden(name: str) -> bool:
    """True for the driver's own names (temp files, ``~uploads``)."""
    return HIDDEN in name


#: Temp name digits: a generator seeded from the OS once per process (again in a forked
#: child), not ``secrets``, which costs a ``getrandom`` system call per name. Names need
#: only be unlikely to collide (every temp file is created with ``O_EXCL``), not secret.
_names = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_names.seed)


def temp_name(directory: str, stem: str = "") -> str:
    """A fresh hidden temp file name in ``directory``: ``stem``, ``~tmp.``, 16 hex digits."""
    return f"{directory}/{stem}{_TEMP}{_names.getrandbits(64):016x}"


def sweep_if_stale(entry: os.DirEntry[str], now: float) -> None:
    """Remove ``entry`` if it is a temp file untouched for ``STALE_AFTER`` seconds.

    Only a killed process leaves one that old; a concurrent ``put_content``
    whose temp file vanishes writes it again. Failures (a read-only root, a
    concurrent sweep) leave it for a later sweep.
    """
    if _TEMP_NAME.search(entry.name) is None:
        return
    try:
        if not entry.is_file(follow_symlinks=False):
            return
        if now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
            os.unlink(entry.path)
    except OSError:
        pass


def mod_time(st: os.stat_result) -> datetime:
    """The modification time of a stat result, timezone-aware UTC."""
    return datetime.fromtimestamp(st.st_mtime, timezone.utc)


class StorageRoot:
    """The root directory: maps driver paths to local paths, refusing symlink escapes."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.abspath(directory)
        # Local paths are ``base + path``; for the root "/" itself base is "".
        self.base = self.path.rstrip("/\\")
        self.real = os.path.realpath(self.path)
        self._prefix = self.real.rstrip(os.sep) + os.sep
        self.uploads = f"{self.base}/{UPLOADS}"

    def local(self, path: str) -> str:
        """``rootdirectory + path``, after checking it stays inside the root."""
        if path == "/":
            return self.path
        self.check(path, path)
        return self.base + path

    def contains(self, local: str) -> bool:
        """True when ``local`` resolves (through any symlinks) to the root or below it."""
        return self._inside(os.path.realpath(local))

    def _inside(self, real: str) -> bool:
        return real == self.real or real.startswith(self._prefix)

    def check(self, path: str, below: str) -> None:
        """Refuse ``path`` when a symlink on the way to ``base + below`` leads outside the root.

        On Linux one ``O_PATH`` open of the deepest existing part tells where
        it really is; elsewhere (or when that says "outside", to name the
        link) each existing component is looked at with ``lstat``.
        """
        if _PROC_FD:
            real = _resolve(self.base + below, self.base)
            if real == "" or (real is not None and self._inside(real)):
                return
        self.check_each(path, below)

    def check_each(self, path: str, below: str) -> None:
        """``check`` by one ``lstat`` per component: cheapest for the driver's own short chains."""
        current = self.base
        for part in below[1:].split("/"):
            current = f"{current}/{part}"
            try:
                mode = os.lstat(current).st_mode
            except OSError:
                return  # nothing exists further down, so nothing resolves elsewhere
            if stat.S_ISLNK(mode) and not self.contains(current):
                raise DriverError(
                    f"refusing {path}: the path leaves the storage root {self.path}"
                    f" through the symbolic link {current}"
                )


def _resolve(local: str, base: str) -> str | None:
    """Where the deepest existing part of ``local`` below ``base`` really is.

    ``""`` when no part below ``base`` exists, None when it cannot tell.
    Uses an ``O_PATH`` descriptor, which opens nothing for reading (a FIFO or a
    device is not touched), and reads its target from ``/proc/self/fd``.
    """
    target = local
    while len(target) > len(base):
        try:
            fd = os.open(target, _O_PATH)
        except (FileNotFoundError, NotADirectoryError):
            target = os.path.dirname(target)
            continue
        except OSError:
            return None
        try:
            return os.readlink(f"{_PROC_FD}{fd}")
        except OSError:
            return None
        finally:
            os.close(fd)
    return ""


def fsync_dir(directory: str) -> None:
    """Make the entries of ``directory`` durable (a no-op where directories cannot be opened)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, _DIRECTORY_FLAGS)
    except FileNotFoundError:
        return  # removed by a concurrent delete: nothing left to make durable
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write all of ``data`` to ``fd``, continuing after short writes."""
    view = memoryview(data)
    try:
        written = 0
        total = view.nbytes
        while written < total:
            written += os.write(fd, view[written:])
    finally:
        view.release()


def create_in(directory: str, create: Callable[[], T]) -> T:
    """Run ``create`` (which makes an entry in ``directory``), recreating the directory if needed.

    A concurrent delete may remove an empty directory between our ``makedirs``
    and our ``open``/``replace``; then the directory is made again, a bounded
    number of times.
    """
    for _ in range(ATTEMPTS):
        try:
            return create()
        except FileNotFoundError:
            pass
        with suppress(FileNotFoundError):  # a parent vanished meanwhile: try again
            os.makedirs(directory, exist_ok=True)
    raise DriverError(
        f"cannot write in {directory}: concurrent deletes removed it {ATTEMPTS} times in a row"
    )


def replace_into(source: str, target: str, directory: str) -> None:
    """``os.replace(source, target)``, recreating ``directory`` (the target's) if it vanished.

    Raises ``FileNotFoundError`` when ``source`` itself is gone.
    """
    for _ in range(ATTEMPTS):
        try:
            os.replace(source, target)
            return
        except FileNotFoundError:
            if not os.path.lexists(source):
                raise
        with suppress(FileNotFoundError):  # a parent vanished meanwhile: try again
            os.makedirs(directory, exist_ok=True)
    raise DriverError(
        f"cannot move into {directory}: concurrent deletes removed it {ATTEMPTS} times in a row"
    )


def remove_empty_dirs(directory: str, stop: str) -> None:
    """Remove ``directory`` and its parents while they are empty, up to (not including) ``stop``."""
    stop = stop.rstrip("/\\")
    while len(directory.rstrip("/\\")) > len(stop) and directory.startswith(stop):
        try:
            os.rmdir(directory)
        except OSError as exc:
            if exc.errno not in _NO_SUCH_DIRECTORY:
                return  # not empty (or not ours to remove): stop here
            # Already removed by someone else (or never there): its parent may be empty now.
        directory = os.path.dirname(directory)


def _ignore_missing(function: object, path: str, exc: BaseException) -> None:
    if not isinstance(exc, FileNotFoundError):
        raise exc


def remove_tree(directory: str) -> None:
    """Remove a directory tree without following symlinks, tolerating concurrent deletes.

    A concurrent writer that adds a file while the tree goes makes the last
    ``rmdir`` fail; the removal then runs again, a bounded number of times.
    """
    for attempt in range(ATTEMPTS):
        try:
            if sys.version_info >= (3, 12):
                shutil.rmtree(directory, onexc=_ignore_missing)
            else:
                shutil.rmtree(directory, onerror=lambda f, p, info: _ignore_missing(f, p, info[1]))
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt + 1 == ATTEMPTS:
                raise
