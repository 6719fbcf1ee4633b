"""Load: 32 threads of mixed operations on one driver instance, then invariants.

Each thread owns a few paths and keeps a model of what it committed there; it
puts, gets, streams, stats, lists, walks, moves, deletes and runs resumable
uploads (committed or cancelled), checking every answer against its model.
All threads also replace and read a few shared files whose content carries its
own SHA-256, so a torn read (a mix of versions, or a truncated one, also in a
stream that spans several backend requests) is caught without knowing which
version won.

Afterwards: no thread saw an error or a wrong answer; every committed file
holds what its model says; the store shows nothing else (no pending upload
made visible, no lost file); the backend keeps no pending upload or temp file;
and one ``delete`` empties it.

Environment:

- ``REGSTORE_LOAD_SECONDS``: seconds of load per driver (default 3).
- ``REGSTORE_SOAK_SECONDS``: a longer soak; overrides the above when set.
- ``REGSTORE_LOAD_THREADS``: threads (default 32).
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from faults import figures
from faults.targets import Target, bind, open_target

import regstore

SECONDS = float(
    os.environ.get("REGSTORE_SOAK_SECONDS") or os.environ.get("REGSTORE_LOAD_SECONDS") or "3"
)
THREADS = int(os.environ.get("REGSTORE_LOAD_THREADS", "32"))
BASE = "/load"
SHARED = [f"{BASE}/shared/s{index}" for index in range(4)]
#: Each thread's own files (no name is a folder of another file's path: that is undefined).
NAMES = ["a", "b", "d1/c", "d1/d2/e", "d3/f", "up/data"]
DIGEST = 32


def sealed(rng: random.Random, size: int) -> bytes:
    """Random bytes followed by their SHA-256: checkable without knowing the version."""
    body = rng.randbytes(size)
    return body + hashlib.sha256(body).digest()


def intact(data: bytes) -> bool:
    return len(data) >= DIGEST and hashlib.sha256(data[:-DIGEST]).digest() == data[-DIGEST:]


def expected_walk(files: dict[str, bytes], below: str) -> list[tuple[str, bool, int]]:
    """The walk a correct driver gives for ``files`` below ``below``: (path, is_dir, size)."""
    entries: dict[str, tuple[str, bool, int]] = {}
    for path, data in files.items():
        if not path.startswith(below + "/"):
            continue
        entries[path] = (path, False, len(data))
        current = below
        for part in path[len(below) + 1 :].split("/")[:-1]:
            current = f"{current}/{part}"
            entries[current] = (current, True, 0)
    return sorted(entries.values(), key=lambda entry: entry[0] + "/" if entry[1] else entry[0])


#: Set to 1 to run the cases that fail on known driver defects (issue 8 stays open for them).
RUN_KNOWN_DEFECTS = os.environ.get("REGSTORE_KNOWN_DEFECTS") == "1"


def known_defect(reason: str) -> pytest.MarkDecorator:
    """Keep a case whose failure is a known, reported driver defect out of the default run."""
    return pytest.mark.skipif(
        not RUN_KNOWN_DEFECTS,
        reason=f"known driver defect, not yet fixed: {reason} (REGSTORE_KNOWN_DEFECTS=1 runs it)",
    )


class Worker:
    """One thread's operations on its own paths and on the shared ones."""

    def __init__(
        self,
        driver: regstore.StorageDriver,
        index: int,
        seed: int,
        large: int,
        torn_streams: bool = False,
    ) -> None:
        self.driver = driver
        self.torn_streams = torn_streams
        self.root = f"{BASE}/t{index:02d}"
        self.rng = random.Random(seed * 1000 + index)
        self.large = large
        self.model: dict[str, bytes] = {}
        self.counts: Counter[str] = Counter()
        self.failures: list[str] = []
        self.operations: list[Callable[[], None]] = [
            self.put, self.put, self.get, self.stream, self.stat, self.list, self.walk,
            self.move, self.delete, self.upload, self.upload, self.put_shared, self.get_shared,
            self.stream_shared,
        ]  # fmt: skip

    def path(self) -> str:
        return f"{self.root}/{self.rng.choice(NAMES)}"

    def content(self) -> bytes:
        return self.rng.randbytes(self.rng.choice([0, 1, 100, 5000, 70_000]))

    def run(self, deadline: float) -> None:
        while time.monotonic() < deadline and len(self.failures) < 3:
            operation = self.rng.choice(self.operations)
            try:
                operation()
            except AssertionError as failure:
                self.failures.append(f"{self.root} {operation.__name__}: {failure}")
            except Exception as error:
                self.failures.append(f"{self.root} {operation.__name__}: {error!r}")
            self.counts[operation.__name__] += 1

    # -- own paths: answers must match the model exactly --------------------------

    def put(self) -> None:
        path, data = self.path(), self.content()
        self.driver.put_content(path, data)
        self.model[path] = data

    def get(self) -> None:
        path = self.path()
        if path in self.model:
            assert self.driver.get_content(path) == self.model[path], f"get_content({path})"
        else:
            try:
                self.driver.get_content(path)
            except regstore.PathNotFoundError:
                return
            raise AssertionError(f"get_content({path}) found a file that was never committed")

    def stream(self) -> None:
        if not self.model:
            return
        path = self.rng.choice(sorted(self.model))
        data = self.model[path]
        offset = self.rng.randrange(len(data) + 2)
        with self.driver.reader(path, offset) as stream:
            got = b"".join(iter(lambda: stream.read(16_384), b""))
        assert got == data[offset:], f"reader({path}, {offset})"

    def stat(self) -> None:
        path = self.path()
        if path in self.model:
            info = self.driver.stat(path)
            assert (info.size, info.is_dir) == (len(self.model[path]), False), f"stat({path})"

    def list(self) -> None:
        directory = self.rng.choice([self.root, f"{self.root}/d1"])
        below = [p[len(directory) + 1 :] for p in self.model if p.startswith(directory + "/")]
        children = sorted({f"{directory}/{rest.split('/')[0]}" for rest in below})
        try:
            listed = self.driver.list(directory)
        except regstore.PathNotFoundError:
            listed = []
        assert listed == children, f"list({directory})"

    def walk(self) -> None:
        try:
            walked = [
                (i.path, i.is_dir, 0 if i.is_dir else i.size) for i in self.driver.walk(self.root)
            ]
        except regstore.PathNotFoundError:
            walked = []
        assert walked == expected_walk(self.model, self.root), f"walk({self.root})"

    def move(self) -> None:
        source, dest = self.path(), self.path()
        if source not in self.model or source == dest:
            return
        self.driver.move(source, dest)
        self.model[dest] = self.model.pop(source)

    def delete(self) -> None:
        target = self.rng.choice([self.path(), f"{self.root}/d1", f"{self.root}/up"])
        gone = [p for p in self.model if p == target or p.startswith(target + "/")]
        try:
            self.driver.delete(target)
        except regstore.PathNotFoundError:
            assert not gone, f"delete({target}) found nothing, though {gone} were committed"
        for path in gone:
            del self.model[path]

    def upload(self) -> None:
        path = f"{self.root}/up/data"
        first, second = self.content(), self.content()
        writer = self.driver.writer(path)
        writer.write(first)
        writer.close()
        writer = self.driver.writer(path, append=True)
        assert writer.size == len(first), f"resumed {path} at {writer.size}, not {len(first)}"
        writer.write(second)
        if self.rng.random() < 0.3:
            writer.cancel()
        else:
            writer.commit()
            self.model[path] = first + second
        writer.close()

    # -- shared paths: any whole version will do -------------------------------------

    def put_shared(self) -> None:
        size = self.large if self.rng.random() < 0.1 else self.rng.randrange(20_000)
        self.driver.put_content(self.rng.choice(SHARED), sealed(self.rng, size))

    def get_shared(self) -> None:
        path = self.rng.choice(SHARED)
        try:
            data = self.driver.get_content(path)
        except regstore.PathNotFoundError:
            return
        assert intact(data), f"get_content({path}) returned a torn version ({len(data)} bytes)"

    def stream_shared(self) -> None:
        path = self.rng.choice(SHARED)
        try:
            with self.driver.reader(path) as stream:
                data = b"".join(iter(lambda: stream.read(65_536), b""))
        except regstore.PathNotFoundError:
            return
        except regstore.DriverError:
            # Replaced while a multi-request stream read it: an error, never a mix, is fine.
            self.counts["stream_shared_refused"] += 1
            return
        if self.torn_streams:
            return
        assert intact(data), f"a reader of {path} returned a torn version ({len(data)} bytes)"


