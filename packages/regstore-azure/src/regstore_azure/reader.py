"""Blob reads, range by range, every range of the version the first one came from.

A read fetches ``DOWNLOAD_CHUNK`` bytes at a time, so memory stays bounded;
each range after the first carries ``If-Match`` with the first one's ETag, so a
stream never mixes two versions of a blob. The SDK asks again for a range whose
answer is cut (a few times); a range that still fails is asked for again here,
from the byte the read reached and pinned to the same ETag, up to
``max_retries`` times. A blob replaced between two ranges ends a stream with
``BlobReplacedError``; ``read_whole`` starts over on the new version instead,
so ``get_content`` returns one version whole.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError
from azure.storage.blob import BlobClient

from regstore.errors import DriverError, StorageDriverError
from regstore.reading import SizedReader

__all__ = [
    "BUFFER_SIZE",
    "BlobRanges",
    "BlobReplacedError",
    "RangeStream",
    "open_reader",
    "read_whole",
]

#: Read size of the buffered reader wrapped around a blob's ranges.
BUFFER_SIZE = 64 * 1024
#: Times ``read_whole`` starts over on a newer version before it gives up.
RESTARTS = 5
#: The name readers stamp on errors raised after ``reader()`` returned.
DRIVER_NAME = "azure"

#: ``errors()`` of the backend: turns SDK exceptions into regstore errors.
Guard = Callable[[], AbstractContextManager[None]]


class BlobReplacedError(DriverError):
    """The blob changed between two ranges of one read (its ETag no longer matches)."""


@dataclass(frozen=True)
class Retries:
    """How often, and after what pause, a failed range is asked for again."""

    times: int
    delay: float


class BlobRanges:
    """The ranges of one version of a blob, from ``offset`` to its end, fetched in order.

    ``etag`` pins the first range too (else the version is the first range's).
    """

    def __init__(
        self,
        blob: BlobClient,
        path: str,
        offset: int,
        chunk: int,
        retries: Retries,
        *,
        etag: str | None = None,
    ) -> None:
        self._blob, self._path, self._chunk, self._retries = blob, path, chunk, retries
        self._etag = etag
        self.position = offset
        #: The size of the version being read (known once the first range came).
        self.size = offset
        self.first = self._fetch()

    @property
    def remaining(self) -> int:
        """Bytes after those fetched so far."""
        return max(0, self.size - self.position)

    def next(self) -> bytes:
        """The next range (``b""`` at the end)."""
        if self.position >= self.size:
            return b""
        return self._fetch()

    def _fetch(self) -> bytes:
        for attempt in range(1, self._retries.times + 2):
            try:
                data = self._download()
            except ResourceModifiedError as exc:
                raise BlobReplacedError(
                    f"{self._path} was replaced while it was read (at byte {self.position});"
                    " read it again",
                    driver_name=DRIVER_NAME,
                ) from exc
            except HttpResponseError as exc:
                # A range whose answer broke after the SDK's own tries: no status.
                if exc.status_code is not None or attempt > self._retries.times:
                    raise
                time.sleep(self._retries.delay * attempt)
                continue
            self.position += len(data)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(self) -> bytes:
        pinned: dict[str, Any] = {}
        if self._etag is not None:
            pinned = {"etag": self._etag, "match_condition": MatchConditions.IfNotModified}
        try:
            download = self._blob.download_blob(
                offset=self.position, length=self._chunk, max_concurrency=1, **pinned
            )
        except HttpResponseError as exc:
            if exc.status_code != 416:
                raise
            # At or past the end: nothing to read, once the blob is known to exist.
            properties = self._blob.get_blob_properties(**pinned)
            self._etag, self.size = str(properties.etag), int(properties.size)
            return b""
        data: bytes = download.readall()
        properties = download.properties
        self._etag = str(properties.etag)
        self.size = _total_size(str(properties.content_range), self.position + len(data))
        return data


def _total_size(content_range: str, fallback: int) -> int:
    """The blob size in ``bytes a-b/size`` (``fallback`` when the answer has none)."""
    _, _, total = content_range.rpartition("/")
    return int(total) if total.isdigit() else fallback


class RangeStream(io.RawIOBase):
    """Raw reads served range by range; SDK errors become regstore errors (``guard``)."""

    def __init__(self, ranges: BlobRanges, guard: Guard) -> None:
        super().__init__()
        self._ranges: BlobRanges | None = ranges
        self._guard = guard
        self._current = memoryview(ranges.first)

    @property
    def remaining(self) -> int:
        """Bytes not yet handed out."""
        ranges = self._ranges
        return len(self._current) + (ranges.remaining if ranges is not None else 0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Copy the next bytes into ``buffer``; 0 at the end of the blob."""
        target = memoryview(buffer).cast("B")
        while not self._current:
            if self._ranges is None:
                return 0
            chunk = self._next(self._ranges)
            if not chunk:
                self._ranges = None
                return 0
            self._current = memoryview(chunk)
        count = min(len(target), len(self._current))
        target[:count] = self._current[:count]
        self._current = self._current[count:]
        return count

    def _next(self, ranges: BlobRanges) -> bytes:
        try:
            with self._guard():
                return ranges.next()
        except StorageDriverError as exc:
            exc.driver_name = exc.driver_name or DRIVER_NAME
            raise

    def close(self) -> None:
        """Drop the ranges; nothing else is held open between them."""
        self._ranges = None
        self._current = memoryview(b"")
        super().close()


def open_reader(
    blob: BlobClient, path: str, offset: int, chunk: int, retries: Retries, guard: Guard
) -> SizedReader:
    """A reader of ``blob`` from ``offset``; its first range is fetched now (errors raise here)."""
    with guard():
        ranges = BlobRanges(blob, path, offset, chunk, retries)
    raw = RangeStream(ranges, guard)
    return SizedReader(raw, lambda: raw.remaining, BUFFER_SIZE)


def read_whole(blob: BlobClient, path: str, chunk: int, retries: Retries) -> bytes:
    """The whole blob, one version of it: a read that meets a newer version starts over."""
    for attempt in range(1, RESTARTS + 1):
        try:
            ranges = BlobRanges(blob, path, 0, chunk, retries)
            content = bytearray(ranges.first)
            while piece := ranges.next():
                content += piece
            return bytes(content)
        except BlobReplacedError as exc:
            if attempt == RESTARTS:
                raise BlobReplacedError(
                    f"{path} was replaced {RESTARTS} times while it was read; read it again",
                    driver_name=DRIVER_NAME,
                ) from exc
    raise AssertionError("unreachable")  # pragma: no cover
