"""Async iterators over a driver's ``walk`` and ``pending_uploads``, fetched in batches."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from types import TracebackType
from typing import Generic, TypeVar

from ._pool import Serial

__all__ = ["DEFAULT_BATCH_SIZE", "BatchIterator"]

T = TypeVar("T")

#: Entries fetched per pool call (an object store's listing page).
DEFAULT_BATCH_SIZE = 1000


class BatchIterator(Generic[T]):
    """Yields a sync iterator's items, ``batch_size`` per pool call.

    A pool thread is busy only while a batch is fetched, never while the
    consumer works through it. ``aclose()`` (or leaving ``async with``) stops
    the iteration early and releases the backend listing.
    """

    def __init__(
        self,
        serial: Serial,
        operation: str,
        start: Callable[[], Iterator[T]],
        batch_size: int,
    ) -> None:
        self._serial = serial
        self._operation = operation
        self._start: Callable[[], Iterator[T]] | None = start
        self._iterator: Iterator[T] | None = None
        self._batch_size = batch_size
        self._ready: deque[T] = deque()
        self._exhausted = False

    def __aiter__(self) -> BatchIterator[T]:
        return self

    async def __anext__(self) -> T:
        if not self._ready and not self._exhausted:
            self._ready.extend(await self._serial.run(self._operation, self._fetch))
        if not self._ready:
            raise StopAsyncIteration
        return self._ready.popleft()

    def _fetch(self) -> list[T]:
        """The next batch, on a pool thread; the first call also starts the listing."""
        if self._exhausted:
            return []
        if self._iterator is None:
            start, self._start = self._start, None
            if start is None:  # closed before it began
                self._exhausted = True
                return []
            self._iterator = iter(start())
        try:
            batch = list(islice(self._iterator, self._batch_size))
        except BaseException:
            self._exhausted, self._iterator = True, None
            raise
        if len(batch) < self._batch_size:
            self._exhausted, self._iterator = True, None
        return batch

    async def aclose(self) -> None:
        """Stop early: drop what is buffered and close the backend listing."""
        self._ready.clear()
        if self._exhausted and self._iterator is None:
            return  # finished, failed or never started: nothing is open
        await self._serial.run(f"{self._operation} close", self._close)

    def _close(self) -> None:
        self._exhausted = True
        self._start = None
        iterator, self._iterator = self._iterator, None
        close = getattr(iterator, "close", None)
        if close is not None:
            close()

    async def __aenter__(self) -> BatchIterator[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
