"""Recursive delete: each DeleteObjects batch is sent while the next page is listed.

A tree of many keys is listed 1000 keys a page; every full page goes to a
worker thread as one DeleteObjects request while the main thread lists the
next page, a few batches at once, so a delete costs little more than its
listing. A tree of one page is deleted without a thread. Keys the server
refused are reported together, in one ``DriverError``, once every batch is done.
"""

from __future__ import annotations

from types import TracebackType

from regstore.inflight import InFlight

from .uploads import DELETE_BATCH, Uploads, refused

__all__ = ["BATCHES_IN_FLIGHT", "BatchDeleter"]

#: DeleteObjects requests of one delete in flight while its listing goes on.
BATCHES_IN_FLIGHT = 3


class BatchDeleter:
    """Deletes the keys it is given, 1000 to a request, up to ``BATCHES_IN_FLIGHT`` at once.

    Use it as a context manager: leaving the block waits for the batches
    still running, so nothing is still deleting once ``delete`` has returned
    or raised.
    """

    def __init__(self, uploads: Uploads, path: str) -> None:
        self._uploads = uploads
        self._path = path
        self._batch: list[str] = []
        self._running: InFlight[list[str]] | None = None
        self._failures: list[str] = []
        #: Keys handed over so far.
        self.count = 0

    def __enter__(self) -> BatchDeleter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._running is not None:
            self._running.shutdown()

    def add(self, key: str) -> None:
        """Delete ``key``, in the next batch; a full batch is sent at once."""
        self._batch.append(key)
        self.count += 1
        if len(self._batch) == DELETE_BATCH:
            self._send()

    def finish(self) -> None:
        """Send the last batch and wait for every batch; DriverError names each key refused."""
        if self._batch and self._running is None:
            self._failures.extend(self._uploads.delete_batch(self._batch))
            self._batch = []
        elif self._batch:
            self._send()
        if self._running is not None:
            self._running.wait()
        if self._failures:
            raise refused(self._path, self._failures)

    def _send(self) -> None:
        """Hand the current batch to a worker, once fewer than the most batches are running."""
        batch, self._batch = self._batch, []
        if self._running is None:
            self._running = InFlight(BATCHES_IN_FLIGHT, f"regstore-s3-delete-{self._path}")
        failures = self._failures
        self._running.submit(lambda: _extend(failures, self._uploads.delete_batch(batch)))


def _extend(failures: list[str], found: list[str]) -> list[str]:
    failures.extend(found)  # list.extend is atomic: batches report from their threads
    return found
