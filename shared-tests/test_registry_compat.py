"""regstore's registry maintenance against the real registry: Debian's docker-registry 2.8.2.

Stores written by the registry itself (``skopeo`` pushes of OCI and Docker
schema2 images, a two-platform index, re-pushed tags, a delete by digest) plus
garbage written through regstore (``build_tree``, orphan blobs) are copied; Go's
``garbage-collect`` runs on one copy and regstore's ``collect`` (or the
``regstore gc`` command) on the other, and what is left must be the same, on
the filesystem driver and on S3 (Ceph radosgw). With ``--delete-untagged`` the
one deliberate difference is asserted exactly: regstore keeps a tagged index's
children, which Go 2.8 deletes (distribution #3178), and the registry serves
every tag from regstore's copy. ``verify`` and the upload purge are checked on
trees and uploads the registry wrote.

``REGSTORE_TEST_REGISTRY_REPOS`` (default 4) sizes the generated part of the trees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urljoin

import pytest
from goregistry import (
    GoRegistry,
    binary_or_skip,
    garbage_collect,
    http,
    write_config,
)
from ociimages import Descriptor, Layout, delete, pull, push, raw_manifest, sha256
from registrytrees import Store, empty_store

from regstore.registry.gc import collect
from regstore.registry.testing import RegistryTree, build_tree
from regstore.registry.uploads import purge_registry_uploads, registry_uploads
from regstore.registry.verify import verify
from testenv import unique_name

GENERATED_REPOS = int(os.environ.get("REGSTORE_TEST_REGISTRY_REPOS", "4"))


# --- stores ---------------------------------------------------------------------------------------


@pytest.fixture(params=["filesystem", "s3"], ids=["filesystem", "s3-radosgw"])
def origin(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store the registry writes first: a folder, or a prefix of a fresh bucket."""
    binary_or_skip("skopeo")
    with empty_store(request.param, tmp_path, "origin") as store:
        yield store


def _config(store: Store, tmp_path: Path, name: str) -> Path:
    """A registry ``config.yml`` for ``store``: for the Go registry and ``regstore --config``."""
    return write_config(tmp_path / f"{name}.yml", store.storage())


# --- what the registry writes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    """A tag as pushed: the manifest digest the registry stored, and how to pull it."""

    digest: str
    multi: bool = False
    oci: bool = True


@dataclass
class Scenario:
    """What a populated store holds: live tags, index children, garbage and generated parts."""

    tags: dict[tuple[str, str], Pushed] = field(default_factory=dict)
    children: set[tuple[str, str]] = field(default_factory=set)
    children_own_blobs: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)
    corruptible: str = ""
    generated: RegistryTree | None = None


def _blobs_of(layout: Layout, manifest: Descriptor) -> list[str]:
    document = json.loads((layout.path / "blobs" / "sha256" / manifest.digest[7:]).read_bytes())
    return [document["config"]["digest"], *(layer["digest"] for layer in document["layers"])]


