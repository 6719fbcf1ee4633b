"""Copy a tree between stores: streamed, bounded-parallel, resumable, read-only at the source.

Both stores are walked at once; walk order is byte order of the paths for
files, so a merge of the two walks finds what is missing at the destination
without holding either listing in memory. A file already there with the same
size is skipped (registry blobs are content-addressed: same path, same bytes).

A file is copied with ``get_content``/``put_content`` when small, else
streamed through a writer that is committed at the end, so a destination file
is complete or absent. An interrupted copy (Ctrl-C, SIGTERM) closes its
writer, which keeps the pending upload; the next run resumes it with
``writer(append=True)`` and reads the source from that offset. Nothing at the
source is ever written.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ..driver import FileInfo, StorageDriver
from ..errors import PathNotFoundError
from ..paths import ROOT

__all__ = [
    "DEFAULT_JOBS",
    "MAX_STREAMS",
    "SMALL_FILE",
    "GiveUp",
    "SyncEvents",
    "SyncResult",
    "Syncer",
    "Task",
]

#: Files up to this size are copied in one request each way.
SMALL_FILE = 1 << 20
#: Bytes read from the source per call when streaming.
CHUNK = 1 << 20
#: Give up when this many copies in a row fail before any succeeds (a wrong destination).
EARLY_FAILURES = 10
#: Parallel copies by default: a registry is mostly files of a few hundred bytes, each
#: one request each way, so many in flight hide the round trips (4 were half rclone's
#: speed to radosgw; see docs/performance.md).
DEFAULT_JOBS = 16
#: Streamed copies (files over ``SMALL_FILE``) at once, whatever ``jobs`` is: each
#: destination writer buffers its parts in flight (100 MiB on S3 by default).
MAX_STREAMS = 4


class Interrupted(Exception):
    """The sync was asked to stop; in-flight uploads were closed for a later resume."""


class GiveUp(Exception):
    """Every copy so far failed: the destination is likely wrong; the message says why."""


@dataclass(frozen=True)
class Task:
    """One file to copy; ``replace`` when the destination has a file of another size."""

    path: str
    size: int
    replace: bool


@dataclass
class SyncResult:
    """What a sync did, for the summary."""

    copied: int = 0
    copied_bytes: int = 0
    skipped: int = 0
    skipped_bytes: int = 0
    resumed: int = 0
    resumed_bytes: int = 0
    planned: int = 0
    planned_bytes: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0


class SyncEvents:
    """Callbacks for progress and logs; the default does nothing. Called from worker threads."""

    def found(self, task: Task) -> None:
        """A file is to be copied."""

    def skipped(self, info: FileInfo) -> None:
        """A file is already at the destination with the same size."""

    def started(self, task: Task, offset: int) -> None:
        """Copying began (at ``offset`` when resuming)."""

    def advanced(self, count: int) -> None:
        """``count`` more bytes reached the destination."""

    def finished(self, task: Task) -> None:
        """The file is complete at the destination."""

    def failed(self, task: Task, message: str) -> None:
        """The file could not be copied."""

    def scanned(self) -> None:
        """The source walk is complete: the totals are final."""


def _files(driver: StorageDriver, path: str, *, missing_ok: bool) -> Iterator[FileInfo]:
    """The files below ``path`` in walk order; ``path`` itself when it is a file."""
    entries = driver.walk(path)
    try:
        first = next(entries)
    except StopIteration:
        return
    except PathNotFoundError:
        try:
            info = driver.stat(path)
        except PathNotFoundError:
            if missing_ok:
                return
            raise
        if not info.is_dir:
            yield info
        return
    if not first.is_dir:
        yield first
    for info in entries:
        if not info.is_dir:
            yield info


class Syncer:
    """Copies every file below ``path`` from ``source`` to ``dest`` (the same path there)."""

    def __init__(
        self,
        source: StorageDriver,
        dest: StorageDriver,
        path: str = ROOT,
        *,
        jobs: int = DEFAULT_JOBS,
        dry_run: bool = False,
        events: SyncEvents | None = None,
    ) -> None:
        self.source = source
        self.dest = dest
        self.path = path
        self.jobs = max(1, jobs)
        self.dry_run = dry_run
        self.events = events or SyncEvents()
        self.stop = threading.Event()
        self.result = SyncResult()
        self._lock = threading.Lock()
        self._successes = 0
        self._streams = threading.BoundedSemaphore(min(self.jobs, MAX_STREAMS))

    def plan(self) -> Iterator[Task]:
        """The files to copy, found by merging the walks of both stores."""
        there = _files(self.dest, self.path, missing_ok=True)
        other = next(there, None)
        for info in _files(self.source, self.path, missing_ok=False):
            while other is not None and other.path < info.path:
                other = next(there, None)
            if other is not None and other.path == info.path:
                if other.size == info.size:
                    self.result.skipped += 1
                    self.result.skipped_bytes += info.size
                    self.events.skipped(info)
                    continue
                task = Task(info.path, info.size, replace=True)
            else:
                task = Task(info.path, info.size, replace=False)
            self.result.planned += 1
            self.result.planned_bytes += info.size
            self.events.found(task)
            yield task

    def run(self) -> SyncResult:
        """Copy everything; Ctrl-C (KeyboardInterrupt) stops cleanly and can be resumed."""
        started = time.monotonic()
        try:
            if self.dry_run:
                for _ in self.plan():
                    pass
                self.events.scanned()
            else:
                self._copy_all()
        except KeyboardInterrupt:
            self.result.interrupted = True
        finally:
            self.result.seconds = time.monotonic() - started
        return self.result

    def _copy_all(self) -> None:
        pending: set[Future[None]] = set()
        executor = ThreadPoolExecutor(self.jobs, thread_name_prefix="regstore-sync")
        try:
            for task in self.plan():
                while len(pending) >= self.jobs * 2:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    self._check(done)
                pending.add(executor.submit(self._copy, task))
            self.events.scanned()
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                self._check(done)
        except BaseException:
            self.stop.set()
            raise
        finally:
            # Workers see ``stop`` between chunks, close their writers and return.
            executor.shutdown(wait=True, cancel_futures=True)

    def _check(self, done: set[Future[None]]) -> None:
        for future in done:
            error = future.exception()
            if error is not None and not isinstance(error, Interrupted):
                raise error
        with self._lock:
            if not self._successes and len(self.result.failures) >= EARLY_FAILURES:
                first = self.result.failures[0]
                raise GiveUp(
                    f"the first {EARLY_FAILURES} copies all failed, giving up;"
                    f" the first: {first[0]}: {first[1]}"
                )

    def _copy(self, task: Task) -> None:
        if self.stop.is_set():
            raise Interrupted
        try:
            offset = self._transfer(task)
        except Interrupted:
            raise
        except Exception as exc:  # one file's failure does not stop the others
            with self._lock:
                self.result.failures.append((task.path, str(exc)))
            self.events.failed(task, str(exc))
            return
        with self._lock:
            self._successes += 1
            self.result.copied += 1
            self.result.copied_bytes += task.size - offset
            if offset:
                self.result.resumed += 1
                self.result.resumed_bytes += offset
        self.events.finished(task)

    def _transfer(self, task: Task) -> int:
        """Copy one file; returns the offset a resumed upload started at."""
        if task.size <= SMALL_FILE:
            self.events.started(task, 0)
            data = self.source.get_content(task.path)
            self.dest.put_content(task.path, data)
            self.events.advanced(len(data))
            return 0
        with self._streams:
            return self._stream(task)

    def _stream(self, task: Task) -> int:
        """Copy one large file through a writer, resuming its pending upload if any."""
        # Resume only where nothing is committed: appending to an older file would mix them.
        writer = self.dest.writer(task.path, append=not task.replace)
        if writer.size > task.size:
            writer.cancel()  # not an upload of this file
            writer = self.dest.writer(task.path)
        offset = writer.size
        self.events.started(task, offset)
        if offset:
            self.events.advanced(offset)
        try:
            with self.source.reader(task.path, offset) as stream:
                while True:
                    if self.stop.is_set():
                        raise Interrupted
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    writer.write(chunk)
                    self.events.advanced(len(chunk))
            writer.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close()  # keep the pending upload for the next run
            raise
        return offset
