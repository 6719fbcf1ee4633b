"""The cloud drivers under network faults, through the fault-injecting proxy.

``TestFaulty*``: the conformance suite with a share of requests (10% by
default) broken between the driver and its emulator: 500, 503 and 429 with
``Retry-After``, resets before and after the request body, responses lost
after the request took effect, bodies cut midway, slow answers. The SDKs'
retries and the drivers' idempotent resumption must hide every fault, and every
read is compared with what was committed. Requests a plain HTTP client makes
(the suite's fetch of a presigned URL, which has no retries) are spared.

``TestSingleFault*``: one fault of each kind aimed at each of the first three
requests of each operation (put, get, stream, stat, list, walk, writer and
close, resume and commit, move, delete of a folder and of a file); the
operation must succeed with the right answer. A seeded sample by default,
every case in the full run.

``TestUnsurvivable*``: every request fails from some point on. Each operation
must raise the contract's ``DriverError`` with a clear, one-line message, and
once the network heals, committed content is intact and the pending upload
resumes where its last ``close()`` ended.

Environment:

- ``REGSTORE_FAULT_RATE``: the share of faulted requests (default 0.1).
- ``REGSTORE_FAULT_SEED``: the seed of the draws and samples (default random;
  each test reports its seed).
- ``REGSTORE_FAULTS_FULL=1``: the whole conformance suite under faults (the
  default run takes a core set covering every method: the rest proves
  pagination and size, which the fault-free conformance run covers, and would
  add many minutes) and every single-fault case.
- ``REGSTORE_FAULT_CASES``: single-fault cases sampled per backend by default (12).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from faults import figures
from faults.proxy import KINDS, FaultPlan, FaultProxy
from faults.targets import Target, bind, open_target

import regstore
from regstore.testsuite import DriverSuite
from regstore.testsuite.backends import FaultRoute, TestBackend

RATE = float(os.environ.get("REGSTORE_FAULT_RATE", "0.1"))
FULL = os.environ.get("REGSTORE_FAULTS_FULL") == "1"
#: Presigned URLs, fetched by the suite with a plain client that does not retry.
SPARE = r"[?&](X-Amz-Signature|Signature|sig|X-Goog-Signature)="
#: The conformance tests the default run puts under faults: every method, the
#: resumable writer across parts and replicas, concurrent readers of a file
#: being replaced. The rest run under faults with REGSTORE_FAULTS_FULL=1.
CORE = frozenset(
    {
        "test_write_read",
        "test_truncate",
        "test_reader_with_offset",
        "test_reader_is_a_binary_file_object",
        "test_write_read_streams",
        "test_continue_stream_append[32-bytes]",
        "test_resume_from_second_driver",
        "test_pending_upload_does_not_replace_committed_content",
        "test_cancel_discards_the_pending_upload",
        "test_delete_discards_pending_uploads",
        "test_put_content_is_atomic_under_concurrent_readers",
        "test_stat_file_and_directories",
        "test_list",
        "test_move",
        "test_move_overwrite",
        "test_delete_folder",
        "test_delete_only_deletes_subpaths",
        "test_walk_order_and_infos",
        "test_redirect_url",
    }
)


#: Set to 1 to run the cases that fail on known driver defects (issue 8 stays open for them).
RUN_KNOWN_DEFECTS = os.environ.get("REGSTORE_KNOWN_DEFECTS") == "1"


def known_defect(reason: str) -> pytest.MarkDecorator:
    """Keep a case whose failure is a known, reported driver defect out of the default run."""
    return pytest.mark.skipif(
        not RUN_KNOWN_DEFECTS,
        reason=f"known driver defect, not yet fixed: {reason} (REGSTORE_KNOWN_DEFECTS=1 runs it)",
    )


def _route(target: Target) -> FaultRoute:
    """How the target's backend declares its traffic goes through the proxy."""
    route = target.declared.faults
    if route is None:
        raise ValueError(f"{target.label} declares no network to put faults on")
    return route


def _networked(backend: TestBackend) -> bool:
    return backend.faults is not None


def _seed() -> int:
    given = os.environ.get("REGSTORE_FAULT_SEED")
    return int(given) if given else random.randrange(1 << 30)


