"""``DelayedDriver``: a driver that sleeps before every call, to stand in for a slow backend."""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from ..driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver

__all__ = ["DelayedDriver"]


class DelayedDriver(StorageDriver):
    """Runs ``inner``'s methods after blocking ``delay`` seconds each (streams: on open only).

    A backend answering slowly, made from a fast one: what an async server must
    survive without its event loop stalling.
    """

    def __init__(self, inner: StorageDriver, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    @property
    def name(self) -> str:
        return self.inner.name

    def _wait(self) -> None:
        time.sleep(self.delay)

    def get_content(self, path: str) -> bytes:
        self._wait()
        return self.inner.get_content(path)

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        self._wait()
        self.inner.put_content(path, content)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        self._wait()
        return self.inner.reader(path, offset)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        self._wait()
        return self.inner.writer(path, append)

    def stat(self, path: str) -> FileInfo:
        self._wait()
        return self.inner.stat(path)

    def list(self, path: str) -> builtins.list[str]:
        self._wait()
        return self.inner.list(path)

    def move(self, source: str, dest: str) -> None:
        self._wait()
        self.inner.move(source, dest)

    def delete(self, path: str) -> None:
        self._wait()
        self.inner.delete(path)

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        self._wait()
        return self.inner.redirect_url(
            path, method=method, expires_in=expires_in, client_ip=client_ip
        )

    def walk(
        self,
        path: str,
        *,
        start_after: str | None = None,
        prune: Prune | None = None,
    ) -> Iterator[FileInfo]:
        self._wait()
        return self.inner.walk(path, start_after=start_after, prune=prune)

    def pending_uploads(self, path: str = "/") -> Iterator[PendingUpload]:
        self._wait()
        return self.inner.pending_uploads(path)

    def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        self._wait()
        return self.inner.purge_uploads(before, path)

    def close(self) -> None:
        self.inner.close()
