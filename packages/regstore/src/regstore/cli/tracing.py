"""``regstore --trace``: every storage call's span on standard error, through the OpenTelemetry SDK.

Standard error, not standard output, so ``regstore --trace cat`` still writes
the file's bytes alone to standard output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .session import CliError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["console_tracing", "span_line"]

INSTALL_HINT = 'pip install "regstore[otel]" opentelemetry-sdk'


def span_line(span: ReadableSpan) -> str:
    """One line per span: its name, duration, attributes and, for a failure, ERROR."""
    took = ""
    if span.start_time is not None and span.end_time is not None:
        took = f" {(span.end_time - span.start_time) / 1e6:.2f} ms"
    attributes = " ".join(f"{key}={value!s}" for key, value in (span.attributes or {}).items())
    failed = " ERROR" if not span.status.is_ok else ""
    return f"regstore: span {span.name}{took}{failed} {attributes}\n"


def console_tracing() -> Callable[[], None]:
    """Send every span to standard error from now on; returns what flushes and stops it."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError as exc:
        raise CliError(
            "--trace prints spans through the OpenTelemetry SDK, which is not installed;"
            f" install it with: {INSTALL_HINT}"
        ) from exc
    processor = SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr, formatter=span_line))
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        # The process already has an SDK provider (e.g. under opentelemetry-instrument):
        # print its spans too rather than replace it, which the API does not allow.
        current.add_span_processor(processor)
        return processor.shutdown
    provider = TracerProvider()
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider.shutdown
