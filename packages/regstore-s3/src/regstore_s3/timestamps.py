"""The timestamp parser the driver's boto3 client uses: the standard library's, not dateutil.

botocore parses every timestamp of a response with dateutil, tens of
microseconds each (hundreds on a busy machine), so the ``LastModified`` of
each key of a 1000-key listing page cost about as much as the request did.
S3 sends ISO 8601 in XML bodies (``2026-08-18T12:34:56.000Z``) and RFC 1123
in headers (``Tue, 18 Aug 2026 12:34:56 GMT``), both of which the standard
library parses in microseconds; anything else goes to botocore's own parser,
so the values are the same datetimes either way.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.utils import parse_timestamp

__all__ = ["parse"]


def parse(value: Any) -> datetime:
    """A timezone-aware datetime for a timestamp of an S3 response."""
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith("Z") else value  # Python 3.10
        parsed: datetime | None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    fallback: datetime = parse_timestamp(value)
    return fallback
