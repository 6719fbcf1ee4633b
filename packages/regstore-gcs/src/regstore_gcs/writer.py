"""The gcs ``FileWriter``: equal staged parts, the tail kept in the state object.

Every ``chunksize`` bytes become one part object, uploaded in the background
(at most ``PARTS_IN_FLIGHT`` at a time, through ``FileWriter._in_flight``, so
memory stays at a few chunks whatever the upload's size). ``close`` waits for
the parts and writes the state object (with the digest's hash state in its
metadata, see ``uploads``); ``commit`` composes everything into the final
object and removes the staged objects; ``cancel`` removes them.
"""

from __future__ import annotations

from collections.abc import Iterator

from regstore.driver import FileWriter
from regstore.errors import DriverError
from regstore.inflight import InFlight

from .layout import GCSLayout
from .uploads import MAX_COMPONENTS, Pending, UploadStore

__all__ = ["PARTS_IN_FLIGHT", "GCSWriter"]

#: Part uploads one writer keeps running while it buffers the next part.
PARTS_IN_FLIGHT = 4


class GCSWriter(FileWriter):
    """Writes one pending upload, resuming ``pending``; ``fresh`` for ``append=False``."""

    def __init__(
        self,
        uploads: UploadStore,
        layout: GCSLayout,
        path: str,
        *,
        pending: Pending,
        fresh: bool,
    ) -> None:
        super().__init__(path, size=pending.size, upload_state=pending.state)
        self._uploads = uploads
        self._layout = layout
        self._part_size = pending.part_size
        self._count = pending.parts
        # A resumed upload closes only over the state it resumed (see ``UploadStore.save``).
        self._expected = None if fresh else pending.generation
        self._buffer = bytearray(pending.tail)
        # The buffer still equals the state object's content (usable as a compose source).
        self._tail_saved = bool(pending.tail) and not fresh
        # A fresh upload writes its state on close even when empty: it is pending.
        self._dirty = fresh
        # The hash state the state object holds now (rewritten on close when it differs).
        self._saved_state = pending.state
        # Bytes of the buffer already staged as part ``count + 1`` by ``_flush``.
        self._tail_staged = -1
        # A write that failed half-way (parts of it may be staged): this writer cannot go on.
        self._broken: BaseException | None = None

    # -- FileWriter -----------------------------------------------------------------

    def _write(self, data: memoryview) -> None:
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
            self._broken = self._broken or exc
            raise

    def _close(self) -> None:
        self._settle()
        # Exported once the parts are stored: the hash caught up meanwhile.
        state = self.upload_state
        pending = Pending(
            self._count, self._part_size, bytes(self._buffer), self._expected or 0, state
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
        self._settle()
        staged = self._tail_saved or self._tail_staged == len(self._buffer)
        if self._count and self._buffer and not staged:
            self._uploads.put_part(self.path, self._count + 1, bytes(self._buffer))
            self._tail_staged = len(self._buffer)

    def _read_upload(self) -> Iterator[bytes]:
        """The staged parts, one whole GET each, then the buffered tail."""
        self._settle()
        parts, tail = self._count, bytes(self._buffer)
        for index in range(1, parts + 1):
            yield self._uploads.read_part(self.path, index, self._part_size)
        if tail:
            yield tail

    def _commit(self) -> None:
        self._settle()
        key = self._layout.key(self.path)
        if self._count == 0:
            self._uploads.put(key, bytes(self._buffer))
        else:
            sources = [self._layout.part_name(self.path, i) for i in range(1, self._count + 1)]
            if self._tail_saved:
                sources.append(self._layout.state_name(self.path))
            elif self._tail_staged == len(self._buffer):
                sources.append(self._layout.part_name(self.path, self._count + 1))
            elif self._buffer:
                sources.append(
                    self._uploads.put_part(self.path, self._count + 1, bytes(self._buffer))
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
        # Parts still in flight land first, so the discard below finds them all.
        self._pool().shutdown()
        self._buffer = bytearray()
        self._uploads.discard(self.path)

    # -- helpers --------------------------------------------------------------------

    def _ship(self) -> None:
        """Send the full buffer as the next part; waits while ``PARTS_IN_FLIGHT`` are running."""
        if self._count + 1 >= MAX_COMPONENTS:
            raise DriverError(
                f"the upload of {self.path} would need more than {MAX_COMPONENTS} parts of"
                f" {self._part_size} bytes, the most one GCS object is composed from;"
                " raise the chunksize parameter for uploads this large"
            )
        data = bytes(self._buffer)
        index = self._count + 1
        self._pool().submit(lambda: self._uploads.put_part(self.path, index, data))
        self._buffer = bytearray()
        self._count = index

    def _settle(self) -> None:
        """Wait for every part in flight; a failed write or part fails the writer."""
        self._check_failed()
        self._pool().wait()

    def _pool(self) -> InFlight[str]:
        """The part uploads in flight, on the driver's threads."""
        return self._in_flight(PARTS_IN_FLIGHT, self._uploads.executor)

    def _check_failed(self) -> None:
        failure = self._broken or self._pool().failure
        if failure is not None:
            raise DriverError(
                f"the writer of {self.path} failed earlier ({failure}); the pending"
                " upload is as it was at its last successful close"
            )
