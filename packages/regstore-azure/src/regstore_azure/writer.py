"""The resumable writer: blocks staged on a private staging blob, published by one commit.

Why a staging blob and not uncommitted blocks at the path itself: Azure drops
a blob's uncommitted blocks whenever content is committed to its name (Put
Blob, Put Block List, Copy Blob), so ``put_content`` or ``move`` onto the path
would silently lose the pending upload that the contract says they leave alone.

- ``write`` fills a buffer of one block and stages full blocks on the staging
  blob (``<root>/~regstore/uploads/<path>``).
- ``close`` stages the rest and commits the staging blob's block list: that list
  (ids and sizes) is the persisted state any process resumes from.
- A resumed writer that writes again first re-reads a short last block into its
  buffer, so blocks stay full-sized however small the chunks between closes.
- ``commit`` copies the staging blob into blocks of the final blob on the server
  (``Put Block From URL``), stages the buffered tail there directly, and commits
  the final block list: one atomic ``Put Block List`` publishes the upload.
  Then the staging blob is deleted.
- ``cancel`` deletes the staging blob, and with it every block.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobClient

from regstore.driver import FileWriter
from regstore.errors import DriverError

from .backend import Backend
from .blocks import MAX_BLOCKS, block_size_at, copy_ranges, new_block_id
from .errors import error_code, translate

__all__ = ["AzureFileWriter", "Block"]

#: Server-side block copies in flight at once during a commit.
COPY_CONCURRENCY = 4


@dataclass(frozen=True)
class Block:
    """A block of the staging blob: its id and its size in bytes."""

    id: str
    size: int


class AzureFileWriter(FileWriter):
    """A ``FileWriter`` over block blobs; see the module docstring for the design."""

    def __init__(
        self, backend: Backend, path: str, blocks: Sequence[Block] = (), *, resumed: bool = False
    ) -> None:
        super().__init__(path, size=sum(block.size for block in blocks), driver_name="azure")
        self._backend = backend
        self._staging_name = backend.layout.staging_key(path)
        self._staging = backend.blob(self._staging_name)
        #: The blocks that make up the upload so far, before the buffer.
        self._blocks: list[Block] = list(blocks)
        #: Their total size: the upload offset of the first buffered byte.
        self._buffer_start = self.size
        #: The block list the staging blob has committed (what a resume sees).
        self._persisted: list[Block] | None = list(blocks) if resumed else None
        self._buffer = bytearray()
        self._tail_checked = not resumed

    # -- FileWriter -------------------------------------------------------------

    def _write(self, data: memoryview) -> None:
        if not self._tail_checked:
            self._reload_short_tail()
        while data.nbytes:
            room = block_size_at(self._buffer_start) - len(self._buffer)
            self._buffer += data[:room]
            data = data[room:]
            if len(self._buffer) >= block_size_at(self._buffer_start):
                self._stage_buffer()

    def _close(self) -> None:
        with self._staging_errors("close"):
            if self._buffer:
                self._stage_buffer()
            if self._persisted != self._blocks:
                self._commit_staging()

    def _commit(self) -> None:
        final_name = self._backend.layout.key(self.path)
        persisted = self._persisted or []
        if persisted[: len(self._blocks)] != self._blocks:
            # Blocks staged by this writer: commit them so the service can read them.
            with self._staging_errors("commit"):
                self._commit_staging()
        with self._backend.errors("commit", self.path):
            try:
                self._publish(self._backend.blob(final_name))
            except HttpResponseError as exc:
                if error_code(exc) != "InvalidBlobType":
                    raise
                # An append blob from the Go driver holds the name: replace it.
                self._backend.clear_legacy_blob(final_name)
                self._publish(self._backend.blob(final_name))
            self._buffer = bytearray()
            self._backend.discard_staging(self._staging_name)

    def _cancel(self) -> None:
        self._buffer = bytearray()
        with self._backend.errors("cancel", self.path):
            self._backend.discard_staging(self._staging_name)

    # -- helpers ----------------------------------------------------------------

    def _stage_buffer(self) -> None:
        if len(self._blocks) >= MAX_BLOCKS:
            raise DriverError(
                f"write {self.path}: the upload reached Azure's limit of {MAX_BLOCKS} blocks"
                f" at {self._buffer_start} bytes"
            )
        block = Block(new_block_id(), len(self._buffer))
        with self._staging_errors("write"):
            self._staging.stage_block(block.id, bytes(self._buffer), length=block.size)
        self._blocks.append(block)
        self._buffer_start += block.size
        self._buffer = bytearray()

    def _commit_staging(self) -> None:
        self._staging.commit_block_list([BlobBlock(block.id) for block in self._blocks])
        self._persisted = list(self._blocks)

    def _reload_short_tail(self) -> None:
        """Move a short last block (left by an earlier ``close``) back into the buffer."""
        self._tail_checked = True
        if not self._blocks:
            return
        last = self._blocks[-1]
        start = self._buffer_start - last.size
        if last.size >= block_size_at(start):
            return
        with self._staging_errors("write"):
            tail = self._staging.download_blob(offset=start, length=last.size).readall()
        if len(tail) != last.size:
            raise DriverError(
                f"write {self.path}: the pending upload changed while it was resumed"
                f" (its last block has {len(tail)} bytes, expected {last.size})"
            )
        self._blocks.pop()
        self._buffer_start = start
        self._buffer = bytearray(tail)

    def _publish(self, final: BlobClient) -> None:
        """Copy the staged blocks and the buffer into ``final`` and commit its block list."""
        total = self._buffer_start
        ids: list[str] = []
        if total:
            ranges = copy_ranges(total)
            ids = [new_block_id() for _ in ranges]
            source = self._backend.signer.source_url(self._staging_name)

            def copy(index: int) -> None:
                offset, length = ranges[index]
                final.stage_block_from_url(
                    ids[index], source, source_offset=offset, source_length=length
                )

            with ThreadPoolExecutor(max_workers=min(COPY_CONCURRENCY, len(ranges))) as pool:
                list(pool.map(copy, range(len(ranges))))
        if self._buffer:
            tail_id = new_block_id()
            final.stage_block(tail_id, bytes(self._buffer), length=len(self._buffer))
            ids.append(tail_id)
        final.commit_block_list([BlobBlock(block_id) for block_id in ids])

    @contextmanager
    def _staging_errors(self, action: str) -> Iterator[None]:
        """Errors on the staging blob: a vanished one means the upload was discarded."""
        try:
            yield
        except AzureError as exc:
            if isinstance(exc, ResourceNotFoundError) and error_code(exc) == "BlobNotFound":
                raise DriverError(
                    f"{action} {self.path}: the pending upload was discarded (cancelled or"
                    " deleted) while this writer had it open"
                ) from exc
            raise translate(exc, self._backend.context, action, self.path) from exc
