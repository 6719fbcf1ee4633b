"""OpenTelemetry spans and metrics for every driver call (``pip install "regstore[otel]"``).

``regstore._base.CheckedDriver`` imports this module only when OpenTelemetry is
already in use in the process, and asks ``for_driver`` once, when it is built,
whether a real (SDK) tracer or meter provider is configured. Without one it
keeps nothing and pays one attribute check per call; with one, every driver
call runs in a span ``regstore.<operation>`` and is measured. Attributes hold
the driver name and paths only: never parameters, credentials or URLs.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

from opentelemetry import context, metrics, trace
from opentelemetry.trace import Span, Status, StatusCode

from .__about__ import __version__
from .driver import FileWriter

__all__ = [
    "DRIVER",
    "DURATION",
    "IO_BYTES",
    "DriverTelemetry",
    "for_driver",
]

T = TypeVar("T")

#: The instrumentation scope of every span and instrument.
SCOPE = "regstore"
#: Histogram of each call's wall time, in seconds.
DURATION = "regstore.operation.duration"
#: Counter of bytes moved by get_content/put_content and by readers and writers.
IO_BYTES = "regstore.io.bytes"
DRIVER = "regstore.driver"
PATH = "regstore.path"
DESTINATION = "regstore.destination"
OPERATION = "regstore.operation"
DIRECTION = "regstore.direction"
ERROR_TYPE = "error.type"
READ, WRITE = "read", "write"
#: Bucket boundaries (seconds) from a cached in-memory stat to a long multipart commit.
DURATION_BUCKETS = (
    0.0001,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


def _proxy_meter_provider_types() -> tuple[type, ...]:
    """The API's stand-ins for "no meter provider configured" (one of them is private)."""
    kinds: list[type] = [metrics.NoOpMeterProvider]
    try:
        from opentelemetry.metrics._internal import _ProxyMeterProvider

        kinds.append(_ProxyMeterProvider)
    except ImportError:  # a later API moved it: fall back to the public no-op type alone
        pass
    return tuple(kinds)


_NO_METER_PROVIDER = _proxy_meter_provider_types()
_NO_TRACER_PROVIDER = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)


def for_driver(driver_name: str) -> DriverTelemetry | None:
    """The instruments of one driver, or None when neither tracing nor metrics is configured."""
    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    tracer = None
    if not isinstance(tracer_provider, _NO_TRACER_PROVIDER):
        tracer = tracer_provider.get_tracer(SCOPE, __version__)
    meter = None
    if not isinstance(meter_provider, _NO_METER_PROVIDER):
        meter = meter_provider.get_meter(SCOPE, __version__)
    if tracer is None and meter is None:
        return None
    return DriverTelemetry(driver_name, tracer, meter)


