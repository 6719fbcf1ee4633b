"""The gcs ``FileWriter``: equal staged parts, the tail kept in the state object.

Every ``chunksize`` bytes become one part object, uploaded in the background
(at most ``PARTS_IN_FLIGHT`` at a time, so memory stays at a few chunks
whatever the upload's size). ``close`` waits for the parts and writes the
state object (with the digest's hash state in its metadata, see
``uploads``); ``commit`` composes everything into the final object and
removes the staged objects; ``cancel`` removes them.
"""

from __future__ import annotations

from collections.abc import Iterator
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
        super().__init__(
            path, size=pending.size, driver_name=driver_name, upload_state=pending.state
        )
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
        # The hash state the state object holds now (rewritten on close when it differs).
        self._saved_state = pending.state
        # Bytes of the buffer already staged as part ``parts + 1`` by ``_flush``.
        self._tail_staged = -1
        self._running: list[Future[str]] = []
        self._failed: BaseException | None = None

    # -- FileWriter -----------------------------------------------------------------

    def _write(self, data: memoryview) -> None:
        with self._errors.translating("write", self.path):
            self._check_failed()
            self._dirty = True
            self._tail_saved = False
            self._tail_staged = -1
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
            # Exported once the parts are stored: the hash caught up meanwhile.
            state = self.upload_state
            pending = Pending(
                self._parts, self._part_size, bytes(self._buffer), self._expected or 0, state
            )
            if self._dirty:
                self._uploads.save(self.path, pending, expected=self._expected)
            elif state is not None and state != self._saved_state and self._expected:
                # A hash rebuilt by reading the upload back is kept, so the next resume
                # need not; only an aid, so an upload changed meanwhile keeps its own.
                self._uploads.keep_state(self.path, pending)
            self._buffer = bytearray()

    def _flush(self) -> None:
        """Store the parts in flight and the tail as the last part, so commit only composes.

        An upload that fits in one part is left alone: its commit is one upload.
        """
        with self._errors.translating("commit", self.path):
            self._check_failed()
            self._settle(0)
            staged = self._tail_saved or self._tail_staged == len(self._buffer)
            if self._parts and self._buffer and not staged:
                self._uploads.put_part(self.path, self._parts + 1, bytes(self._buffer))
                self._tail_staged = len(self._buffer)

    def _read_upload(self) -> Iterator[bytes]:
        """The staged parts, one whole GET each, then the buffered tail."""
        with self._errors.translating("writer", self.path):
            self._check_failed()
            self._settle(0)
            parts, tail = self._parts, bytes(self._buffer)
            for index in range(1, parts + 1):
                yield self._uploads.read_part(self.path, index, self._part_size)
        if tail:
            yield tail

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
                elif self._tail_staged == len(self._buffer):
                    sources.append(self._layout.part_name(self.path, self._parts + 1))
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