def _proxy(target: Target, plan: FaultPlan) -> FaultProxy:
    route = _route(target)
    return FaultProxy(
        target.endpoint,
        plan,
        dialect=route.dialect,
        host=route.host,
        rewrite_json=route.rewrite_json,
    )


class FaultySuite(DriverSuite):
    """The conformance suite, its drivers talking to the emulator through the proxy."""

    label: ClassVar[str]

    @staticmethod
    def collected(item: pytest.Function) -> bool:
        """Whether the default run keeps this case (conftest deselects the rest, not skips)."""
        return FULL or bool({item.originalname, item.name} & CORE)

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    @pytest.fixture
    def proxy(self, request: pytest.FixtureRequest, target: Target) -> Iterator[FaultProxy]:
        seed = _seed()
        plan = FaultPlan(rate=RATE, seed=seed, spare=SPARE, retry_after=1, slow_seconds=0.2)
        with _proxy(target, plan) as running:
            yield running
            stats = running.stats()
            figures.record(request, "faults", target=self.label, seed=seed, **stats.as_dict())
            summary = f"REGSTORE_FAULT_SEED={seed}: {stats.as_dict()}"
            request.node.add_report_section("teardown", "fault proxy", summary)

    def _driver(self, target: Target, proxy: FaultProxy) -> regstore.StorageDriver:
        return target.via(proxy.url).create(**_route(target).tuning)

    @pytest.fixture
    def driver(self, target: Target, proxy: FaultProxy) -> Iterator[regstore.StorageDriver]:
        with self._driver(target, proxy) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, target: Target, proxy: FaultProxy) -> Iterator[regstore.StorageDriver]:
        with self._driver(target, proxy) as driver:
            yield driver

    @pytest.fixture
    def leftovers(self, target: Target) -> Callable[[], list[str]]:
        return target.leftovers


# The conformance tests a backend declares it cannot run skip here as they do there.
FAULTY = bind(
    FaultySuite,
    "TestFaulty",
    globals(),
    _networked,
    attributes=lambda backend: {"unsupported": dict(backend.unsupported)},
)


def _clear(error: BaseException) -> bool:
    text = str(error)
    return "\n" not in text and "<?xml" not in text and len(text) < 600


class UnsurvivableTests:
    """Every request fails from some point on: DriverError, and nothing is lost once healed."""

    label: ClassVar[str]

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    def test_every_request_failing_is_a_clear_driver_error_and_loses_nothing(
        self, request: pytest.FixtureRequest, target: Target
    ) -> None:
        # Give up soon: every call of the outage fails, each after the driver's retries.
        route = _route(target)
        tuning = {**route.tuning, **route.give_up_soon}
        old, first, second = b"committed" * 1000, os.urandom(target.part_size + 1000), b"rest"
        with _proxy(target, FaultPlan()) as proxy:
            driver = target.via(proxy.url).create(**tuning)
            driver.put_content("/f/blob", old)
            writer = driver.writer("/f/upload")
            writer.write(first)
            writer.close()

            proxy.plan = FaultPlan(every="503", retry_after=0)

            def append() -> None:
                resumed = driver.writer("/f/upload", append=True)
                resumed.write(second)
                resumed.close()

            # A read, a write to the pending upload, and a delete that must not happen.
            calls: dict[str, Callable[[], object]] = {
                "get_content": lambda: driver.get_content("/f/blob"),
                "append and close": append,
                "delete": lambda: driver.delete("/f/upload"),
            }
            unclear = []
            for name, call in calls.items():
                with pytest.raises(regstore.DriverError) as caught:
                    call()
                if not _clear(caught.value):
                    unclear.append(f"{name}: {caught.value}")
            failed = proxy.stats().faulted
            assert not unclear, "unclear errors:\n" + "\n".join(unclear)

            proxy.plan = FaultPlan()
            assert driver.get_content("/f/blob") == old
            resumed = driver.writer("/f/upload", append=True)
            assert resumed.size == len(first), "the closed upload did not survive the outage"
            resumed.write(second)
            resumed.commit()
            resumed.close()
            assert driver.get_content("/f/upload") == first + second
            driver.delete("/f")
            driver.close()
        assert target.leftovers() == []
        figures.record(request, "unsurvivable", target=self.label, requests_failed=failed)


