"""Find drivers by name: in-process registrations first, then ``regstore.drivers`` entry points.

Entry points are loaded only when ``create`` asks for their name, so
``import regstore`` never imports a cloud SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._base import CheckedDriver
from .driver import StorageDriver
from .errors import InvalidStorageDriverError

if TYPE_CHECKING:
    from importlib import metadata

__all__ = [
    "ENTRY_POINT_GROUP",
    "DriverFactory",
    "available_drivers",
    "create",
    "driver_distributions",
    "register",
]

ENTRY_POINT_GROUP = "regstore.drivers"
DriverFactory = Callable[[Mapping[str, Any]], StorageDriver]

#: Drivers published by the project: the extra that installs each one.
KNOWN_EXTRAS = {"s3": "s3", "s3aws": "s3", "azure": "azure", "gcs": "gcs"}

_registry: dict[str, DriverFactory] = {}
_lock = threading.Lock()


def register(name: str, factory: DriverFactory) -> None:
    """Register ``factory`` under ``name`` in this process; registering twice is a ValueError."""
    if not callable(factory):
        raise TypeError(f"the factory for driver {name!r} must be callable")
    with _lock:
        if name in _registry:
            raise ValueError(f"a storage driver named {name!r} is already registered")
        _registry[name] = factory


def _entry_points(
    name: str | None = None, group: str = ENTRY_POINT_GROUP
) -> list[metadata.EntryPoint]:
    # Imported here: importlib.metadata (with email, zipfile, csv) is most of the cost of
    # ``import regstore`` otherwise, and only ``create`` needs it.
    from importlib import metadata

    found = metadata.entry_points(group=group)
    if name is None:
        return list(found)
    return [entry for entry in found if entry.name == name]


def _by_distribution(entries: list[metadata.EntryPoint]) -> dict[str, metadata.EntryPoint]:
    """The entry points keyed by ``"dist version"``: more than one key is a name clash."""
    # One distribution can show up twice on sys.path (editable + site); count distributions.
    return {_distribution(entry): entry for entry in entries}


def _distribution(entry: metadata.EntryPoint) -> str:
    dist = entry.dist
    if dist is None:
        return f"<unknown distribution of {entry.value}>"
    return f"{dist.name} {dist.version}"


def driver_distributions() -> dict[str, list[str]]:
    """Every installed driver name, with the distributions (``name version``) offering it."""
    offered: dict[str, set[str]] = {}
    for entry in _entry_points():
        offered.setdefault(entry.name, set()).add(_distribution(entry))
    with _lock:
        for name in _registry:
            offered.setdefault(name, set()).add("<registered in-process>")
    return {name: sorted(dists) for name, dists in sorted(offered.items())}


def _load(name: str) -> DriverFactory:
    with _lock:
        factory = _registry.get(name)
    if factory is not None:
        return factory
    loaded: DriverFactory = _load_entry_point(
        name,
        ENTRY_POINT_GROUP,
        kind="storage driver",
        error=InvalidStorageDriverError,
        extras=KNOWN_EXTRAS,
        unknown=lambda: (
            f"storage driver not registered: {name!r}"
            f" (available: {', '.join(available_drivers()) or 'none'})"
        ),
    )
    return loaded


def _load_entry_point(
    name: str,
    group: str,
    *,
    kind: str,
    error: Callable[[str, str], Exception],
    extras: Mapping[str, str],
    unknown: Callable[[], str],
) -> Any:
    """Load the one installed entry point ``name`` of ``group``, or raise ``error`` saying why."""
    by_dist = _by_distribution(_entry_points(name, group=group))
    if len(by_dist) > 1:
        names = " and ".join(sorted(by_dist))
        raise error(
            name,
            f"{kind} {name!r} is offered by more than one installed distribution"
            f" ({names}); uninstall one of them",
        )
    if not by_dist:
        extra = extras.get(name)
        if extra is not None:
            raise error(
                name,
                f"{kind} {name!r} is not installed; install it with:"
                f' pip install "regstore[{extra}]"',
            )
        raise error(name, unknown())
    loaded = next(iter(by_dist.values())).load()
    if not callable(loaded):
        raise error(name, f"the entry point for {kind} {name!r} is not callable")
    return loaded


def create(name: str, parameters: Mapping[str, Any] | None = None) -> CheckedDriver:
    """Build the driver called ``name`` from a parameters mapping (the registry's keys).

    It comes in the wrapper, whose ``writer`` also takes ``digest=``.
    """
    if not isinstance(name, str) or not name:
        raise InvalidStorageDriverError(str(name), "a storage driver name is a non-empty string")
    factory = _load(name)
    driver = factory(dict(parameters or {}))
    if not isinstance(driver, StorageDriver):
        raise InvalidStorageDriverError(
            name, f"the factory for {name!r} returned {type(driver).__name__}, not a StorageDriver"
        )
    if isinstance(driver, CheckedDriver):
        return driver
    return CheckedDriver(driver)


def available_drivers() -> list[str]:
    """Sorted names of every driver ``create`` accepts."""
    names = {entry.name for entry in _entry_points()}
    with _lock:
        names.update(_registry)
    return sorted(names)
