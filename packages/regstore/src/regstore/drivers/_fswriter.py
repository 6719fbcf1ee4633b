"""The filesystem driver's writer: a pending file under ``~uploads``, renamed into place on commit.

The pending upload of path ``P`` is the file ``<root>/~uploads/P/~data``, and
``~size`` beside it records its size at the last ``close``. Because these are
ordinary files outside the path namespace, the upload survives the process and
any driver instance over the same root resumes it, exactly where it was closed.
"""

from __future__ import annotations

import os
import shutil
from contextlib import suppress

from ..driver import FileWriter
from ..errors import DriverError
from ._fserrors import os_error
from ._fsutil import (
    HIDDEN,
    StorageRoot,
    create_in,
    fsync_dir,
    remove_empty_dirs,
    replace_into,
    temp_name,
    write_all,
)

__all__ = ["BUFFER_SIZE", "FilesystemWriter", "open_writer"]

#: Small writes are gathered up to this many bytes before they reach the file.
BUFFER_SIZE = 1 << 20
_DATA = f"{HIDDEN}data"
#: The upload's size at its last ``close``, beside the pending file.
_SIZE = f"{HIDDEN}size"
# The files of an upload are never symlinks: one planted there must not redirect it.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN = os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0) | _NOFOLLOW


def open_writer(root: StorageRoot, path: str, append: bool, driver_name: str) -> FilesystemWriter:
    """Start (``append=False``) or resume (``append=True``) the pending upload of ``path``."""
    target = root.local(path)
    directory = root.upload_dir(path)
    pending = os.path.join(directory, _DATA)
    try:
        fd = _resume(directory, pending) if append else None
        if fd is None:
            _forget_size(directory)  # a new upload: a size left by an earlier one does not apply
            if append:
                fd = _start_from_committed(target, directory, pending)
            else:
                flags = _OPEN | os.O_CREAT | os.O_TRUNC
                fd = create_in(directory, lambda: os.open(pending, flags, 0o666))
        size = os.fstat(fd).st_size
    except OSError as exc:
        remove_empty_dirs(directory, root.path)
        raise os_error(exc, "open a writer for", path, root.path, writing=True) from exc
    return FilesystemWriter(root, path, directory, fd, size, driver_name)


