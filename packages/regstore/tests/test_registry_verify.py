"""verify finds each kind of corruption, naming the digest and the path."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_helpers import make_driver

from regstore.driver import StorageDriver
from regstore.registry import Layout
from regstore.registry.testing import RegistryTree, build_tree
from regstore.registry.verify import verify

LAYOUT = Layout()


@pytest.fixture(params=["inmemory", "filesystem"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageDriver]:
    with make_driver(str(request.param), tmp_path) as made:
        yield made


@pytest.fixture
def tree(driver: StorageDriver) -> RegistryTree:
    return build_tree(driver, repositories=2, schema1=True)


def a_layer(tree: RegistryTree, repo: str) -> str:
    return tree.manifests[(repo, tree.tags[repo]["latest"])][-1]


def test_a_sound_tree_has_no_problems(driver: StorageDriver, tree: RegistryTree) -> None:
    assert verify(driver) == []
    assert verify(driver, quick=True) == []


def test_wrong_content_is_found_by_hashing_not_by_quick(
    driver: StorageDriver, tree: RegistryTree
) -> None:
    layer = a_layer(tree, tree.repositories[0])
    path = LAYOUT.blob_data(layer)
    driver.put_content(path, b"x" * len(driver.get_content(path)))
    problems = verify(driver)
    assert [(p.kind, p.digest, p.path) for p in problems] == [("digest-mismatch", layer, path)]
    assert verify(driver, quick=True) == []
    assert str(problems[0]).startswith(f"digest-mismatch {layer} {path}: content hashes to")


def test_missing_blob(driver: StorageDriver, tree: RegistryTree) -> None:
    layer = a_layer(tree, tree.repositories[0])
    driver.delete(LAYOUT.blob_dir(layer))
    problems = verify(driver, quick=True)
    assert ("missing-blob", layer, LAYOUT.blob_data(layer)) in {
        (p.kind, p.digest, p.path) for p in problems
    }
    assert {p.kind for p in problems} == {"missing-blob"}
    # A _layers link left dangling is what gc leaves; reported only on request.
    dangling = verify(driver, quick=True, layer_links=True)
    assert ("dangling-link", layer) in {(p.kind, p.digest) for p in dangling}


def test_bad_links(driver: StorageDriver, tree: RegistryTree) -> None:
    repo = tree.repositories[0]
    tagged = tree.tags[repo]["v1"]
    other = tree.tags[repo]["latest"]
    driver.put_content(LAYOUT.revision_link(repo, tagged), b"")
    driver.put_content(LAYOUT.layer_link(repo, a_layer(tree, repo)), other.encode())
    problems = {(p.kind, p.digest, p.path) for p in verify(driver, quick=True)}
    assert ("bad-link", tagged, LAYOUT.revision_link(repo, tagged)) in problems
    assert (
        "bad-link",
        a_layer(tree, repo),
        LAYOUT.layer_link(repo, a_layer(tree, repo)),
    ) in problems


def test_unparsable_manifest_and_dangling_tag(driver: StorageDriver, tree: RegistryTree) -> None:
    repo = tree.repositories[1]
    junk = b'{"schemaVersion": 2, "mediaType": "application/x-unknown"}'
    digest = "sha256:" + hashlib.sha256(junk).hexdigest()
    driver.put_content(LAYOUT.blob_data(digest), junk)
    driver.put_content(LAYOUT.revision_link(repo, digest), digest.encode())
    ghost = "sha256:" + "0" * 64
    driver.put_content(LAYOUT.tag_current(repo, "ghost"), ghost.encode())
    problems = verify(driver)
    kinds = {(p.kind, p.digest, p.path) for p in problems}
    assert kinds == {
        ("bad-manifest", digest, LAYOUT.blob_data(digest)),
        ("dangling-tag", ghost, LAYOUT.tag_current(repo, "ghost")),
    }
    assert (
        "unrecognized manifest mediaType"
        in next(p for p in problems if p.kind == "bad-manifest").message
    )


def test_repos_limit_the_check(driver: StorageDriver, tree: RegistryTree) -> None:
    first, second = tree.repositories
    driver.put_content(LAYOUT.revision_link(second, tree.tags[second]["v1"]), b"garbage")
    assert verify(driver, [first]) == []
    assert {p.kind for p in verify(driver, [second])} == {"bad-link"}
    missing = verify(driver, ["no/such"])
    assert [(p.kind, p.path) for p in missing] == [("missing-repository", LAYOUT.repo("no/such"))]


def test_misplaced_blob_data(driver: StorageDriver, tree: RegistryTree) -> None:
    driver.put_content(f"{LAYOUT.blobs}/sha256/zz/{'a' * 64}/data", b"lost")
    problems = verify(driver, quick=True)
    assert [p.kind for p in problems] == ["bad-layout"]
