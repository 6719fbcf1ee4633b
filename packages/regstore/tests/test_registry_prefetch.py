"""Reading a walk ahead on its own thread: same items, same errors, and it stops when left."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from regstore.errors import DriverError
from regstore.registry._prefetch import Prefetch


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 1000])
def test_every_item_arrives_in_order(count: int) -> None:
    with Prefetch(lambda: iter(range(count)), capacity=16, chunk=8) as items:
        assert list(items) == list(range(count))


def test_a_source_error_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield from range(20)
        raise DriverError("listing failed")

    seen: list[int] = []

    def read_all(items: Prefetch[int]) -> None:
        seen.extend(items)

    with Prefetch(source, capacity=4, chunk=3) as items, pytest.raises(DriverError, match="failed"):
        read_all(items)
    assert seen == list(range(20))


def test_a_source_that_cannot_start_raises_when_read() -> None:
    def source() -> Iterator[int]:
        raise DriverError("no such bucket")

    with Prefetch(source) as items, pytest.raises(DriverError, match="no such bucket"):
        next(iter(items))


@pytest.mark.timeout(60)
def test_leaving_early_stops_an_endless_source_and_closes_it() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            yield from itertools.count()
        finally:
            closed.set()

    with Prefetch(endless, capacity=32, chunk=4, name="endless") as items:
        first = list(itertools.islice(items, 10))
    assert first == list(range(10))
    assert closed.is_set()  # the reader left: the thread ended and closed the walk
    assert not any(thread.name == "endless" for thread in threading.enumerate())


@pytest.mark.timeout(60)
def test_a_prefetch_never_read_still_stops() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            yield from itertools.count()
        finally:
            closed.set()

    with Prefetch(endless, capacity=8, chunk=2):
        pass
    assert closed.is_set()


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity and chunk"):
        Prefetch(lambda: iter(()), capacity=0)
    with pytest.raises(ValueError, match="capacity and chunk"):
        Prefetch(lambda: iter(()), chunk=0)
