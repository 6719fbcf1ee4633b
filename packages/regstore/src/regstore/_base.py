"""The one wrapper around every driver: validation, the driver name in errors, limits, telemetry.

``regstore.create`` returns a ``CheckedDriver`` around the driver it builds, so
drivers implement storage logic only and never repeat these checks. When
OpenTelemetry is in use with a configured provider, the wrapper also traces and
measures every call (``regstore.telemetry``, imported only then).
"""

from __future__ import annotations

import builtins
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import IO, TYPE_CHECKING, TypeVar, cast

from .digests import check_algorithm, require_backend
from .driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from .errors import (
    InvalidOffsetError,
    InvalidParameterError,
    StorageDriverError,
    translate_error,
)
from .paths import check_path
from .reading import TranslatingReader

if TYPE_CHECKING:
    from .telemetry import DriverTelemetry

__all__ = ["CheckedDriver", "translate_error", "unwrap"]  # translate_error: from errors

T = TypeVar("T")

_METHODS = frozenset({"GET", "HEAD"})
#: Any of these imported means OpenTelemetry may be configured in this process.
_OTEL_MODULES = ("opentelemetry.trace", "opentelemetry.metrics")
#: Either set: the API builds a provider on first use, so OpenTelemetry must be asked.
_OTEL_VARIABLES = ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER")


def _telemetry_for(inner: StorageDriver) -> DriverTelemetry | None:
    """The driver's spans and metrics, or None: OpenTelemetry is not in use, or not configured.

    Decided once per wrapper, so the calls of a driver without telemetry pay one
    attribute check. OpenTelemetry is imported here only when the process already
    imported it (whoever configures a provider has), so ``import regstore`` and
    ``create`` never import it themselves.
    """
    if not any(name in sys.modules for name in _OTEL_MODULES) and not any(
        name in os.environ for name in _OTEL_VARIABLES
    ):
        return None
    driver: StorageDriver = inner
    while True:  # a wrapper over middleware over a wrapper: the innermost one reports
        if isinstance(driver, CheckedDriver):
            return None
        below = getattr(driver, "inner", None)
        if not isinstance(below, StorageDriver):
            break
        driver = below
    try:
        from .telemetry import for_driver
    except ImportError:  # the API is not installed, or not whole: no telemetry
        return None
    return for_driver(inner.name)


