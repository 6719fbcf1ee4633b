"""Find storage middleware by name: in-process, then ``regstore.middleware`` entry points.

The same lazy, strict discovery as drivers (``regstore.factory``): only the
requested name is loaded, and two distributions offering one name is an error
naming both. A middleware factory takes the driver to wrap and the options
mapping, and returns a driver; the built-in ones are their classes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import factory as driver_factory
from .._base import CheckedDriver
from ..driver import StorageDriver

__all__ = [
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

_registry: dict[str, MiddlewareFactory] = {}
_lock = threading.Lock()


class InvalidMiddlewareError(LookupError):
    """No storage middleware is registered or installed under this name."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


def register_middleware(name: str, factory: MiddlewareFactory) -> None:
    """Register ``factory`` under ``name`` in this process; registering twice is a ValueError."""
    if not callable(factory):
        raise TypeError(f"the factory for storage middleware {name!r} must be callable")
    with _lock:
        if name in _registry:
            raise ValueError(f"a storage middleware named {name!r} is already registered")
        _registry[name] = factory


def middleware_distributions() -> dict[str, list[str]]:
    """Every installed middleware name, with the distributions (``name version``) offering it."""
    offered: dict[str, set[str]] = {}
    for entry in driver_factory._entry_points(group=MIDDLEWARE_GROUP):
        offered.setdefault(entry.name, set()).add(driver_factory._distribution(entry))
    with _lock:
        for name in _registry:
            offered.setdefault(name, set()).add("<registered in-process>")
    return {name: sorted(dists) for name, dists in sorted(offered.items())}


def available_middleware() -> list[str]:
    """Sorted names of every storage middleware ``create_middleware`` accepts."""
    return list(middleware_distributions())


def _load(name: str) -> MiddlewareFactory:
    with _lock:
        registered = _registry.get(name)
    if registered is not None:
        return registered
    loaded: MiddlewareFactory = driver_factory._load_entry_point(
        name,
        MIDDLEWARE_GROUP,
        kind="storage middleware",
        error=InvalidMiddlewareError,
        extras=KNOWN_EXTRAS,
        unknown=lambda: (
            f"no storage middleware registered with name {name!r}"
            f" (available: {', '.join(available_middleware()) or 'none'})"
        ),
    )
    return loaded


def create_middleware(
    name: str, inner: StorageDriver, options: Mapping[str, Any] | None = None
) -> StorageDriver:
    """Wrap ``inner`` in the middleware called ``name``, configured by ``options``."""
    if not isinstance(name, str) or not name:
        raise InvalidMiddlewareError(str(name), "a storage middleware name is a non-empty string")
    wrapped = _load(name)(inner, dict(options or {}))
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
