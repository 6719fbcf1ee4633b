"""The resumable writer: blocks staged on a private staging blob, published by one commit.

Why a staging blob and not uncommitted blocks at the path itself: Azure drops
a blob's uncommitted blocks whenever content is committed to its name (Put
Blob, Put Block List, Copy Blob), so ``put_content`` or ``move`` onto the path
would silently lose the pending upload that the contract says they leave alone.

- ``write`` fills a buffer of one block and hands full blocks to background
  ``Put Block`` requests on the staging blob (``<root>/~regstore/uploads/<path>``),
  at most ``uploadconcurrency`` in flight, so memory stays bounded.
- ``close`` stages the rest, waits for every block and commits the staging
  blob's block list: that list (ids and sizes) is the persisted state any
  process resumes from, and the commit's Last-Modified is the time of the
  last close (so a close with nothing new commits the same list again).
- A resumed writer that writes again first re-reads a short last block into its
  buffer, so blocks stay full-sized however small the chunks between closes.
- ``commit`` publishes the upload in one atomic request. When every byte is
  still in memory (nothing staged: a small upload), that is a ``Put Blob`` of
  the buffer. Otherwise the staging blob is completed and copied on the server:
  one synchronous ``Copy Blob From URL`` up to 256 MiB, above that ``Put Block
  From URL`` ranges in parallel and one ``Put Block List``. Then the staging
  blob is deleted.
- ``cancel`` waits for blocks in flight and deletes the staging blob, and with
  it every block.

Digests: ``close`` keeps the hash state (``FileWriter.upload_state``) as
metadata of the staging blob, set by the same ``Put Block List`` that commits
its blocks (see ``hashstate``), so the state always belongs to exactly those
blocks and costs no request of its own; a resumed writer gets it back from the
Get Blob Properties sent with its Get Block List (see ``resuming``). A commit
never copies it onto the path: the staging list it copies is committed without
metadata. Without a state, the core reads the committed blocks back once
(``_read_upload``), pinned to the ETag they were listed at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobBlock, BlobClient, BlobType

from regstore.driver import FileWriter
from regstore.errors import ContentChangedError, DriverError

from .backend import Backend
from .blocks import MAX_BLOCKS, SYNC_COPY_LIMIT, Block, block_size_at, copy_ranges, new_block_id
from .client import DOWNLOAD_CHUNK
from .errors import error_code
from .hashstate import state_metadata
from .reader import open_version
from .resuming import Staged

__all__ = ["AzureWriter", "Block"]

#: Why a writer whose block failed to stage refuses to go on.
_STAGE_FAILED = "a block of this upload could not be staged"


class AzureWriter(FileWriter):
    """A ``FileWriter`` over block blobs; see the module docstring for the design."""

    def __init__(self, backend: Backend, path: str, staged: Staged | None = None) -> None:
        blocks: Sequence[Block] = staged.blocks if staged is not None else ()
        super().__init__(
            path,
            size=sum(block.size for block in blocks),
            upload_state=staged.state if staged is not None else None,
        )
        self._backend = backend
        self._staging_name = backend.layout.upload_dir(path)
        #: The blocks that make up the upload so far, before the buffer (some may be in flight).
        self._blocks: list[Block] = list(blocks)
        #: Their total size: the upload offset of the first buffered byte.
        self._buffer_start = self.size
        #: The block list the staging blob has committed (what a resume sees).
        self._persisted: list[Block] | None = list(blocks) if staged is not None else None
        #: The staging blob's ETag at that list, which a read-back is pinned to.
        self._etag = staged.etag if staged is not None else None
        #: Whether the staging blob carries metadata (a hash state) with that list.
        self._staged_metadata = staged is not None and staged.has_metadata
        self._buffer = bytearray()
        self._tail_checked = staged is None
        #: A short last block read back with the rest (``_read_upload``), for the first write.
        self._tail: bytes | None = None
        self._limit = backend.config.upload_concurrency
        #: Set when a block failed to stage: the upload has a hole from then on.
        self._broken: str | None = None

    # -- FileWriter -------------------------------------------------------------

    def _write(self, data: memoryview) -> None:
        self._check_intact("write")
        if not self._tail_checked:
            self._reload_short_tail()
        try:
            while data.nbytes:
                room = block_size_at(self._buffer_start) - len(self._buffer)
                self._buffer += data[:room]
                data = data[room:]
                if len(self._buffer) >= block_size_at(self._buffer_start):
                    self._stage_buffer()
        except BaseException:
            # Part of ``data`` may be buffered or staged, and the core counts none of it:
            # a close must not commit it (blocks, size and hash state would disagree).
            self._broken = self._broken or "a write of this upload failed part way"
            raise

    def _close(self) -> None:
        self._check_intact("close")
        self._stage_buffer()
        self._settle()
        # Even an unchanged list is committed again: its Last-Modified is
        # the time of the last close, which pending_uploads reports.
        self._commit_staging(self._state_metadata())

    def _commit(self) -> None:
        self._check_intact("commit")
        final_name = self._backend.layout.key(self.path)
        if not self._blocks:
            # Every byte is in memory: one Put Blob publishes it. A writer that never
            # closed asks meanwhile whether an earlier pending upload of the path is left.
            stale = None
            if self._persisted is None:
                stale = self._backend.staging_exists(self._staging_name)
            try:
                self._replacing_legacy(final_name, self._put_buffer)
            except BaseException:
                if stale is not None and not stale.cancel():
                    stale.exception()  # let it finish; its answer no longer matters
                raise
            self._buffer = bytearray()
            if stale is None or stale.result():
                self._backend.discard_staging(self._staging_name)
            return
        self._stage_buffer()
        self._settle()
        # The service copies committed blocks only; a synchronous copy also
        # copies the staging blob's metadata, so a hash state kept there is
        # dropped first (block copies above that size carry no metadata).
        strip = self._staged_metadata and self._buffer_start <= SYNC_COPY_LIMIT
        if self._persisted != self._blocks or strip:
            self._commit_staging()
        self._replacing_legacy(final_name, self._publish)
        self._backend.discard_staging(self._staging_name)

    def _flush(self) -> None:
        """Hand the buffered rest to a background ``Put Block`` while the hash catches up.

        An upload that is still all in memory stays there, for ``commit``'s single Put Blob.
        """
        self._check_intact("commit")
        if self._blocks:
            self._stage_buffer()

    def _read_upload(self) -> Iterator[bytes]:
        """The committed blocks a resumed writer starts from, read once to rebuild its hash.

        Pinned to the ETag they were listed at: a close, cancel or purge by another
        writer meanwhile ends the read with ``DriverError`` instead of mixing versions.
        A short last block is kept for the first ``write``, which would read it again.
        """
        size = self._buffer_start
        if not size:
            return
        last = self._blocks[-1]
        tail_start = size - last.size
        keep_tail = not self._tail_checked and last.size < block_size_at(tail_start)
        tail = bytearray()
        attempts = self._backend.config.max_retries + 1
        try:
            with open_version(
                self._staging, self.path, 0, DOWNLOAD_CHUNK, attempts, self._etag
            ) as stream:
                position = 0
                while position < size and (piece := stream.read(DOWNLOAD_CHUNK)):
                    piece = piece[: size - position]
                    if keep_tail and position + len(piece) > tail_start:
                        tail += piece[max(0, tail_start - position) :]
                    position += len(piece)
                    yield piece
        except ContentChangedError as exc:
            raise DriverError(
                f"resume the digest of {self.path}: the pending upload changed while it"
                " was read back (closed, cancelled or purged meanwhile); resume it again"
            ) from exc
        if keep_tail and len(tail) == last.size:
            self._tail = bytes(tail)

    def _cancel(self) -> None:
        # Blocks still in flight would stage again on a deleted blob: let them land first.
        self._in_flight(self._limit).shutdown()
        self._buffer = bytearray()
        self._backend.discard_staging(self._staging_name)

    # -- staging ----------------------------------------------------------------

    @cached_property
    def _staging(self) -> BlobClient:
        """The staging blob's client, built when first needed (small uploads never are)."""
        return self._backend.blob(self._staging_name)

    def _stage_buffer(self) -> None:
        """Hand the buffer to a background ``Put Block`` as the next block (if it holds any)."""
        if not self._buffer:
            return
        if len(self._blocks) >= MAX_BLOCKS:
            raise DriverError(
                f"write {self.path}: the upload reached Azure's limit of {MAX_BLOCKS} blocks"
                f" at {self._buffer_start} bytes"
            )
        block = Block(new_block_id(), len(self._buffer))
        data = bytes(self._buffer)
        staging = self._staging

        def stage() -> None:
            staging.stage_block(block.id, data, length=block.size)

        try:
            self._in_flight(self._limit).submit(stage)
        except BaseException:
            self._broken = _STAGE_FAILED
            raise
        self._blocks.append(block)
        self._buffer_start += block.size
        self._buffer = bytearray()

    def _settle(self) -> None:
        """Wait for the blocks in flight; a failed one breaks the upload."""
        try:
            self._in_flight(self._limit).wait()
        except BaseException:
            self._broken = _STAGE_FAILED
            raise

    def _check_intact(self, action: str) -> None:
        if self._broken is None and self._in_flight(self._limit).failure is not None:
            self._broken = _STAGE_FAILED  # latched by a background block
        if self._broken is not None:
            raise DriverError(
                f"{action} {self.path}: {self._broken}; the pending upload is as the last"
                " close left it (resume it with append=True) or cancel it"
            )

    def _commit_staging(self, metadata: dict[str, str] | None = None) -> None:
        """Commit the staging blob's block list, with ``metadata`` (None: drop any kept)."""
        self._staging.commit_block_list(
            [BlobBlock(block.id) for block in self._blocks], metadata=metadata
        )
        self._persisted = list(self._blocks)
        self._staged_metadata = metadata is not None

    def _state_metadata(self) -> dict[str, str] | None:
        """The hash state to keep with the blocks a close commits, as metadata.

        Read after the blocks are stored, so the hash caught up meanwhile; a state
        that is not of exactly those blocks' bytes is never kept.
        """
        if self._buffer or self._buffer_start != self.size:
            return None
        return state_metadata(self.upload_state)

    def _reload_short_tail(self) -> None:
        """Move a short last block (left by an earlier ``close``) back into the buffer."""
        self._tail_checked = True
        if not self._blocks:
            return
        last = self._blocks[-1]
        start = self._buffer_start - last.size
        if last.size >= block_size_at(start):
            return
        tail, self._tail = self._tail, None
        if tail is None:
            tail = self._staging.download_blob(offset=start, length=last.size).readall()
        if len(tail) != last.size:
            raise DriverError(
                f"write {self.path}: the pending upload changed while it was resumed"
                f" (its last block has {len(tail)} bytes, expected {last.size})"
            )
        self._blocks.pop()
        self._buffer_start = start
        self._buffer = bytearray(tail)

    # -- publishing -------------------------------------------------------------

    def _replacing_legacy(self, final_name: str, publish: Callable[[BlobClient], None]) -> None:
        """Run ``publish`` on the final blob; an append blob of the Go driver is replaced."""
        try:
            publish(self._backend.blob(final_name))
        except HttpResponseError as exc:
            if error_code(exc) != "InvalidBlobType":
                raise
            self._backend.clear_legacy_blob(final_name)
            publish(self._backend.blob(final_name))

    def _put_buffer(self, final: BlobClient) -> None:
        data = bytes(self._buffer)
        final.upload_blob(data, blob_type=BlobType.BLOCKBLOB, length=len(data), overwrite=True)

    def _publish(self, final: BlobClient) -> None:
        """Copy the committed staging blob into ``final`` on the server, atomically."""
        total = self._buffer_start
        source = self._backend.signer.source_url(self._staging_name)
        if total <= SYNC_COPY_LIMIT:
            final.start_copy_from_url(source, requires_sync=True)
            return
        ranges = copy_ranges(total)
        ids = [new_block_id() for _ in ranges]

        def copy(index: int) -> None:
            offset, length = ranges[index]
            final.stage_block_from_url(
                ids[index], source, source_offset=offset, source_length=length
            )

        workers = min(self._limit, len(ranges))
        with ThreadPoolExecutor(workers, thread_name_prefix="regstore-azure-copy") as pool:
            list(pool.map(copy, range(len(ranges))))
        final.commit_block_list([BlobBlock(block_id) for block_id in ids])
