"""The driver contract: ``StorageDriver``, ``FileWriter`` and ``FileInfo``.

The docstrings here state the contract once; drivers implement it without
restating it. Paths reaching a driver have already been validated by the
wrapper that ``regstore.create`` puts around it (see ``regstore._base``).
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import IO

from .errors import PathNotFoundError, UnsupportedMethodError, WriterClosedError

__all__ = ["FileInfo", "FileWriter", "PendingUpload", "Prune", "StorageDriver"]


@dataclass(frozen=True)
class FileInfo:
    """What ``stat`` and ``walk`` report about a file or a directory.

    ``mod_time`` is timezone-aware UTC; for a directory it is unspecified and
    ``size`` is 0.
    """

    path: str
    size: int
    mod_time: datetime
    is_dir: bool

    @property
    def walk_key(self) -> str:
        """The string walk order sorts on: the path, plus ``/`` for a directory."""
        return self.path + "/" if self.is_dir else self.path


Prune = Callable[[FileInfo], bool]


@dataclass(frozen=True)
class PendingUpload:
    """An upload that was closed and neither committed nor cancelled.

    ``size`` is its size at its last ``close``; ``modified`` (timezone-aware
    UTC) is when that ``close`` happened, as the backend recorded it.
    """

    path: str
    size: int
    modified: datetime


class FileWriter(ABC):
    """A writable binary file object for one upload; invisible until ``commit``.

    ``write`` appends bytes of any length. ``close`` persists everything written
    so that ``writer(path, append=True)`` resumes it (from any instance and any
    process over the same store). ``commit`` atomically makes the whole upload
    the content of the path. ``cancel`` discards the pending upload and leaves
    committed content alone. After ``close``, ``commit`` or ``cancel``, calling
    ``write``, ``commit`` or ``cancel`` raises ``WriterClosedError`` (a
    ``ValueError``); ``close`` and ``size`` keep working. Leaving a ``with``
    block calls ``close`` only.

    Subclasses implement ``_write``, ``_close``, ``_commit`` and ``_cancel``;
    this class keeps the state machine and the byte count.
    """

    def __init__(self, path: str, *, size: int = 0, driver_name: str = "") -> None:
        self.path = path
        self.driver_name = driver_name
        self._size = size
        self._lifecycle = "open"

    # -- what drivers implement -------------------------------------------------

    @abstractmethod
    def _write(self, data: memoryview) -> None:
        """Take all of ``data`` (a driver splits it into its backend's block sizes)."""

    @abstractmethod
    def _close(self) -> None:
        """Persist everything written so far so that a later append resumes it."""

    @abstractmethod
    def _commit(self) -> None:
        """Make the whole upload (``self.size`` bytes) the path's content, atomically."""

    @abstractmethod
    def _cancel(self) -> None:
        """Discard the pending upload and every trace of it in the backend."""

    # -- the public file-object API --------------------------------------------

    @property
    def size(self) -> int:
        """Bytes in the upload so far, including content resumed with ``append=True``."""
        return self._size

    @property
    def closed(self) -> bool:
        """True after ``close``, ``commit`` or ``cancel``."""
        return self._lifecycle != "open"

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data`` to the upload and return its length."""
        self._check_open("write to")
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        if view.nbytes:
            self._guard("write", self._write, view)
            self._size += view.nbytes
        return view.nbytes

    def writelines(self, lines: builtins.list[bytes]) -> None:
        """Write each chunk in turn, as a file object does."""
        for line in lines:
            self.write(line)

    def close(self) -> None:
        """Persist the upload for a later append and release resources; idempotent."""
        if self._lifecycle != "open":
            return
        try:
            self._guard("close", self._close)
        finally:
            self._lifecycle = "closed"

    def commit(self) -> None:
        """Atomically make the upload the content of the path."""
        self._check_open("commit")
        self._guard("commit", self._commit)
        self._lifecycle = "committed"

    def cancel(self) -> None:
        """Discard the pending upload; committed content at the path is untouched."""
        self._check_open("cancel")
        try:
            self._guard("cancel", self._cancel)
        finally:
            self._lifecycle = "cancelled"

    def flush(self) -> None:
        """Nothing to do: ``close`` persists, ``commit`` publishes."""

    def tell(self) -> int:
        """The current upload size, where the next write lands."""
        return self._size

    def writable(self) -> bool:
        return not self.closed

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r} size={self._size} {self._lifecycle}>"

    def _check_open(self, operation: str) -> None:
        if self._lifecycle != "open":
            raise WriterClosedError(
                self.path, self._lifecycle, operation, driver_name=self.driver_name
            )

    def _guard(self, operation: str, call: Callable[..., None], *args: object) -> None:
        from ._base import translate_error

        try:
            call(*args)
        except Exception as exc:
            error = translate_error(exc, self.driver_name, operation, self.path)
            if error is exc:
                raise
            raise error from exc


class StorageDriver(ABC):
    """A filesystem-like key/value store: absolute slash paths, files, implicit directories.

    A directory exists exactly while some file is stored below it. Every method
    is safe to call from many threads at once.
    """

    #: A limit on concurrent backend calls the wrapper enforces (None: no limit);
    #: drivers with a parameter for it (``maxthreads``) set it in ``__init__``.
    concurrency_limit: int | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """The registered name, e.g. ``"filesystem"`` or ``"s3"``."""

    @abstractmethod
    def get_content(self, path: str) -> bytes:
        """The whole content of a file. Missing, or a directory: ``PathNotFoundError``."""

    @abstractmethod
    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        """Store ``content`` at ``path`` atomically, replacing what was there entirely."""

    @abstractmethod
    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        """A readable binary file object from ``offset``.

        ``offset >= size`` gives a reader whose first ``read()`` returns ``b""``.
        A missing path raises ``PathNotFoundError`` whatever the offset.
        """

    @abstractmethod
    def writer(self, path: str, append: bool = False) -> FileWriter:
        """A ``FileWriter``; ``append=True`` resumes the pending upload closed earlier."""

    @abstractmethod
    def stat(self, path: str) -> FileInfo:
        """A file's exact size and mod_time, or ``is_dir=True`` for a directory."""

    @abstractmethod
    def list(self, path: str) -> builtins.list[str]:
        """Absolute paths of the direct children, sorted.

        A missing path or a file: ``PathNotFoundError``.
        """

    @abstractmethod
    def move(self, source: str, dest: str) -> None:
        """Move a file, overwriting ``dest``; a missing ``source`` leaves ``dest`` untouched."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file or a directory tree, and every pending upload at or below ``path``.

        ``/a`` never deletes ``/ab``. Raises ``PathNotFoundError`` only when
        neither files nor pending uploads were found.
        """

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        """A URL a plain HTTP client can ``GET``/``HEAD`` for ``expires_in`` seconds, or None.

        ``client_ip`` is for storage middleware that decides by it; drivers ignore it.
        """
        return None

    def walk(
        self,
        path: str,
        *,
        start_after: str | None = None,
        prune: Prune | None = None,
    ) -> Iterator[FileInfo]:
        """Every file and directory below ``path``, in walk order.

        Walk order sorts entries by walk key (the path, plus ``/`` for a
        directory). ``prune(info)`` true for a directory: it is yielded, not
        entered. ``start_after``: only entries whose walk key sorts after it.

        This default is built on ``list`` and ``stat``; drivers override it
        with a cheaper listing.
        """
        from .walking import walk_tree

        def children(directory: str) -> Iterator[FileInfo]:
            for child in self.list(directory):
                try:
                    yield self.stat(child)
                except PathNotFoundError:
                    continue  # deleted while we walked

        return walk_tree(children, path, start_after=start_after, prune=prune)

    def pending_uploads(self, path: str = "/") -> Iterator[PendingUpload]:
        """Every pending upload at or below ``path`` (``/`` allowed), in no set order.

        Lists the uploads any instance in any process closed over the same store,
        without reading their contents. ``/a`` never lists the upload of ``/ab``.
        Drivers that cannot list them keep this default.
        """
        raise UnsupportedMethodError("pending_uploads")

    def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        """Discard the pending uploads at or below ``path`` last closed before ``before``.

        ``before`` is timezone-aware. Returns the purged paths, sorted. Nothing of
        a purged upload stays in the backend; committed content is never touched.
        Drivers that cannot list uploads keep this default.
        """
        raise UnsupportedMethodError("purge_uploads")

    def close(self) -> None:
        """Release clients and pools; the driver is not used afterwards."""

    def __enter__(self) -> StorageDriver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