def populate(store: Store, tmp_path: Path) -> Scenario:
    """Push images with skopeo through a real registry on ``store``, then add generated garbage."""
    layout = Layout(tmp_path / "layout")
    base, base2 = layout.layer(), layout.layer()
    scenario = Scenario()
    first = layout.image([base, layout.layer()], label="first")
    second = layout.image([base, layout.layer()], label="second")
    edge = layout.image([base2, layout.layer()], label="edge")
    old_docker = layout.image([base, base2, layout.layer()], label="old docker")
    docker = layout.image([base, base2, layout.layer()], label="docker")
    amd = layout.image([base2, layout.layer()], arch="amd64")
    arm = layout.image([base2, layout.layer()], arch="arm64")
    index = layout.index({"amd64": amd, "arm64": arm})
    gone = layout.image([base, layout.layer()], label="gone")
    nested = layout.image([base, layout.layer()], label="nested")
    config = _config(store, tmp_path, "populate")
    with GoRegistry(config) as registry:
        host = registry.host
        for name, target in [("first", first), ("edge", edge), ("nested", nested)]:
            layout.tag(name, target)
        push(layout, "first", host, "lib/app", dest_tag="stable")  # untagged by the next push
        layout.tag("second", second)
        digest = push(layout, "second", host, "lib/app", dest_tag="stable")
        scenario.tags[("lib/app", "stable")] = Pushed(digest)
        scenario.tags[("lib/app", "edge")] = Pushed(push(layout, "edge", host, "lib/app"))
        layout.tag("docker", old_docker)
        push(layout, "docker", host, "lib/dock", docker_schema2=True, dest_tag="1.0")
        layout.tag("docker", docker)
        digest = push(layout, "docker", host, "lib/dock", docker_schema2=True, dest_tag="1.0")
        scenario.tags[("lib/dock", "1.0")] = Pushed(digest, oci=False)
        layout.tag("multi", index)
        digest = push(layout, "multi", host, "lib/multi", multi=True, dest_tag="latest")
        scenario.tags[("lib/multi", "latest")] = Pushed(digest, multi=True)
        digest = push(layout, "nested", host, "lib/app/sub", dest_tag="s")
        scenario.tags[("lib/app/sub", "s")] = Pushed(digest)
        layout.tag("gone", gone)
        delete(host, "lib/gone", push(layout, "gone", host, "lib/gone", dest_tag="x"))
    scenario.children = {("lib/multi", amd.digest), ("lib/multi", arm.digest)}
    kept_elsewhere = {
        blob for image in (second, edge, docker, nested) for blob in _blobs_of(layout, image)
    }
    scenario.children_own_blobs = (
        set(_blobs_of(layout, amd)) | set(_blobs_of(layout, arm))
    ) - kept_elsewhere
    # lib/gone's manifest and own layer and config: unreferenced once deleted by digest.
    scenario.garbage = {gone.digest, *_blobs_of(layout, gone)} - kept_elsewhere
    scenario.corruptible = _blobs_of(layout, docker)[-1]
    with store.driver() as driver:
        scenario.generated = build_tree(driver, repositories=GENERATED_REPOS, seed=7)
        for number in range(3):
            data = f"orphan {number}".encode() + os.urandom(64)
            digest = sha256(data)
            driver.put_content(store.key(f"blobs/sha256/{digest[7:9]}/{digest[7:]}/data"), data)
            scenario.garbage.add(digest)
    scenario.garbage |= scenario.generated.deleted_blobs(False)
    return scenario


@pytest.fixture
def populated(origin: Store, tmp_path: Path) -> tuple[Store, Scenario]:
    """The origin store after the pushes and the generated garbage."""
    return origin, populate(origin, tmp_path)


# --- regstore's two ways to collect ---------------------------------------------------------------


def _regstore_collect(
    store: Store, tmp_path: Path, how: str, *, delete_untagged: bool = False
) -> None:
    if how == "library":
        with store.driver() as driver:
            report = collect(driver, delete_untagged=delete_untagged, grace=timedelta(0))
        assert report.problems == [], report.problems
        assert report.swept
        return
    command = [
        sys.executable,
        "-m",
        "regstore.cli",
        "--config",
        str(_config(store, tmp_path, "cli")),
    ]
    command += ["gc", "--grace", "0", *(["--delete-untagged"] if delete_untagged else [])]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _copies(store: Store) -> tuple[Store, Store]:
    return store.copy_to(unique_name("go")), store.copy_to(unique_name("rs"))


# --- garbage collection ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["library", "cli"])
def test_gc_leaves_what_go_leaves(
    populated: tuple[Store, Scenario], tmp_path: Path, how: str
) -> None:
    """Without --delete-untagged both collectors leave exactly the same files."""
    store, scenario = populated
    before = store.tree()
    go, mine = _copies(store)
    assert go.tree() == mine.tree() == before
    garbage_collect(_config(go, tmp_path, "go"))
    _regstore_collect(mine, tmp_path, how)
    left_go, left_mine = go.tree(), mine.tree()
    assert left_mine == left_go
    assert before.blobs - left_go.blobs == scenario.garbage
    assert left_mine.tags == before.tags
    assert left_mine.revisions == before.revisions  # untagged revisions are kept without -m


