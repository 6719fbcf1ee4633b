"""The filesystem driver's writer: a pending file in ``~uploads``, renamed into place on commit.

The pending upload of path ``P`` is one file in ``<root>/~uploads`` (see
``_fsuploads``), and a second one beside it records its size at the last
``close`` (a writer hashing a digest keeps its hash state in a third).
Because these are ordinary files outside the path namespace, the upload
survives the process and any driver instance over the same root resumes it,
exactly where it was closed. A stream that is committed without a
``close`` costs what a durable ``put_content`` does: create, write, fsync,
rename, fsync of the target's folder.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import suppress

from ..driver import FileWriter
from ..errors import DriverError
from ._fserrors import os_error
from ._fsuploads import UploadArea, UploadFiles
from ._fsutil import (
    NAME_MAX,
    StorageRoot,
    create_in,
    fsync_dir,
    remove_empty_dirs,
    replace_into,
    write_all,
)

__all__ = ["BUFFER_SIZE", "FilesystemWriter", "open_writer"]

#: Small writes are gathered up to this many bytes before they reach the file.
BUFFER_SIZE = 1 << 20
# The files of an upload are never symlinks: one planted there must not redirect it.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN = os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0) | _NOFOLLOW
#: More than any hash state blob holds.
_STATE_MAX = 4096


def open_writer(
    root: StorageRoot, uploads: UploadArea, path: str, append: bool, driver_name: str
) -> FilesystemWriter:
    """Start (``append=False``) or resume (``append=True``) the pending upload of ``path``."""
    target = root.local(path)  # a path through a link out of the root is refused up front
    files = uploads.files(path)
    try:
        if max(map(len, path.split("/"))) > NAME_MAX:
            # Refused now rather than at the commit, after the whole stream was written.
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), target)
        fd = _resume(files) if append else None
        state = _read_state(files) if fd is not None else None
        if fd is None:
            _forget_size(files)  # a new upload: a size left by an earlier one does not apply
            if append:
                fd = _start_from_committed(target, files)
            else:
                flags = _OPEN | os.O_CREAT | os.O_TRUNC
                fd = create_in(files.folder, lambda: os.open(files.data, flags, 0o666))
        size = os.fstat(fd).st_size if append else 0
    except OSError as exc:
        remove_empty_dirs(files.folder, uploads.directory)
        raise os_error(exc, "open a writer for", path, root.path, writing=True) from exc
    return FilesystemWriter(root, uploads, path, files, fd, size, driver_name, state)


def _resume(files: UploadFiles) -> int | None:
    """The pending file, cut back to the size its last ``close`` recorded; None if there is none.

    Bytes written after the last ``close`` (by a process that then crashed)
    are dropped, so an upload always resumes exactly where it was closed.
    """
    try:
        fd = os.open(files.data, _OPEN)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        closed = _closed_size(files)
        if closed is not None and closed < os.fstat(fd).st_size:
            os.ftruncate(fd, closed)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _closed_size(files: UploadFiles) -> int | None:
    """The size the last ``close`` recorded (None: none, or unreadable after a power loss)."""
    try:
        fd = os.open(files.size, os.O_RDONLY | _NOFOLLOW)
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


def _record_size(files: UploadFiles, size: int) -> None:
    """Record the size at ``close`` beside the pending file (temp file, then rename).

    The caller fsyncs the folder. The small file itself is not fsynced: if
    its content is lost, it reads as no record and the file's own size counts.
    """
    temp = files.temp()
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
        try:
            write_all(fd, str(size).encode())
        finally:
            os.close(fd)
        os.replace(temp, files.size)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def _forget_size(files: UploadFiles) -> None:
    for name in (files.size, files.state):
        with suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(name)


def _read_state(files: UploadFiles) -> bytes | None:
    """The hash state the last ``close`` kept (None: none); the core checks it before use."""
    try:
        fd = os.open(files.state, os.O_RDONLY | _NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return os.read(fd, _STATE_MAX)
    finally:
        os.close(fd)


def _record_state(files: UploadFiles, state: bytes | None) -> None:
    """Keep ``state`` beside the pending file as ``_record_size`` does; None removes it."""
    if state is None:
        with suppress(FileNotFoundError):
            os.unlink(files.state)
        return
    temp = files.temp()
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
        try:
            write_all(fd, state)
        finally:
            os.close(fd)
        os.replace(temp, files.state)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def _start_from_committed(target: str, files: UploadFiles) -> int:
    """A pending file holding a copy of the committed content, or empty when there is none."""
    pending, folder = files.data, files.folder
    try:
        source = open(target, "rb")  # noqa: SIM115 - closed below, after the copy
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return create_in(folder, lambda: os.open(pending, _OPEN | os.O_CREAT, 0o666))
    with source:
        if os.fstat(source.fileno()).st_size == 0:
            return create_in(folder, lambda: os.open(pending, _OPEN | os.O_CREAT, 0o666))
        # Copy beside the pending name and rename, so a crash never leaves a torn copy to resume.
        copy = files.temp()
        fd = create_in(folder, lambda: os.open(copy, _OPEN | os.O_CREAT | os.O_EXCL, 0o666))
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
        self,
        root: StorageRoot,
        uploads: UploadArea,
        path: str,
        files: UploadFiles,
        fd: int,
        size: int,
        driver_name: str,
        state: bytes | None = None,
    ) -> None:
        super().__init__(path, size=size, driver_name=driver_name, upload_state=state)
        self._root = root
        self._uploads = uploads
        self._files = files
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

    def _sync(self, action: str, *, linked: bool = False) -> bool:
        """Drain, fsync and close the pending file (closed whatever happens).

        With ``linked``, False when a concurrent ``delete`` (or another
        writer's commit) has taken the file away meanwhile; otherwise True.
        """
        fd = self._fd
        if fd is None:
            return False
        try:
            self._drain(fd)
            os.fsync(fd)
            return not linked or os.fstat(fd).st_nlink > 0
        except OSError as exc:
            raise self._error(exc, action) from exc
        finally:
            self._fd = None
            os.close(fd)

    def _close(self) -> None:
        if not self._sync("close the upload of", linked=True):
            return  # nothing left to keep: recording a size would leave a stray file
        try:
            # Read after the fsync above, so the hash caught up while the disk worked.
            _record_state(self._files, self.upload_state)
            _record_size(self._files, self._stored)
            fsync_dir(self._files.folder)
        except FileNotFoundError:
            pass  # the upload was deleted meanwhile: nothing is left to keep
        except OSError as exc:
            raise self._error(exc, "close the upload of") from exc

    def _flush(self) -> None:
        fd = self._open_fd()
        self._drain(fd)
        try:
            os.fsync(fd)
        except OSError as exc:
            raise self._error(exc, "flush the upload of") from exc

    def _read_upload(self) -> Iterator[bytes]:
        try:
            fd = os.open(self._files.data, os.O_RDONLY | getattr(os, "O_BINARY", 0) | _NOFOLLOW)
        except OSError as exc:
            raise self._error(exc, "read back the upload of") from exc
        try:
            left = self._stored
            while left > 0:
                piece = os.read(fd, min(left, BUFFER_SIZE))
                if not piece:
                    return
                left -= len(piece)
                yield piece
        finally:
            os.close(fd)

    def _commit(self) -> None:
        self._open_fd()
        self._sync("commit")
        target = self._root.local(self.path)
        directory = os.path.dirname(target)
        try:
            replace_into(self._files.data, target, directory)
            fsync_dir(directory)
        except FileNotFoundError as exc:
            raise DriverError(
                f"cannot commit {self.path}: its pending upload is gone (deleted, or"
                " committed or cancelled through another writer)"
            ) from exc
        except OSError as exc:
            remove_empty_dirs(directory, self._root.path)
            raise self._error(exc, "commit") from exc
        _forget_size(self._files)
        remove_empty_dirs(self._files.folder, self._uploads.directory)

    def _cancel(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._buffer.clear()
        try:
            with suppress(FileNotFoundError):
                os.unlink(self._files.data)
            _forget_size(self._files)
        except OSError as exc:
            raise self._error(exc, "cancel the upload of") from exc
        remove_empty_dirs(self._files.folder, self._uploads.directory)
