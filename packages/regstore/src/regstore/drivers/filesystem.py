"""The filesystem driver: the distribution registry's on-disk layout, with atomic, durable writes.

Path ``P`` is the file ``rootdirectory + P``, so an existing registry's
directory is used in place. Parameters are the registry's: ``rootdirectory``
(default ``/var/lib/registry``, created on the first write) and ``maxthreads``
(default 100, values below 25 are raised to 25), the number of calls that may
run at once.

What this driver does where the contract leaves a choice:

- ``put_content`` writes a hidden temp file beside the target, fsyncs and
  closes it, renames it over the target and fsyncs the directory: a reader or
  a crash sees the old content or the new, never a torn file.
- The pending upload of ``P`` is a file in ``<root>/~uploads`` named after
  ``P`` (``/a/b`` is ``~uploads/a~b~~data``); any instance or process over the
  same root resumes it, exactly where it was last closed. ``~uploads`` stays
  once made. ``append=True`` with no pending upload on committed non-empty
  content resumes from a copy of it. Uploads left in the layout of earlier
  development versions (``~uploads/P/~data``) are not resumed.
- ``pending_uploads`` scans only the ``~uploads`` folders that can hold keys at
  or below the path; size and time are those the last ``close`` recorded (a
  writer killed before its first ``close`` counts by its file's own). A purge
  looks at each upload once more right before removing it, so one closed again
  meanwhile is kept; it also sweeps stale temp files in the folders it scans.
- A killed process can leave hidden ``~tmp.*`` files beside a stored file; they
  never show, ``list`` and ``walk`` remove those an hour old from the folders
  they read (``delete`` likewise in ``~uploads``), and ``delete`` of the
  folder removes them all.
- A missing root is an empty store: ``list("/")`` is ``[]``, ``walk("/")``
  yields nothing and ``stat("/")`` is a directory.
- A directory holding no files (left by another tool) is still a directory.
- Moving a directory, storing a file where a directory is, or below a file,
  raises ``DriverError``.
- Symbolic links are followed while they stay inside the root. A path that
  leaves the root through one raises ``DriverError``; ``list`` and ``walk``
  leave such links out, and ``walk`` does not enter linked directories (so a
  link cycle cannot trap it).
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import stat as stat_module
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from datetime import datetime
from typing import IO, Any

from ..driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from ..errors import DriverError, PathNotFoundError
from ..params import Parameters
from ..paths import ROOT
from ..reading import SizedReader
from ..walking import EPOCH, walk_tree
from ._fserrors import os_error
from ._fsuploads import UploadArea
from ._fsutil import (
    ATTEMPTS,
    HIDDEN,
    STALE_AFTER,
    StorageRoot,
    create_in,
    fsync_dir,
    is_hidden,
    mod_time,
    remove_empty_dirs,
    remove_tree,
    replace_into,
    sweep_if_stale,
    temp_name,
    write_all,
)
from ._fswriter import BUFFER_SIZE, open_writer

__all__ = ["BUFFER_SIZE", "STALE_AFTER", "FilesystemDriver"]

DEFAULT_ROOT = "/var/lib/registry"
DEFAULT_MAXTHREADS = 100
MIN_MAXTHREADS = 25
#: errno values meaning "no such file here": missing, below a file, or a name too long to exist.
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0)


class FilesystemDriver(StorageDriver):
    """Files in a local directory tree, laid out as the distribution registry lays them out."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        params = Parameters("filesystem", parameters, known=("rootdirectory", "maxthreads"))
        given = params.raw("rootdirectory")
        if isinstance(given, os.PathLike):
            directory = os.fsdecode(given)
        else:
            directory = params.string("rootdirectory", DEFAULT_ROOT) or DEFAULT_ROOT
        if "\x00" in directory:
            params.fail("rootdirectory", "a directory name cannot contain a NUL character")
        self._root = StorageRoot(directory)
        self._uploads = UploadArea(self._root)
        self.concurrency_limit = params.integer(
            "maxthreads", DEFAULT_MAXTHREADS, minimum=MIN_MAXTHREADS, clamp_minimum=True
        )

    @property
    def name(self) -> str:
        return "filesystem"

    @property
    def rootdirectory(self) -> str:
        """The absolute root directory."""
        return self._root.path

    def __repr__(self) -> str:
        root, limit = self._root.path, self.concurrency_limit
        return f"FilesystemDriver(rootdirectory={root!r}, maxthreads={limit})"

    def _error(self, exc: OSError, action: str, path: str, *, writing: bool = False) -> DriverError:
        return os_error(exc, action, path, self._root.path, writing=writing)

    # -- reading ----------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        local = self._root.local(path)
        try:
            fd = os.open(local, _READ)
        except OSError as exc:
            if exc.errno in _ABSENT:
                raise PathNotFoundError(path) from None
            raise self._error(exc, "read", path) from exc
        try:
            return _read_all(fd, path)
        except OSError as exc:
            if isinstance(exc, IsADirectoryError):
                raise PathNotFoundError(path) from None
            raise self._error(exc, "read", path) from exc
        finally:
            os.close(fd)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        local = self._root.local(path)
        try:
            file = _open_reader(local)
        except OSError as exc:
            if exc.errno in _ABSENT or isinstance(exc, IsADirectoryError):
                raise PathNotFoundError(path) from None
            raise self._error(exc, "read", path) from exc
        if offset:
            try:
                file.seek(offset)  # past the end is fine: reads return b""
            except (OSError, OverflowError, ValueError):
                # Beyond what the filesystem can address, so past the end all the same.
                file.seek(0, os.SEEK_END)
        return file

    def stat(self, path: str) -> FileInfo:
        local = self._root.local(path)
        try:
            st = os.stat(local)
        except OSError as exc:
            if exc.errno not in _ABSENT:
                raise self._error(exc, "stat", path) from exc
            if path == ROOT:
                return FileInfo(ROOT, 0, EPOCH, True)  # no root yet: an empty store
            raise PathNotFoundError(path) from None
        if stat_module.S_ISDIR(st.st_mode):
            return FileInfo(path, 0, mod_time(st), True)
        if path == ROOT:
            raise DriverError(f"the storage root {self._root.path} is not a directory")
        return FileInfo(path, st.st_size, mod_time(st), False)

    def list(self, path: str) -> builtins.list[str]:
        local = self._root.local(path)
        names: builtins.list[str] = []
        now = time.time()
        try:
            with os.scandir(local) as entries:
                for entry in entries:
                    if is_hidden(entry.name):
                        sweep_if_stale(entry, now)
                    elif not entry.is_symlink() or _link_usable(self._root, entry):
                        names.append(entry.name)
        except OSError as exc:
            if exc.errno not in _ABSENT:
                raise self._error(exc, "list", path) from exc
            if path != ROOT:
                raise PathNotFoundError(path) from None
            if isinstance(exc, NotADirectoryError):
                raise DriverError(f"the storage root {self._root.path} is not a directory") from exc
            return []  # no root yet: an empty store
        names.sort()
        base = "" if path == ROOT else path
        return [f"{base}/{name}" for name in names]

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        top = self._root.local(path)
        root = self._root
        linked: set[str] = set()

        def children(directory: str) -> builtins.list[FileInfo]:
            if linked and directory in linked:
                return []  # reached through a symlink: not entered
            local = top if directory == path else root.base + directory
            base = "" if directory == ROOT else directory
            try:
                return _scan(local, base, root, linked)
            except OSError as exc:
                if exc.errno not in _ABSENT:
                    raise self._error(exc, "walk", directory) from exc
                if directory != ROOT:
                    raise PathNotFoundError(directory) from None
                if isinstance(exc, NotADirectoryError):
                    raise DriverError(f"the storage root {root.path} is not a directory") from exc
                return []  # no root yet: an empty store

        return walk_tree(children, path, start_after=start_after, prune=prune)

    # -- writing ----------------------------------------------------------------

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        target = self._root.local(path)
        directory = os.path.dirname(target)
        data = memoryview(content).cast("B")
        try:
            for _ in range(ATTEMPTS):
                temp = temp_name(directory)
                try:
                    fd = create_in(directory, lambda: os.open(temp, _CREATE, 0o666))  # noqa: B023
                    try:
                        write_all(fd, data)
                        os.fsync(fd)
                    finally:
                        os.close(fd)  # before the rename: Windows cannot rename an open file
                    os.replace(temp, target)
                except FileNotFoundError:
                    continue  # a concurrent delete took the temp file with its directory
                except BaseException:
                    _discard(temp)
                    raise
                fsync_dir(directory)
                return
            raise DriverError(
                f"cannot store {path}: concurrent deletes kept removing its directory"
                f" (storage root {self._root.path})"
            )
        except OSError as exc:
            remove_empty_dirs(directory, self._root.path)
            raise self._error(exc, "store", path, writing=True) from exc
        finally:
            data.release()

    def writer(self, path: str, append: bool = False) -> FileWriter:
        return open_writer(self._root, self._uploads, path, append, self.name)

    def move(self, source: str, dest: str) -> None:
        origin = self._root.local(source)
        target = self._root.local(dest)
        try:
            st = os.stat(origin)
        except OSError as exc:
            if exc.errno in _ABSENT:
                raise PathNotFoundError(source) from None
            raise self._error(exc, "move", source) from exc
        if stat_module.S_ISDIR(st.st_mode):
            raise DriverError(
                f"cannot move {source}: it is a directory, and the filesystem driver"
                " moves files only"
            )
        if source == dest:
            return
        directory = os.path.dirname(target)
        try:
            replace_into(origin, target, directory)
            fsync_dir(directory)
        except FileNotFoundError:
            remove_empty_dirs(directory, self._root.path)
            raise PathNotFoundError(source) from None  # moved away by someone else meanwhile
        except OSError as exc:
            remove_empty_dirs(directory, self._root.path)
            raise self._error(exc, f"move {source} to", dest, writing=True) from exc
        remove_empty_dirs(os.path.dirname(origin), self._root.path)

    def pending_uploads(self, path: str = "/") -> Iterator[PendingUpload]:
        if path != "/":
            self._root.local(path)  # refuses a path a symlink leads out of the root
        try:
            for found in self._uploads.find(path):
                yield PendingUpload(found.path, found.size, found.modified)
        except OSError as exc:
            raise self._error(exc, "list the pending uploads below", path) from exc

    def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        cutoff = before.timestamp()
        purged: builtins.list[str] = []
        try:
            for found in self._uploads.find(path):
                if found.closed < cutoff and self._uploads.forget(found, cutoff):
                    purged.append(found.path)
        except OSError as exc:
            raise self._error(exc, "purge the pending uploads below", path, writing=True) from exc
        return sorted(purged)

    def delete(self, path: str) -> None:
        local = self._root.local(path)
        found = False
        try:
            found = _remove(local)
            if self._uploads.discard(path):
                found = True
        except OSError as exc:
            raise self._error(exc, "delete", path, writing=True) from exc
        remove_empty_dirs(os.path.dirname(local), self._root.path)
        if not found:
            raise PathNotFoundError(path)


