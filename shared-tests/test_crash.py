"""Crash tests: a writer process killed with SIGKILL at random points never loses committed data.

Two scenarios, each round in a fresh child process killed at a random moment
of its work (for uploads: a random step, then a random moment within it, as
long as that step took in whole runs measured first):

- a resumable upload over committed old content (one writer per chunk, each
  closed, then a commit): afterwards the path holds the old content or the new,
  never a mix; a new process resumes the upload exactly where a ``close()``
  ended (the last one reported, or one that finished just before the kill),
  and finishing it gives exactly the new content;
- a new writer streaming several parts and committing without a close (a
  registry's blob upload): afterwards the path holds the old content or the
  new, and ``purge_uploads`` leaves nothing of the killed upload behind, even
  one killed before it could record its multipart upload;
- ``put_content`` of alternating versions: afterwards the path holds one
  whole version.

After every round nothing but the path is visible; at the end a ``delete``
leaves no pending upload or temp file behind. On the filesystem, the temp
files killed ``put_content`` calls leave go with a listing of their folder
once they are stale.

Environment (defaults sized for CI):

- ``REGSTORE_CRASH_ROUNDS``: kills per filesystem test (default 100).
- ``REGSTORE_CRASH_ROUNDS_CLOUD``: kills per cloud target (default 20).
- ``REGSTORE_CRASH_SEED``: seed of the kill points and contents (default random;
  a failure prints it).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from faults import crash_worker, figures
from faults.crashing import Crasher, Outcome
from faults.targets import Target, bind, filesystem_target, open_target

import regstore
from regstore.drivers.filesystem import STALE_AFTER

FS_ROUNDS = int(os.environ.get("REGSTORE_CRASH_ROUNDS", "100"))
CLOUD_ROUNDS = int(os.environ.get("REGSTORE_CRASH_ROUNDS_CLOUD", "20"))
#: Share of the kills spent on uploads; the rest on put_content.
UPLOAD_SHARE = 0.6
#: Kills of streaming writers, as a share of a target's rounds (on top of the above).
STREAM_SHARE = 0.25
#: Driver families whose ``purge_uploads`` leaves what a writer that never closed
#: staged, and why; ``delete`` of the path still removes it.
PURGE_KEEPS_UNCLOSED = {
    "azure": "blocks staged by a writer that never closed are no pending upload (its"
    " staging blob has no committed block list); Azure drops them after 7 days",
}


@pytest.fixture(scope="module")
def crasher() -> Crasher:
    return Crasher()


@pytest.fixture
def seed() -> int:
    given = os.environ.get("REGSTORE_CRASH_SEED")
    return int(given) if given else random.randrange(1 << 30)


def _rounds(target: Target) -> int:
    return FS_ROUNDS if target.declared.local else CLOUD_ROUNDS


class UploadCrashes:
    """The resumable-upload scenario: rounds, their checks, and their figures."""

    def __init__(self, target: Target, crasher: Crasher, rng: random.Random) -> None:
        self.target = target
        self.crasher = crasher
        self.rng = rng
        self.driver = target.create()
        self.base = f"/crash-{rng.randrange(1 << 32):08x}"
        self.path = f"{self.base}/_uploads/blob/data"
        self.figures = {"kills": 0, "finished_first": 0, "old": 0, "new": 0, "resumed": 0}
        self.figures["commit_landed_after_kill"] = 0

    def task(self) -> dict[str, Any]:
        part = self.target.part_size
        size = part + 1 + self.rng.randrange(part)  # one full part or more, and a tail
        inner = sorted(self.rng.sample(range(1, size), 4))
        return {
            "scenario": "upload",
            "path": self.path,
            "seed": self.rng.randrange(1 << 30),
            "size": size,
            "bounds": [0, *inner, size],
            "largest_write": max(1, part // 3),
        }

    def calibrate(self, runs: int = 3) -> list[float]:
        """Whole unkilled runs: they must succeed, and say how long each step takes.

        A step is the time from one report to the next (from ready to the first
        close, between closes, and the commit); the median over the runs.
        """
        steps: list[list[float]] = []
        for _ in range(runs):
            task = self.task()
            self.driver.put_content(self.path, b"old")
            outcome = self.crasher.run(self.target.spec(), task, None)
            assert outcome.said("committed")
            new = crash_worker.content(task["seed"], task["size"])
            assert self.driver.get_content(self.path) == new
            self.driver.delete(self.path)
            marks = [0.0, *outcome.times[: len(task["bounds"])]]
            steps.append([later - earlier for earlier, later in itertools.pairwise(marks)])
        return [sorted(column)[len(column) // 2] for column in zip(*steps, strict=True)]

    def round(self, steps: list[float]) -> Outcome:
        """Kill the child at a random moment of a random step of the upload."""
        step = self.rng.randrange(len(steps))
        kill_after = self.rng.uniform(0, steps[step])
        task = self.task()
        old = crash_worker.content(task["seed"] + 1, self.rng.randrange(1, 4096))
        new = crash_worker.content(task["seed"], task["size"])
        self.driver.put_content(self.path, old)
        outcome = self.crasher.run(self.target.spec(), task, kill_after, after_messages=step)
        self.check(outcome, task, old, new)
        self.driver.delete(self.path)  # the committed file and any pending upload
        return outcome

    def check(self, outcome: Outcome, task: dict[str, Any], old: bytes, new: bytes) -> None:
        if not outcome.killed:
            self.figures["finished_first"] += 1
        else:
            self.figures["kills"] += 1
        stored = self.driver.get_content(self.path)
        assert stored in (old, new), (
            f"after a kill the path holds {len(stored)} bytes: neither the old content"
            f" ({len(old)} bytes) nor the new ({len(new)} bytes)"
        )
        if outcome.said("committed"):
            assert stored == new, "the child reported a commit, but the old content is there"
        visible = [info.path for info in self.driver.walk(self.base)]
        assert visible == [f"{self.base}/_uploads", f"{self.base}/_uploads/blob", self.path]
        self.figures["new" if stored == new else "old"] += 1
        closed = outcome.last("closed")
        if stored == new or closed is None:
            return  # committed, or no close known to have finished: nothing to resume
        writer = self.driver.writer(self.path, append=True)
        resumed = writer.size
        # Exactly where some close() ended, at or after the last one the child reported
        # (a close may have finished just before the kill, its report not yet sent).
        where = (
            f"resumed at {resumed} bytes; the closes ended at {task['bounds'][1:]}, and the"
            f" last one reported before the kill at {closed}"
        )
        assert resumed >= closed, where
        assert resumed in task["bounds"], where
        try:
            writer.write(new[resumed:])
            writer.commit()
        except regstore.DriverError:
            # The killed child's last request (its commit) may still run on the server
            # after the kill: then the upload is committed, and resuming it fails.
            if self.driver.get_content(self.path) != new:
                raise
            self.figures["commit_landed_after_kill"] += 1
            return
        finally:
            writer.close()
        assert self.driver.get_content(self.path) == new, (
            f"the upload resumed at {resumed} bytes held other bytes than were written"
        )
        self.figures["resumed"] += 1


def _finish(target: Target, driver: regstore.StorageDriver, base: str) -> None:
    """Nothing below ``base`` after a delete: no pending upload, no temp file."""
    with contextlib.suppress(regstore.PathNotFoundError):
        driver.delete(base)
    visible = [info.path for info in driver.walk("/")]
    assert visible == [], f"after delete({base}) these paths are still there: {visible}"
    left = target.leftovers()
    assert left == [], f"after delete({base}) the backend still holds: {left}"


class CrashTests:
    """Both scenarios against one target (a class per target spreads them over workers)."""

    label: str

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    def test_killed_upload_leaves_old_or_new_and_resumes(
        self, request: pytest.FixtureRequest, target: Target, crasher: Crasher, seed: int
    ) -> None:
        rng = random.Random(seed)
        scenario = UploadCrashes(target, crasher, rng)
        wanted = max(1, round(_rounds(target) * UPLOAD_SHARE))
        try:
            steps = scenario.calibrate()
            attempts = 0
            while scenario.figures["kills"] < wanted:
                attempts += 1
                assert attempts <= 3 * wanted, "most children finished before their kill"
                scenario.round(steps)
            _finish(target, scenario.driver, scenario.base)
        except AssertionError as failure:
            raise AssertionError(f"{failure} (REGSTORE_CRASH_SEED={seed})") from None
        finally:
            figures.record(request, "crash-upload", target=target.label, **scenario.figures)
            scenario.driver.close()

    def test_killed_stream_leaves_old_or_new_and_purge_leaves_nothing(
        self, request: pytest.FixtureRequest, target: Target, crasher: Crasher, seed: int
    ) -> None:
        rng = random.Random(seed)
        driver = target.create()
        base = f"/crash-{rng.randrange(1 << 32):08x}"
        path = f"{base}/blob/data"
        part = target.part_size
        task: dict[str, Any] = {"scenario": "stream", "path": path, "largest_write": part // 2}
        counts = {"kills": 0, "finished_first": 0, "old": 0, "new": 0, "purged_again": 0}
        wanted = max(1, round(_rounds(target) * STREAM_SHARE))
        try:
            seconds = min(
                self._time_a_stream(driver, crasher, target, {**task, "seed": seed}, part)
                for seed in (1, 2, 3)
            )
            attempts = 0
            while counts["kills"] < wanted:
                attempts += 1
                assert attempts <= 3 * wanted, "most children finished before their kill"
                size = 2 * part + rng.randrange(part)  # two whole parts or more, and a short one
                round_task = {**task, "seed": rng.randrange(1 << 30), "size": size}
                new = crash_worker.content(round_task["seed"], size)
                old = crash_worker.content(round_task["seed"] + 1, rng.randrange(1, 4096))
                driver.put_content(path, old)
                outcome = crasher.run(target.spec(), round_task, rng.uniform(0, seconds))
                counts["kills" if outcome.killed else "finished_first"] += 1
                stored = driver.get_content(path)
                assert stored in (old, new), (
                    f"after a kill mid-stream the path holds {len(stored)} bytes: neither the"
                    f" old content ({len(old)} bytes) nor the new ({size} bytes)"
                )
                if outcome.said("committed"):
                    assert stored == new, "a commit was reported, but the old content is there"
                counts["new" if stored == new else "old"] += 1
                assert [info.path for info in driver.walk(base)] == [f"{base}/blob", path]
                counts["purged_again"] += self._purge_all(target, driver, base, path)
            _finish(target, driver, base)
        except AssertionError as failure:
            raise AssertionError(f"{failure} (REGSTORE_CRASH_SEED={seed})") from None
        finally:
            figures.record(request, "crash-stream", target=target.label, **counts)
            driver.close()

    @staticmethod
    def _time_a_stream(
        driver: regstore.StorageDriver,
        crasher: Crasher,
        target: Target,
        task: dict[str, Any],
        part: int,
    ) -> float:
        """Seconds from a child's start to its commit, for a stream of three parts."""
        task = {**task, "size": 3 * part}
        outcome = crasher.run(target.spec(), task, None)
        assert outcome.said("committed")
        assert driver.get_content(task["path"]) == crash_worker.content(task["seed"], 3 * part)
        return outcome.seconds

    @staticmethod
    def _purge_all(target: Target, driver: regstore.StorageDriver, base: str, path: str) -> int:
        """Purge every pending upload below ``base``; then the backend holds nothing else
        (where ``PURGE_KEEPS_UNCLOSED`` says so, nothing but what the killed writer staged).

        A killed child's last requests may still land after the kill (the server
        had them whole), so a second purge a moment later may be needed: 1 if so.
        """
        later = datetime.now(timezone.utc) + timedelta(minutes=5)
        staged = path.strip("/")

        def left() -> list[str]:
            found = target.leftovers()
            if target.kind in PURGE_KEEPS_UNCLOSED:
                found = [name for name in found if not name.split(" ")[0].endswith(staged)]
            return found

        driver.purge_uploads(later, base)
        if not left():
            return 0
        time.sleep(1.0)
        driver.purge_uploads(later, base)
        assert left() == [], f"purge_uploads left what a killed stream wrote: {left()}"
        return 1

    def test_killed_put_content_leaves_one_whole_version(
        self, request: pytest.FixtureRequest, target: Target, crasher: Crasher, seed: int
    ) -> None:
        rng = random.Random(seed)
        driver = target.create()
        base = f"/crash-{rng.randrange(1 << 32):08x}"
        path = f"{base}/link"
        size = min(target.part_size, 1 << 20)
        versions = [(rng.randrange(1 << 30), 3 * size + 17), (rng.randrange(1 << 30), size // 2)]
        contents = [crash_worker.content(s, n) for s, n in versions]
        task: dict[str, Any] = {"scenario": "put", "path": path, "versions": versions}
        counts: dict[str, Any] = {"kills": 0, "finished_first": 0}
        counts["seen"] = {"first": 0, "second": 0}
        wanted = max(1, _rounds(target) - round(_rounds(target) * UPLOAD_SHARE))
        try:
            # How long does one put take? Kill within a run of about ten of them.
            driver.put_content(path, contents[0])
            timing = crasher.run(target.spec(), {**task, "seconds": 0.05}, None)
            puts = max(1, sum(1 for message in timing.messages if message[0] == "put"))
            seconds = max(0.1, 10 * timing.seconds / puts)
            task["seconds"] = seconds
            attempts = 0
            while counts["kills"] < wanted:
                attempts += 1
                assert attempts <= 3 * wanted, "most children finished before their kill"
                # The clock starts at the first put: on a busy machine a child
                # may wait longer than a put takes before it runs at all.
                outcome = crasher.run(
                    target.spec(), task, rng.uniform(0, seconds), after_messages=1
                )
                counts["kills" if outcome.killed else "finished_first"] += 1
                stored = driver.get_content(path)
                assert stored in contents, (
                    f"after a kill mid-put_content the path holds {len(stored)} bytes, not"
                    f" one of the versions ({', '.join(str(len(c)) for c in contents)} bytes)"
                )
                counts["seen"][("first", "second")[contents.index(stored)]] += 1
                assert [info.path for info in driver.walk(base)] == [path]
            # Invisible, but on disk until their folder goes: what the kills left behind.
            counts["orphans_before_delete"] = len(target.leftovers())
            _finish(target, driver, base)
        except AssertionError as failure:
            raise AssertionError(f"{failure} (REGSTORE_CRASH_SEED={seed})") from None
        finally:
            figures.record(request, "crash-put", target=target.label, **counts)
            driver.close()


# Every backend whose store outlives the process (not the in-memory one).
CRASH = bind(CrashTests, "TestCrash", globals(), lambda backend: backend.shared)


def test_filesystem_target_sees_its_own_temp_files(tmp_path: Path) -> None:
    """The leftovers check above would catch a stray temp or pending file."""
    target = filesystem_target(tmp_path / "root")
    with target.create() as driver:
        writer = driver.writer("/a/b")
        writer.write(b"x")
        writer.close()
        left = target.leftovers()
        assert left
        assert all(name.startswith("~uploads/a~b~~") for name in left), left
        driver.delete("/a")
        assert target.leftovers() == []


def test_filesystem_sweeps_temp_files_of_killed_put_content(
    request: pytest.FixtureRequest, tmp_path: Path, crasher: Crasher, seed: int
) -> None:
    """What killed ``put_content`` calls leave goes with the first listing once it is stale.

    A fresh temp file may be a live writer's in another process, so it stays.
    """
    rng = random.Random(seed)
    root = tmp_path / "root"
    target = filesystem_target(root)
    path = "/swept/link"
    versions = [(rng.randrange(1 << 30), 3 << 20), (rng.randrange(1 << 30), 1 << 20)]
    contents = [crash_worker.content(s, n) for s, n in versions]
    task: dict[str, Any] = {"scenario": "put", "path": path, "versions": versions, "seconds": 5.0}
    kills = 0
    with target.create() as driver:
        driver.put_content(path, contents[0])
        try:
            while not target.leftovers():
                assert kills < 50, "no kill of fifty left a temp file behind"
                crasher.run(target.spec(), task, rng.uniform(0, 0.2))
                kills += 1
            left = target.leftovers()
            assert all(name.startswith("swept/~tmp.") for name in left), left
            assert driver.list("/swept") == [path]
            assert target.leftovers() == left, "a fresh temp file was swept"
            stale = time.time() - 2 * STALE_AFTER
            for name in left:
                os.utime(root / name, (stale, stale))
            assert driver.list("/swept") == [path]
            assert target.leftovers() == []
            assert driver.get_content(path) in contents
            _finish(target, driver, "/swept")
        except AssertionError as failure:
            raise AssertionError(f"{failure} (REGSTORE_CRASH_SEED={seed})") from None
        finally:
            figures.record(request, "crash-sweep", target=target.label, kills=kills)
