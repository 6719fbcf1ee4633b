"""regstore.aio: the async face of a driver behaves as the sync driver does, awaited."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest

import regstore
import regstore.aio
from regstore.aio import AsyncDriver
from regstore.driver import FileInfo, Prune
from regstore.drivers.inmemory import InMemoryDriver
from regstore.errors import (
    DriverError,
    InvalidOffsetError,
    InvalidParameterError,
    InvalidPathError,
    PathNotFoundError,
    WriterClosedError,
)

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture(params=["inmemory", "filesystem"])
def parameters(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    if request.param == "filesystem":
        return "filesystem", {"rootdirectory": str(tmp_path / "root")}
    return "inmemory", {}


def test_content_and_namespace_round_trip(parameters: tuple[str, dict[str, str]]) -> None:
    async def scenario() -> None:
        async with await regstore.aio.create(*parameters) as driver:
            await driver.put_content("/a/b/c", b"hello")
            await driver.put_content("/a/d", bytearray(b"x" * 10))
            assert await driver.get_content("/a/b/c") == b"hello"
            info = await driver.stat("/a/d")
            assert (info.size, info.is_dir) == (10, False)
            assert (await driver.stat("/a/b")).is_dir
            assert await driver.list("/a") == ["/a/b", "/a/d"]
            await driver.move("/a/d", "/a/e")
            assert await driver.list("/a") == ["/a/b", "/a/e"]
            assert await driver.redirect_url("/a/e") is None
            await driver.delete("/a")
            assert await driver.list("/") == []

    run(scenario())


def test_errors_are_the_sync_api_errors() -> None:
    async def scenario() -> None:
        async with await regstore.aio.create("inmemory") as driver:
            with pytest.raises(PathNotFoundError) as missing:
                await driver.get_content("/missing")
            assert str(missing.value).startswith("inmemory: ")
            with pytest.raises(InvalidPathError):
                await driver.put_content("relative", b"")
            with pytest.raises(InvalidOffsetError):
                await driver.reader("/missing", -1)
            with pytest.raises(PathNotFoundError):
                await driver.reader("/missing", 5)
            with pytest.raises(InvalidPathError):
                async for _ in driver.walk("no-slash"):
                    pass
            with pytest.raises(PathNotFoundError):
                async for _ in driver.walk("/missing"):
                    pass
            with pytest.raises(InvalidParameterError):
                await driver.purge_uploads(datetime(2020, 1, 1))

    run(scenario())


def test_reader_reads_chunks_from_an_offset(parameters: tuple[str, dict[str, str]]) -> None:
    content = bytes(range(256)) * 1000

    async def scenario() -> None:
        async with await regstore.aio.create(*parameters) as driver:
            await driver.put_content("/blob", content)
            async with driver.reader("/blob", 100) as stream:
                assert await stream.read(10) == content[100:110]
                buffer = bytearray(20)
                assert await stream.readinto(buffer) == 20
                assert bytes(buffer) == content[110:130]
                pieces = [piece async for piece in stream.chunks(4096)]
                assert all(len(piece) <= 4096 for piece in pieces)
                assert b"".join(pieces) == content[130:]
                assert await stream.read(10) == b""
            assert stream.closed
            past_end = await driver.reader("/blob", len(content) + 5)
            assert await past_end.read() == b""
            await past_end.close()

    run(scenario())


def test_writer_resumes_commits_and_refuses_use_after_commit(
    parameters: tuple[str, dict[str, str]],
) -> None:
    async def scenario() -> None:
        async with await regstore.aio.create(*parameters) as driver:
            async with driver.writer("/up/load") as first:
                assert await first.write(b"abc") == 3
                assert await first.write(memoryview(b"defg")) == 4
                assert first.size == 7
            assert first.closed
            with pytest.raises(PathNotFoundError):  # invisible until commit
                await driver.stat("/up/load")
            uploads = [u async for u in driver.pending_uploads("/up")]
            assert [(u.path, u.size) for u in uploads] == [("/up/load", 7)]
            second = await driver.writer("/up/load", append=True)
            assert second.size == 7
            await second.write(b"h")
            await second.commit()
            await second.close()
            assert await driver.get_content("/up/load") == b"abcdefgh"
            with pytest.raises(WriterClosedError):
                await second.write(b"more")
            cancelled = await driver.writer("/up/other")
            await cancelled.write(b"gone")
            await cancelled.cancel()
            assert [u async for u in driver.pending_uploads("/")] == []
            await driver.delete("/up")

    run(scenario())


def test_purge_uploads_discards_old_pending_uploads() -> None:
    async def scenario() -> None:
        async with await regstore.aio.create("inmemory") as driver:
            async with driver.writer("/u/a") as writer:
                await writer.write(b"x")
            later = datetime.now(timezone.utc) + timedelta(seconds=1)
            assert await driver.purge_uploads(later, "/u") == ["/u/a"]
            assert [u async for u in driver.pending_uploads()] == []

    run(scenario())


class _RecordingWalk(InMemoryDriver):
    """An inmemory driver whose walk records, per entry produced, the thread it ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.produced: list[str] = []

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        for info in super().walk(path, start_after=start_after, prune=prune):
            self.produced.append(threading.current_thread().name)
            yield info


