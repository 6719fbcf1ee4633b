"""A streamed reader over ranged GETs of one object generation.

Each fetch asks for the next window of bytes (``chunksize``), so memory stays
bounded whatever the object's size. Every fetch selects the generation seen
when the reader was opened (``?generation=``, also on the SDK's resumption of
a cut body), so it reads that version or nothing: an object replaced mid-read
fails the read (404 on the old generation) instead of mixing two versions.
A ``precondition`` such as ``ifGenerationMatch`` would not do: fake-gcs-server
ignores preconditions on reads. A version that went raises
``ContentChangedError``; other SDK errors reach the driver's ``translate``
through the reader the wrapper puts around this one.
"""

from __future__ import annotations

import io
from typing import Any

from google.api_core import exceptions as api
from google.cloud.storage import Blob, Bucket

from regstore.errors import ContentChangedError

__all__ = ["ObjectReader"]


class ObjectReader(io.RawIOBase):
    """Reads generation ``generation`` of ``name`` (``size`` bytes) from ``offset``.

    ``window`` bytes per request; ``generation`` None (a server that reports
    none) reads whatever version the server has.
    """

    def __init__(
        self,
        bucket: Bucket,
        name: str,
        *,
        path: str,
        size: int,
        generation: int | None,
        offset: int,
        window: int,
        retry: Any,
    ) -> None:
        super().__init__()
        self._bucket = bucket
        self._name = name
        self._path = path
        self._size = size
        self._generation = generation
        self._pos = min(offset, size)
        self._window = window
        self._retry = retry
        self._chunk = b""
        self._chunk_pos = 0

    @property
    def size(self) -> int:
        """The object's size, fixed when the reader was opened."""
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset``; past the end reads as end of file."""
        self._check()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence!r} (0, 1 or 2)")
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        chunk_start = self._pos - self._chunk_pos
        if chunk_start <= target < chunk_start + len(self._chunk):
            self._chunk_pos = target - chunk_start
        else:
            self._chunk, self._chunk_pos = b"", 0
        self._pos = target
        return self._pos

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` as far as the object goes (never a short read before the end)."""
        self._check()
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._pos < self._size:
            if self._chunk_pos >= len(self._chunk):
                self._fetch(max(self._window, len(view) - filled))
            taken = min(len(view) - filled, len(self._chunk) - self._chunk_pos)
            view[filled : filled + taken] = self._chunk[self._chunk_pos : self._chunk_pos + taken]
            self._chunk_pos += taken
            self._pos += taken
            filled += taken
        return filled

    def readall(self) -> bytes:
        """The rest of the object, fetched in one request."""
        self._check()
        head = self._chunk[self._chunk_pos :]
        self._pos += len(head)
        self._chunk, self._chunk_pos = b"", 0
        if self._pos >= self._size:
            return bytes(head)
        rest = self._download(self._pos, self._size - 1)
        self._pos += len(rest)
        return bytes(head) + rest if head else rest

    def close(self) -> None:
        self._chunk = b""
        super().close()

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed reader")

    def _fetch(self, length: int) -> None:
        end = min(self._size, self._pos + length) - 1
        self._chunk = self._download(self._pos, end)
        self._chunk_pos = 0

    def _download(self, start: int, end: int) -> bytes:
        # A fresh Blob per request: a download overwrites the Blob's generation
        # with the one the answer reports (None when the server sends none).
        blob = Blob(self._name, self._bucket, generation=self._generation)
        try:
            data: bytes = blob.download_as_bytes(
                start=start, end=end, checksum=None, retry=self._retry
            )
        except (api.NotFound, api.PreconditionFailed) as exc:
            raise ContentChangedError(self._path) from exc  # the generation read is gone
        served = blob.generation
        if self._generation is not None and served is not None and served != self._generation:
            raise ContentChangedError(
                self._path,
                detail=f"read {self._path}: asked for generation {self._generation}, the"
                f" server sent {served}; the object was replaced while it was read",
            )
        if len(data) != end - start + 1:
            raise ContentChangedError(
                self._path,
                detail=f"read {self._path}: asked for bytes {start}-{end} of {self._size},"
                f" got {len(data)}; the object changed while it was read",
            )
        return data