UNSURVIVABLE = bind(UnsurvivableTests, "TestUnsurvivable", globals(), _networked)


CASES = int(os.environ.get("REGSTORE_FAULT_CASES", "12"))
#: Requests of an operation a single fault is aimed at, in the full run.
POSITIONS = 3


def _operations(
    driver: regstore.StorageDriver, data: bytes
) -> dict[str, tuple[Callable[[], object], Callable[[], None]]]:
    """Each operation: a preparation (run without faults) and the call under one fault.

    The call checks its own answer, so a fault that changes a result fails it.
    """
    half = len(data) // 2

    def get() -> None:
        assert driver.get_content("/s/base") == data

    def stream() -> None:
        with driver.reader("/s/base", 10) as reader:
            assert reader.read() == data[10:]

    def stat() -> None:
        assert driver.stat("/s/base").size == len(data)

    def listing() -> None:
        assert driver.list("/s") == ["/s/base"]

    def walk() -> None:
        assert [info.path for info in driver.walk("/s")] == ["/s/base"]

    def write_close() -> None:
        writer = driver.writer("/u/new")
        writer.write(data)
        writer.close()
        assert writer.size == len(data)

    def prepare_append() -> None:
        writer = driver.writer("/u/part")
        writer.write(data[:half])
        writer.close()

    def append_commit() -> None:
        writer = driver.writer("/u/part", append=True)
        assert writer.size == half
        writer.write(data[half:])
        writer.commit()
        writer.close()

    def check_move() -> None:
        driver.move("/m/src", "/m/dst")
        assert driver.get_content("/m/dst") == b"moved"

    return {
        "put_content": (lambda: None, lambda: driver.put_content("/p/file", data)),
        "get_content": (lambda: None, get),
        "reader": (lambda: None, stream),
        "stat": (lambda: None, stat),
        "list": (lambda: None, listing),
        "walk": (lambda: None, walk),
        "writer + close": (lambda: None, write_close),
        "append + commit": (prepare_append, append_commit),
        "move": (lambda: driver.put_content("/m/src", b"moved"), check_move),
        "delete folder": (lambda: driver.put_content("/d/file", b"x"), lambda: driver.delete("/d")),
        "delete file": (
            lambda: driver.put_content("/d/file", b"x"),
            lambda: driver.delete("/d/file"),
        ),
    }


class SingleFaultTests:
    """One fault of each kind aimed at each of the first requests of each operation."""

    label: ClassVar[str]

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    def test_one_fault_anywhere_is_survived(
        self, request: pytest.FixtureRequest, target: Target
    ) -> None:
        seed = _seed()
        route = _route(target)
        data = random.Random(seed).randbytes(target.part_size + 1000)
        with _proxy(target, FaultPlan()) as proxy:
            driver = target.via(proxy.url).create(**route.tuning)
            operations = _operations(driver, data)
            cases = [
                (name, kind, position)
                for name in operations
                for kind in KINDS
                for position in range(POSITIONS)
            ]
            if not FULL:
                cases = sorted(random.Random(seed).sample(cases, min(CASES, len(cases))))
            failures: list[str] = []
            tried = 0
            for name, kind, position in cases:
                prepare, call = operations[name]
                driver.put_content("/s/base", data)
                prepare()
                proxy.plan = FaultPlan(every=kind, after=position, limit=1, slow_seconds=0.2)
                try:
                    call()
                except Exception as error:
                    failures.append(f"{name}, {kind} at request {position}: {error!r}"[:400])
                fired = proxy.stats().faulted
                proxy.reset_stats()
                proxy.plan = FaultPlan()
                tried += fired
                for top in ("/s", "/p", "/u", "/m", "/d"):  # pending uploads too
                    with contextlib.suppress(regstore.PathNotFoundError):
                        driver.delete(top)
            driver.close()
        figures.record(
            request, "single-faults", target=self.label, seed=seed, cases=len(cases),
            faults=tried, failed=len(failures),
        )  # fmt: skip
        assert not failures, f"{len(failures)} single faults not survived (seed {seed}):\n" + (
            "\n".join(failures)
        )
        assert target.leftovers() == []


SINGLE_FAULT = bind(SingleFaultTests, "TestSingleFault", globals(), _networked)
