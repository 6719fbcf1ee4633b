"""Blob reads, range by range, every range of the version the first one came from.

A read fetches ``DOWNLOAD_CHUNK`` bytes at a time, so memory stays bounded;
each range after the first carries ``If-Match`` with the first one's ETag, so a
stream never mixes two versions of a blob. The SDK asks again for a range whose
answer is cut (a few times); a range that still fails is asked for again by the
core's ``ResumingStream``, from the byte the read reached and pinned to the same
ETag. A blob replaced between two ranges ends a stream with
``ContentChangedError``; ``read_whole`` starts over on the new version instead
(``read_one_version``), so ``get_content`` returns one version whole.
"""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError
from azure.storage.blob import BlobClient

from regstore.errors import ContentChangedError, DriverError
from regstore.objectstore.versioned import ResumingStream, read_one_version
from regstore.reading import SizedReader

__all__ = ["BUFFER_SIZE", "BlobRanges", "open_reader", "open_version", "read_whole"]

#: Read size of the buffered reader wrapped around a blob's ranges.
BUFFER_SIZE = 64 * 1024
#: Times ``read_whole`` starts over on a newer version before it gives up.
RESTARTS = 5


class _Cut(Exception):
    """A range whose answer broke after the SDK's own tries (an error without a status)."""


class BlobRanges:
    """One version of a blob from ``position`` to its end, fetched one range at a time.

    ``etag`` pins the first range too (else the version is the first range's).
    A body for ``ResumingStream``: ``readinto`` serves the ranges in order.
    """

    def __init__(
        self, blob: BlobClient, path: str, position: int, chunk: int, etag: str | None = None
    ) -> None:
        self._blob, self._path, self._chunk = blob, path, chunk
        self.etag = etag
        self.position = position
        #: The size of the version being read (known once the first range came).
        self.size = position
        self._current = memoryview(b"")
        self._started = False

    def prime(self) -> None:
        """Fetch the first range now, so a missing blob or a refused request raises here."""
        self._current = memoryview(self.fetch())

    def fetch(self) -> bytes:
        """The next range (``b""`` at the end); the first call also learns size and ETag."""
        if self._started and self.position >= self.size:
            return b""
        self._started = True
        try:
            data = self._download()
        except ResourceModifiedError as exc:
            raise ContentChangedError(
                self._path,
                detail=f"{self._path} was replaced while it was read (at byte {self.position});"
                " read it again",
            ) from exc
        except HttpResponseError as exc:
            if exc.status_code is None:
                raise _Cut(str(exc)) from exc
            raise
        self.position += len(data)
        return data

    def readinto(self, buffer: memoryview, /) -> int:
        """Copy the next bytes into ``buffer``; 0 at the end of the blob."""
        while not self._current:
            chunk = self.fetch()
            if not chunk:
                return 0
            self._current = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._current))
        target[:count] = self._current[:count]
        self._current = self._current[count:]
        return count

    def close(self) -> None:
        """Drop the range held; nothing else stays open between ranges."""
        self._current = memoryview(b"")

    def _download(self) -> bytes:
        pinned: dict[str, Any] = {}
        if self.etag is not None:
            pinned = {"etag": self.etag, "match_condition": MatchConditions.IfNotModified}
        try:
            download = self._blob.download_blob(
                offset=self.position, length=self._chunk, max_concurrency=1, **pinned
            )
        except HttpResponseError as exc:
            if exc.status_code != 416:
                raise
            # At or past the end: nothing to read, once the blob is known to exist.
            properties = self._blob.get_blob_properties(**pinned)
            self.etag, self.size = str(properties.etag), int(properties.size)
            return b""
        data: bytes = download.readall()
        properties = download.properties
        self.etag = str(properties.etag)
        self.size = _total_size(str(properties.content_range), self.position + len(data))
        return data


def _total_size(content_range: str, fallback: int) -> int:
    """The blob size in ``bytes a-b/size`` (``fallback`` when the answer has none)."""
    _, _, total = content_range.rpartition("/")
    return int(total) if total.isdigit() else fallback


def open_version(
    blob: BlobClient,
    path: str,
    offset: int,
    chunk: int,
    attempts: int,
    etag: str | None = None,
) -> ResumingStream:
    """The raw stream of one version of ``blob`` from ``offset``; its first range comes now.

    So a missing blob raises here. ``attempts`` bounds the cut answers in a row.
    """
    body = _first_range(blob, path, offset, chunk, attempts, etag)
    pinned = body.etag
    return ResumingStream(
        path,
        body,
        start=offset,
        end=body.size,
        reopen=lambda position: BlobRanges(blob, path, position, chunk, pinned),
        cut=(_Cut,),
        attempts=attempts,
    )


def _first_range(
    blob: BlobClient, path: str, offset: int, chunk: int, attempts: int, etag: str | None
) -> BlobRanges:
    """Ranges of ``blob`` from ``offset`` with the first one fetched (asked again when cut)."""
    for attempt in range(1, attempts + 1):
        body = BlobRanges(blob, path, offset, chunk, etag)
        try:
            body.prime()
        except _Cut as exc:
            if attempt < attempts:
                continue
            raise DriverError(
                f"reading {path} failed: the connection broke {attempt} times at byte"
                f" {offset} ({exc})"
            ) from exc
        return body
    raise AssertionError("attempts must be at least 1")


def open_reader(blob: BlobClient, path: str, offset: int, chunk: int, attempts: int) -> SizedReader:
    """A buffered reader of ``blob`` from ``offset`` (errors of its first range raise here)."""
    raw = open_version(blob, path, offset, chunk, attempts)
    return SizedReader(raw, raw.remaining, BUFFER_SIZE)


def read_whole(blob: BlobClient, path: str, chunk: int, attempts: int) -> bytes:
    """The whole blob, one version of it: a read that meets a newer version starts over."""

    def read() -> bytes:
        with open_version(blob, path, 0, chunk, attempts) as stream:
            return stream.read_all()

    try:
        return read_one_version(read, RESTARTS)
    except ContentChangedError as exc:
        raise ContentChangedError(
            path, detail=f"{path} was replaced {RESTARTS} times while it was read; read it again"
        ) from exc
