"""The conformance suite bound to a declared test backend (``regstore.testsuite.backends``).

A package binds the suite to each of its backends in a few lines::

    class TestS3Moto(BackendSuite):
        backend = "s3-moto"

Each test gets a fresh store from the declaration, two drivers over it, and the
declaration's leftovers check and unsupported tests. ``asynchronous = True`` runs
the same suite through ``regstore.aio``; ``configure`` changes the parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .. import create
from ..aio.testing import BlockingDriver
from ..driver import StorageDriver
from . import DriverSuite
from .backends import Store, find_backend

__all__ = ["BackendSuite"]


class BackendSuite(DriverSuite):
    """Every conformance test on the store a declared backend makes; name it in ``backend``."""

    #: The declared backend's name (``s3-moto``).
    backend: ClassVar[str]
    #: Drive the suite through ``regstore.aio`` (``BlockingDriver``) instead.
    asynchronous: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Take the backend's declared unsupported tests, unless the class names its own."""
        super().__init_subclass__(**kwargs)
        if "backend" in cls.__dict__ and "unsupported" not in cls.__dict__:
            try:
                cls.unsupported = dict(find_backend(cls.backend).unsupported)
            except KeyError:
                cls.unsupported = {}  # not installed: the store fixture says so

    def configure(self, store: Store, workdir: Path) -> dict[str, Any]:
        """The driver parameters for ``store``; override to test other settings."""
        return dict(store.parameters)

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
        """A fresh empty store, its environment set for the whole test."""
        with find_backend(self.backend).store(tmp_path) as opened:
            for name, value in opened.env.items():
                monkeypatch.setenv(name, value)
            yield opened

    @pytest.fixture
    def parameters(self, store: Store, tmp_path: Path) -> dict[str, Any]:
        """What both drivers are built with."""
        return self.configure(store, tmp_path)

    def _connect(self, store: Store, parameters: dict[str, Any]) -> Any:
        if self.asynchronous:
            return BlockingDriver.create(store.driver, parameters)
        return create(store.driver, parameters)

    @pytest.fixture
    def driver(self, store: Store, parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        """A driver over the fresh store."""
        with self._connect(store, parameters) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, store: Store, parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        """Another instance over the same store; skips where instances share nothing."""
        if not find_backend(self.backend).shared:
            pytest.skip("declared: no second driver instance over the same store")
        with self._connect(store, parameters) as driver:
            yield driver

    @pytest.fixture
    def leftovers(self, store: Store) -> Callable[[], list[str]]:
        """The declaration's list of what the driver keeps outside the path namespace."""
        return store.leftovers
