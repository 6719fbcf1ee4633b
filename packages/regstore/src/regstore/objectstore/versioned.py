"""Reading one version of an object: resume a cut answer, never mix two versions.

An object store answers a read with a body that may break mid-way. The rest
is asked again from the byte where it broke, on the same version (an ETag
``If-Match``, a generation); when that version is gone, the read fails with
``ContentChangedError`` instead of splicing the new content onto the old.
``read_one_version`` turns that failure into a fresh read from the start, so
``get_content`` returns one version whole.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Protocol, TypeVar

from ..errors import ContentChangedError, DriverError

__all__ = ["Body", "ResumingStream", "read_one_version"]

T = TypeVar("T")


class Body(Protocol):
    """An answer's body: ``readinto`` (0 at its end) and ``close``."""

    def readinto(self, buffer: memoryview, /) -> int: ...

    def close(self) -> None: ...


class ResumingStream(io.RawIOBase):
    """The raw stream of one object version from ``start`` to ``end``, reopened after a cut.

    ``reopen(position)`` returns a body of the same version from ``position``
    (raising ``ContentChangedError`` when that version is gone); ``cut`` are
    the exceptions of a broken body; ``attempts`` bounds the breaks in a row.
    """

    def __init__(
        self,
        path: str,
        body: Body,
        *,
        start: int,
        end: int,
        reopen: Callable[[int], Body],
        cut: tuple[type[BaseException], ...],
        attempts: int,
    ) -> None:
        super().__init__()
        self.path = path
        self._body = body
        self._position = start
        self._end = end
        self._reopen = reopen
        self._cut = cut
        self._attempts = attempts

    @property
    def end(self) -> int:
        """The object's size: the offset after its last byte."""
        return self._end

    def remaining(self) -> int:
        """Bytes not read yet."""
        return max(0, self._end - self._position)

    def readable(self) -> bool:
        return True

    def read_all(self) -> bytes:
        """The rest of the object, read into one buffer of its known size (no regrowth)."""
        content = bytearray(self.remaining())
        view = memoryview(content)
        filled = 0
        while filled < len(content) and (count := self.readinto(view[filled:])):
            filled += count
        view.release()
        del content[filled:]
        return bytes(content)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        failures = 0
        while True:
            try:
                count = self._body.readinto(buffer)
            except self._cut as exc:
                if self.closed:
                    raise ValueError("I/O operation on a closed reader") from exc
                if self._position >= self._end:
                    return 0  # every byte arrived; only the end of the answer broke
                failures += 1
                if failures >= self._attempts:
                    raise DriverError(
                        f"reading {self.path} failed: the connection broke {failures} times"
                        f" at byte {self._position} ({exc})"
                    ) from exc
                self._body.close()
                self._body = self._reopen(self._position)
                continue
            self._position += count
            return count

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def read_one_version(read: Callable[[], T], attempts: int) -> T:
    """``read()`` again from the start while the object changes under it, ``attempts`` times."""
    for attempt in range(1, attempts + 1):
        try:
            return read()
        except ContentChangedError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
