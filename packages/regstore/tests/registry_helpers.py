"""Stores for the registry maintenance tests: inmemory and filesystem, fresh or aged a day."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import regstore
from regstore.driver import StorageDriver
from regstore.drivers import inmemory
from regstore.registry.testing import RegistryTree, build_tree

BASE = "/docker/registry/v2"
DAY = timedelta(days=1)


def make_driver(kind: str, tmp_path: Path) -> StorageDriver:
    if kind == "filesystem":
        return regstore.create("filesystem", {"rootdirectory": str(tmp_path / "store")})
    return regstore.create("inmemory")


def build_old_tree(
    kind: str, driver: StorageDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: object
) -> RegistryTree:
    """A tree whose every file was last written a day ago."""
    then = datetime.now(timezone.utc) - DAY
    if kind == "inmemory":
        with monkeypatch.context() as patch:
            patch.setattr(inmemory, "_now", lambda: then)
            return build_tree(driver, **kw)  # type: ignore[arg-type]
    tree = build_tree(driver, **kw)  # type: ignore[arg-type]
    stamp = then.timestamp()
    for directory, _, files in os.walk(tmp_path / "store"):
        for name in files:
            os.utime(Path(directory) / name, (stamp, stamp))
    return tree


def blobs_on(driver: StorageDriver) -> set[str]:
    found = set()
    for info in walk_files(driver, f"{BASE}/blobs"):
        if info.endswith("/data"):
            parts = info.split("/")
            found.add(f"{parts[-4]}:{parts[-2]}")
    return found


def walk_files(driver: StorageDriver, path: str) -> Iterator[str]:
    try:
        for info in driver.walk(path):
            if not info.is_dir:
                yield info.path
    except regstore.PathNotFoundError:
        return
