"""A buffered reader that never allocates more than the bytes a stream has left.

``io.BufferedReader.read(n)`` allocates ``n`` bytes before it reads, so
``read(2**62)`` on a small file raises MemoryError. Every driver's reader knows
how many bytes its raw stream still holds, so reads above a threshold are cut
to that (plus what the buffer may hold); smaller reads go straight through.
"""

from __future__ import annotations

import io
from collections.abc import Callable

__all__ = ["CLAMP_ABOVE", "SizedReader"]

#: Reads up to this size are not clamped (the common case stays as fast).
CLAMP_ABOVE = 1 << 24


class SizedReader(io.BufferedReader):
    """``io.BufferedReader`` over ``raw``; ``remaining()`` is what ``raw`` has not handed out."""

    def __init__(
        self,
        raw: io.RawIOBase,
        remaining: Callable[[], int],
        buffer_size: int = io.DEFAULT_BUFFER_SIZE,
    ) -> None:
        super().__init__(raw, buffer_size=buffer_size)
        self._remaining = remaining
        self._buffer_size = buffer_size

    def _clamp(self, size: int | None) -> int | None:
        if size is None or size <= CLAMP_ABOVE:
            return size
        return max(0, min(size, self._buffer_size + self._remaining()))

    def read(self, size: int | None = -1, /) -> bytes:
        return super().read(self._clamp(size))

    def read1(self, size: int = -1, /) -> bytes:
        clamped = self._clamp(size)
        return super().read1(-1 if clamped is None else clamped)
