"""Every ``regstore`` command against each cloud emulator whose driver is installed.

S3 on moto, Azure on Azurite, GCS on fake-gcs-server; each test gets a fresh
bucket or container. A backend whose driver package is missing skips; one
whose emulator is not running skips (or fails under
``REGSTORE_REQUIRE_ALL_BACKENDS=1``).
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the conftest module is not importable by name when run with others
    from conftest import Ran, Store

Cli = Callable[..., "Ran"]
Tree = Callable[..., dict[str, bytes]]
BASE = "/docker/registry/v2"
CLOUDS = ("s3", "azure", "gcs")


@pytest.fixture(params=CLOUDS)
def cloud(request: pytest.FixtureRequest, make_store: Callable[..., Store]) -> Store:
    store: Store = make_store(request.param, "cloud")
    return store


@pytest.fixture
def filled(cloud: Store, registry_tree: Tree) -> dict[str, bytes]:
    with cloud.open() as driver:
        return registry_tree(driver, repositories=2)


def test_ls_stat_du_cat(cli: Cli, cloud: Store, filled: dict[str, bytes]) -> None:
    config = cloud.config
    ran = cli("--config", config, "ls", f"{BASE}/repositories")
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == [f"{BASE}/repositories/team0/", f"{BASE}/repositories/team1/"]

    ran = cli("--config", config, "ls", "-R", "-l", BASE)
    files = {
        line.split()[-1]: int(line.split()[0])
        for line in ran.out.splitlines()[:]
        if not line.endswith("/")
    }
    assert files == {path: len(data) for path, data in filled.items()}

    path, data = max(filled.items(), key=lambda item: len(item[1]))
    ran = cli("--config", config, "stat", path)
    assert f"size:     {len(data)} " in ran.out
    assert "type:     directory" in cli("--config", config, "stat", f"{BASE}/blobs").out

    ran = cli("--config", config, "du", BASE)
    fields = ran.out.split()
    assert (int(fields[0]), int(fields[3])) == (sum(map(len, filled.values())), len(filled))

    assert cli("--config", config, "cat", path).raw == data


def test_put_get_resume_mv_rm(cli: Cli, cloud: Store, tmp_path: Path) -> None:
    config = cloud.config
    data = os.urandom(6 << 20)
    local = tmp_path / "layer"
    local.write_bytes(data)
    with cloud.open() as driver, driver.writer("/uploads/layer") as writer:
        writer.write(data[: 5 << 20])  # what an interrupted put leaves, closed
    ran = cli("--config", config, "put", "--resume", local, "/uploads/layer")
    assert ran.code == 0, ran.err
    assert f"resumed at byte {5 << 20}" in ran.err

    assert cli("--config", config, "get", "/uploads/layer", tmp_path / "back").code == 0
    assert (tmp_path / "back").read_bytes() == data

    assert cli("--config", config, "mv", "/uploads/layer", "/blobs/layer").code == 0
    assert cli("--config", config, "stat", "/uploads/layer").code == 1
    assert cli("--config", config, "cat", "/blobs/layer").raw == data

    assert cli("--config", config, "put", local, "/blobs/copy").code == 0
    assert cli("--config", config, "rm", "/blobs").code == 1
    assert cli("--config", config, "rm", "-r", "/blobs").code == 0
    assert cli("--config", config, "ls", "/").out == ""


def test_url_serves_the_content(cli: Cli, cloud: Store) -> None:
    with cloud.open() as driver:
        driver.put_content("/blobs/data", b"served by the emulator")
    ran = cli("--config", cloud.config, "url", "/blobs/data", "--expires", "300")
    assert ran.code == 0, ran.err
    with urllib.request.urlopen(ran.out.strip(), timeout=30) as response:
        assert response.read() == b"served by the emulator"


def test_sync_to_the_emulator_and_back(
    cli: Cli,
    cloud: Store,
    make_store: Callable[..., Store],
    registry_tree: Tree,
    read_tree: Tree,
) -> None:
    """A registry-shaped tree migrates filesystem -> cloud -> filesystem byte for byte."""
    source = make_store("filesystem", "source")
    with source.open() as driver:
        files = registry_tree(driver, big=6 << 20)
    ran = cli("--config", source.config, "sync", "--to-config", cloud.config, "-j", "3")
    assert ran.code == 0, ran.err
    assert f"copied {len(files)} files" in ran.out
    with cloud.open() as driver:
        assert read_tree(driver) == files

    ran = cli("--config", source.config, "sync", "--to-config", cloud.config)
    assert f"copied 0 files (0 B), skipped {len(files)} already there" in ran.out

    back = make_store("filesystem", "back")
    ran = cli("--config", cloud.config, "sync", "--to-config", back.config, BASE)
    assert ran.code == 0, ran.err
    with back.open() as driver:
        assert read_tree(driver) == files


def test_check_passes_in_a_scratch_prefix(cli: Cli, cloud: Store) -> None:
    with cloud.open() as driver:
        driver.put_content("/docker/registry/v2/keep", b"outside the scratch prefix")
    ran = cli("--config", cloud.config, "check", "-k", "walk or test_write_read")
    assert ran.code == 0, ran.out + ran.err
    assert " 0 failed" in ran.out
    assert f"conformance of the {cloud.backend} driver" in ran.out
    with cloud.open() as driver:
        assert [info.path for info in driver.walk("/") if not info.is_dir] == [
            "/docker/registry/v2/keep"
        ]
        assert driver.get_content("/docker/registry/v2/keep") == b"outside the scratch prefix"
