"""Part buffers a driver's writers reuse: one allocation per part slot, not one per part.

A fresh ``bytearray`` of a part's size is memory the kernel must map and zero
page by page as it is first written: per 128 MiB uploaded that costs more CPU
(70 to 90 ms here) than the copy into it. Writers take a buffer here, and the
part's upload gives it back once the part is sent. At most ``spares`` buffers
wait between uploads, the number one writer holds anyway at its peak
(``multipartuploadmaxconcurrency + 1``); ``clear`` drops them (``close``).
"""

from __future__ import annotations

import threading

__all__ = ["PartBuffers"]


class PartBuffers:
    """Spare ``bytearray`` parts of exactly ``size`` bytes, shared by a driver's writers."""

    def __init__(self, size: int, spares: int) -> None:
        self.size = size
        self.spares = spares
        self._free: list[bytearray] = []
        self._lock = threading.Lock()

    def take(self) -> bytearray:
        """A buffer of ``size`` bytes, its old content unspecified."""
        with self._lock:
            if self._free:
                return self._free.pop()
        return bytearray(self.size)

    def give(self, buffer: bytearray) -> None:
        """Keep ``buffer`` for a later part, if it is whole and fewer than ``spares`` wait."""
        if len(buffer) != self.size:
            return
        with self._lock:
            if len(self._free) < self.spares:
                self._free.append(buffer)

    def clear(self) -> None:
        """Drop every spare buffer."""
        with self._lock:
            self._free.clear()

    @property
    def waiting(self) -> int:
        """Spare buffers held now."""
        return len(self._free)
