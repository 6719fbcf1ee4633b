"""The bounded pool of threads that runs blocking driver calls for the event loop.

Every call is handed to one ``ThreadPoolExecutor`` of at most ``max_threads``
threads and awaited as an asyncio future, so the loop never waits on a
backend: excess calls queue in the executor, not in new threads.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ..errors import DriverError, InvalidParameterError

__all__ = ["DEFAULT_MAX_THREADS", "Pool", "Serial", "check_positive"]

T = TypeVar("T")

#: Threads per ``AsyncDriver`` when none is given (and the driver sets no lower limit).
DEFAULT_MAX_THREADS = 16


def check_positive(driver_name: str, parameter: str, value: object) -> int:
    """``value`` as a whole number >= 1, or ``InvalidParameterError`` saying so."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(
            driver_name, parameter, f"must be a whole number >= 1 (an int), got {value!r}"
        )
    return value


class Pool:
    """At most ``max_threads`` threads, started on demand, running calls for any event loop."""

    def __init__(self, max_threads: int, driver_name: str) -> None:
        self.max_threads = check_positive(driver_name, "max_threads", max_threads)
        self.driver_name = driver_name
        self._executor = ThreadPoolExecutor(max_threads, thread_name_prefix="regstore-aio")
        self._closed = False
        # Per event loop, at most max_threads calls are handed to the executor at once; the
        # rest wait as plain futures, so a burst of calls costs the loop next to nothing.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def closed(self) -> bool:
        """True after ``shutdown``."""
        return self._closed

    def _submit(self, operation: str, call: Callable[[], T]) -> Future[T]:
        if self._closed:
            raise DriverError(
                f"{operation} failed: the async driver is closed (aclose was called)",
                driver_name=self.driver_name,
            )
        # The call sees the caller's context variables, as asyncio.to_thread does.
        return self._executor.submit(contextvars.copy_context().run, call)

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.max_threads)
        return gate

    async def run(self, operation: str, call: Callable[[], T]) -> T:
        """The result of ``call()`` run on a pool thread; cancelling drops it if not started."""
        async with self._gate():
            return await asyncio.wrap_future(self._submit(operation, call))

    async def open(
        self, operation: str, call: Callable[[], T], release: Callable[[T], object]
    ) -> T:
        """Like ``run``, for a call that returns a resource: ``release`` it if nobody awaits."""
        async with self._gate():
            future = self._submit(operation, call)
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                # Already running: the stream it opens is released when it is done.
                def drop(done: Future[T]) -> None:
                    if not done.cancelled() and done.exception() is None:
                        release(done.result())

                future.add_done_callback(drop)
                raise

    def shutdown(self) -> None:
        """Stop taking calls; idle threads exit, queued calls are cancelled."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)


class Serial:
    """Runs one object's calls in order, one at a time, without a thread waiting its turn.

    The asyncio lock orders callers on the loop; the thread lock keeps a call
    whose awaiting task was cancelled from overlapping the next one.
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._turn = asyncio.Lock()
        self._running = threading.Lock()

    async def run(self, operation: str, call: Callable[[], T]) -> T:
        """``call()`` on a pool thread, after every earlier call of this object."""

        def locked() -> T:
            with self._running:
                return call()

        async with self._turn:
            return await self._pool.run(operation, locked)
