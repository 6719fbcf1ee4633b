"""Garbage collection with its walks read ahead: failures, refusals and progress stay as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from registry_helpers import BASE, blobs_on

from regstore.driver import FileInfo, Prune
from regstore.drivers.inmemory import InMemoryDriver
from regstore.errors import DriverError
from regstore.registry import Layout
from regstore.registry.gc import collect
from regstore.registry.testing import build_tree

NO_GRACE = timedelta(0)


class BlobListingFails(InMemoryDriver):
    """Once ``armed``, fails part way through every walk of ``blobs/``."""

    armed = False

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        inner = super().walk(path, start_after=start_after, prune=prune)
        if not self.armed or path != f"{BASE}/blobs":
            return inner
        return self._failing(inner)

    @staticmethod
    def _failing(inner: Iterator[FileInfo]) -> Iterator[FileInfo]:
        for number, info in enumerate(inner):
            if number == 5:
                raise DriverError("listing blobs/ failed: connection reset")
            yield info


@pytest.mark.timeout(120)
def test_a_failing_blob_walk_fails_the_collection_and_deletes_no_blob() -> None:
    driver = BlobListingFails()
    with driver:
        tree = build_tree(driver, repositories=2)
        before = blobs_on(driver)
        assert tree.deleted_blobs(False)  # there is garbage it could have deleted
        driver.armed = True
        with pytest.raises(DriverError, match="listing blobs/ failed"):
            collect(driver, grace=NO_GRACE, workers=4)
        driver.armed = False
        assert blobs_on(driver) == before


@pytest.mark.timeout(120)
def test_marking_problems_are_reported_before_a_blob_walk_failure_matters() -> None:
    driver = BlobListingFails()
    with driver:
        tree = build_tree(driver, repositories=2)
        repo = tree.repositories[0]
        tagged = tree.tags[repo]["v1"]
        driver.put_content(Layout().revision_link(repo, tagged), b"sha256:nonsense")
        driver.armed = True
        report = collect(driver, grace=NO_GRACE, workers=4)
    assert not report.swept
    assert len(report.problems) == 1
    assert "bad-link" in report.problems[0]


def test_progress_ends_each_stage_with_its_total() -> None:
    with InMemoryDriver() as driver:
        tree = build_tree(driver, repositories=3)
        seen: dict[str, int] = {}
        report = collect(
            driver,
            grace=NO_GRACE,
            workers=4,
            progress=lambda stage, count: seen.__setitem__(stage, count),
        )
    assert report.problems == []
    assert seen["delete"] == len(report.blobs_deleted) == len(tree.deleted_blobs(False))
    revisions = {(repo, digest) for repo, digest in tree.manifests}
    assert seen["mark"] == len({digest for _, digest in revisions})
    assert seen["scan"] > len(revisions)
    assert seen["sweep"] >= 2 * len(tree.blobs)  # a directory and a data file per blob
