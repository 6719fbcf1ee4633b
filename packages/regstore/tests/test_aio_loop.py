"""regstore.aio keeps the event loop free and the thread count bounded under load.

500 concurrent calls against a backend that takes 50 ms per call: a ticker
task sees the loop answer within 50 ms nearly throughout, and the process
never has more threads than before plus the pool's bound. The lag leaves out
the time the kernel kept the loop's thread waiting for a CPU (``LoopWatch``),
which on a shared 2-core machine can exceed 50 ms whatever the loop does; a
loop that waits on a call is never waiting for a CPU, so it still fails here.

The calls hold the backend 25 s in all. A loop that waited on even one call
in twenty would stall for over 1.2 s in ticks of 50 ms or more, so that is
the bound; a single pause of a few hundred ms that is not the loop's doing
(the test process's own garbage collection, a page brought back from disk)
stays under it.
"""

from __future__ import annotations

import asyncio
import threading

import regstore
from regstore import CheckedDriver
from regstore.aio import AsyncDriver
from regstore.aio.testing import DelayedDriver, LoopWatch

CALLS = 500
DELAY = 0.05
MAX_LAG = 0.05
#: The most the loop may spend in lags of ``MAX_LAG`` or more, all together.
MAX_STALLED = 1.0


async def _load(driver: AsyncDriver, i: int) -> None:
    kind = i % 4
    if kind == 0:
        assert await driver.get_content(f"/data/f{i % 20:02d}") == b"x" * 100
    elif kind == 1:
        assert (await driver.stat(f"/data/f{i % 20:02d}")).size == 100
    elif kind == 2:
        async with driver.reader(f"/data/f{i % 20:02d}") as stream:
            assert await stream.read(10) == b"x" * 10
    else:
        assert len([info async for info in driver.walk("/data")]) == 20


def test_500_concurrent_calls_on_a_slow_backend_leave_the_loop_free() -> None:
    inner = regstore.create("inmemory")
    for n in range(20):
        inner.put_content(f"/data/f{n:02d}", b"x" * 100)
    slow = CheckedDriver(DelayedDriver(inner, DELAY))

    async def scenario() -> tuple[LoopWatch, int, int]:
        baseline = threading.active_count()
        async with LoopWatch() as watch, AsyncDriver(slow) as driver:
            await asyncio.gather(*(_load(driver, i) for i in range(CALLS)))
            bound = driver.max_threads
        return watch, baseline, bound

    watch, baseline, bound = asyncio.run(scenario())
    # 500 calls of 50 ms on 16 threads take over 1.5 s: the ticker ran all along.
    assert watch.ticks > 100
    stalls = watch.stalls(MAX_LAG)
    assert sum(stalls) < MAX_STALLED, (
        f"the event loop stalled {len(stalls)} times of {watch.ticks} ticks, for"
        f" {sum(stalls):.2f} s in all (the worst {watch.max_lag * 1000:.1f} ms)"
    )
    assert watch.max_threads <= baseline + bound, (
        f"{watch.max_threads} threads at once: more than {baseline} + a pool of {bound}"
    )
