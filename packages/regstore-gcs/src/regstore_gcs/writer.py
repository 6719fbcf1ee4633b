"""The gcs ``FileWriter``: equal staged parts, the tail kept in the state object.

Every ``chunksize`` bytes become one part object, uploaded in the background
(at most ``PARTS_IN_FLIGHT`` at a time, so memory stays at a few chunks
whatever the upload's size). ``close`` waits for the parts and writes the
state object; ``commit`` composes everything into the final object and
removes the staged objects; ``cancel`` removes them.
"""

from __future__ import annotations

from concurrent.futures import Future, wait

from regstore.driver import FileWriter
from regstore.errors import DriverError

from .errors import ErrorMap
from .layout import Layout
from .uploads import MAX_COMPONENTS, Pending, UploadStore

__all__ = ["PARTS_IN_FLIGHT", "GCSWriter"]

#: Part uploads one writer keeps running while it buffers the next part.
PARTS_IN_FLIGHT = 4


class GCSWriter(FileWriter):
    """Writes one pending upload, resuming ``pending``; ``fresh`` for ``append=False``."""

    def __init__(
        self,
        uploads: UploadStore,
        layout: Layout,
        errors: ErrorMap,
        path: str,
        *,
        pending: Pending,
        fresh: bool,
        driver_name: str,
    ) -> None:
        super().__init__(path, size=pending.size, driver_name=driver_name)
        self._uploads = uploads
        self._layout = layout
        self._errors = errors
        self._part_size = pending.part_size
        self._parts = pending.parts
        # A resumed upload closes only over the state it resumed (see ``UploadStore.save``).
        self._expected = None if fresh else pending.generation
        self._buffer = bytearray(pending.tail)
        # The buffer still equals the state object's content (usable as a compose source).
        self._tail_saved = bool(pending.tail) and not fresh
        # A fresh upload writes its state on close even when empty: it is pending.
        self._dirty = fresh
        self._running: list[Future[str]] = []
        self._failed: BaseException | None = None

    # -- FileWriter -----------------------------------------------------------------

    def _write(self, data: memoryview) -> None:
        with self._errors.translating("write", self.path):
            self._check_failed()
            self._dirty = True
            self._tail_saved = False
            start = 0
            try:
                while start < len(data):
                    take = min(self._part_size - len(self._buffer), len(data) - start)
                    self._buffer += data[start : start + take]
                    start += take
                    if len(self._buffer) == self._part_size:
                        self._ship()
            except BaseException as exc:
                # Part of ``data`` may be staged already: this writer cannot go on.
                self._failed = self._failed or exc
                raise

    def _close(self) -> None:
        with self._errors.translating("close", self.path):
            self._check_failed()
            self._settle(0)
            if self._dirty:
                self._uploads.save(
                    self.path,
                    Pending(self._parts, self._part_size, bytes(self._buffer)),
                    expected=self._expected,
                )
            self._buffer = bytearray()

    def _commit(self) -> None:
        with self._errors.translating("commit", self.path):
            self._check_failed()
            self._settle(0)
            key = self._layout.key(self.path)
            if self._parts == 0:
                self._uploads.put(key, bytes(self._buffer))
            else:
                sources = [self._layout.part_name(self.path, i) for i in range(1, self._parts + 1)]
                if self._tail_saved:
                    sources.append(self._layout.state_name(self.path))
                elif self._buffer:
                    sources.append(
                        self._uploads.put_part(self.path, self._parts + 1, bytes(self._buffer))
                    )
                self._uploads.publish(self.path, sources, key)
            self._buffer = bytearray()
            try:
                self._uploads.discard(self.path)
            except Exception as exc:
                raise DriverError(
                    f"{self.path} is committed, but its staged upload objects could not be"
                    f" removed ({exc}); delete the path's upload directory to remove them"
                ) from exc

    def _cancel(self) -> None:
        with self._errors.translating("cancel", self.path):
            for future in self._running:
                future.cancel()
            wait(self._running)
            self._running = []
            self._buffer = bytearray()
            self._uploads.discard(self.path)

    # -- helpers --------------------------------------------------------------------

    def _ship(self) -> None:
        """Send the full buffer as the next part, after making room in the pipeline."""
        if self._parts + 1 >= MAX_COMPONENTS:
            raise DriverError(
                f"the upload of {self.path} would need more than {MAX_COMPONENTS} parts of"
                f" {self._part_size} bytes, the most one GCS object is composed from;"
                " raise the chunksize parameter for uploads this large"
            )
        self._settle(PARTS_IN_FLIGHT - 1)
        data = bytes(self._buffer)
        self._buffer = bytearray()
        self._parts += 1
        self._running.append(self._uploads.submit_part(self.path, self._parts, data))

    def _settle(self, limit: int) -> None:
        """Wait until at most ``limit`` part uploads run; a failed one fails the writer."""
        while len(self._running) > limit:
            future = self._running.pop(0)
            try:
                future.result()
            except BaseException as exc:
                self._failed = exc
                for other in self._running:
                    other.cancel()
                wait(self._running)
                self._running = []
                raise

    def _check_failed(self) -> None:
        if self._failed is not None:
            raise DriverError(
                f"the writer of {self.path} failed earlier ({self._failed}); the pending"
                " upload is as it was at its last successful close"
            )