def _scan(local: str, base: str, root: StorageRoot, linked: set[str]) -> list[FileInfo]:
    """The children of one directory for ``walk``: one ``stat`` per file, none per directory.

    A symlink that stays inside the root counts as what it points to; a linked
    directory is added to ``linked`` so that the walk does not enter it.
    """
    found: list[FileInfo] = []
    append = found.append
    info = FileInfo._stamped  # the cheap constructor: mod_time is made when first read
    prefix = base + "/"
    with os.scandir(local) as entries:
        for entry in entries:
            name = entry.name
            if HIDDEN in name:
                sweep_if_stale(entry, time.time())
                continue
            if entry.is_dir(follow_symlinks=False):
                append(info(prefix + name, 0, 0.0, True))
                continue
            if not entry.is_file(follow_symlinks=False):
                if not entry.is_symlink() or not _link_inside(root, entry.path):
                    continue  # a special file, or a link leading out of the root
                try:
                    is_dir, is_file = entry.is_dir(), entry.is_file()
                except OSError:
                    continue  # a link loop: nothing stored there
                if is_dir:
                    linked.add(prefix + name)
                    append(info(prefix + name, 0, 0.0, True))
                    continue
                if not is_file:
                    continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue  # deleted while we walked
            append(info(prefix + name, st.st_size, st.st_mtime, False))
    return found


