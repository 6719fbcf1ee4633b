"""regstore.aio under load: the event loop's largest lag and the threads used.

Two measurements, each a burst of concurrent calls on one event loop while a
``LoopWatch`` ticker runs:

- a slow backend (the inmemory driver, each call held 50 ms): 500 calls
  (100 under ``--quick``), against the ideal ``calls x 50 ms / threads``;
- each backend of the run: small ``get_content`` calls and walks on real
  files, against the same calls made one after another through the sync driver.

``max lag`` leaves out the time the kernel kept the loop's thread waiting for
a CPU (the wall-clock figure is reported too): on a shared machine that time
belongs to the other processes, not to the loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import regstore
from regstore import CheckedDriver
from regstore.aio import AsyncDriver
from regstore.aio.testing import DelayedDriver, LoopWatch

__all__ = ["backend_figures", "print_figures", "slow_backend_figures"]

DELAY = 0.05
FILES = 20


async def _burst(driver: AsyncDriver, base: str, calls: int) -> dict[str, Any]:
    """``calls`` concurrent calls (9 in 10 ``get_content``, 1 in 10 a walk) under a watch."""

    async def one(i: int) -> None:
        if i % 10 == 9:
            found = [info async for info in driver.walk(base)]
            if len(found) != FILES:
                raise AssertionError(f"walk found {len(found)} of {FILES} files")
        elif len(await driver.get_content(f"{base}/f{i % FILES:02d}")) != 1024:
            raise AssertionError("get_content returned the wrong size")

    baseline = threading.active_count()
    began = time.perf_counter()
    async with LoopWatch() as watch:
        await asyncio.gather(*(one(i) for i in range(calls)))
    seconds = time.perf_counter() - began
    return {
        "calls": calls,
        "seconds": seconds,
        "calls_per_s": calls / seconds,
        "max_lag_ms": watch.max_lag * 1000,
        "max_lag_wall_ms": watch.max_lag_wall * 1000,
        "threads_added": watch.max_threads - baseline,
        "max_threads": driver.max_threads,
        "ticks": watch.ticks,
    }


def slow_backend_figures(quick: bool) -> dict[str, Any]:
    """The burst on an inmemory driver whose every call takes 50 ms."""
    inner = regstore.create("inmemory")
    for n in range(FILES):
        inner.put_content(f"/slow/f{n:02d}", b"x" * 1024)
    calls = 100 if quick else 500

    async def measure() -> dict[str, Any]:
        async with AsyncDriver(CheckedDriver(DelayedDriver(inner, DELAY))) as driver:
            figures = await _burst(driver, "/slow", calls)
        figures["ideal_seconds"] = calls * DELAY / figures["max_threads"]
        return figures

    return asyncio.run(measure())


def backend_figures(driver_name: str, parameters: dict[str, Any], quick: bool) -> dict[str, Any]:
    """The burst on a real backend, and the same calls made in turn through the sync driver."""
    calls = 50 if quick else 500
    base = f"/aio-{uuid.uuid4().hex[:8]}"

    async def measure() -> dict[str, Any]:
        async with await regstore.aio.create(driver_name, parameters) as driver:
            for n in range(FILES):
                await driver.put_content(f"{base}/f{n:02d}", b"x" * 1024)
            try:
                figures = await _burst(driver, base, calls)
                sync = driver.driver
                began = time.perf_counter()
                for i in range(calls):
                    if i % 10 == 9:
                        list(sync.walk(base))
                    else:
                        sync.get_content(f"{base}/f{i % FILES:02d}")
                figures["sync_seconds"] = time.perf_counter() - began
            finally:
                await driver.delete(base)
        return figures

    return asyncio.run(measure())


def _time(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


def print_figures(figures: dict[str, dict[str, Any]]) -> None:
    """One line per measurement: calls, wall time, the loop's largest lag, threads added."""
    if not figures:
        return
    print("\nregstore.aio: concurrent calls on one event loop")
    for label, f in figures.items():
        if "error" in f:
            print(f"  {label}: not measured: {f['error']}")
            continue
        against = (
            f"ideal {_time(f['ideal_seconds'])}"
            if "ideal_seconds" in f
            else f"sync one by one {_time(f['sync_seconds'])}"
        )
        print(
            f"  {label}: {f['calls']} calls in {_time(f['seconds'])} ({against}),"
            f" max loop lag {f['max_lag_ms']:.1f} ms (wall clock {f['max_lag_wall_ms']:.1f} ms),"
            f" +{f['threads_added']} threads (pool of {f['max_threads']})"
        )
