"""The driver contract: ``StorageDriver``, ``FileWriter`` and ``FileInfo``.

The docstrings here state the contract once; drivers implement it without
restating it. Paths reaching a driver have already been validated by the
wrapper that ``regstore.create`` puts around it (see ``regstore._base``).
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from .digests import StreamHasher, check_expected, decode_state
from .errors import (
    DigestMismatchError,
    DriverError,
    InvalidParameterError,
    PathNotFoundError,
    Translate,
    UnsupportedMethodError,
    WriterClosedError,
    translate_error,
)
from .inflight import InFlight
from .info import FileInfo, PendingUpload, Prune
from .walking import walk_tree

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["FileInfo", "FileWriter", "PendingUpload", "Prune", "StorageDriver"]


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

    Digests: a writer opened with ``writer(path, digest="sha256")`` (or
    ``"sha512"``) hashes everything written; ``digest`` is ``"sha256:<hex>"`` of
    the whole upload so far, resumed bytes included, and
    ``commit(expected_digest=...)`` commits only on a match, else raises
    ``DigestMismatchError`` and leaves the writer open and the upload pending.

    Subclasses implement ``_write``, ``_close``, ``_commit`` and ``_cancel``;
    this class keeps the state machine, the byte count and the hash.

    The hash-state hook, so a resumed writer continues the hash without reading
    the upload back (from any instance and process): ``_close`` stores the bytes
    of ``self.upload_state`` with the pending upload (None: store none, and drop
    any stored earlier); commit, cancel, ``delete`` and ``purge_uploads`` drop
    them with the upload; a resumed writer gets them back as ``upload_state=``.
    A driver without it may implement ``_read_upload`` instead, which the core
    then reads once to rebuild the hash; one with neither raises
    ``UnsupportedMethodError`` when a non-empty upload is resumed with a digest.
    """

    def __init__(
        self,
        path: str,
        *,
        size: int = 0,
        driver_name: str = "",
        upload_state: bytes | None = None,
    ) -> None:
        self.path = path
        self.driver_name = driver_name
        self._size = size
        self._lifecycle = "open"
        self._hasher: StreamHasher | None = None
        self._state = upload_state
        self._state_size = size
        #: The driver's ``translate`` hook; the wrapper sets it with ``driver_name``.
        self._translate: Translate | None = None
        self._parts: InFlight[Any] | None = None

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

    def _read_upload(self) -> Iterator[bytes | memoryview]:
        """Optional: the pending upload's first ``self.size`` bytes, in order.

        The core reads them once to rebuild the hash of an upload resumed with a
        digest when no hash state was kept for it.
        """
        raise UnsupportedMethodError(
            f"resuming the upload of {self.path} with a digest: the driver kept no hash"
            " state for it (FileWriter.upload_state) and cannot read a pending upload"
            " back (FileWriter._read_upload)"
        )

    def _in_flight(self, limit: int, executor: ThreadPoolExecutor | None = None) -> InFlight[Any]:
        """The pool for this writer's background part uploads, at most ``limit`` in flight.

        Created once; a failed part latches, so every later ``write``, ``close``
        and ``commit`` raises that failure; ``close``, ``commit`` and ``cancel``
        wait for what is still in flight when they end.
        """
        if self._parts is None:
            self._parts = InFlight(limit, f"regstore-{self.driver_name or 'writer'}", executor)
        return self._parts

    def _flush(self) -> None:
        """Optional: make everything written durable without publishing it.

        ``commit(expected_digest=...)`` calls it while the hash catches up, so
        the commit that follows a match has less left to do.
        """

    # -- the hash state hook ------------------------------------------------------

    @property
    def upload_state(self) -> bytes | None:
        """The opaque hash state a driver keeps with the pending upload at ``_close``.

        None when there is nothing to keep (no digest, or bytes written since
        the state given at resume); drivers store it verbatim and never parse it.
        """
        if self._hasher is not None:
            return self._hasher.export(self._size)
        return self._state if self._size == self._state_size else None

    @upload_state.setter
    def upload_state(self, state: bytes | None) -> None:
        self._state = state
        self._state_size = self._size

    def _hashing(self) -> StreamHasher | None:
        """The upload's hasher: this writer's, or that of the writer it wraps (``inner``).

        A writer that wraps another (telemetry, for one) leaves the hash to the
        driver's writer, whose ``_close`` keeps its state.
        """
        if self._hasher is not None:
            return self._hasher
        inner = self.__dict__.get("inner")
        return inner._hashing() if isinstance(inner, FileWriter) else None

    def _start_digest(self, algorithm: str) -> None:
        """Hash the upload with ``algorithm`` from here on, resumed bytes included.

        Used by the wrapper for ``writer(path, digest=...)``; a second call with
        the same algorithm does nothing.
        """
        inner = self.__dict__.get("inner")
        if isinstance(inner, FileWriter):
            inner._start_digest(algorithm)
            return
        if self._hasher is not None:
            if self._hasher.algorithm != algorithm:
                raise InvalidParameterError(
                    self.driver_name,
                    "digest",
                    f"this writer already hashes with {self._hasher.algorithm}",
                )
            return
        restored = decode_state(self._state, algorithm, self._size) if self._size else None
        hasher = StreamHasher(algorithm, restored)
        if self._size and restored is None:
            self._guard("resume the digest of", self._rehash, hasher)
        self._hasher = hasher

    def _rehash(self, hasher: StreamHasher) -> None:
        read = 0
        for piece in self._read_upload():
            hasher.update(piece)
            read += memoryview(piece).nbytes
        hasher.settle()
        if read != self._size:
            raise DriverError(
                f"read {read} bytes back from the pending upload of {self.path}, expected"
                f" {self._size}: cannot resume its digest"
            )

    # -- the public file-object API --------------------------------------------

    @property
    def size(self) -> int:
        """Bytes in the upload so far, including content resumed with ``append=True``."""
        return self._size

    @property
    def digest(self) -> str | None:
        """``"<algorithm>:<hex>"`` of the whole upload so far; None without ``digest=``."""
        hasher = self._hashing()
        return hasher.digest if hasher is not None else None

    @property
    def closed(self) -> bool:
        """True after ``close``, ``commit`` or ``cancel``."""
        return self._lifecycle != "open"

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data`` to the upload and return its length."""
        self._check_open("write to")
        if self._parts is not None and self._parts.failure is not None:
            self._guard("write", self._parts.check)
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        if view.nbytes:
            self._guard("write", self._write, view)
            if self._hasher is not None:
                # Once stored: a large piece is hashed on the helper thread during the next write.
                self._hasher.update(data if isinstance(data, bytes) else view)
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
            self._stop_hashing()

    def commit(self, expected_digest: str | None = None) -> None:
        """Atomically make the upload the content of the path.

        With ``expected_digest`` (``"sha256:<hex>"``, the writer's algorithm),
        only if the upload's digest is that one; otherwise ``DigestMismatchError``,
        and the writer stays open with the upload pending.
        """
        self._check_open("commit")
        if expected_digest is not None:
            hasher = self._hashing()
            algorithm = hasher.algorithm if hasher is not None else None
            check_expected(self.driver_name, expected_digest, algorithm)
            self._guard("commit", self._flush)
            actual = self.digest
            if actual != expected_digest:
                raise DigestMismatchError(
                    self.path, expected_digest, str(actual), driver_name=self.driver_name
                )
        self._guard("commit", self._commit)
        self._lifecycle = "committed"
        self._stop_hashing()

    def cancel(self) -> None:
        """Discard the pending upload; committed content at the path is untouched."""
        self._check_open("cancel")
        try:
            self._guard("cancel", self._cancel)
        finally:
            self._lifecycle = "cancelled"
            self._stop_hashing()

    def _stop_hashing(self) -> None:
        if self._hasher is not None:
            self._hasher.shutdown()
        if self._parts is not None:
            self._parts.shutdown()

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
        try:
            call(*args)
        except Exception as exc:
            error = translate_error(exc, self.driver_name, operation, self.path, self._translate)
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
        """A ``FileWriter``; ``append=True`` resumes the pending upload closed earlier.

        The wrapper adds ``digest=`` (see ``FileWriter``): drivers never hash.
        """

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

    def delete_files(self, paths: Iterable[str]) -> None:
        """Delete many files, each with its pending upload; a path with neither is no error.

        For sweeps of many files, such as garbage collection: drivers over a
        store that deletes many keys in one request override this default,
        which calls ``delete`` for each. Each path names a file (what the path
        of a directory does is up to the driver: this default deletes its tree).
        """
        for path in paths:
            try:
                self.delete(path)
            except PathNotFoundError:
                continue

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

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        """The contract error for a backend exception, or None when it is not the backend's.

        The one place a driver maps its SDK's exceptions: the wrapper consults it
        for every method, for the readers and writers it returns and for items
        of ``walk`` and ``pending_uploads``, so driver bodies raise SDK errors
        as they come. A missing object maps to ``PathNotFoundError(path)``,
        bad credentials or a missing bucket to a ``DriverError`` that says
        which setting to fix; what is left unclaimed becomes a ``DriverError``
        naming ``operation`` and ``path``. Never put a secret in a message.
        """
        return None

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
