"""A binary file object over a blob download, fetched range by range as it is read."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

__all__ = ["ChunkStream", "open_stream"]

BUFFER_SIZE = 64 * 1024


class ChunkStream(io.RawIOBase):
    """Raw reads served from an iterator of byte chunks (one ranged GET each)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] | None = chunks
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Copy the next bytes into ``buffer``; 0 at the end of the blob."""
        target = memoryview(buffer).cast("B")
        while not self._current:
            if self._chunks is None:
                return 0
            chunk = next(self._chunks, None)
            if chunk is None:
                self._chunks = None
                return 0
            self._current = memoryview(chunk)
        count = min(len(target), len(self._current))
        target[:count] = self._current[:count]
        self._current = self._current[count:]
        return count

    def close(self) -> None:
        """Drop the download; nothing else is held open between ranges."""
        self._chunks = None
        self._current = memoryview(b"")
        super().close()


def open_stream(
    chunks: Iterator[bytes], guard: Callable[[Iterator[bytes]], Iterator[bytes]]
) -> io.BufferedReader:
    """A buffered reader over ``chunks``; ``guard`` translates errors raised mid-stream."""
    return io.BufferedReader(ChunkStream(guard(chunks)), buffer_size=BUFFER_SIZE)