def _error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class DriverTelemetry:
    """Spans and measurements for the calls of one driver: what ``CheckedDriver`` calls into."""

    def __init__(
        self, driver_name: str, tracer: trace.Tracer | None, meter: metrics.Meter | None
    ) -> None:
        self.driver_name = driver_name
        self._tracer = tracer
        self._duration: metrics.Histogram | None = None
        self._bytes: metrics.Counter | None = None
        if meter is not None:
            self._duration = meter.create_histogram(
                DURATION,
                unit="s",
                description="Wall time of each storage driver call",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
            self._bytes = meter.create_counter(
                IO_BYTES,
                unit="By",
                description="Bytes read or written through a storage driver",
            )
        self._read = {DRIVER: driver_name, DIRECTION: READ}
        self._write = {DRIVER: driver_name, DIRECTION: WRITE}
        self._measured: dict[str, dict[str, str]] = {}

    # -- calls ----------------------------------------------------------------------------

    def call(
        self, operation: str, path: object, run: Callable[[], T], destination: str | None = None
    ) -> T:
        """``run()`` inside a span ``regstore.<operation>``, its wall time recorded."""
        began = time.perf_counter()
        if self._tracer is None:
            try:
                result = run()
            except Exception as exc:
                self._measure(operation, began, exc)
                raise
            self._measure(operation, began, None)
            return result
        with self._tracer.start_as_current_span(
            f"{SCOPE}.{operation}",
            attributes=self._attributes(path, destination),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                result = run()
            except Exception as exc:
                self._failed(span, exc)
                self._measure(operation, began, exc)
                raise
            self._measure(operation, began, None)
            return result

    def iterate(
        self, operation: str, path: object, start: Callable[[], Iterator[T]]
    ) -> Iterator[T]:
        """``start()`` now, then its items: one span from the call until the last item."""
        began = time.perf_counter()
        span = None
        if self._tracer is not None:
            span = self._tracer.start_span(
                f"{SCOPE}.{operation}", attributes=self._attributes(path, None)
            )
        try:
            items = self.within(span, start)
        except Exception as exc:
            self.finish(span, operation, began, exc)
            raise
        return _TracedIterator(self, operation, span, began, items)

    @staticmethod
    def within(span: Span | None, call: Callable[[], T]) -> T:
        """Run ``call`` with ``span`` current, so spans the backend's SDK makes nest under it."""
        if span is None:
            return call()
        token = context.attach(trace.set_span_in_context(span))
        try:
            return call()
        finally:
            context.detach(token)

    def finish(
        self, span: Span | None, operation: str, began: float, error: Exception | None
    ) -> None:
        """End ``span`` (failed when ``error`` is given) and record the call's duration."""
        if span is not None:
            if error is not None:
                self._failed(span, error)
            span.end()
        self._measure(operation, began, error)

    def _attributes(self, path: object, destination: str | None) -> dict[str, str]:
        attributes = {DRIVER: self.driver_name, PATH: str(path)}
        if destination is not None:
            attributes[DESTINATION] = destination
        return attributes

    @staticmethod
    def _failed(span: Span, exc: Exception) -> None:
        span.set_attribute(ERROR_TYPE, _error_type(exc))
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, str(exc)))

    def _measure(self, operation: str, began: float, error: Exception | None) -> None:
        if self._duration is None:
            return
        attributes = self._measured.get(operation)
        if attributes is None:
            attributes = self._measured[operation] = {
                DRIVER: self.driver_name,
                OPERATION: operation,
            }
        if error is not None:
            attributes = {**attributes, ERROR_TYPE: _error_type(error)}
        self._duration.record(time.perf_counter() - began, attributes)

    # -- bytes ------------------------------------------------------------------------------

    def read(self, count: int) -> None:
        """Count ``count`` bytes read."""
        if count and self._bytes is not None:
            self._bytes.add(count, self._read)

    def written(self, count: int) -> None:
        """Count ``count`` bytes written."""
        if count and self._bytes is not None:
            self._bytes.add(count, self._write)

    def reader(self, stream: IO[bytes]) -> IO[bytes]:
        """``stream``, counting the bytes each read hands out."""
        if self._bytes is None:
            return stream
        return CountingReader(stream, self)  # type: ignore[return-value]

    def writer(self, writer: FileWriter) -> FileWriter:
        """``writer``, counting the bytes written and tracing close, commit and cancel."""
        return CountingWriter(writer, self)


class _TracedIterator(Iterator[T]):
    """The items of a walk or a listing of uploads; their span ends with the last one.

    Or when the iterator is closed, or dropped unfinished (even before its first
    item, which a generator would not notice).
    """

    def __init__(
        self,
        telemetry: DriverTelemetry,
        operation: str,
        span: Span | None,
        began: float,
        items: Iterator[T],
    ) -> None:
        self._telemetry = telemetry
        self._operation = operation
        self._span = span
        self._began = began
        self._items: Iterator[T] | None = items

    def __next__(self) -> T:
        items = self._items
        if items is None:
            raise StopIteration
        try:
            return self._telemetry.within(self._span, lambda: next(items))
        except StopIteration:
            self._end(None)
            raise
        except Exception as exc:
            self._end(exc)
            raise

    def close(self) -> None:
        """Stop early: the items are closed and the span ends."""
        items = self._items
        if items is None:
            return
        try:
            closing = getattr(items, "close", None)
            if closing is not None:
                closing()
        finally:
            self._end(None)

    def _end(self, error: Exception | None) -> None:
        if getattr(self, "_items", None) is not None:
            self._items = None
            self._telemetry.finish(self._span, self._operation, self._began, error)

    def __del__(self) -> None:
        self._end(None)


