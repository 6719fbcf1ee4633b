"""The stores the robustness suites run against: a driver name, its parameters, its leftovers.

The stores come from the test backends the installed packages declare
(``regstore.testsuite.backends``); ``bind`` makes a suite's test class per backend.
A ``Target`` is plain data (JSON-ready parameters and environment), so a crash
test can hand it to a child process that builds the same driver. Each target
gets a fresh namespace: a new root directory, bucket or container.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import regstore
from regstore.testing import filesystem_store
from regstore.testsuite.backends import Store, TestBackend, declared_backends, find_backend

__all__ = [
    "BROKEN_VARIABLE",
    "FILESYSTEM",
    "INMEMORY",
    "Target",
    "bind",
    "broken",
    "filesystem_target",
    "load_factory",
    "open_target",
]

FILESYSTEM = "filesystem"
INMEMORY = "inmemory"
#: ``<label>=<module>:<class>``: a deliberately broken driver in place of the target's own.
BROKEN_VARIABLE = "REGSTORE_BROKEN_DRIVER"


def _nothing() -> list[str]:
    return []


@dataclass
class Target:
    """One store: how to build its driver, and what it keeps outside the path namespace."""

    label: str
    driver_name: str
    parameters: dict[str, Any]
    #: Environment variables the driver reads (set them around ``create``).
    env: dict[str, str] = field(default_factory=dict)
    #: Backend objects kept outside the path namespace (pending uploads, temp files).
    leftovers: Callable[[], list[str]] = _nothing
    #: The smallest upload chunk that exercises the backend's multi-part path.
    part_size: int = 64 * 1024
    #: Strings that must never show in errors, reprs, logs or CLI output.
    secrets: tuple[str, ...] = ()
    #: The emulator's base URL (cloud targets), as it appears in parameters and env.
    endpoint: str = ""
    #: ``module:class`` of a driver registered as ``driver_name`` on first use.
    factory: str | None = None
    #: The driver family (``s3``, ``azure``...), also when a broken driver stands in.
    kind: str = ""
    #: The declaration the store came from: what the suites know about the backend.
    backend: TestBackend | None = None

    def __post_init__(self) -> None:
        if not self.kind:
            self.kind = self.driver_name

    @property
    def declared(self) -> TestBackend:
        """The backend's declaration (a target made by hand has none)."""
        if self.backend is None:
            raise ValueError(f"{self.label} was not opened from a declared backend")
        return self.backend

    def create(self, **overrides: Any) -> regstore.StorageDriver:
        """A new driver instance over this store (parameters overridden by ``overrides``)."""
        if self.factory and self.driver_name not in regstore.available_drivers():
            regstore.register(self.driver_name, load_factory(self.factory))
        with _environment(self.env):
            return regstore.create(self.driver_name, {**self.parameters, **overrides})

    def via(self, url: str) -> Target:
        """The same store reached through ``url`` (a fault proxy) instead of the emulator."""
        if not self.endpoint:
            raise ValueError(f"{self.label} has no network endpoint to redirect")
        return replace(
            self,
            parameters=_swap(self.parameters, self.endpoint, url),
            env={name: value.replace(self.endpoint, url) for name, value in self.env.items()},
            endpoint=url,
        )

    def spec(self) -> dict[str, Any]:
        """What a child process needs to build the same driver."""
        return {
            "driver": self.driver_name,
            "parameters": self.parameters,
            "env": self.env,
            "factory": self.factory,
        }


def load_factory(name: str) -> Any:
    """The object ``module:attribute`` names."""
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def broken(label: str) -> str | None:
    """The deliberately broken driver ``REGSTORE_BROKEN_DRIVER`` puts in place of ``label``'s."""
    given = os.environ.get(BROKEN_VARIABLE, "")
    named, _, factory = given.partition("=")
    return factory if named == label and factory else None


def _swap(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {key: _swap(item, old, new) for key, item in value.items()}
    return value


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _target(label: str, store: Store, backend: TestBackend | None = None) -> Target:
    return Target(
        label,
        store.driver,
        dict(store.parameters),
        env=dict(store.env),
        leftovers=store.leftovers,
        part_size=backend.part_size if backend else 512 * 1024,
        secrets=store.secrets,
        endpoint=store.endpoint,
        backend=backend,
    )


def filesystem_target(root: Path) -> Target:
    """The filesystem driver under ``root``; leftovers are its ``~`` files (uploads, temps)."""
    return _target(FILESYSTEM, filesystem_store(root), find_backend(FILESYSTEM))


@contextmanager
def open_target(label: str, tmp_path: Path) -> Iterator[Target]:
    """A fresh store of the declared backend ``label``: a root under ``tmp_path``, or a new
    bucket or container on its emulator, removed afterwards.

    Backends on an emulator skip (or fail, with ``REGSTORE_REQUIRE_ALL_BACKENDS=1``) when
    it is not running.
    """
    factory = broken(label)
    backend = find_backend(label)
    with backend.store(tmp_path) as store:
        target = _target(label, store, backend)
        yield replace(target, driver_name=f"broken-{label}", factory=factory) if factory else target


def bind(
    base: type,
    prefix: str,
    namespace: dict[str, Any],
    where: Callable[[TestBackend], bool] = lambda backend: True,
    attributes: Callable[[TestBackend], dict[str, Any]] = lambda backend: {},
) -> list[str]:
    """A test class ``<prefix><title>`` in ``namespace`` for each declared backend ``where``
    accepts and no subclass of ``base`` binds yet (``attributes``: more class attributes);
    the labels of every accepted backend.
    """
    bound = {getattr(cls, "label", None) for cls in base.__subclasses__()}
    labels = []
    for backend in declared_backends():
        if not where(backend):
            continue
        labels.append(backend.name)
        if backend.name in bound:
            continue
        name = prefix + backend.title
        namespace[name] = type(
            name,
            (base,),
            {
                "label": backend.name,
                "__module__": namespace["__name__"],
                "__qualname__": name,
                **attributes(backend),
            },
        )
    return labels
