"""A blocking ``StorageDriver`` over an ``AsyncDriver``, so sync suites test the async API.

``BlockingDriver`` runs every coroutine on its own event-loop thread and
waits for it: the conformance suite (``regstore.testsuite``) then runs through
``AsyncDriver``, its streams and its iterators unchanged::

    class TestMyDriverAsync(TestMyDriver):
        @pytest.fixture
        def driver(self):
            with BlockingDriver.create("mydriver", {"bucket": "test"}) as driver:
                yield driver

It is for tests: a sync program uses the sync driver directly. ``DelayedDriver``
makes any driver slow and ``LoopWatch`` measures the event loop's lag, for
tests of what a loop does while its calls wait.
"""

from __future__ import annotations

import asyncio
import builtins
import io
import threading
from collections.abc import Coroutine, Iterator, Mapping
from datetime import datetime
from typing import IO, Any, TypeVar, cast

from ..driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from . import create as create_async
from ._delayed import DelayedDriver
from ._watch import LoopWatch
from .driver import AsyncDriver
from .iterators import BatchIterator
from .streams import AsyncReader, AsyncWriter

__all__ = ["BlockingDriver", "DelayedDriver", "LoopWatch"]

T = TypeVar("T")


class _Loop:
    """An event loop running on a daemon thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="regstore-aio-loop", daemon=True
        )
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """The coroutine's result, run on the loop thread while this thread waits."""
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError("a blocking call cannot wait for its own event loop")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def usable(self) -> bool:
        """True while calls can still be run (not closed, and not on the loop thread)."""
        return not self.loop.is_closed() and threading.current_thread() is not self.thread

    def stop(self) -> None:
        """Stop the loop, wait for its thread, close it."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class _Reader(io.BufferedIOBase):
    """A binary file whose every read awaits ``AsyncReader.read`` on the loop thread."""

    def __init__(self, stream: AsyncReader, loop: _Loop) -> None:
        super().__init__()
        self._stream = stream
        self._loop = loop

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        self._checkClosed()
        return self._loop.run(self._stream.read(-1 if size is None else size))

    def read1(self, size: int = -1, /) -> bytes:
        self._checkClosed()
        return self._loop.run(self._stream.read1(size))

    def readinto(self, buffer: Any, /) -> int:
        self._checkClosed()
        return self._loop.run(self._stream.readinto(buffer))

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._loop.usable():
                self._loop.run(self._stream.close())
            else:  # collected on the loop thread, or after the driver closed
                self._stream.raw.close()
        finally:
            super().close()


class _Writer(FileWriter):
    """A ``FileWriter`` whose every call awaits the ``AsyncWriter``: its states and errors."""

    def __init__(self, stream: AsyncWriter, loop: _Loop) -> None:
        super().__init__(stream.path, size=stream.size, driver_name=stream.writer.driver_name)
        self._stream = stream
        self._loop = loop

    @property
    def size(self) -> int:
        return self._stream.size

    @property
    def closed(self) -> bool:
        return self._stream.closed

    @property
    def digest(self) -> str | None:
        return self._stream.digest

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._loop.run(self._stream.write(data))

    def close(self) -> None:
        self._loop.run(self._stream.close())

    def commit(self, expected_digest: str | None = None) -> None:
        self._loop.run(self._stream.commit(expected_digest))

    def cancel(self) -> None:
        self._loop.run(self._stream.cancel())

    def tell(self) -> int:
        return self.size

    # The public methods above replace the state machine these would serve.
    def _write(self, data: memoryview) -> None:
        self.write(data)

    def _close(self) -> None:
        self.close()

    def _commit(self) -> None:
        self.commit()

    def _cancel(self) -> None:
        self.cancel()

    def __repr__(self) -> str:
        return f"<blocking {self._stream!r}>"


class BlockingDriver(StorageDriver):
    """A ``StorageDriver`` that runs each call through an ``AsyncDriver`` on its own loop thread.

    ``close()`` closes the ``AsyncDriver`` (and so the driver below it) and
    stops the loop.
    """

    def __init__(
        self, driver: AsyncDriver | StorageDriver, *, _loop: _Loop | None = None, **options: Any
    ) -> None:
        if isinstance(driver, AsyncDriver) and options:
            raise TypeError(f"options {sorted(options)} apply to a StorageDriver being wrapped")
        self._loop = _loop or _Loop()
        if isinstance(driver, StorageDriver):
            driver = AsyncDriver(driver, **options)
        self.async_driver = driver
        #: The sync driver below, so ``regstore._base.unwrap`` sees through this facade.
        self.inner = driver.driver

    @classmethod
    def create(
        cls, name: str, parameters: Mapping[str, Any] | None = None, **options: Any
    ) -> BlockingDriver:
        """A facade over ``await regstore.aio.create(name, parameters, **options)``."""
        loop = _Loop()
        try:
            driver = loop.run(create_async(name, parameters, **options))
        except BaseException:
            loop.stop()
            raise
        return cls(driver, _loop=loop)

    @property
    def name(self) -> str:
        return self.async_driver.name

    def __repr__(self) -> str:
        return f"<BlockingDriver {self.async_driver!r}>"

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coroutine)

    def get_content(self, path: str) -> bytes:
        return self._run(self.async_driver.get_content(path))

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        self._run(self.async_driver.put_content(path, content))

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        stream = self._run(_opened(self.async_driver.reader(path, offset)))
        return cast(IO[bytes], _Reader(stream, self._loop))

    def writer(self, path: str, append: bool = False, digest: str | None = None) -> FileWriter:
        stream = self._run(_opened(self.async_driver.writer(path, append, digest)))
        return _Writer(stream, self._loop)

    def stat(self, path: str) -> FileInfo:
        return self._run(self.async_driver.stat(path))

    def list(self, path: str) -> builtins.list[str]:
        return self._run(self.async_driver.list(path))

    def move(self, source: str, dest: str) -> None:
        self._run(self.async_driver.move(source, dest))

    def delete(self, path: str) -> None:
        self._run(self.async_driver.delete(path))

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        return self._run(
            self.async_driver.redirect_url(
                path, method=method, expires_in=expires_in, client_ip=client_ip
            )
        )

    def walk(
        self,
        path: str,
        *,
        start_after: str | None = None,
        prune: Prune | None = None,
    ) -> Iterator[FileInfo]:
        return self._iterate(self.async_driver.walk(path, start_after=start_after, prune=prune))

    def pending_uploads(self, path: str = "/") -> Iterator[PendingUpload]:
        return self._iterate(self.async_driver.pending_uploads(path))

    def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        return self._run(self.async_driver.purge_uploads(before, path))

    def _iterate(self, items: BatchIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    item = self._run(_next(items))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            if self._loop.usable():
                self._run(items.aclose())

    def close(self) -> None:
        if self._loop.loop.is_closed():
            return
        try:
            self._run(self.async_driver.aclose())
        finally:
            self._loop.stop()


async def _opened(opening: Any) -> Any:
    return await opening


async def _next(items: BatchIterator[T]) -> T:
    return await items.__anext__()
