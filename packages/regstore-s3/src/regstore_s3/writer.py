"""The S3 writer: equal multipart parts uploaded in parallel, resumable from any process.

Bytes are cut into parts of exactly ``chunksize`` (servers such as R2 reject
unequal parts) and up to ``multipartuploadmaxconcurrency`` parts (default
``PARTS_IN_FLIGHT``) upload at once, so memory stays near ``(parts in flight +
1) * chunksize`` whatever the stream's size.
``close`` stores the bytes short of a part as a tail object (written at every
close, empty or not, named with the upload's size: see ``lifecycle``) and the
upload's state as a JSON object (see ``uploads``); a later ``writer(path, append=True)``
anywhere continues from it, reading back only that tail. An upload that never
fills a part commits with a single PutObject.

Digests: the state object also carries the hash state (``FileWriter.upload_state``)
for exactly the parts and tail it names, so a writer resumed with a digest
continues the hash at no extra request. S3 cannot read the parts of an
uncompleted multipart upload, so an upload closed without a hash state is read
back (``_read_upload``) only while it is all tail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from regstore.driver import FileWriter
from regstore.errors import DriverError, UnsupportedMethodError

from .config import DEFAULT_UPLOAD_CONCURRENCY
from .partbuffers import PartBuffers
from .uploads import UploadState, complete_upload

if TYPE_CHECKING:
    from regstore.inflight import InFlight

    from .bucket import Bucket

__all__ = ["PARTS_IN_FLIGHT", "S3Writer"]

LOGGER = logging.getLogger("regstore_s3")

#: Parts of one writer uploading at the same time, unless the driver's
#: ``multipartuploadmaxconcurrency`` parameter says otherwise.
PARTS_IN_FLIGHT = DEFAULT_UPLOAD_CONCURRENCY


class S3Writer(FileWriter):
    """One upload to one path; ``saved`` is its persisted state (None: nothing persisted)."""

    def __init__(self, driver: Bucket, path: str, saved: UploadState | None) -> None:
        state = replace(saved, parts=list(saved.parts)) if saved else UploadState(driver.chunksize)
        super().__init__(path, size=state.size, upload_state=saved.hash if saved else None)
        self._driver = driver
        self._uploads = driver.uploads
        self._key = driver.layout.key(path)
        self._parts_in_flight = driver.config.multipartuploadmaxconcurrency
        self._saved = saved
        #: True when the upload's bookkeeping is all this writer's own (it began with
        #: none), so a commit deletes those keys without listing them.
        self._fresh = saved is None
        #: The upload as this writer sees it; ``tail_key`` is None once the tail is read back.
        self._upload = state
        buffers = driver.part_buffers
        # A resumed upload keeps the part size it began with, whatever this driver's.
        if buffers.size != state.chunksize:
            buffers = PartBuffers(state.chunksize, spares=0)
        self._buffers = buffers
        self._part = _PartBuffer(buffers)
        self._stale_tails: list[str] = []
        #: Parts handed to the in-flight pool and not yet recorded: their ETag and size.
        self._sent: list[tuple[Future[str], int]] = []
        #: A write that failed part-way: what the last close saved is all a close may keep.
        self._broken: BaseException | None = None
        self._changed = False
        self._committed = False

    # -- FileWriter ---------------------------------------------------------------

    def _write(self, data: memoryview) -> None:
        self._check_healthy()
        self._read_back_tail()
        self._changed = True
        try:
            self._cut_into_parts(data)
        except BaseException as exc:
            # Some of ``data`` may be in the part buffer or a part, the rest not, and the
            # core counts none of it: a close must not save (parts, tail and hash would
            # disagree), so the upload keeps what the last close saved.
            self._broken = exc
            raise

    def _cut_into_parts(self, data: memoryview) -> None:
        offset, end = 0, data.nbytes
        while offset < end:
            # Copied, a whole part at a time when ``data`` is that long: the caller
            # may reuse its bytes once ``write`` returns.
            offset += self._part.fill(data[offset:])
            if self._part.full:
                self._submit(self._part.take())

    def _close(self) -> None:
        self._check_healthy()
        self._collect()
        if not self._changed and self._saved is not None:
            return
        self._read_back_tail()
        state = self._upload
        tail = self._part.contents()
        size = sum(part_size for _, part_size in state.parts) + len(tail)
        tail_key = self._uploads.put_tail(self.path, tail, size)
        # Read after the parts and tail are stored: the hash caught up meanwhile. A
        # state exported at another size than these parts and tail is never kept.
        hash_state = self.upload_state if size == self.size else None
        saved = replace(
            state,
            parts=list(state.parts),
            tail_key=tail_key,
            tail_size=len(tail),
            hash=hash_state,
        )
        self._uploads.save(self.path, saved)
        self._saved = saved
        self._forget_stale_tails(keep=tail_key)

    def _commit(self) -> None:
        self._check_healthy()
        if not self._committed:
            self._read_back_tail()
            state = self._upload
            if not state.parts and not self._sent:
                self._collect()  # the record of an upload whose first part failed
                self._driver.client.put_object(
                    Bucket=self._driver.bucket,
                    Key=self._key,
                    Body=self._part.contents(),
                    **self._driver.config.write_arguments(),
                )
            else:
                last = self._send_last_part()
                self._collect()
                self._complete([*state.parts, *last])
            self._committed = True
        self._forget_bookkeeping()
        if not self._upload.parts:
            # Recorded before a first part that never completed (its writer failed).
            self._uploads.abort(self.path, self._upload.upload_id)
        self._part.clear()

    def _flush(self) -> None:
        """Wait for the parts in flight (the hash catches up meanwhile) before a checked commit."""
        self._check_healthy()
        self._collect()

    def _read_upload(self) -> Iterator[bytes]:
        """The upload's bytes while it is all tail; S3 cannot read back uncompleted parts.

        The tail read here is the one the next write or the commit needs anyway.
        """
        if self._upload.parts:
            size = sum(part_size for _, part_size in self._upload.parts)
            raise UnsupportedMethodError(
                f"resuming the upload of {self.path} with a digest: it was last closed"
                f" without one, and S3 cannot read back the {len(self._upload.parts)}"
                f" part(s) ({size} bytes) of an uncompleted multipart upload; resume it"
                " without a digest, or write it again from the start with one"
            )
        self._read_back_tail()
        yield self._part.contents()

    def _cancel(self) -> None:
        self._parts().shutdown()
        self._sent.clear()
        upload_id = self._upload.upload_id or (self._saved.upload_id if self._saved else None)
        # The state goes first: a kill in between leaves an unnamed upload for
        # ``delete`` to sweep, never a state naming an aborted upload.
        self._uploads.sweep(self.path)
        self._uploads.abort(self.path, upload_id)
        self._part.clear()

    # -- parts ----------------------------------------------------------------------

    def _parts(self) -> InFlight[Any]:
        """Parts in flight, at most ``multipartuploadmaxconcurrency``, on the driver's threads."""
        return self._in_flight(self._parts_in_flight, self._driver.part_uploads)

    def _submit(self, part: bytearray) -> None:
        """Start uploading ``part`` as the next part, once fewer than the limit are in flight.

        The part's buffer goes back to the driver's spares once it is sent.
        """
        upload_id = self._ensure_upload()
        number = len(self._upload.parts) + len(self._sent) + 1
        parts = self._parts()
        future = parts.submit(lambda: self._send_part(upload_id, number, part))
        self._sent.append((future, len(part)))

    def _send_part(self, upload_id: str, number: int, part: bytearray) -> str:
        try:
            return self._upload_part(upload_id, number, part)
        finally:
            # botocore holds no reference once the call returned, retries included.
            self._buffers.give(part)

    def _upload_part(self, upload_id: str | None, number: int, part: bytes | bytearray) -> str:
        answer = self._driver.client.upload_part(
            Bucket=self._driver.bucket,
            Key=self._key,
            UploadId=upload_id,
            PartNumber=number,
            Body=part,
        )
        return str(answer["ETag"])

    def _send_last_part(self) -> list[tuple[str, int]]:
        """Upload the short last part, if any, while the full parts are still in flight.

        It is sent from this thread, outside the pool: a failure leaves its
        bytes in the part buffer and latches nothing, so the commit can be tried
        again.
        """
        if not self._part:
            return []
        assert self._upload.upload_id is not None
        self._parts().make_room()
        number = len(self._upload.parts) + len(self._sent) + 1
        etag = self._upload_part(self._upload.upload_id, number, self._part.copy())
        return [(etag, len(self._part))]

    def _ensure_upload(self) -> str:
        """The multipart upload's id; a new upload is recorded in the state beside its first part.

        The record goes out in the parts' pool, so it costs the stream no round
        trip; every close, commit and cancel waits for the pool first, so the
        record always lands before anything that replaces or deletes it. A
        process killed before it lands leaves an unnamed upload, which
        ``delete`` and ``purge_uploads`` abort (``Uploads.abort_unrecorded``).
        """
        if self._upload.upload_id is not None:
            return self._upload.upload_id
        answer = self._driver.client.create_multipart_upload(
            Bucket=self._driver.bucket,
            Key=self._key,
            **self._driver.config.write_arguments(),
        )
        upload_id = str(answer["UploadId"])
        recorded = replace(self._saved or UploadState(self._upload.chunksize), upload_id=upload_id)
        self._parts().submit(lambda: self._record(recorded))
        self._saved = recorded
        self._upload.upload_id = upload_id
        return upload_id

    def _record(self, recorded: UploadState) -> str:
        self._uploads.save(self.path, recorded)
        return ""

    def _collect(self) -> None:
        """Wait for every call in flight (parts and the upload's record) and keep the parts' ETags.

        The first failure raises.
        """
        pool = self._parts()
        if not pool.busy:
            return
        pool.wait()
        self._upload.parts.extend((future.result(), size) for future, size in self._sent)
        self._sent.clear()

    def _complete(self, parts: list[tuple[str, int]]) -> None:
        assert self._upload.upload_id is not None
        complete_upload(
            self._driver.client,
            self._driver.bucket,
            self._key,
            self.path,
            self._upload.upload_id,
            [etag for etag, _ in parts],
        )

    # -- tail and clean-up ----------------------------------------------------------

    def _forget_bookkeeping(self) -> None:
        """After the commit: delete the upload's state and tail objects.

        A writer that began with no saved upload and commits never closed, so
        its only key is the record of its multipart upload, if it made one: it
        deletes that without a listing. A resumed one lists them, and so also
        sweeps the tails that earlier processes killed mid-close left behind.
        """
        if not self._fresh:
            self._uploads.sweep(self.path)
        elif self._saved is not None:
            self._uploads.delete_keys([self._uploads.layout.state_key(self.path)], self.path)

    def _read_back_tail(self) -> None:
        """Put the persisted tail back in front of the part (once, before new bytes)."""
        if self._upload.tail_key is None:
            return
        self._part.fill(memoryview(self._uploads.read_tail(self.path, self._upload)))
        self._stale_tails.append(self._upload.tail_key)
        self._upload.tail_key = None
        self._upload.tail_size = 0

    def _forget_stale_tails(self, keep: str | None) -> None:
        """Delete tails the saved state no longer names; a leftover is swept later."""
        stale = [key for key in self._stale_tails if key != keep]
        self._stale_tails = []
        try:
            self._uploads.delete_keys(stale, self.path)
        except (DriverError, ClientError, BotoCoreError) as exc:
            LOGGER.warning("could not delete an old tail of %s: %s", self.path, exc)

    def _check_healthy(self) -> None:
        if self._broken is not None:
            raise DriverError(
                f"an earlier part upload of {self.path} failed ({self._broken}); the upload"
                " keeps what the last successful close saved: resume it with append=True"
            ) from self._broken


