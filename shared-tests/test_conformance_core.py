"""The conformance suite against the drivers that ship with the core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import regstore
from regstore.aio.testing import BlockingDriver
from regstore.testsuite import DriverSuite


class TestInMemory(DriverSuite):
    unsupported = {
        "test_resume_from_second_driver": "pending uploads belong to one inmemory instance",
    }

    @pytest.fixture
    def driver(self) -> regstore.StorageDriver:
        return regstore.create("inmemory")


class TestFilesystem(DriverSuite):
    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        return tmp_path / "registry"

    @pytest.fixture
    def driver(self, root: Path) -> Iterator[regstore.StorageDriver]:
        with regstore.create("filesystem", {"rootdirectory": str(root)}) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, root: Path) -> Iterator[regstore.StorageDriver]:
        with regstore.create("filesystem", {"rootdirectory": str(root)}) as driver:
            yield driver

    @pytest.fixture
    def leftovers(self, root: Path) -> object:
        def left() -> list[str]:
            if not root.exists():
                return []
            # The driver's own files: pending uploads, temp files (names holding "~").
            return [
                str(p.relative_to(root))
                for p in root.rglob("*")
                if p.is_file() and "~" in str(p.relative_to(root))
            ]

        return left


class TestInMemoryAsync(TestInMemory):
    """The suite through ``regstore.aio``: every call awaited on an event-loop thread."""

    @pytest.fixture
    def driver(self) -> Iterator[regstore.StorageDriver]:
        with BlockingDriver.create("inmemory") as driver:
            yield driver


class TestFilesystemAsync(TestFilesystem):
    """The suite through ``regstore.aio``, two async drivers over one root."""

    @pytest.fixture
    def driver(self, root: Path) -> Iterator[regstore.StorageDriver]:
        with BlockingDriver.create("filesystem", {"rootdirectory": str(root)}) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, root: Path) -> Iterator[regstore.StorageDriver]:
        with BlockingDriver.create("filesystem", {"rootdirectory": str(root)}) as driver:
            yield driver
