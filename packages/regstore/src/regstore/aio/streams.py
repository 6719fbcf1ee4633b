"""Async faces of a driver's reader and writer: each call moves one chunk on a pool thread."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType
from typing import IO, Any, Generic, Protocol, TypeVar

from ..driver import FileWriter
from ._pool import Serial

__all__ = ["DEFAULT_CHUNK_SIZE", "AsyncReader", "AsyncWriter", "Opening"]

#: Bytes per ``read`` of ``AsyncReader.chunks`` unless told otherwise.
DEFAULT_CHUNK_SIZE = 1 << 20

Buffer = bytes | bytearray | memoryview


class _Closable(Protocol):
    async def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)


class Opening(Generic[S]):
    """What ``reader`` and ``writer`` return: ``await`` it for the stream, or ``async with`` it.

    ``async with`` closes the stream on the way out (a writer: ``close``, never
    ``commit``), as the sync ``with`` does.
    """

    def __init__(self, open_stream: Callable[[], Awaitable[S]]) -> None:
        self._open = open_stream
        self._stream: S | None = None

    def __await__(self) -> Generator[Any, None, S]:
        return self._opened().__await__()

    async def _opened(self) -> S:
        return await self._open()

    async def __aenter__(self) -> S:
        self._stream = await self._open()
        return self._stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.close()


class AsyncReader:
    """An async binary file over a driver's reader; every ``read`` is one call on a pool thread.

    ``read(n)`` returns at most ``n`` bytes (``b""`` at the end), as the sync
    reader does; ``read()`` with no size returns everything left, so stream
    large content with ``read(n)`` or ``chunks()``.
    """

    def __init__(self, raw: IO[bytes], serial: Serial, path: str) -> None:
        self.raw = raw
        self.path = path
        self._serial = serial

    @property
    def closed(self) -> bool:
        """True after ``close``."""
        return self.raw.closed

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when ``size`` is negative); ``b""`` at the end."""
        return await self._serial.run("read", lambda: self.raw.read(size))

    async def read1(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes with at most one read of the backend stream."""
        read1 = getattr(self.raw, "read1", self.raw.read)
        data: bytes = await self._serial.run("read", lambda: read1(size))
        return data

    async def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill ``buffer`` with the next bytes; the number read, 0 at the end."""
        readinto = getattr(self.raw, "readinto", None)
        if readinto is None:
            data = await self.read(len(memoryview(buffer).cast("B")))
            memoryview(buffer).cast("B")[: len(data)] = data
            return len(data)
        count: int | None = await self._serial.run("read", lambda: readinto(buffer))
        return count or 0

    async def chunks(self, size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The rest of the content as chunks of at most ``size`` bytes, one read each."""
        while True:
            data = await self.read(size)
            if not data:
                return
            yield data

    async def close(self) -> None:
        """Release the backend stream; idempotent."""
        if not self.raw.closed:
            await self._serial.run("close", self.raw.close)

    async def __aenter__(self) -> AsyncReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncReader {self.path!r}{' closed' if self.closed else ''}>"


class AsyncWriter:
    """An async face of a ``FileWriter``: the same states and errors, each call on a pool thread.

    Leaving ``async with`` calls ``close`` only: it neither commits nor cancels.
    """

    def __init__(self, writer: FileWriter, serial: Serial) -> None:
        self.writer = writer
        self.path = writer.path
        self._serial = serial

    @property
    def size(self) -> int:
        """Bytes in the upload so far, including content resumed with ``append=True``."""
        return self.writer.size

    @property
    def closed(self) -> bool:
        """True after ``close``, ``commit`` or ``cancel``."""
        return self.writer.closed

    @property
    def digest(self) -> str | None:
        """``"<algorithm>:<hex>"`` of the upload so far; None without ``digest=``.

        Waits for the hash of the writes so far, on the calling thread.
        """
        return self.writer.digest

    async def write(self, data: Buffer) -> int:
        """Append ``data`` (passed through as one chunk) and return its length."""
        return await self._serial.run("write", lambda: self.writer.write(data))

    async def writelines(self, chunks: builtins.list[bytes]) -> None:
        """Write each chunk in turn."""
        for chunk in chunks:
            await self.write(chunk)

    async def close(self) -> None:
        """Persist the upload for a later ``append=True``; idempotent."""
        if not self.writer.closed:
            await self._serial.run("close", self.writer.close)

    async def commit(self, expected_digest: str | None = None) -> None:
        """Atomically make the upload the content of the path (see ``FileWriter.commit``)."""
        await self._serial.run("commit", lambda: self.writer.commit(expected_digest))

    async def cancel(self) -> None:
        """Discard the pending upload; committed content is untouched."""
        await self._serial.run("cancel", self.writer.cancel)

    async def __aenter__(self) -> AsyncWriter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncWriter {self.writer!r}>"
