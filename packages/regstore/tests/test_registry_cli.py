"""The maintenance commands on a filesystem registry: output, --json and exit statuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from registry_helpers import BASE, blobs_on

from regstore.registry import Layout
from regstore.registry.testing import RegistryTree, build_tree

if TYPE_CHECKING:
    from conftest import Ran, Store

Cli = Callable[..., "Ran"]
LAYOUT = Layout()


@pytest.fixture
def fs(make_store: Callable[..., Store]) -> Store:
    return make_store("filesystem")


@pytest.fixture
def tree(fs: Store) -> RegistryTree:
    with fs.open() as driver:
        return build_tree(driver, repositories=3)


def test_catalog_and_tags(cli: Cli, fs: Store, tree: RegistryTree) -> None:
    ran = cli("--config", fs.config, "catalog")
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == tree.repositories
    ran = cli("--config", fs.config, "tags", "team/app")
    assert ran.out.splitlines() == sorted(tree.tags["team/app"])
    ran = cli("--config", fs.config, "tags", "--json", "team/app")
    assert json.loads(ran.out) == {"name": "team/app", "tags": sorted(tree.tags["team/app"])}
    ran = cli("--config", fs.config, "tags", "no/such")
    assert ran.code == 1
    assert "repository not found: no/such" in ran.err


def test_gc_dry_run_lists_and_keeps(cli: Cli, fs: Store, tree: RegistryTree) -> None:
    ran = cli("--config", fs.config, "gc", "--dry-run", "--delete-untagged", "--grace", "0")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    blobs = {line.split()[-1] for line in lines if line.startswith("would delete blob ")}
    manifests = {
        tuple(line.split()[-1].split("@"))
        for line in lines
        if line.startswith("would delete manifest ")
    }
    assert blobs == tree.deleted_blobs(True)
    assert manifests == tree.deleted_manifests(True)
    assert lines[-1].startswith(f"{len(tree.marked(True))} blobs marked; {len(blobs)} blobs and")
    assert "restart the registry" not in ran.err
    with fs.open() as driver:
        assert blobs_on(driver) == set(tree.blobs)


def test_gc_deletes_and_says_to_restart(cli: Cli, fs: Store, tree: RegistryTree) -> None:
    ran = cli("--config", fs.config, "gc", "--grace", "0s", "--json")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    assert set(report["blobs_deleted"]) == tree.deleted_blobs(False)
    assert report["bytes_freed"] == tree.bytes_freed(False)
    assert report["swept"] is True
    assert "restart the registry" in ran.err
    with fs.open() as driver:
        assert blobs_on(driver) == tree.kept_blobs(False)


def test_gc_default_grace_keeps_a_fresh_tree(cli: Cli, fs: Store, tree: RegistryTree) -> None:
    ran = cli("--config", fs.config, "gc", "-m")
    assert ran.code == 0, ran.err
    assert "0 blobs and 0 manifests deleted" in ran.out
    assert "kept as too recent" in ran.out


def test_gc_refuses_on_problems(cli: Cli, fs: Store, tree: RegistryTree) -> None:
    repo = tree.repositories[0]
    with fs.open() as driver:
        driver.put_content(LAYOUT.revision_link(repo, tree.tags[repo]["v1"]), b"junk")
    ran = cli("--config", fs.config, "gc", "--grace", "0")
    assert ran.code == 1
    assert "gc: problem: bad-link" in ran.err
    assert "nothing deleted" in ran.err
    with fs.open() as driver:
        assert blobs_on(driver) == set(tree.blobs)


def test_gc_bad_duration(cli: Cli, fs: Store, tree: RegistryTree) -> None:
    ran = cli("--config", fs.config, "gc", "--grace", "soon")
    assert ran.code == 2
    assert "168h, 30m, 1h30m or 7d" in ran.err


def test_verify_exit_status(cli: Cli, fs: Store, tree: RegistryTree) -> None:
    ran = cli("--config", fs.config, "verify")
    assert (ran.code, ran.out) == (0, "")
    assert "0 problems found" in ran.err
    layer = tree.manifests[("team/app", tree.tags["team/app"]["v1"])][-1]
    with fs.open() as driver:
        driver.put_content(LAYOUT.blob_data(layer), b"tampered")
    ran = cli("--config", fs.config, "verify")
    assert ran.code == 1
    assert ran.out.startswith(f"digest-mismatch {layer} {LAYOUT.blob_data(layer)}: ")
    ran = cli("--config", fs.config, "verify", "--quick", "--json")
    report = json.loads(ran.out)
    assert ran.code == 1
    assert [p["kind"] for p in report["problems"]] == ["size-mismatch"]
    assert cli("--config", fs.config, "verify", "library/alpine").code == 0


def test_purge_uploads(cli: Cli, fs: Store, tree: RegistryTree) -> None:
    with fs.open() as driver, driver.writer("/scratch/upload") as writer:
        writer.write(b"pending")
    ran = cli("--config", fs.config, "uploads")
    assert ran.code == 0, ran.err
    assert ran.out.rstrip().endswith("/scratch/upload")
    ran = cli("--config", fs.config, "purge-uploads", "--older-than", "7d", "--dry-run")
    assert ran.code == 0, ran.err
    assert f"would purge registry upload {tree.uploads_old[0]}" in ran.out
    ran = cli("--config", fs.config, "purge-uploads", "--older-than", "168h", "--json")
    assert json.loads(ran.out) == {
        "dry_run": False,
        "driver_uploads": [],
        "registry_uploads": tree.uploads_old,
    }
    ran = cli("--config", fs.config, "purge-uploads", "--older-than", "0s", "/scratch")
    assert ran.code == 0, ran.err
    assert "purged driver upload /scratch/upload" in ran.out
    assert "0 registry uploads" in ran.out
    with fs.open() as driver:
        assert [u.path for u in driver.pending_uploads("/")] == []
        assert driver.stat(tree.uploads_fresh[0]).is_dir
    assert BASE in tree.uploads_fresh[0]
