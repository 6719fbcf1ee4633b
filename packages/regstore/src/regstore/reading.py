"""A buffered reader that never allocates more than the bytes a stream has left.

``io.BufferedReader.read(n)`` allocates ``n`` bytes before it reads, so
``read(2**62)`` on a small file raises MemoryError. Every driver's reader knows
how many bytes its raw stream still holds, so reads above a threshold are cut
to that (plus what the buffer may hold); smaller reads go straight through.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["CLAMP_ABOVE", "SizedReader", "TranslatingReader"]

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


class TranslatingReader(io.BufferedIOBase):
    """A driver's reader whose errors go through the driver's ``translate`` hook.

    The wrapper returns it around the readers of drivers that declare a hook,
    so a read that fails on the wire raises the same contract errors as the
    method that opened the reader.
    """

    def __init__(self, inner: IO[bytes], translate: Callable[[Exception], Exception]) -> None:
        super().__init__()
        self.inner = inner
        self._translate = translate

    def _fail(self, exc: Exception) -> NoReturn:
        if isinstance(exc, ValueError):
            raise exc  # a file object's own refusal: a size below -1, a closed stream
        error = self._translate(exc)
        if error is exc:
            raise exc
        raise error from exc

    def read(self, size: int | None = -1, /) -> bytes:
        try:
            return self.inner.read(-1 if size is None else size)
        except Exception as exc:
            self._fail(exc)

    def read1(self, size: int = -1, /) -> bytes:
        read1 = getattr(self.inner, "read1", self.inner.read)
        try:
            data: bytes = read1(size)
        except Exception as exc:
            self._fail(exc)
        return data

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        try:
            return self.inner.readinto(buffer)  # type: ignore[attr-defined,no-any-return]
        except Exception as exc:
            self._fail(exc)

    def readline(self, size: int | None = -1, /) -> bytes:
        try:
            return self.inner.readline(-1 if size is None else size)
        except Exception as exc:
            self._fail(exc)

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        try:
            return self.inner.seek(offset, whence)
        except Exception as exc:
            self._fail(exc)

    def tell(self) -> int:
        return self.inner.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.inner.seekable()

    def fileno(self) -> int:
        return self.inner.fileno()

    def close(self) -> None:
        try:
            self.inner.close()
        except Exception as exc:
            self._fail(exc)
        finally:
            super().close()

    def __getattr__(self, name: str) -> object:
        # Driver-specific extras (``size``, ``generation``...) stay reachable.
        return getattr(self.inner, name)