def _resume(directory: str, pending: str) -> int | None:
    """The pending file, cut back to the size its last ``close`` recorded; None if there is none.

    Bytes written after the last ``close`` (by a process that then crashed)
    are dropped, so an upload always resumes exactly where it was closed.
    """
    try:
        fd = os.open(pending, _OPEN)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        closed = _closed_size(directory)
        if closed is not None and closed < os.fstat(fd).st_size:
            os.ftruncate(fd, closed)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _closed_size(directory: str) -> int | None:
    """The size the last ``close`` recorded (None: none, or unreadable after a power loss)."""
    try:
        fd = os.open(os.path.join(directory, _SIZE), os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    try:
        text = os.read(fd, 32)
    finally:
        os.close(fd)
    try:
        size = int(text)
    except ValueError:
        return None
    return size if size >= 0 else None


def _record_size(directory: str, size: int) -> None:
    """Record the size at ``close`` beside the pending file (temp file, then rename).

    The caller fsyncs the directory. The small file itself is not fsynced: if
    its content is lost, it reads as no record and the file's own size counts.
    """
    temp = temp_name(directory, "size")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
        try:
            write_all(fd, str(size).encode())
        finally:
            os.close(fd)
        os.replace(temp, os.path.join(directory, _SIZE))
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def _forget_size(directory: str) -> None:
    with suppress(FileNotFoundError, NotADirectoryError):
        os.unlink(os.path.join(directory, _SIZE))


def _start_from_committed(target: str, directory: str, pending: str) -> int:
    """A pending file holding a copy of the committed content, or empty when there is none."""
    try:
        source = open(target, "rb")  # noqa: SIM115 - closed below, after the copy
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return create_in(directory, lambda: os.open(pending, _OPEN | os.O_CREAT, 0o666))
    with source:
        if os.fstat(source.fileno()).st_size == 0:
            return create_in(directory, lambda: os.open(pending, _OPEN | os.O_CREAT, 0o666))
        # Copy beside the pending name and rename, so a crash never leaves a torn copy to resume.
        copy = temp_name(directory, "copy")
        fd = create_in(directory, lambda: os.open(copy, _OPEN | os.O_CREAT | os.O_EXCL, 0o666))
        try:
            with open(fd, "ab", closefd=False) as out:
                shutil.copyfileobj(source, out, BUFFER_SIZE)
            os.fsync(fd)
            os.replace(copy, pending)
        except BaseException:
            os.close(fd)
            with suppress(OSError):
                os.unlink(copy)
            raise
    return fd


class FilesystemWriter(FileWriter):
    """Writes go to the pending file through a buffer; ``close`` fsyncs; ``commit`` renames."""

    def __init__(
        self, root: StorageRoot, path: str, directory: str, fd: int, size: int, driver_name: str
    ) -> None:
        super().__init__(path, size=size, driver_name=driver_name)
        self._root = root
        self._directory = directory
        self._pending = os.path.join(directory, _DATA)
        self._fd: int | None = fd
        self._buffer = bytearray()
        #: Bytes known to be in the pending file (everything but the buffer).
        self._stored = size

    def _error(self, exc: OSError, action: str) -> DriverError:
        return os_error(exc, action, self.path, self._root.path, writing=True)

    def _open_fd(self) -> int:
        if self._fd is None:
            raise DriverError(
                f"the writer of {self.path} cannot continue after a failed commit;"
                " resume the upload with writer(path, append=True)"
            )
        return self._fd

    def _write(self, data: memoryview) -> None:
        fd = self._open_fd()
        if len(self._buffer) + data.nbytes < BUFFER_SIZE:
            self._buffer += data
        elif data.nbytes < BUFFER_SIZE:
            self._buffer += data
            self._drain(fd)
        else:
            self._drain(fd, data)

    def _drain(self, fd: int, data: memoryview | None = None) -> None:
        """Write the buffer (then ``data``) to the pending file, all or nothing."""
        try:
            if self._buffer:
                write_all(fd, self._buffer)
            if data is not None:
                write_all(fd, data)
        except OSError as exc:
            # Cut a partial write off, so the pending file holds whole writes only.
            with suppress(OSError):
                os.ftruncate(fd, self._stored)
            raise self._error(exc, "write to the upload of") from exc
        self._stored += len(self._buffer) + (data.nbytes if data is not None else 0)
        self._buffer.clear()

    def _sync(self, action: str) -> None:
        """Drain, fsync and close the pending file; it is closed whatever happens."""
        fd = self._fd
        if fd is None:
            return
        try:
            self._drain(fd)
            os.fsync(fd)
        except OSError as exc:
            raise self._error(exc, action) from exc
        finally:
            self._fd = None
            os.close(fd)

    def _close(self) -> None:
        if self._fd is None:
            return
        self._sync("close the upload of")
        try:
            _record_size(self._directory, self._stored)
            fsync_dir(self._directory)
        except FileNotFoundError:
            pass  # the upload was deleted meanwhile: nothing is left to keep
        except OSError as exc:
            raise self._error(exc, "close the upload of") from exc

    def _commit(self) -> None:
        self._open_fd()
        self._sync("commit")
        target = self._root.local(self.path)
        directory = os.path.dirname(target)
        try:
            replace_into(self._pending, target, directory)
            fsync_dir(directory)
        except FileNotFoundError as exc:
            raise DriverError(
                f"cannot commit {self.path}: its pending upload is gone (deleted, or"
                " committed or cancelled through another writer)"
            ) from exc
        except OSError as exc:
            remove_empty_dirs(directory, self._root.path)
            raise self._error(exc, "commit") from exc
        _forget_size(self._directory)
        remove_empty_dirs(self._directory, self._root.path)

    def _cancel(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._buffer.clear()
        try:
            os.unlink(self._pending)
            _forget_size(self._directory)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._error(exc, "cancel the upload of") from exc
        remove_empty_dirs(self._directory, self._root.path)
