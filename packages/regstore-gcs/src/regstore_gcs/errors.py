"""Google Cloud Storage failures, as regstore errors that say what went wrong.

One table per status code: a 404 is ``PathNotFoundError`` (unless the bucket
itself is missing), a 403 names the permission the operation needs, and
anything the SDK gave up retrying (408/429/5xx, connection errors) says so.
The driver's ``translate`` hook hands every SDK exception to ``ErrorMap``.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from google.api_core import exceptions as api
from google.auth import exceptions as auth
from google.cloud.storage.exceptions import DataCorruption

from regstore.errors import DriverError, PathNotFoundError

__all__ = ["PERMISSIONS", "ErrorMap"]

#: The IAM permissions each operation needs, named in 403 messages.
PERMISSIONS = {
    "get_content": "storage.objects.get",
    "reader": "storage.objects.get",
    "read": "storage.objects.get",
    "put_content": "storage.objects.create and storage.objects.delete",
    "writer": "storage.objects.get, storage.objects.create and storage.objects.delete",
    "write": "storage.objects.create",
    "close": "storage.objects.create and storage.objects.delete",
    "commit": (
        "storage.objects.create, storage.objects.get, storage.objects.list"
        " and storage.objects.delete"
    ),
    "cancel": "storage.objects.list and storage.objects.delete",
    "stat": "storage.objects.get and storage.objects.list",
    "list": "storage.objects.list",
    "walk": "storage.objects.list",
    "move": "storage.objects.get, storage.objects.create and storage.objects.delete",
    "delete": "storage.objects.list and storage.objects.delete",
}

_GAVE_UP = (
    api.TooManyRequests,
    api.InternalServerError,
    api.BadGateway,
    api.ServiceUnavailable,
    api.GatewayTimeout,
)


class ErrorMap:
    """Turns SDK exceptions into regstore errors for one bucket.

    ``bucket_exists`` is asked once, on the first 404, so that a missing
    bucket is reported as such instead of as a missing path.
    """

    def __init__(self, bucket: str, endpoint: str, bucket_exists: Callable[[], bool]) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self._bucket_exists = bucket_exists
        self._bucket_seen = False

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        """The regstore error for ``exc``, or None when it is not the SDK's."""
        where = operation if path is None else f"{operation} {path}"
        if isinstance(exc, api.NotFound):
            if not self.bucket_exists():
                return DriverError(
                    f"{where}: bucket {self.bucket!r} does not exist at {self.endpoint}"
                )
            if path is None:
                return DriverError(f"{where}: not found ({_server_message(exc)})")
            return PathNotFoundError(path)
        if isinstance(exc, api.Forbidden):
            needed = PERMISSIONS.get(operation, "storage.objects.*")
            return DriverError(
                f"{where}: permission denied in bucket {self.bucket!r}; the credentials need"
                f" {needed} ({_server_message(exc)})"
            )
        if isinstance(exc, api.Unauthorized):
            return DriverError(
                f"{where}: the storage service rejected the credentials (401):"
                f" check keyfile or credentials ({_server_message(exc)})"
            )
        if isinstance(exc, api.PreconditionFailed):
            return DriverError(
                f"{where}: the object changed while the operation ran (412 precondition"
                f" failed); retry the operation ({_server_message(exc)})"
            )
        if isinstance(exc, _GAVE_UP):
            return DriverError(
                f"{where}: the storage service kept failing with {exc.code} after retries"
                f" ({_server_message(exc)})"
            )
        if isinstance(exc, api.RetryError):
            cause = exc.cause if exc.cause is not None else exc
            return DriverError(f"{where}: gave up after retrying: {_describe(cause)}")
        if isinstance(exc, api.GoogleAPICallError):
            return DriverError(
                f"{where}: the storage service refused the request with {exc.code}"
                f" ({_server_message(exc)})"
            )
        if isinstance(exc, DataCorruption):
            return DriverError(f"{where}: the data failed its checksum in transit: {exc}")
        if isinstance(exc, (auth.RefreshError, auth.InvalidOperation)):
            return DriverError(
                f"{where}: the credentials were rejected and could not be refreshed"
                f" (check keyfile or credentials): {exc}"
            )
        if isinstance(exc, auth.TransportError):
            return DriverError(f"{where}: could not obtain an access token: {exc}")
        if isinstance(exc, requests.RequestException):
            return DriverError(f"{where}: cannot reach {self.endpoint}: {_describe(exc)}")
        return None

    def bucket_exists(self) -> bool:
        """True once the bucket has been seen to exist (asked at most until it is)."""
        if self._bucket_seen:
            return True
        try:
            seen = self._bucket_exists()
        except api.Forbidden:
            seen = True  # the credentials may read objects but not bucket metadata
        except Exception:
            return True  # unknown: report the path, not a guess about the bucket
        self._bucket_seen = seen
        return seen


def _server_message(exc: api.GoogleAPICallError) -> str:
    return exc.message.strip() if isinstance(exc.message, str) and exc.message else str(exc.code)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
