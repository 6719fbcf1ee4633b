"""Object reads: a streaming reader that resumes where a dropped connection left it.

Bytes come from the HTTP answer as the caller reads them; an object is never
buffered whole. botocore retries a request until its answer's headers arrive,
but not a GetObject whose answer is cut afterwards (the body, or the error
body of a 404). Those are asked again here; a body cut mid-way is resumed by
the core's ``ResumingStream`` from the byte where it broke, with ``Range`` and
``If-Match`` on the first answer's ETag, so a reader never mixes two versions
of an object (``ContentChangedError`` instead). SDK errors are left to the
driver's ``translate`` hook.
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
from urllib3.exceptions import HTTPError as URLLib3Error

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
            return get_object(client, bucket, key, path, **extra)["Body"]
        except ClientError as exc:
            if error_code(exc) in REPLACED:
                raise ContentChangedError(path) from exc
            raise

    end = offset + int(answer["ContentLength"])
    return ResumingStream(
        path,
        answer["Body"],
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