class _PartBuffer:
    """The part being filled, in a buffer of exactly the part size from the driver's spares."""

    def __init__(self, buffers: PartBuffers) -> None:
        self._buffers = buffers
        self._size = buffers.size
        self._data: bytearray | None = None
        self._filled = 0

    def __len__(self) -> int:
        return self._filled

    @property
    def full(self) -> bool:
        """True when the part holds ``size`` bytes."""
        return self._filled == self._size

    def fill(self, data: memoryview) -> int:
        """Copy as much of ``data`` as fits; the number of bytes taken."""
        if self._data is None:
            self._data = self._buffers.take()
        take = min(self._size - self._filled, data.nbytes)
        self._data[self._filled : self._filled + take] = data[:take]
        self._filled += take
        return take

    def take(self) -> bytearray:
        """The full part; the buffer starts a new one."""
        assert self._data is not None
        assert self.full
        data, self._data, self._filled = self._data, None, 0
        return data

    def contents(self) -> bytes:
        """A copy of the bytes filled so far (a short last part or a tail)."""
        if self._data is None:
            return b""
        return bytes(memoryview(self._data)[: self._filled])

    def copy(self) -> bytearray:
        """The same copy as a ``bytearray``, which botocore sends in one piece.

        ``bytes`` it wraps in a stream that it hashes and sends 16 KiB at a time.
        """
        if self._data is None:
            return bytearray()
        return bytearray(memoryview(self._data)[: self._filled])

    def clear(self) -> None:
        """Drop the bytes filled so far; the buffer goes back to the spares."""
        if self._data is not None:
            self._buffers.give(self._data)
        self._data, self._filled = None, 0