def test_gc_dry_run_deletes_nothing(populated: tuple[Store, Scenario], tmp_path: Path) -> None:
    """A dry run, like Go's --dry-run, leaves every file where it was."""
    store, scenario = populated
    before = store.tree()
    with store.driver() as driver:
        report = collect(driver, dry_run=True, grace=timedelta(0))
    assert set(report.blobs_deleted) == scenario.garbage
    assert store.tree() == before


def test_delete_untagged_keeps_index_children_go_breaks(
    populated: tuple[Store, Scenario], tmp_path: Path
) -> None:
    """-m: regstore differs from Go 2.8 only by a tagged index's children, and serves every tag."""
    store, scenario = populated
    generated = scenario.generated
    assert generated is not None
    go, mine = _copies(store)
    go_config, mine_config = _config(go, tmp_path, "go"), _config(mine, tmp_path, "mine")
    garbage_collect(go_config, delete_untagged=True)
    _regstore_collect(mine, tmp_path, "library", delete_untagged=True)
    left_go, left_mine = go.tree(), mine.tree()

    children = scenario.children | generated.index_children
    children_blobs = scenario.children_own_blobs | (
        generated.deleted_blobs(True, go28=True) - generated.deleted_blobs(True)
    )
    assert left_mine.revisions - left_go.revisions == children
    assert left_go.revisions <= left_mine.revisions
    assert left_mine.blobs - left_go.blobs == children_blobs
    assert left_go.blobs <= left_mine.blobs
    assert (left_mine.tags, left_mine.tag_index) == (left_go.tags, left_go.tag_index)
    assert (left_mine.layers, left_mine.uploads) == (left_go.layers, left_go.uploads)
    # The untagged revision of lib/app:stable is gone in both, with its tag history entry.
    assert ("lib/app", "stable") in left_mine.tags
    assert len([r for r in left_mine.revisions if r[0] == "lib/app"]) == 2

    # A fresh process: the blob descriptor cache must not answer for deleted blobs.
    with GoRegistry(mine_config) as registry:
        for (repo, tag), pushed in sorted(scenario.tags.items()):
            served = raw_manifest(registry.host, f"{repo}:{tag}")
            assert sha256(served) == pushed.digest
            out = tmp_path / "pulled" / repo.replace("/", "_")
            pulled = pull(registry.host, repo, tag, out, multi=pushed.multi)
            if pushed.oci:
                assert pulled == pushed.digest
    with GoRegistry(go_config) as registry:
        index = ("lib/multi", "latest")
        served = raw_manifest(registry.host, "lib/multi:latest")
        assert sha256(served) == scenario.tags[index].digest
        for repo, child in sorted(scenario.children):
            status, _, body = http("GET", f"{registry.url}/v2/{repo}/manifests/{child}")
            assert status == 404, body
        with pytest.raises(RuntimeError, match="manifest unknown"):
            pull(registry.host, "lib/multi", "latest", tmp_path / "broken", multi=True)
        pull(registry.host, "lib/app", "stable", tmp_path / "go-app")


# --- verify ---------------------------------------------------------------------------------------


def test_verify_finds_nothing_in_a_registry_written_tree(origin: Store, tmp_path: Path) -> None:
    """A tree written only by the registry's pushes has no problem, by library and command."""
    scenario = Scenario()
    layout = Layout(tmp_path / "layout")
    base = layout.layer()
    layout.tag("a", layout.image([base, layout.layer()]))
    amd, arm = layout.image([base], arch="amd64"), layout.image([base], arch="arm64")
    layout.tag("m", layout.index({"amd64": amd, "arm64": arm}))
    config = _config(origin, tmp_path, "verify")
    with GoRegistry(config) as registry:
        scenario.tags[("x/a", "a")] = Pushed(push(layout, "a", registry.host, "x/a"))
        push(layout, "a", registry.host, "x/d", docker_schema2=True)
        push(layout, "m", registry.host, "x/m", multi=True)
    with origin.driver() as driver:
        assert verify(driver) == []
    done = _regstore(config, "verify")
    assert done.returncode == 0, done.stdout + done.stderr