class CheckedDriver(StorageDriver):
    """Validates paths and offsets, stamps the driver name on errors, bounds concurrency."""

    def __init__(self, inner: StorageDriver) -> None:
        self.inner = inner
        self._name = inner.name
        limit = inner.concurrency_limit
        self._slots = threading.BoundedSemaphore(limit) if limit else None
        self._telemetry = _telemetry_for(inner)
        self._translate = inner.translate
        #: Whether the innermost driver maps its own errors (its readers then get wrapped).
        self._maps_errors = type(unwrap(inner)).translate is not StorageDriver.translate

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return repr(self.inner)

    def _call(self, operation: str, path: object, call: Callable[[], T]) -> T:
        if self._telemetry is not None:
            return self._telemetry.call(operation, path, lambda: self._run(operation, path, call))
        # ``_run`` inlined: without telemetry a call costs what it did before it existed.
        try:
            if self._slots is None:
                return call()
            with self._slots:
                return call()
        except Exception as exc:
            error = translate_error(exc, self._name, operation, path, self._translate)
            if error is exc:
                raise
            raise error from exc

    def _run(self, operation: str, path: object, call: Callable[[], T]) -> T:
        """``call()`` within the concurrency limit, its errors given the driver's name."""
        try:
            if self._slots is None:
                return call()
            with self._slots:
                return call()
        except Exception as exc:
            error = translate_error(exc, self._name, operation, path, self._translate)
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
        data = self._call("get_content", path, lambda: self.inner.get_content(path))
        if self._telemetry is not None:
            self._telemetry.read(len(data))
        return data

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        self._path(path)
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"{self._name}: put_content takes bytes, bytearray or memoryview,"
                f" not {type(content).__name__}"
            )
        self._call("put_content", path, lambda: self.inner.put_content(path, content))
        if self._telemetry is not None:
            self._telemetry.written(memoryview(content).nbytes)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidOffsetError(str(path), offset, driver_name=self._name)
        self._path(path)
        stream = self._call("reader", path, lambda: self.inner.reader(path, offset))
        if self._maps_errors:
            stream = cast(IO[bytes], TranslatingReader(stream, self._reader_errors(path)))
        if self._telemetry is not None:
            return self._telemetry.reader(stream)
        return stream

    def writer(self, path: str, append: bool = False, digest: str | None = None) -> FileWriter:
        self._path(path)
        algorithm = check_algorithm(self._name, digest)
        if algorithm is not None:
            try:
                require_backend()
            except StorageDriverError as exc:
                exc.driver_name = self._name
                raise

        def open_writer() -> FileWriter:
            writer = self._stamped(self.inner.writer(path, bool(append)))
            if algorithm is not None:
                try:
                    writer._start_digest(algorithm)
                except BaseException:
                    writer.close()  # nothing was written: the pending upload stays as it was
                    raise
            return writer

        writer = self._call("writer", path, open_writer)
        if self._telemetry is not None:
            return self._telemetry.writer(writer)
        return writer

    def _stamped(self, writer: FileWriter) -> FileWriter:
        """``writer`` (and any writer it wraps) named after this driver, on its error hook."""
        current: object = writer
        while isinstance(current, FileWriter):
            if not current.driver_name:
                current.driver_name = self._name
            if current._translate is None:
                current._translate = self._translate
            current = current.__dict__.get("inner")
        return writer

    def _reader_errors(self, path: str) -> Callable[[Exception], Exception]:
        def translate(exc: Exception) -> Exception:
            return translate_error(exc, self._name, "read", path, self._translate)

        return translate

    def stat(self, path: str) -> FileInfo:
        self._path(path, allow_root=True)
        return self._call("stat", path, lambda: self.inner.stat(path))

    def list(self, path: str) -> builtins.list[str]:
        self._path(path, allow_root=True)
        return self._call("list", path, lambda: self.inner.list(path))

    def move(self, source: str, dest: str) -> None:
        self._path(source)
        self._path(dest)
        if self._telemetry is not None:
            self._telemetry.call(
                "move",
                source,
                lambda: self._run("move", source, lambda: self.inner.move(source, dest)),
                destination=dest,
            )
            return
        self._call("move", source, lambda: self.inner.move(source, dest))

    def delete(self, path: str) -> None:
        self._path(path)
        self._call("delete", path, lambda: self.inner.delete(path))

    def delete_files(self, paths: Iterable[str]) -> None:
        if isinstance(paths, str):
            raise TypeError(f"{self._name}: delete_files takes an iterable of paths, not a str")
        checked = [self._path(path) for path in paths]
        if checked:
            self._call("delete_files", checked[0], lambda: self.inner.delete_files(checked))

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
        return self._stream(
            "walk", path, lambda: self.inner.walk(path, start_after=start_after, prune=prune)
        )

    def pending_uploads(self, path: str = "/") -> Iterator[PendingUpload]:
        self._path(path, allow_root=True)
        return self._stream("pending_uploads", path, lambda: self.inner.pending_uploads(path))

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

    def _stream(self, operation: str, path: str, call: Callable[[], Iterator[T]]) -> Iterator[T]:
        """The items of ``call()``, errors translated; traced from the call to the last item."""
        if self._telemetry is None:
            return self._iterate(operation, path, self._run(operation, path, call))
        return self._telemetry.iterate(
            operation,
            path,
            lambda: self._iterate(operation, path, self._run(operation, path, call)),
        )

    def _iterate(self, operation: str, path: str, items: Iterator[T]) -> Iterator[T]:
        """Yield from ``items``, translating errors raised while iterating."""
        iterator = iter(items)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except Exception as exc:
                error = translate_error(exc, self._name, operation, path, self._translate)
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
