"""Object reads: a streaming reader that resumes where a dropped connection left it.

Bytes come from the HTTP answer as the caller reads them; an object is never
buffered whole. botocore retries a request until its answer's headers arrive,
but not a GetObject whose answer is cut afterwards (the body, or the error
body of a 404). Those are asked again here: the body from the byte where it
broke, with ``Range`` and ``If-Match`` on the first answer's ETag, so the
reader never mixes two versions of an object. Failures that persist surface as
``DriverError``.
"""

from __future__ import annotations

import http.client
import io
from typing import IO, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import HTTPError as URLLib3Error

from regstore.errors import DriverError, StorageDriverError
from regstore.reading import SizedReader

from .client import MAX_ATTEMPTS
from .errors import error_code, translate

__all__ = [
    "ANSWER_CUT",
    "BODY_CUT",
    "ObjectReader",
    "ObjectReplacedError",
    "get_object",
    "open_object",
    "read_object",
]

#: An answer broken after its headers, which botocore raises unclassified and
#: unretried (it reads the error body of a streaming operation outside its retries).
ANSWER_CUT = (URLLib3Error, http.client.HTTPException, ConnectionError)
#: A body broken while streaming.
BODY_CUT = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, *ANSWER_CUT)
#: Codes of a GET whose ``If-Match`` no longer matches.
REPLACED = ("PreconditionFailed", "412")
#: Read size of the buffered reader wrapped around an object.
BUFFER_SIZE = 256 * 1024


class ObjectReplacedError(DriverError):
    """The object changed between two answers of one read (its ETag no longer matches)."""


def get_object(client: Any, bucket: str, key: str, path: str, **extra: Any) -> Any:
    """GetObject, asked again while its answer comes back cut short."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return client.get_object(Bucket=bucket, Key=key, **extra)
        except ClientError as exc:
            raise translate(exc, bucket=bucket, path=path) from exc
        except ANSWER_CUT as exc:
            if attempt == MAX_ATTEMPTS:
                raise DriverError(
                    f"GetObject of {path} failed: the connection broke {attempt} times ({exc})"
                ) from exc
        except BotoCoreError as exc:
            raise translate(exc, bucket=bucket, path=path) from exc
    raise AssertionError("unreachable")  # pragma: no cover


class ObjectReader(io.RawIOBase):
    """The unbuffered stream of one object from ``offset``, resumed after a broken answer."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        path: str,
        driver_name: str,
        answer: Any,
        offset: int,
    ) -> None:
        super().__init__()
        self._client, self._bucket, self._key, self._path = client, bucket, key, path
        self._driver_name = driver_name
        self._body = answer["Body"]
        self._etag = answer.get("ETag")
        self._position = offset
        self._end = offset + int(answer["ContentLength"])

    @property
    def length(self) -> int:
        """Bytes from the start offset to the end of the object."""
        return self._end

    def remaining(self) -> int:
        """Bytes of the object not read yet."""
        return max(0, self._end - self._position)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        failures = 0
        while True:
            try:
                count = int(self._body.readinto(buffer))
            except BODY_CUT as exc:
                if self.closed:
                    raise ValueError("I/O operation on a closed reader") from exc
                failures += 1
                if self._position >= self._end:
                    return 0  # every byte arrived; only the end of the answer broke
                if failures >= MAX_ATTEMPTS:
                    raise DriverError(
                        f"reading {self._path} failed: the connection broke {failures} times"
                        f" at byte {self._position} ({exc})",
                        driver_name=self._driver_name,
                    ) from exc
                self._resume()
                continue
            self._position += count
            return count

    def _resume(self) -> None:
        """Ask for the rest of the same version of the object."""
        self._body.close()
        extra = {"Range": f"bytes={self._position}-"}
        if self._etag:
            extra["IfMatch"] = self._etag
        try:
            answer = get_object(self._client, self._bucket, self._key, self._path, **extra)
        except StorageDriverError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and error_code(cause) in (
                "PreconditionFailed",
                "412",
            ):
                raise ObjectReplacedError(
                    f"reading {self._path} failed: the object was replaced while it was read",
                    driver_name=self._driver_name,
                ) from cause
            exc.driver_name = exc.driver_name or self._driver_name
            raise
        self._body = answer["Body"]

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def open_object(
    client: Any, bucket: str, key: str, path: str, driver_name: str, offset: int = 0
) -> IO[bytes]:
    """A buffered reader of ``key`` from ``offset``; empty when ``offset`` is at or past the end."""
    extra = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        answer = get_object(client, bucket, key, path, **extra)
    except StorageDriverError as exc:
        if offset and error_code(exc.__cause__ or exc) == "InvalidRange":
            return io.BytesIO()  # the object exists and ends before ``offset``
        raise
    raw = ObjectReader(client, bucket, key, path, driver_name, answer, offset)
    return SizedReader(raw, raw.remaining, BUFFER_SIZE)


def read_object(client: Any, bucket: str, key: str, path: str, driver_name: str) -> bytes:
    """The whole content of ``key`` (``PathNotFoundError`` about ``path`` when missing).

    An object replaced while a broken answer was resumed is read again from
    the start: the caller gets one version whole, the old or the new.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _read_whole(client, bucket, key, path, driver_name)
        except ObjectReplacedError:
            if attempt == MAX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _read_whole(client: Any, bucket: str, key: str, path: str, driver_name: str) -> bytes:
    answer = get_object(client, bucket, key, path)
    with ObjectReader(client, bucket, key, path, driver_name, answer, 0) as raw:
        content = bytearray(raw.length)
        view = memoryview(content)
        filled = 0
        while filled < len(content):
            count = raw.readinto(view[filled:])
            if not count:
                break
            filled += count
        view.release()
        del content[filled:]
    return bytes(content)
