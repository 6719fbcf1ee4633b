"""A streaming reader over one ranged GetObject answer.

The object is never buffered whole: bytes come from the HTTP response as the
caller reads them. Failures while streaming (a dropped connection, a short
body) surface as ``DriverError``.
"""

from __future__ import annotations

import io
from typing import Any

from regstore.errors import DriverError, StorageDriverError

__all__ = ["BodyStream", "open_body"]

#: Read size of the buffered reader wrapped around the HTTP body.
BUFFER_SIZE = 256 * 1024


class BodyStream(io.RawIOBase):
    """The raw, unbuffered stream of a GetObject body."""

    def __init__(self, body: Any, path: str, driver_name: str) -> None:
        super().__init__()
        self._body = body
        self._path = path
        self._driver_name = driver_name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return int(self._body.readinto(buffer))
        except Exception as exc:
            if self.closed or isinstance(exc, StorageDriverError):
                raise
            raise DriverError(
                f"reading {self._path} failed: {exc}", driver_name=self._driver_name
            ) from exc

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def open_body(body: Any, path: str, driver_name: str) -> io.BufferedReader:
    """A buffered binary file object reading ``body`` (a botocore ``StreamingBody``)."""
    return io.BufferedReader(BodyStream(body, path, driver_name), BUFFER_SIZE)