def _regstore(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "regstore.cli", "--config", str(config), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, cwd=config.parent
    )


def test_verify_names_a_corrupted_blob(populated: tuple[Store, Scenario], tmp_path: Path) -> None:
    """Changed bytes in a pushed layer's data are reported with the digest and the path."""
    store, scenario = populated
    digest = scenario.corruptible
    path = store.key(f"blobs/sha256/{digest[7:9]}/{digest[7:]}/data")
    with store.driver() as driver:
        assert verify(driver) == []
        data = bytearray(driver.get_content(path))
        data[len(data) // 2] ^= 0xFF
        driver.put_content(path, bytes(data))
        problems = verify(driver)
    assert [(p.digest, p.path) for p in problems] == [(digest, path)]
    done = _regstore(_config(store, tmp_path, "cli"), "verify")
    assert done.returncode == 1
    assert digest in done.stdout + done.stderr


# --- upload purging -------------------------------------------------------------------------------


def _start_upload(url: str, repo: str) -> tuple[str, str]:
    """POST then PATCH an upload through the registry's API: (uuid, location to continue)."""
    status, headers, body = http("POST", f"{url}/v2/{repo}/blobs/uploads/")
    assert status == 202, body
    location = urljoin(url, headers["location"])
    status, headers, body = http("PATCH", location, b"partial")
    assert status == 202, body
    return headers["docker-upload-uuid"], urljoin(url, headers["location"])


def test_purge_uploads_follows_the_registry_rule(origin: Store, tmp_path: Path) -> None:
    """An upload started long ago is purged (even if written to since), a fresh one kept."""
    config = _config(origin, tmp_path, "uploads")
    with GoRegistry(config) as registry:
        old_id, old_location = _start_upload(registry.url, "up/load")
        fresh_id, fresh_location = _start_upload(registry.url, "up/load")
        folder = origin.key("repositories/up/load/_uploads")
        with origin.driver() as driver:
            assert driver.get_content(f"{folder}/{fresh_id}/startedat")
            # The registry's purger counts age from startedat, not from the last write.
            driver.put_content(f"{folder}/{old_id}/startedat", b"2001-02-03T04:05:06Z")
            found = {u.uuid: u.started for u in registry_uploads(driver)}
            assert found[old_id] == datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
            before = datetime.now(timezone.utc) - timedelta(hours=1)
            purged = purge_registry_uploads(driver, before)
            assert purged == [f"{folder}/{old_id}"]
            assert {u.uuid for u in registry_uploads(driver)} == {fresh_id}
        status, _, body = http("PATCH", old_location, b"more")
        assert status == 404
        assert b"BLOB_UPLOAD_UNKNOWN" in body
        data = b"partial" + b" and the rest"
        status, headers, body = http("PATCH", fresh_location, b" and the rest")
        assert status == 202, body
        location = urljoin(registry.url, headers["location"])
        status, _, body = http("PUT", f"{location}&digest={sha256(data)}")
        assert status == 201, body
        status, _, body = http("GET", f"{registry.url}/v2/up/load/blobs/{sha256(data)}")
        assert (status, body) == (200, data)


def test_purge_uploads_command(origin: Store, tmp_path: Path) -> None:
    """``regstore purge-uploads --older-than`` removes the old registry upload only."""
    config = _config(origin, tmp_path, "uploads")
    with GoRegistry(config) as registry:
        old_id, _ = _start_upload(registry.url, "up/cli")
        fresh_id, _ = _start_upload(registry.url, "up/cli")
    folder = origin.key("repositories/up/cli/_uploads")
    with origin.driver() as driver:
        driver.put_content(f"{folder}/{old_id}/startedat", b"2001-02-03T04:05:06Z")
    done = _regstore(config, "purge-uploads", "--older-than", "168h", "--json")
    assert done.returncode == 0, done.stderr
    assert f"{folder}/{old_id}" in done.stdout
    assert fresh_id not in done.stdout
    with origin.driver() as driver:
        assert {u.uuid for u in registry_uploads(driver)} == {fresh_id}