class LoadTests:
    """The load run against one target (a class per target spreads them over workers)."""

    label: ClassVar[str]
    #: Why a stream of a file replaced mid-read cannot be checked here (None: it is).
    torn_streams: ClassVar[str | None] = None

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    def test_32_threads_of_mixed_operations(
        self, request: pytest.FixtureRequest, target: Target
    ) -> None:
        seed = random.randrange(1 << 30)
        driver = target.create()
        # Large enough that a stream of a shared file spans several backend reads.
        large = max(1 << 20, target.part_size) + 12_345
        torn = self.torn_streams is not None
        workers = [Worker(driver, index, seed, large, torn) for index in range(THREADS)]
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=w.run, args=(deadline,)) for w in workers]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            failures = [failure for worker in workers for failure in worker.failures]
            assert not failures, (
                f"{len(failures)} failures under load (seed {seed}): {failures[:5]}"
            )
            self.check_afterwards(driver, target, workers)
        finally:
            counts: Counter[str] = Counter()
            for worker in workers:
                counts.update(worker.counts)
            figures.record(
                request, "load", target=self.label, threads=THREADS, seconds=SECONDS,
                operations=sum(counts.values()), by_operation=dict(counts),
            )  # fmt: skip
            driver.close()

    def check_afterwards(
        self, driver: regstore.StorageDriver, target: Target, workers: list[Worker]
    ) -> None:
        committed: dict[str, bytes] = {}
        for worker in workers:
            committed.update(worker.model)
            for path, data in worker.model.items():
                assert driver.get_content(path) == data, f"{path} lost what was committed"
        for path in SHARED:
            try:
                assert intact(driver.get_content(path)), f"{path} holds a torn version"
            except regstore.PathNotFoundError:
                continue
            committed[path] = b"?"
        try:
            files = {info.path for info in driver.walk(BASE) if not info.is_dir}
        except regstore.PathNotFoundError:
            files = set()
        assert files == set(committed), (
            f"the store shows {sorted(files - set(committed))[:5]} that nobody committed and"
            f" lacks {sorted(set(committed) - files)[:5]}"
        )
        assert target.leftovers() == [], "pending uploads or temp files were left behind"
        if files:
            driver.delete(BASE)
        assert list(driver.walk("/")) == []
        assert target.leftovers() == []


LOAD = bind(
    LoadTests,
    "TestLoad",
    globals(),
    attributes=lambda backend: {"torn_streams": backend.quirks.get("torn_streams")},
)
