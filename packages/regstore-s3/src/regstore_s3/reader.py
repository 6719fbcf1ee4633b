"""Object reads: a streaming reader that resumes where a dropped connection left it.

Bytes come from the HTTP answer as the caller reads them; an object is never
buffered whole. botocore retries a request until its answer's headers arrive,
but not a GetObject whose answer is cut afterwards (the body, or the error
body of a 404). Those are asked again here; a body cut mid-way is resumed by
the core's ``ResumingStream`` from the byte where it broke, with ``Range`` and
``If-Match`` on the first answer's ETag, so a reader never mixes two versions
of an object (``ContentChangedError`` instead). SDK errors are left to the
driver's ``translate`` hook.

A plain body (no checksum for botocore to verify, no content encoding) is read
straight from the HTTP answer into the caller's buffer (``SocketBody``):
urllib3's ``readinto`` reads a new ``bytes`` and copies it over, a fifth of
the client's CPU on a big download.
"""

from __future__ import annotations

import http.client
import io
from typing import IO, Any

from botocore.exceptions import (
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.response import StreamingBody
from urllib3.exceptions import HTTPError as URLLib3Error
from urllib3.response import HTTPResponse as URLLib3Response

from regstore.errors import ContentChangedError, DriverError
from regstore.objectstore.versioned import ResumingStream, read_one_version
from regstore.reading import SizedReader

from .client import MAX_ATTEMPTS
from .errors import error_code

__all__ = ["ANSWER_CUT", "BODY_CUT", "get_object", "open_object", "read_object"]

#: An answer broken after its headers, which botocore raises unclassified and
#: unretried (it reads the error body of a streaming operation outside its retries).
ANSWER_CUT = (URLLib3Error, http.client.HTTPException, ConnectionError)
#: A body broken while streaming.
BODY_CUT = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, *ANSWER_CUT)
#: Codes of a GET whose ``If-Match`` no longer matches.
REPLACED = ("PreconditionFailed", "412")
#: Read size of the buffered reader wrapped around an object.
BUFFER_SIZE = 256 * 1024


def get_object(client: Any, bucket: str, key: str, path: str, **extra: Any) -> Any:
    """GetObject, asked again while its answer comes back cut short."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return client.get_object(Bucket=bucket, Key=key, **extra)
        except ANSWER_CUT as exc:
            if attempt == MAX_ATTEMPTS:
                raise DriverError(
                    f"GetObject of {path} failed: the connection broke {attempt} times ({exc})"
                ) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _stream(
    client: Any, bucket: str, key: str, path: str, answer: Any, offset: int
) -> ResumingStream:
    """The raw stream of the version ``answer`` started, from ``offset`` to its end."""
    etag = answer.get("ETag")

    def reopen(position: int) -> Any:
        extra = {"Range": f"bytes={position}-"}
        if etag:
            extra["IfMatch"] = etag
        try:
            again = get_object(client, bucket, key, path, **extra)
        except ClientError as exc:
            if error_code(exc) in REPLACED:
                raise ContentChangedError(path) from exc
            raise
        return direct_body(again["Body"], int(again["ContentLength"]))

    end = offset + int(answer["ContentLength"])
    return ResumingStream(
        path,
        direct_body(answer["Body"], end - offset),
        start=offset,
        end=end,
        reopen=reopen,
        cut=BODY_CUT,
        attempts=MAX_ATTEMPTS,
    )


def open_object(client: Any, bucket: str, key: str, path: str, offset: int = 0) -> IO[bytes]:
    """A buffered reader of ``key`` from ``offset``; empty when ``offset`` is at or past the end."""
    extra = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        answer = get_object(client, bucket, key, path, **extra)
    except ClientError as exc:
        if offset and error_code(exc) == "InvalidRange":
            return io.BytesIO()  # the object exists and ends before ``offset``
        raise
    raw = _stream(client, bucket, key, path, answer, offset)
    return SizedReader(raw, raw.remaining, BUFFER_SIZE)


def read_object(client: Any, bucket: str, key: str, path: str) -> bytes:
    """The whole content of ``key``, one version of it (the SDK's 404 when it is missing).

    An object replaced while a broken answer was resumed is read again from
    the start: the caller gets one version whole, the old or the new.
    """
    return read_one_version(lambda: _read_whole(client, bucket, key, path), MAX_ATTEMPTS)


def _read_whole(client: Any, bucket: str, key: str, path: str) -> bytes:
    answer = get_object(client, bucket, key, path)
    with _stream(client, bucket, key, path, answer, 0) as raw:
        return raw.read_all()


class SocketBody:
    """A GetObject body read from its ``http.client`` answer straight into the caller's buffer.

    What botocore's ``StreamingBody`` checks is kept: fewer bytes than the
    ``Content-Length`` before the end is a cut body (``IncompleteReadError``,
    resumed by the caller), and a broken socket is a streaming error. Once the
    last byte is read the connection goes back to the pool, as urllib3 does
    after its own reads.
    """

    def __init__(
        self,
        body: StreamingBody,
        pooled: URLLib3Response,
        answer: http.client.HTTPResponse,
        length: int,
    ) -> None:
        self._body = body
        self._pooled = pooled
        self._answer = answer
        self._left = length
        self._length = length

    def readinto(self, buffer: Any) -> int:
        try:
            count = self._answer.readinto(buffer)
        except OSError as exc:
            raise ResponseStreamingError(error=exc) from exc
        self._left -= count
        if self._answer.isclosed():
            if self._left > 0:
                raise IncompleteReadError(
                    actual_bytes=self._length - self._left, expected_bytes=self._length
                )
            self._pooled.release_conn()  # a no-op once it is back in the pool
        return count

    def close(self) -> None:
        self._body.close()


def direct_body(body: Any, length: int) -> Any:
    """``body`` as a ``SocketBody`` when it is a plain answer over ``http.client``, else itself.

    Only an exact ``StreamingBody`` qualifies: botocore's checksum-checking
    subclass must see every byte, and a content-encoded answer must be decoded.
    """
    if type(body) is not StreamingBody:
        return body
    pooled = getattr(body, "_raw_stream", None)
    if not isinstance(pooled, URLLib3Response) or pooled.decode_content:
        return body
    answer = getattr(pooled, "_fp", None)
    if not isinstance(answer, http.client.HTTPResponse) or pooled.headers.get("Content-Encoding"):
        return body
    return SocketBody(body, pooled, answer, length)