def test_walk_fetches_in_batches_on_pool_threads_and_frees_them_between() -> None:
    sync = _RecordingWalk()
    for i in range(10):
        sync.put_content(f"/tree/f{i:02d}", b"x")

    async def scenario() -> None:
        async with AsyncDriver(sync, max_threads=1, batch_size=4) as driver:
            walk = driver.walk("/tree")
            first = await walk.__anext__()
            assert first.path == "/tree/f00"
            assert len(sync.produced) == 4  # one batch, and no more
            assert all(name.startswith("regstore-aio") for name in sync.produced)
            # The one pool thread is free while the walk waits for its consumer.
            assert await asyncio.wait_for(driver.get_content("/tree/f09"), 30) == b"x"
            rest = [info.path async for info in walk]
            assert rest == [f"/tree/f{i:02d}" for i in range(1, 10)]
            assert len(sync.produced) == 10

    run(scenario())


def test_walk_stopped_early_releases_the_listing() -> None:
    async def scenario() -> None:
        async with await regstore.aio.create("inmemory", batch_size=2) as driver:
            for i in range(5):
                await driver.put_content(f"/t/f{i}", b"")
            async with driver.walk("/t") as walk:
                async for info in walk:
                    assert info.path == "/t/f0"
                    break
            assert [info.path async for info in walk] == []
            await driver.delete("/t")

    run(scenario())


def test_from_config_builds_the_configured_driver(tmp_path: Path) -> None:
    config = {"storage": {"filesystem": {"rootdirectory": str(tmp_path), "maxthreads": 25}}}

    async def scenario() -> None:
        async with await regstore.aio.from_config(config) as driver:
            assert driver.name == "filesystem"
            assert driver.max_threads == min(25, regstore.aio.DEFAULT_MAX_THREADS)
            await driver.put_content("/x", b"1")
        assert (tmp_path / "x").read_bytes() == b"1"

    run(scenario())


def test_max_threads_follows_a_lower_driver_limit_and_is_checked() -> None:
    driver = regstore.create("inmemory")
    driver.inner.concurrency_limit = 3  # type: ignore[attr-defined]
    assert AsyncDriver(driver).max_threads == 3
    assert AsyncDriver(driver, max_threads=40).max_threads == 40
    with pytest.raises(InvalidParameterError, match="max_threads"):
        AsyncDriver(driver, max_threads=0)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        AsyncDriver(driver, batch_size=0)
    with pytest.raises(TypeError, match="StorageDriver"):
        AsyncDriver("inmemory")  # type: ignore[arg-type]


def test_a_closed_async_driver_says_so() -> None:
    async def scenario() -> None:
        driver = await regstore.aio.create("inmemory")
        await driver.aclose()
        await driver.aclose()  # idempotent
        with pytest.raises(DriverError, match="closed"):
            await driver.get_content("/a")

    run(scenario())


class _HeldDriver(InMemoryDriver):
    """An inmemory driver whose put_content of ``/held`` waits until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        if path == "/held":
            self.entered.set()
            self.release.wait(60)
        super().put_content(path, content)


def test_a_call_cancelled_before_a_thread_took_it_never_runs() -> None:
    sync = _HeldDriver()

    async def scenario() -> None:
        async with AsyncDriver(sync, max_threads=1) as driver:
            first = asyncio.create_task(driver.put_content("/held", b"1"))
            await asyncio.to_thread(sync.entered.wait, 60)  # the one thread is busy
            second = asyncio.create_task(driver.put_content("/second", b"2"))
            await asyncio.sleep(0)  # the second call is queued behind the first
            second.cancel()
            sync.release.set()
            await first
            with pytest.raises(asyncio.CancelledError):
                await second
            assert await driver.list("/") == ["/held"]

    run(scenario())