def _read_all(fd: int, path: str) -> bytes:
    """The whole content of the open file ``fd``: one ``fstat`` and, usually, one ``read``.

    What ``open(local, "rb").read()`` returns, without the four system calls a
    buffered file object adds (a tty check, two seeks, a second ``fstat``). A
    committed file is replaced, never rewritten, so ``size + 1`` bytes asked for
    come back as ``size`` at the end of the file; a short read or a file changed
    in place by another program is read on to its end.
    """
    st = os.fstat(fd)
    if stat_module.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    size = st.st_size
    first = os.read(fd, size + 1)
    if len(first) == size:
        return first
    pieces = [first]
    while piece := os.read(fd, max(size, io.DEFAULT_BUFFER_SIZE)):
        pieces.append(piece)
    return b"".join(pieces)


def _open_reader(local: str) -> SizedReader:
    """A buffered reader of the committed file at ``local``; a directory raises IsADirectoryError.

    Commits replace a file rather than write it in place, so its size is fixed
    for the reader's life, and ``read(n)`` is clamped to the bytes left.
    """
    raw = io.FileIO(local, "rb")
    try:
        end = os.fstat(raw.fileno()).st_size
    except BaseException:
        raw.close()
        raise
    return SizedReader(raw, lambda: max(0, end - raw.tell()))


def _link_inside(root: StorageRoot, local: str) -> bool:
    """True when the symlink at ``local`` resolves inside the root (False when unresolvable)."""
    try:
        return root.contains(local)
    except OSError:
        return False


def _link_usable(root: StorageRoot, entry: os.DirEntry[str]) -> bool:
    """True for a symlink to a file or directory inside the root (not a loop, not dangling)."""
    if not _link_inside(root, entry.path):
        return False
    try:
        return entry.is_dir() or entry.is_file()
    except OSError:
        return False


def _remove(local: str) -> bool:
    """Remove a file, a link or a directory tree; False when nothing was there."""
    try:
        mode = os.lstat(local).st_mode
    except OSError as exc:
        if exc.errno in _ABSENT:
            return False
        raise
    try:
        if stat_module.S_ISDIR(mode):
            remove_tree(local)
        else:
            os.unlink(local)
    except FileNotFoundError:
        pass  # a concurrent delete got there first
    return True


def _discard(temp: str) -> None:
    with suppress(OSError):
        os.unlink(temp)
