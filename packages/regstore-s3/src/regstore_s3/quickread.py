"""Whole-object reads with one presigned GET, sent through the client's own HTTP session.

A GetObject call costs about 1.4 ms of client CPU, most of it botocore's call
pipeline (parameter checks, ten events, endpoint rules, the modelled parse of
some forty headers) rather than the HTTP exchange. A garbage collection reads
every manifest of a registry this way and is bound by that CPU. Here the
request is presigned by the same client (same endpoint, addressing, credentials
and signature version) and sent through the same HTTP session (its connection
pool, proxies, TLS settings and timeouts): about half the CPU.

Only a complete ``200`` answer is used, and a ``404 NoSuchKey`` is the missing
path it always was. Any other answer, and any failure (a broken connection, a
body shorter than its ``Content-Length``, no credentials), hands the read to the
regular GetObject, which retries and reports errors as it always has; the read
is the same whole single version either way. With request logging on
(``loglevel``) every read is a regular call, so every request is logged.
"""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError
from urllib3.exceptions import HTTPError

from regstore.errors import PathNotFoundError

__all__ = ["PRESIGNED_SECONDS", "QuickReader"]

#: Life of the presigned URL of one read: sent at once, so only clock skew matters.
PRESIGNED_SECONDS = 300
_MISSING_KEY = b"<Code>NoSuchKey</Code>"


class QuickReader:
    """Reads whole objects of one bucket by presigned GET; ``read`` returns None to defer."""

    def __init__(self, client: Any, bucket: str, *, enabled: bool = True) -> None:
        # botocore keeps its HTTP session on the endpoint; without one, every read defers.
        session = getattr(getattr(client, "_endpoint", None), "http_session", None)
        self._send = getattr(session, "send", None) if enabled else None
        self._client = client
        self._bucket = bucket
        #: Reads answered here and reads handed to the regular call (for tests and tuning).
        self.answered = 0
        self.deferred = 0

    @property
    def enabled(self) -> bool:
        return self._send is not None

    def read(self, key: str, path: str) -> bytes | None:
        """The content of ``key``; PathNotFoundError if it is missing; None for a regular call."""
        if self._send is None:
            return None
        try:
            url = self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=PRESIGNED_SECONDS,
            )
            request = AWSRequest(method="GET", url=url, stream_output=True)
            answer = self._send(request.prepare())
            # One buffer of the body's size (``content`` would join chunks: twice the memory).
            body: bytes = answer.raw.read()
            answer.raw.release_conn()
            status = answer.status_code
            length = answer.headers.get("Content-Length")
        except (BotoCoreError, HTTPError, OSError, ValueError):
            self.deferred += 1
            return None
        if status == 200 and length is not None and length.isdigit() and int(length) == len(body):
            self.answered += 1
            return body
        if status == 404 and _MISSING_KEY in body:
            self.answered += 1
            raise PathNotFoundError(path)
        self.deferred += 1
        return None