class CountingReader(io.BufferedIOBase):
    """A driver's reader, passing every call through and counting the bytes it returns.

    Nothing is copied: ``readinto`` fills the caller's buffer through the
    driver's reader, and ``read`` returns the driver's own bytes object.
    """

    def __init__(self, inner: IO[bytes], telemetry: DriverTelemetry) -> None:
        self.inner = inner
        self._telemetry = telemetry

    def read(self, size: int | None = -1, /) -> bytes:
        data = self.inner.read(-1 if size is None else size)
        self._telemetry.read(len(data))
        return data

    def read1(self, size: int = -1, /) -> bytes:
        read1 = getattr(self.inner, "read1", None)
        data = self.inner.read(size) if read1 is None else read1(size)
        self._telemetry.read(len(data))
        return data

    def readinto(self, buffer: Any, /) -> int:
        count: int | None = self.inner.readinto(buffer)  # type: ignore[attr-defined]
        self._telemetry.read(count or 0)
        return count or 0

    def readinto1(self, buffer: Any, /) -> int:
        readinto1 = getattr(self.inner, "readinto1", None)
        count: int | None = (
            self.inner.readinto(buffer)  # type: ignore[attr-defined]
            if readinto1 is None
            else readinto1(buffer)
        )
        self._telemetry.read(count or 0)
        return count or 0

    def readline(self, size: int | None = -1, /) -> bytes:
        line = self.inner.readline(-1 if size is None else size)
        self._telemetry.read(len(line))
        return line

    def readlines(self, hint: int = -1, /) -> list[bytes]:
        lines = self.inner.readlines(hint)
        self._telemetry.read(sum(map(len, lines)))
        return lines

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def seekable(self) -> bool:
        return self.inner.seekable()

    def readable(self) -> bool:
        return self.inner.readable()

    def fileno(self) -> int:
        return self.inner.fileno()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def close(self) -> None:
        self.inner.close()

    @property
    def closed(self) -> bool:
        return self.inner.closed

    def __getattr__(self, name: str) -> Any:
        # ``name``, ``peek``, ``raw`` and anything else the driver's reader offers.
        if name == "inner":  # not set yet (a failed __init__, a copy): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return repr(self.inner)


class CountingWriter(FileWriter):
    """A driver's writer behind its own ``FileWriter`` state machine, counted and traced.

    It is a complete ``FileWriter`` whose backend is the driver's writer: each
    ``write`` reaches the driver's ``write`` with the same memoryview (no copy).
    """

    def __init__(self, inner: FileWriter, telemetry: DriverTelemetry) -> None:
        super().__init__(inner.path, size=inner.size, driver_name=inner.driver_name)
        self.inner = inner
        self._telemetry = telemetry
        if inner.closed:
            self._lifecycle = "closed"

    def _write(self, data: memoryview) -> None:
        self.inner.write(data)
        self._telemetry.written(data.nbytes)

    def _close(self) -> None:
        self._telemetry.call("writer.close", self.path, self.inner.close)

    def _commit(self) -> None:
        self._telemetry.call("writer.commit", self.path, self.inner.commit)

    def _cancel(self) -> None:
        self._telemetry.call("writer.cancel", self.path, self.inner.cancel)

    def _flush(self) -> None:
        # The driver's own early flush, before commit(expected_digest=...) compares.
        self.inner._flush()

    def __getattr__(self, name: str) -> Any:
        # What a driver's writer offers beyond the contract.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return repr(self.inner)
