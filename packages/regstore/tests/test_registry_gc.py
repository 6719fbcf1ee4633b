"""Garbage collection over generated registry trees: what is kept, deleted, refused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from registry_helpers import BASE, blobs_on, build_old_tree, make_driver, walk_files

from regstore.driver import StorageDriver
from regstore.errors import PathNotFoundError
from regstore.registry import Layout, RegistryStore
from regstore.registry.gc import collect
from regstore.registry.testing import build_tree

LAYOUT = Layout()
NO_GRACE = timedelta(0)


@pytest.fixture(params=["inmemory", "filesystem"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def driver(kind: str, tmp_path: Path) -> Iterator[StorageDriver]:
    with make_driver(kind, tmp_path) as made:
        yield made


def snapshot(driver: StorageDriver) -> dict[str, bytes]:
    return {path: driver.get_content(path) for path in walk_files(driver, "/")}


def exists(driver: StorageDriver, path: str) -> bool:
    try:
        driver.stat(path)
    except PathNotFoundError:
        return False
    return True


@pytest.mark.parametrize("untagged", [False, True], ids=["default", "delete-untagged"])
def test_gc_deletes_exactly_the_garbage(driver: StorageDriver, untagged: bool) -> None:
    tree = build_tree(driver, repositories=4, schema1=True)
    report = collect(driver, delete_untagged=untagged, grace=NO_GRACE, workers=4)
    assert report.problems == []
    assert report.swept
    assert set(report.blobs_deleted) == tree.deleted_blobs(untagged)
    assert set(report.manifests_deleted) == tree.deleted_manifests(untagged)
    assert report.bytes_freed == tree.bytes_freed(untagged)
    assert report.marked == len(tree.marked(untagged))
    assert blobs_on(driver) == tree.kept_blobs(untagged)
    for repo, digest in tree.deleted_manifests(untagged):
        assert not exists(driver, LAYOUT.revision_link(repo, digest))
        assert not exists(driver, LAYOUT.tag_index_dir(repo, "latest", digest) + "/link")
    store = RegistryStore(driver)
    for repo, tags in tree.tags.items():
        assert store.tags(repo) == sorted(tags)
        for tag, digest in tags.items():
            assert store.resolve(repo, tag) == digest
            assert exists(driver, LAYOUT.revision_link(repo, digest))
    # Nothing is left to collect: a second run deletes nothing.
    again = collect(driver, delete_untagged=untagged, grace=NO_GRACE)
    assert (again.blobs_deleted, again.manifests_deleted) == ([], [])


def test_delete_untagged_keeps_the_children_of_a_tagged_index(driver: StorageDriver) -> None:
    tree = build_tree(driver, repositories=2)
    assert tree.index_children
    collect(driver, delete_untagged=True, grace=NO_GRACE)
    kept = blobs_on(driver)
    for repo, child in tree.index_children:
        assert exists(driver, LAYOUT.revision_link(repo, child))
        assert set(tree.manifests[(repo, child)]) <= kept
    # Registry 2.8 would delete them: the generator says so, and it is a real difference.
    assert tree.index_children <= tree.deleted_manifests(True, go28=True)


def test_dry_run_changes_nothing(driver: StorageDriver) -> None:
    tree = build_tree(driver, repositories=3)
    before = snapshot(driver)
    report = collect(driver, delete_untagged=True, dry_run=True, grace=NO_GRACE)
    assert snapshot(driver) == before
    assert not report.swept
    assert set(report.blobs_deleted) == tree.deleted_blobs(True)
    assert set(report.manifests_deleted) == tree.deleted_manifests(True)


def test_grace_keeps_fresh_garbage(
    kind: str, driver: StorageDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = build_old_tree(kind, driver, tmp_path, monkeypatch, repositories=2)
    repo = tree.repositories[0]
    # Fresh garbage: a blob uploaded for a manifest not pushed yet ...
    fresh_blob = b"uploaded a moment ago"
    fresh = "sha256:" + hashlib.sha256(fresh_blob).hexdigest()
    driver.put_content(LAYOUT.blob_data(fresh), fresh_blob)
    driver.put_content(LAYOUT.layer_link(repo, fresh), fresh.encode())
    # ... an old orphan blob just linked again (a cross-repo mount or a re-push) ...
    remounted = sorted(tree.orphans)[0]
    driver.put_content(LAYOUT.layer_link(tree.repositories[1], remounted), remounted.encode())
    # ... and a manifest pushed by digest a moment ago, referencing an old orphan.
    referenced = sorted(tree.orphans)[1]
    manifest = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        b'"config":{"digest":"' + referenced.encode() + b'","size":1},"layers":[]}'
    )
    pushed = "sha256:" + hashlib.sha256(manifest).hexdigest()
    driver.put_content(LAYOUT.blob_data(pushed), manifest)
    driver.put_content(LAYOUT.revision_link(repo, pushed), pushed.encode())

    report = collect(driver, delete_untagged=True, grace=timedelta(hours=1))
    assert report.problems == []
    expected = tree.deleted_blobs(True) - {remounted, referenced}
    assert set(report.blobs_deleted) == expected
    assert set(report.manifests_deleted) == tree.deleted_manifests(True)
    assert {fresh, remounted, referenced, pushed} <= blobs_on(driver)
    assert exists(driver, LAYOUT.revision_link(repo, pushed))
    assert report.blobs_kept_fresh >= 2
    assert report.manifests_kept_fresh == 1


def test_grace_zero_on_an_old_tree_equals_grace_one_hour(
    kind: str, driver: StorageDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = build_old_tree(kind, driver, tmp_path, monkeypatch, repositories=2)
    dry = collect(driver, delete_untagged=True, dry_run=True, grace=timedelta(hours=1))
    assert set(dry.blobs_deleted) == tree.deleted_blobs(True)
    assert dry.blobs_kept_fresh == 0


def test_fresh_tree_is_kept_whole_by_the_default_grace(driver: StorageDriver) -> None:
    tree = build_tree(driver, repositories=2)
    report = collect(driver, delete_untagged=True)
    assert (report.blobs_deleted, report.manifests_deleted) == ([], [])
    assert blobs_on(driver) == set(tree.blobs)


def test_problems_refuse_the_sweep(driver: StorageDriver) -> None:
    tree = build_tree(driver, repositories=3)
    repo = tree.repositories[0]
    tagged = tree.tags[repo]["v1"]
    driver.put_content(LAYOUT.revision_link(repo, tagged), b"sha256:nonsense")
    junk = b"{not a manifest"
    digest = "sha256:" + hashlib.sha256(junk).hexdigest()
    driver.put_content(LAYOUT.blob_data(digest), junk)
    driver.put_content(LAYOUT.revision_link(tree.repositories[1], digest), digest.encode())
    before = snapshot(driver)
    report = collect(driver, grace=NO_GRACE)  # every revision is read: both problems show
    assert not report.swept
    assert snapshot(driver) == before
    assert report.blobs_deleted == []
    assert len(report.problems) == 2
    text = "\n".join(report.problems)
    assert f"bad-link {tagged} {LAYOUT.revision_link(repo, tagged)}" in text
    assert f"bad-manifest {digest} {LAYOUT.blob_data(digest)}" in text


def test_a_revision_without_its_blob_is_neither_marked_nor_deleted(driver: StorageDriver) -> None:
    tree = build_tree(driver, repositories=1, index=False)
    repo = tree.repositories[0]
    lost = tree.tags[repo]["v1"]
    driver.delete(LAYOUT.blob_dir(lost))
    report = collect(driver, grace=NO_GRACE)
    assert report.problems == []
    assert exists(driver, LAYOUT.revision_link(repo, lost))
    assert any(lost in warning and "no blob data" in warning for warning in report.warnings)
    own = {d for d in tree.manifests[(repo, lost)] if d not in tree.marked(False) - {lost}}
    assert own <= set(report.blobs_deleted)


def test_layer_links_are_kept_by_default_and_removed_on_request(driver: StorageDriver) -> None:
    tree = build_tree(driver, repositories=2)
    repo = tree.repositories[0]
    orphan = sorted(tree.orphans)[0]
    collect(driver, grace=NO_GRACE)
    assert exists(driver, LAYOUT.layer_link(repo, orphan))  # as registry 2.8 leaves it
    report = collect(driver, grace=NO_GRACE, delete_layer_links=True)
    assert set(report.layer_links_deleted) == {(repo, d) for d in tree.orphans}
    assert not exists(driver, LAYOUT.layer_link(repo, orphan))
    kept = next(iter(tree.tags[repo].values()))
    for digest in tree.manifests[(repo, kept)]:
        assert exists(driver, LAYOUT.layer_link(repo, digest))


def test_empty_store_collects_nothing(driver: StorageDriver) -> None:
    report = collect(driver, grace=NO_GRACE, delete_untagged=True)
    assert (report.marked, report.blobs_deleted, report.problems) == (0, [], [])


def test_repository_with_manifests_but_no_layers_is_still_marked(driver: StorageDriver) -> None:
    tree = build_tree(driver, repositories=1, orphans=0, index=False)
    repo = tree.repositories[0]
    driver.delete(f"{BASE}/repositories/{repo}/_layers")
    report = collect(driver, grace=NO_GRACE)
    assert set(report.blobs_deleted) == tree.deleted_blobs(False)
    assert any("no _layers" in warning for warning in report.warnings)


def test_bad_arguments_are_refused(driver: StorageDriver) -> None:
    with pytest.raises(ValueError, match="grace"):
        collect(driver, grace=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="workers"):
        collect(driver, workers=0)


def test_odd_blob_directories_are_reported_and_the_rest_swept(driver: StorageDriver) -> None:
    """Misplaced data is reported and left, a directory without data is left, extras go whole."""
    tree = build_tree(driver, repositories=2)
    garbage = sorted(tree.deleted_blobs(False))
    assert len(garbage) >= 2
    blobs = LAYOUT.blobs
    misplaced = [f"{blobs}/sha256/ab/data", f"{blobs}/sha256/data"]
    for path in misplaced:
        driver.put_content(path, b"misplaced")
    empty = LAYOUT.blob_dir("sha256:" + "c" * 64)
    driver.put_content(empty + "/leftover", b"no data here")
    extra = LAYOUT.blob_dir(garbage[0]) + "/extra"
    driver.put_content(extra, b"beside the data")
    report = collect(driver, grace=NO_GRACE)
    assert set(report.blobs_deleted) == tree.deleted_blobs(False)
    assert not exists(driver, LAYOUT.blob_dir(garbage[0])), "a blob directory goes whole"
    assert sorted(p for p in report.problems if p.startswith("bad-path")) == sorted(
        f"bad-path - {path}: blob data outside blobs/<alg>/<hex[0:2]>/<hex>" for path in misplaced
    )
    for path in misplaced:
        assert driver.get_content(path) == b"misplaced"
    assert exists(driver, empty + "/leftover")
    assert f"blob directory {empty} has no data file: left alone" in report.warnings
