"""Find drivers by name: in-process registrations first, then ``regstore.drivers`` entry points.

Entry points are loaded only when ``create`` asks for their name, so
``import regstore`` never imports a cloud SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._base import CheckedDriver
from .driver import StorageDriver
from .errors import InvalidStorageDriverError
from .plugins import PluginRegistry

__all__ = [
    "DRIVERS",
    "ENTRY_POINT_GROUP",
    "DriverFactory",
    "available_drivers",
    "create",
    "driver_distributions",
    "register",
]

ENTRY_POINT_GROUP = "regstore.drivers"
DriverFactory = Callable[[Mapping[str, Any]], StorageDriver]

#: Drivers published by the project: the extra that installs each one (the one place it is
#: written; ``scripts/versions.py check`` fails when a package's ``regstore.drivers`` names
#: and the core's extras disagree with it).
KNOWN_EXTRAS = {"s3": "s3", "s3aws": "s3", "azure": "azure", "gcs": "gcs"}

#: Every driver ``create`` can build, by name.
DRIVERS: PluginRegistry[DriverFactory] = PluginRegistry(
    ENTRY_POINT_GROUP,
    kind="storage driver",
    error=InvalidStorageDriverError,
    extras=KNOWN_EXTRAS,
    unknown=lambda name, available: (
        f"storage driver not registered: {name!r} (available: {available})"
    ),
)


def register(name: str, factory: DriverFactory) -> None:
    """Register ``factory`` under ``name`` in this process; registering twice is a ValueError."""
    DRIVERS.register(name, factory)


def driver_distributions() -> dict[str, list[str]]:
    """Every installed driver name, with the distributions (``name version``) offering it."""
    return DRIVERS.distributions()


def create(name: str, parameters: Mapping[str, Any] | None = None) -> CheckedDriver:
    """Build the driver called ``name`` from a parameters mapping (the registry's keys).

    It comes in the wrapper, whose ``writer`` also takes ``digest=``.
    """
    if not isinstance(name, str) or not name:
        raise InvalidStorageDriverError(str(name), "a storage driver name is a non-empty string")
    factory = DRIVERS.load(name)
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
    return DRIVERS.names()
