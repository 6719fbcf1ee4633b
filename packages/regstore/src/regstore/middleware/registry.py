"""Find storage middleware by name: in-process, then ``regstore.middleware`` entry points.

The same lazy, strict discovery as drivers (``regstore.factory``): only the
requested name is loaded, and two distributions offering one name is an error
naming both. A middleware factory takes the driver to wrap and the options
mapping, and returns a driver; the built-in ones are their classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._base import CheckedDriver
from ..driver import StorageDriver
from ..plugins import PluginRegistry

__all__ = [
    "MIDDLEWARE",
    "MIDDLEWARE_GROUP",
    "InvalidMiddlewareError",
    "MiddlewareFactory",
    "apply_middleware",
    "available_middleware",
    "create_middleware",
    "middleware_distributions",
    "register_middleware",
]

MIDDLEWARE_GROUP = "regstore.middleware"
MiddlewareFactory = Callable[[StorageDriver, Mapping[str, Any]], StorageDriver]

#: Middleware published by the project outside the core: the extra that installs each one.
KNOWN_EXTRAS = {"cloudfront": "s3"}


class InvalidMiddlewareError(LookupError):
    """No storage middleware is registered or installed under this name."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


#: Every storage middleware ``create_middleware`` can build, by name.
MIDDLEWARE: PluginRegistry[MiddlewareFactory] = PluginRegistry(
    MIDDLEWARE_GROUP,
    kind="storage middleware",
    error=InvalidMiddlewareError,
    extras=KNOWN_EXTRAS,
    unknown=lambda name, available: (
        f"no storage middleware registered with name {name!r} (available: {available})"
    ),
)


def register_middleware(name: str, factory: MiddlewareFactory) -> None:
    """Register ``factory`` under ``name`` in this process; registering twice is a ValueError."""
    MIDDLEWARE.register(name, factory)


def middleware_distributions() -> dict[str, list[str]]:
    """Every installed middleware name, with the distributions (``name version``) offering it."""
    return MIDDLEWARE.distributions()


def available_middleware() -> list[str]:
    """Sorted names of every storage middleware ``create_middleware`` accepts."""
    return MIDDLEWARE.names()


def create_middleware(
    name: str, inner: StorageDriver, options: Mapping[str, Any] | None = None
) -> StorageDriver:
    """Wrap ``inner`` in the middleware called ``name``, configured by ``options``."""
    if not isinstance(name, str) or not name:
        raise InvalidMiddlewareError(str(name), "a storage middleware name is a non-empty string")
    wrapped = MIDDLEWARE.load(name)(inner, dict(options or {}))
    if not isinstance(wrapped, StorageDriver):
        raise InvalidMiddlewareError(
            name,
            f"the factory for storage middleware {name!r} returned {type(wrapped).__name__},"
            " not a StorageDriver",
        )
    return wrapped


def apply_middleware(
    driver: StorageDriver, entries: Iterable[tuple[str, Mapping[str, Any] | None]]
) -> StorageDriver:
    """Wrap ``driver`` in each ``(name, options)`` in order; the last one is outermost.

    The result is checked like any driver ``regstore.create`` returns (paths
    validated, ``redirect_url`` only for GET and HEAD).
    """
    wrapped = driver
    for name, options in entries:
        wrapped = create_middleware(name, wrapped, options)
    if wrapped is driver:
        return driver
    return CheckedDriver(wrapped)
