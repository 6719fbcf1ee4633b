"""The one wrapper around every driver: validation, the driver name in errors, limits.

``regstore.create`` returns a ``CheckedDriver`` around the driver it builds, so
drivers implement storage logic only and never repeat these checks.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, TypeVar

from .driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from .errors import (
    DriverError,
    InvalidOffsetError,
    InvalidParameterError,
    InvalidStorageDriverError,
    StorageDriverError,
)
from .paths import check_path

__all__ = ["CheckedDriver", "translate_error", "unwrap"]

T = TypeVar("T")

_METHODS = frozenset({"GET", "HEAD"})


def translate_error(
    exc: BaseException, driver_name: str, operation: str, path: object = None
) -> BaseException:
    """Give ``exc`` the driver's name, or wrap a foreign exception in ``DriverError``."""
    if isinstance(exc, StorageDriverError):
        if not exc.driver_name:
            exc.driver_name = driver_name
        return exc
    if isinstance(exc, (InvalidParameterError, InvalidStorageDriverError, TypeError)):
        return exc
    where = f" {path}" if path is not None else ""
    text = str(exc).strip() or type(exc).__name__
    return DriverError(f"{operation}{where} failed: {text}", driver_name=driver_name)


class CheckedDriver(StorageDriver):
    """Validates paths and offsets, stamps the driver name on errors, bounds concurrency."""

    def __init__(self, inner: StorageDriver) -> None:
        self.inner = inner
        self._name = inner.name
        limit = inner.concurrency_limit
        self._slots = threading.BoundedSemaphore(limit) if limit else None

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return repr(self.inner)

    def _call(self, operation: str, path: object, call: Callable[[], T]) -> T:
        try:
            if self._slots is None:
                return call()
            with self._slots:
                return call()
        except Exception as exc:
            error = translate_error(exc, self._name, operation, path)
            if error is exc:
                raise
            raise error from exc

    def _path(self, path: object, *, allow_root: bool = False) -> str:
        try:
            return check_path(path, allow_root=allow_root)
        except StorageDriverError as exc:
            exc.driver_name = self._name
            raise

    def get_content(self, path: str) -> bytes:
        self._path(path)
        return self._call("get_content", path, lambda: self.inner.get_content(path))

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        self._path(path)
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"{self._name}: put_content takes bytes, bytearray or memoryview,"
                f" not {type(content).__name__}"
            )
        self._call("put_content", path, lambda: self.inner.put_content(path, content))

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidOffsetError(str(path), offset, driver_name=self._name)
        self._path(path)
        return self._call("reader", path, lambda: self.inner.reader(path, offset))

    def writer(self, path: str, append: bool = False) -> FileWriter:
        self._path(path)
        return self._call("writer", path, lambda: self.inner.writer(path, bool(append)))

    def stat(self, path: str) -> FileInfo:
        self._path(path, allow_root=True)
        return self._call("stat", path, lambda: self.inner.stat(path))

    def list(self, path: str) -> builtins.list[str]:
        self._path(path, allow_root=True)
        return self._call("list", path, lambda: self.inner.list(path))

    def move(self, source: str, dest: str) -> None:
        self._path(source)
        self._path(dest)
        self._call("move", source, lambda: self.inner.move(source, dest))

    def delete(self, path: str) -> None:
        self._path(path)
        self._call("delete", path, lambda: self.inner.delete(path))

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        self._path(path)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            raise InvalidParameterError(
                self._name,
                "expires_in",
                f"must be a whole number of seconds greater than 0 (an int), got {expires_in!r}",
            )
        verb = method.upper() if isinstance(method, str) else method
        if verb not in _METHODS:
            return None
        return self._call(
            "redirect_url",
            path,
            lambda: self.inner.redirect_url(
                path, method=verb, expires_in=expires_in, client_ip=client_ip
            ),
        )

    def walk(
        self,
        path: str,
        *,
        start_after: str | None = None,
        prune: Prune | None = None,
    ) -> Iterator[FileInfo]:
        self._path(path, allow_root=True)
        if start_after is not None and not isinstance(start_after, str):
            raise TypeError(f"{self._name}: start_after must be a str or None")
        entries = self._call(
            "walk", path, lambda: self.inner.walk(path, start_after=start_after, prune=prune)
        )
        return self._iterate("walk", path, entries)

    def pending_uploads(self, path: str = "/") -> Iterator[PendingUpload]:
        self._path(path, allow_root=True)
        uploads = self._call("pending_uploads", path, lambda: self.inner.pending_uploads(path))
        return self._iterate("pending_uploads", path, uploads)

    def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        self._path(path, allow_root=True)
        if not isinstance(before, datetime):
            raise TypeError(
                f"{self._name}: purge_uploads takes a datetime as before,"
                f" not {type(before).__name__}"
            )
        if before.tzinfo is None or before.utcoffset() is None:
            raise InvalidParameterError(
                self._name,
                "before",
                f"must be a timezone-aware datetime (e.g. datetime.now(timezone.utc)),"
                f" got the naive {before.isoformat()}",
            )
        return self._call("purge_uploads", path, lambda: self.inner.purge_uploads(before, path))

    def _iterate(self, operation: str, path: str, items: Iterator[T]) -> Iterator[T]:
        """Yield from ``items``, translating errors raised while iterating."""
        iterator = iter(items)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except Exception as exc:
                error = translate_error(exc, self._name, operation, path)
                if error is exc:
                    raise
                raise error from exc
            yield item

    def close(self) -> None:
        self.inner.close()


def unwrap(driver: StorageDriver) -> StorageDriver:
    """The innermost driver below any wrappers and middleware (each exposes ``inner``)."""
    while True:
        inner = getattr(driver, "inner", None)
        if not isinstance(inner, StorageDriver):
            return driver
        driver = inner
