"""Table-free helpers that read a driver's parameters the way the distribution registry does.

Values may come typed (from YAML) or as strings (from environment variables):
``"true"`` and ``"10485760"`` are accepted where a bool or an int is meant. Every
helper raises ``InvalidParameterError`` naming the key and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, NoReturn

from .errors import InvalidParameterError

__all__ = ["Parameters", "parse_duration"]

_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n", ""}

# Go's time.ParseDuration units, in seconds; both micro signs are accepted, as in Go.
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
_DURATIONS = "a duration such as 20m, 1h30m, 90s or 500ms"


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string (``"1h30m"``, ``"20m"``, ``"-1.5s"``), else ValueError."""
    value = text.strip()
    sign = 1.0
    if value[:1] in ("+", "-"):
        sign = -1.0 if value[0] == "-" else 1.0
        value = value[1:]
    if value == "0":
        return 0.0
    if not value:
        raise ValueError(f"{text!r} is not {_DURATIONS}")
    total = 0.0
    position = 0
    while position < len(value):
        match = _TERM.match(value, position)
        if match is None:
            raise ValueError(f"{text!r} is not {_DURATIONS}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return sign * total


class Parameters:
    """A driver's parameters mapping, read key by key with validation.

    Construct it with every key the driver accepts; any other key is an error,
    so a typo is never silently ignored.
    """

    def __init__(
        self, driver_name: str, values: Mapping[str, Any] | None, known: Iterable[str]
    ) -> None:
        self.driver_name = driver_name
        self._values = dict(values or {})
        self._known = frozenset(known)
        for key in self._values:
            if not isinstance(key, str):
                self.fail(str(key), "parameter names are strings")
            if key.lower() not in self._known:
                allowed = ", ".join(sorted(self._known)) or "none"
                self.fail(key, f"unknown parameter; {driver_name} accepts: {allowed}")
        # Keys are case-insensitive, as in the registry's configuration.
        self._values = {key.lower(): value for key, value in self._values.items()}

    def fail(self, key: str, message: str) -> NoReturn:
        """Raise ``InvalidParameterError`` for ``key`` with ``message``."""
        raise InvalidParameterError(self.driver_name, key, message)

    def has(self, key: str) -> bool:
        """True when ``key`` was given with a value other than None."""
        return self._values.get(key) is not None

    def raw(self, key: str, default: Any = None) -> Any:
        """The value as given, or ``default``."""
        value = self._values.get(key)
        return default if value is None else value

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A string value; numbers are turned into their text."""
        value = self._values.get(key)
        if value is None or value == "":
            if required:
                self.fail(key, "is required (a non-empty string)")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(key, f"must be a string, got {type(value).__name__}")
        return str(value)

    def boolean(self, key: str, default: bool) -> bool:
        """A bool, accepting ``true``/``false``/``1``/``0``/``yes``/``no`` strings."""
        value = self._values.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        self.fail(key, f"must be a boolean (true or false), got {value!r}")

    def integer(
        self,
        key: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        clamp_minimum: bool = False,
    ) -> int:
        """An int from an int or a decimal/``0x`` string, checked against the range.

        ``clamp_minimum`` raises small values to ``minimum`` silently, as the
        registry does for ``maxthreads`` and ``maxconcurrency``.
        """
        value = self._values.get(key)
        if value is None or value == "":
            return default
        number: int
        if isinstance(value, bool):
            self.fail(key, f"must be an integer, got {value!r}")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            try:
                number = int(value.strip().replace("_", ""), 0)
            except ValueError:
                self.fail(key, f"must be an integer, got {value!r}")
        else:
            self.fail(key, f"must be an integer, got {type(value).__name__}")
        if minimum is not None and number < minimum:
            if clamp_minimum:
                return minimum
            self.fail(
                key,
                f"must be at least {_describe(minimum)}{_range(minimum, maximum)}, got {number}",
            )
        if maximum is not None and number > maximum:
            self.fail(
                key,
                f"must be at most {_describe(maximum)}{_range(minimum, maximum)}, got {number}",
            )
        return number

    def duration(self, key: str, default: float) -> float:
        """Positive seconds from a Go duration string (``"100ms"``, ``"1h30m"``) or a timedelta.

        A bare number is refused: the registry's durations always carry a unit.
        """
        value = self._values.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, timedelta):
            seconds = value.total_seconds()
        elif isinstance(value, str):
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                self.fail(key, str(exc))
        else:
            self.fail(key, f"must be {_DURATIONS} (a string with a unit), got {value!r}")
        if seconds <= 0:
            self.fail(key, f"must be a positive duration ({_DURATIONS}), got {value!r}")
        return seconds

    def choice(self, key: str, default: str, choices: Iterable[str]) -> str:
        """One string among ``choices`` (compared case-insensitively)."""
        options = list(choices)
        value = self.string(key, default)
        assert value is not None
        for option in options:
            if option.lower() == value.lower():
                return option
        self.fail(key, f"must be one of {', '.join(options)}, got {value!r}")


def _describe(number: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if number >= size and number % size == 0:
            return f"{number} ({number // size} {unit})"
    return str(number)


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" (allowed: {_describe(minimum)} to {_describe(maximum)})"
    return ""
