"""Run calls on a thread pool with a bounded number in flight, taking new work as results come."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

__all__ = ["WorkQueue", "run_bounded"]

T = TypeVar("T")
R = TypeVar("R")


class WorkQueue(Generic[T, R]):
    """Apply ``call`` to items from a stream and from ``add``; at most ``limit`` in flight.

    Results come back in completion order as ``(item, result, error)``;
    memory holds the items in flight and those added but not yet started,
    never the whole stream.
    """

    def __init__(self, pool: ThreadPoolExecutor, call: Callable[[T], R], limit: int) -> None:
        self._pool = pool
        self._call = call
        self._limit = max(1, limit)
        self._extra: deque[T] = deque()

    def add(self, item: T) -> None:
        """Queue one more item (e.g. a child found while processing a result)."""
        self._extra.append(item)

    def run(self, items: Iterable[T]) -> Iterator[tuple[T, R | None, BaseException | None]]:
        """Start items, yield each finished one, until the stream and the extra queue are empty."""
        stream = iter(items)
        running: dict[Future[R], T] = {}
        exhausted = False
        while True:
            while len(running) < self._limit:
                if self._extra:
                    item = self._extra.popleft()
                elif not exhausted:
                    try:
                        item = next(stream)
                    except StopIteration:
                        exhausted = True
                        continue
                else:
                    break
                running[self._pool.submit(self._call, item)] = item
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                item = running.pop(future)
                error = future.exception()
                yield item, (None if error else future.result()), error


def run_bounded(
    pool: ThreadPoolExecutor, call: Callable[[T], R], items: Iterable[T], limit: int
) -> Iterator[tuple[T, R | None, BaseException | None]]:
    """``call`` over ``items`` on ``pool``, at most ``limit`` in flight, in completion order."""
    return WorkQueue(pool, call, limit).run(items)
