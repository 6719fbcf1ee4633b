"""Read an iterator ahead on a thread of its own, so a walk's listing overlaps other work.

A walk of an object store is a chain of page requests, each waiting for the one
before; run beside the reads that use it, its waits cost nothing. Items travel
in chunks (one queue hand-off per chunk, not per item, unless the reader is
waiting), and at most
``capacity`` of them wait to be read, so memory stays bounded however large the
walk.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["Prefetch"]

T = TypeVar("T")

_POLL = 0.1  # seconds between checks for a reader that stopped listening


class _End:
    """The source finished: normally (``error`` None) or by raising ``error``."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class Prefetch(Generic[T]):
    """Iterate ``source()`` on a daemon thread, up to ``capacity`` items ahead of the reader.

    Iterating the ``Prefetch`` yields the source's items in order and raises
    what the source raised at the place it raised it. Leaving the ``with``
    block stops the thread (the source is closed at its next item), whether or
    not everything was read.
    """

    def __init__(
        self,
        source: Callable[[], Iterable[T]],
        *,
        capacity: int = 50_000,
        chunk: int = 64,
        name: str = "regstore-prefetch",
    ) -> None:
        if capacity < 1 or chunk < 1:
            raise ValueError(f"capacity and chunk must be at least 1, got {capacity}, {chunk}")
        self._source = source
        self._chunk = chunk
        self._queue: queue.Queue[list[T] | _End] = queue.Queue(maxsize=max(1, capacity // chunk))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._started = False
        self._done = False

    def start(self) -> Prefetch[T]:
        """Begin reading ahead (idempotent); entering the ``with`` block also starts it."""
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def __enter__(self) -> Prefetch[T]:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading ahead and wait for the thread to end."""
        self._stop.set()
        if not self._started:
            return
        while self._thread.is_alive():
            try:  # make room so a producer blocked on a full queue sees the stop
                self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
        self._thread.join()

    def __iter__(self) -> Iterator[T]:
        self.start()
        while not self._done:
            got = self._queue.get()
            if isinstance(got, _End):
                self._done = True
                if got.error is not None:
                    raise got.error
                return
            yield from got

    def _put(self, item: list[T] | _End) -> bool:
        """Hand ``item`` to the reader; False once the reader has gone."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        chunk: list[T] = []
        error: BaseException | None = None
        try:
            items = iter(self._source())
            try:
                for item in items:
                    chunk.append(item)
                    # A reader with nothing left to read gets what there is at once.
                    if len(chunk) >= self._chunk or self._queue.empty():
                        if not self._put(chunk):
                            return
                        chunk = []
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the reader, raised where it reads
            error = exc
        if chunk and not self._put(chunk):
            return
        self._put(_End(error))
