"""Option readers storage middleware share: Go durations and base URLs.

They extend ``regstore.params.Parameters`` (which middleware use for every
option) with the two value kinds the registry's middleware take, and raise
``InvalidParameterError`` naming the option and what is allowed.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from ..params import Parameters

__all__ = ["base_url", "duration", "parse_duration"]

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_TERM = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_EXAMPLES = "a duration such as 20m, 1h30m, 90s or 500ms"


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string (``"1h30m"``, ``"20m"``, ``"1.5s"``), else ValueError."""
    value = text.strip()
    sign = 1.0
    if value[:1] in ("+", "-"):
        sign = -1.0 if value[0] == "-" else 1.0
        value = value[1:]
    if value == "0":
        return 0.0
    if not value:
        raise ValueError(f"{text!r} is not {_EXAMPLES}")
    total = 0.0
    position = 0
    while position < len(value):
        match = _TERM.match(value, position)
        if match is None:
            raise ValueError(f"{text!r} is not {_EXAMPLES}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return sign * total


def duration(params: Parameters, key: str, default: float) -> float:
    """A positive duration in seconds from a Go duration string; ``default`` when absent."""
    if not params.has(key):
        return default
    value = params.raw(key)
    if isinstance(value, bool) or not isinstance(value, str):
        params.fail(key, f"must be {_EXAMPLES} (a string with a unit), got {value!r}")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        params.fail(key, str(exc))
    if seconds <= 0:
        params.fail(key, f"must be a positive duration, got {value!r}")
    return seconds


def base_url(params: Parameters, key: str, *, default_scheme: str | None = None) -> SplitResult:
    """An absolute ``scheme://host[/path]`` URL without query or fragment.

    With ``default_scheme``, a value without ``://`` gets that scheme, as the
    registry's cloudfront middleware does with ``https://``.
    """
    text = params.string(key, required=True)
    assert text is not None
    if default_scheme is not None and "://" not in text:
        text = f"{default_scheme}://{text}"
    example = f"an absolute URL such as https://cdn.example.com/registry, got {text!r}"
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        params.fail(key, f"cannot be parsed ({exc}); it must be {example}")
    if not parts.scheme or "://" not in text:
        params.fail(key, f"has no scheme; it must be {example}")
    if not parts.netloc:
        params.fail(key, f"has no host; it must be {example}")
    if parts.query or parts.fragment:
        params.fail(key, f"must not carry a query or a fragment; it must be {example}")
    return parts
