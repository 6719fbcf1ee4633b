"""Named plugins: in-process registrations first, then one entry-point group, loaded lazily.

Storage drivers (``regstore.drivers``) and storage middleware
(``regstore.middleware``) are both found this way. Only the requested name is
loaded, a name offered by two installed distributions is an error naming both,
and a known but missing name says which ``regstore[extra]`` installs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from importlib import metadata

__all__ = ["IN_PROCESS", "PluginRegistry"]

T = TypeVar("T")

#: How ``distributions`` lists a plugin registered with ``register``.
IN_PROCESS = "<registered in-process>"


class PluginRegistry(Generic[T]):
    """The plugins of one kind, by name: ``register`` in-process or an entry point in ``group``.

    ``error(name, message)`` builds what ``load`` raises; ``unknown(name, available)``
    words the message for a name nobody offers; ``extras`` maps the project's own
    plugin names to the extra that installs them.
    """

    def __init__(
        self,
        group: str,
        *,
        kind: str,
        error: Callable[[str, str], Exception],
        unknown: Callable[[str, str], str],
        extras: Mapping[str, str] | None = None,
    ) -> None:
        self.group = group
        self.kind = kind
        self.extras: Mapping[str, str] = extras or {}
        self._error = error
        self._unknown = unknown
        self._registered: dict[str, T] = {}
        self._lock = threading.Lock()

    def register(self, name: str, plugin: T) -> None:
        """Offer ``plugin`` under ``name`` in this process; a name taken already is a ValueError."""
        if not callable(plugin):
            raise TypeError(f"the factory for {self.kind} {name!r} must be callable")
        with self._lock:
            if name in self._registered:
                raise ValueError(f"a {self.kind} named {name!r} is already registered")
            self._registered[name] = plugin

    def entry_points(self, name: str | None = None) -> list[metadata.EntryPoint]:
        """The installed entry points of the group, or only those called ``name``."""
        # Imported here: importlib.metadata (with email, zipfile, csv) would be most of the
        # cost of ``import regstore``, and only a lookup by name or a listing needs it.
        from importlib import metadata

        found = metadata.entry_points(group=self.group)
        if name is None:
            return list(found)
        return [entry for entry in found if entry.name == name]

    def distributions(self) -> dict[str, list[str]]:
        """Every name offered, with the distributions (``name version``) offering it."""
        offered: dict[str, set[str]] = {}
        for entry in self.entry_points():
            offered.setdefault(entry.name, set()).add(distribution_of(entry))
        with self._lock:
            for name in self._registered:
                offered.setdefault(name, set()).add(IN_PROCESS)
        return {name: sorted(dists) for name, dists in sorted(offered.items())}

    def names(self) -> list[str]:
        """Sorted names ``load`` accepts."""
        names = {entry.name for entry in self.entry_points()}
        with self._lock:
            names.update(self._registered)
        return sorted(names)

    def load(self, name: str) -> T:
        """The plugin called ``name``: registered in-process, else its one installed entry point."""
        with self._lock:
            registered = self._registered.get(name)
        if registered is not None:
            return registered
        by_dist = {distribution_of(entry): entry for entry in self.entry_points(name)}
        # One distribution can show up twice on sys.path (editable + site): count distributions.
        if len(by_dist) > 1:
            raise self._error(
                name,
                f"{self.kind} {name!r} is offered by more than one installed distribution"
                f" ({' and '.join(sorted(by_dist))}); uninstall one of them",
            )
        if not by_dist:
            extra = self.extras.get(name)
            if extra is not None:
                raise self._error(
                    name,
                    f"{self.kind} {name!r} is not installed; install it with:"
                    f' pip install "regstore[{extra}]"',
                )
            raise self._error(name, self._unknown(name, ", ".join(self.names()) or "none"))
        loaded: T = next(iter(by_dist.values())).load()
        if not callable(loaded):
            raise self._error(name, f"the entry point for {self.kind} {name!r} is not callable")
        return loaded


def distribution_of(entry: metadata.EntryPoint) -> str:
    """``"name version"`` of the distribution declaring ``entry``, for messages and listings."""
    dist = entry.dist
    if dist is None:
        return f"<unknown distribution of {entry.value}>"
    return f"{dist.name} {dist.version}"
