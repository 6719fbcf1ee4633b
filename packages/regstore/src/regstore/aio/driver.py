"""``AsyncDriver``: every ``StorageDriver`` method as a coroutine, run on a bounded thread pool.

The drivers and their SDKs block, so each call runs on one of at most
``max_threads`` threads while the event loop goes on; calls beyond that wait
in a queue, never in new threads. Errors are the sync driver's own (a driver
from ``regstore.create`` raises the contract's errors).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import IO, TypeVar

from .._base import unwrap
from ..driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from ._pool import DEFAULT_MAX_THREADS, Pool, Serial, check_positive
from .iterators import DEFAULT_BATCH_SIZE, BatchIterator
from .streams import AsyncReader, AsyncWriter, Opening

__all__ = ["AsyncDriver", "default_max_threads"]

T = TypeVar("T")


def default_max_threads(driver: StorageDriver) -> int:
    """``DEFAULT_MAX_THREADS``, or the driver's own lower concurrency limit (``maxthreads``)."""
    limits = [DEFAULT_MAX_THREADS]
    for layer in (driver, unwrap(driver)):
        if layer.concurrency_limit:
            limits.append(layer.concurrency_limit)
    return min(limits)


class AsyncDriver:
    """An asyncio face of a ``StorageDriver``: the same methods, as coroutines.

    ``max_threads`` bounds the threads that run the blocking calls (default:
    ``DEFAULT_MAX_THREADS``, or the driver's ``maxthreads`` when lower);
    ``batch_size`` is how many entries ``walk`` and ``pending_uploads`` fetch
    per pool call. ``aclose()`` (or leaving ``async with``) closes the driver.
    """

    def __init__(
        self,
        driver: StorageDriver,
        *,
        max_threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if not isinstance(driver, StorageDriver):
            raise TypeError(
                f"AsyncDriver wraps a StorageDriver (from regstore.create),"
                f" not {type(driver).__name__}"
            )
        self.driver = driver
        self.batch_size = check_positive(driver.name, "batch_size", batch_size)
        threads = default_max_threads(driver) if max_threads is None else max_threads
        self._pool = Pool(threads, driver.name)

    @property
    def name(self) -> str:
        """The driver's registered name, e.g. ``"s3"``."""
        return self.driver.name

    @property
    def max_threads(self) -> int:
        """The most threads this driver's calls ever run on."""
        return self._pool.max_threads

    def __repr__(self) -> str:
        return f"<AsyncDriver {self.driver!r} max_threads={self.max_threads}>"

    async def _run(self, operation: str, call: Callable[[], T]) -> T:
        return await self._pool.run(operation, call)

    async def get_content(self, path: str) -> bytes:
        """The whole content of a file (use ``reader`` for large content)."""
        return await self._run("get_content", lambda: self.driver.get_content(path))

    async def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        """Store ``content`` at ``path`` atomically, replacing what was there."""
        await self._run("put_content", lambda: self.driver.put_content(path, content))

    def reader(self, path: str, offset: int = 0) -> Opening[AsyncReader]:
        """An ``AsyncReader`` from ``offset``: ``await`` it, or ``async with`` it to close it."""

        async def open_reader() -> AsyncReader:
            raw: IO[bytes] = await self._pool.open(
                "reader", lambda: self.driver.reader(path, offset), lambda r: r.close()
            )
            return AsyncReader(raw, Serial(self._pool), path)

        return Opening(open_reader)

    def writer(
        self, path: str, append: bool = False, digest: str | None = None
    ) -> Opening[AsyncWriter]:
        """An ``AsyncWriter``: ``await`` it, or ``async with`` it to close (not commit) it.

        ``digest`` goes to the wrapped driver's ``writer`` (see ``FileWriter``).
        """
        open_sync: Callable[..., FileWriter] = self.driver.writer

        def opened() -> FileWriter:
            if digest is None:
                return open_sync(path, append)
            return open_sync(path, append, digest=digest)

        async def open_writer() -> AsyncWriter:
            writer = await self._pool.open("writer", opened, lambda w: w.close())
            return AsyncWriter(writer, Serial(self._pool))

        return Opening(open_writer)

    async def stat(self, path: str) -> FileInfo:
        """A file's size and mod_time, or ``is_dir=True`` for a directory."""
        return await self._run("stat", lambda: self.driver.stat(path))

    async def list(self, path: str) -> builtins.list[str]:
        """Absolute paths of the direct children, sorted."""
        return await self._run("list", lambda: self.driver.list(path))

    async def move(self, source: str, dest: str) -> None:
        """Move a file, overwriting ``dest``."""
        await self._run("move", lambda: self.driver.move(source, dest))

    async def delete(self, path: str) -> None:
        """Delete a file or a directory tree, with the pending uploads below it."""
        await self._run("delete", lambda: self.driver.delete(path))

    async def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        """A URL a plain HTTP client can ``GET``/``HEAD``, or None."""
        return await self._run(
            "redirect_url",
            lambda: self.driver.redirect_url(
                path, method=method, expires_in=expires_in, client_ip=client_ip
            ),
        )

    def walk(
        self,
        path: str,
        *,
        start_after: str | None = None,
        prune: Prune | None = None,
    ) -> BatchIterator[FileInfo]:
        """Every file and directory below ``path`` in walk order, as an async iterator.

        ``prune`` is a plain function; it is called on a pool thread.
        """
        return BatchIterator(
            Serial(self._pool),
            "walk",
            lambda: self.driver.walk(path, start_after=start_after, prune=prune),
            self.batch_size,
        )

    def pending_uploads(self, path: str = "/") -> BatchIterator[PendingUpload]:
        """Every pending upload at or below ``path``, as an async iterator."""
        return BatchIterator(
            Serial(self._pool),
            "pending_uploads",
            lambda: self.driver.pending_uploads(path),
            self.batch_size,
        )

    async def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        """Discard the pending uploads below ``path`` last closed before ``before``."""
        return await self._run("purge_uploads", lambda: self.driver.purge_uploads(before, path))

    async def aclose(self) -> None:
        """Close the driver, then the pool; idempotent."""
        if self._pool.closed:
            return
        try:
            await self._run("aclose", self.driver.close)
        finally:
            self._pool.shutdown()

    async def __aenter__(self) -> AsyncDriver:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
