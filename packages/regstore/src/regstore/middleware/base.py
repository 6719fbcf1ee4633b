"""The storage middleware base: a driver around a driver that changes what ``redirect_url`` returns.

As in the distribution registry, a middleware delegates every storage call to
the driver it wraps (``inner``) and overrides ``redirect_url`` only: a CDN in
front of a bucket, a public host in front of a private endpoint, or no
redirects at all. ``regstore._base.unwrap`` follows ``inner`` down to the
driver at the bottom, which is how a middleware finds out what it wraps.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO

from ..driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver

__all__ = ["IncompatibleDriverError", "RedirectsDisabled", "StorageMiddleware"]


class IncompatibleDriverError(ValueError):
    """A middleware was configured over a driver it cannot work with."""

    def __init__(self, middleware: str, message: str) -> None:
        super().__init__(f"{middleware}: {message}")
        self.middleware = middleware


class StorageMiddleware(StorageDriver):
    """Delegates everything to ``inner``; subclasses override ``redirect_url``."""

    def __init__(self, inner: StorageDriver) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        return self.inner.translate(exc, operation, path)

    def get_content(self, path: str) -> bytes:
        return self.inner.get_content(path)

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        self.inner.put_content(path, content)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        return self.inner.reader(path, offset)

    def writer(self, path: str, append: bool = False, digest: str | None = None) -> FileWriter:
        writer = self.inner.writer(path, append)
        if digest is not None:
            writer._start_digest(digest)  # the hash lives in the writer, whatever wraps it
        return writer

    def stat(self, path: str) -> FileInfo:
        return self.inner.stat(path)

    def list(self, path: str) -> builtins.list[str]:
        return self.inner.list(path)

    def move(self, source: str, dest: str) -> None:
        self.inner.move(source, dest)

    def delete(self, path: str) -> None:
        self.inner.delete(path)

    def delete_files(self, paths: Iterable[str]) -> None:
        self.inner.delete_files(paths)

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
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
        return self.inner.walk(path, start_after=start_after, prune=prune)

    def pending_uploads(self, path: str = "/") -> Iterator[PendingUpload]:
        return self.inner.pending_uploads(path)

    def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        return self.inner.purge_uploads(before, path)

    def close(self) -> None:
        self.inner.close()


class RedirectsDisabled(StorageMiddleware):
    """``storage: redirect: disable: true``: clients always get the content streamed."""

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        return None
