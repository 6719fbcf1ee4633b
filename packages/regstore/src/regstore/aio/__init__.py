"""regstore.aio: an asyncio face of every driver, for async servers and tools.

::

    import regstore.aio

    async with await regstore.aio.create("s3", {"bucket": "b"}) as driver:
        await driver.put_content("/a/b", b"data")
        async with driver.reader("/a/b") as stream:
            while chunk := await stream.read(1 << 20):
                ...
        async for info in driver.walk("/"):
            ...

The drivers and their SDKs block, so calls run on a bounded pool of threads
(``max_threads``, default ``DEFAULT_MAX_THREADS``) and the event loop never
waits on a backend. Errors are those of the sync API.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from typing import Any

from ..driver import StorageDriver
from ._pool import DEFAULT_MAX_THREADS
from .driver import AsyncDriver, default_max_threads
from .iterators import DEFAULT_BATCH_SIZE, BatchIterator
from .streams import DEFAULT_CHUNK_SIZE, AsyncReader, AsyncWriter, Opening

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_THREADS",
    "AsyncDriver",
    "AsyncReader",
    "AsyncWriter",
    "BatchIterator",
    "Opening",
    "create",
    "default_max_threads",
    "from_config",
]


async def _build(
    build: Callable[[], StorageDriver], max_threads: int | None, batch_size: int
) -> AsyncDriver:
    """Build a driver off the loop (SDK clients may read files or the network) and wrap it."""
    driver = await asyncio.to_thread(build)
    try:
        return AsyncDriver(driver, max_threads=max_threads, batch_size=batch_size)
    except BaseException:
        await asyncio.to_thread(driver.close)
        raise


async def create(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    max_threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> AsyncDriver:
    """``regstore.create(name, parameters)`` as an ``AsyncDriver``, built off the event loop."""
    from ..factory import create as create_sync

    return await _build(lambda: create_sync(name, parameters), max_threads, batch_size)


async def from_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    max_threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> AsyncDriver:
    """``regstore.from_config(source, environ)`` as an ``AsyncDriver``, built off the loop."""
    from ..config import from_config as from_config_sync

    return await _build(lambda: from_config_sync(source, environ), max_threads, batch_size)
