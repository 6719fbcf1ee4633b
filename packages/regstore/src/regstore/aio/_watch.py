"""``LoopWatch``: how long an event loop kept a ticker waiting, and how many threads ran.

A ticker task sleeps ``tick`` seconds again and again; the time each sleep
overran is the loop's lag. Where Linux reports it (``/proc/thread-self/schedstat``),
the time the loop's thread spent runnable but waiting for a CPU is counted
apart (``max_lag`` excludes it, ``max_lag_wall`` does not): on a busy shared
machine the kernel may pause any process, which says nothing of the loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

__all__ = ["LoopWatch"]

_SCHEDSTAT = "/proc/thread-self/schedstat"


def _cpu_wait() -> float | None:
    """Seconds this thread has spent waiting on a run queue, or None where unknown."""
    try:
        with open(_SCHEDSTAT) as file:
            return int(file.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class LoopWatch:
    """Runs a ticker on the current loop while in ``async with``; keeps the worst it saw."""

    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        #: The largest lag by the wall clock.
        self.max_lag_wall = 0.0
        #: The most threads in the process at one tick (and at the start).
        self.max_threads = threading.active_count()
        self.ticks = 0
        #: Every tick's lag, less the time off the CPU, in order.
        self.lags: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            waited, began = _cpu_wait(), time.perf_counter()
            await asyncio.sleep(self.tick)
            lag = time.perf_counter() - began - self.tick
            now_waited = _cpu_wait()
            paused = now_waited - waited if waited is not None and now_waited is not None else 0.0
            self.max_lag_wall = max(self.max_lag_wall, lag)
            self.lags.append(lag - paused)
            self.max_threads = max(self.max_threads, threading.active_count())
            self.ticks += 1

    @property
    def max_lag(self) -> float:
        """The largest lag, less the time the kernel kept the loop's thread off the CPU."""
        return max(self.lags, default=0.0)

    def stalls(self, threshold: float) -> list[float]:
        """The lags of ``threshold`` seconds or more, in order."""
        return [lag for lag in self.lags if lag >= threshold]

    async def __aenter__(self) -> LoopWatch:
        self._stop.clear()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
