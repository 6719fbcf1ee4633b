"""Pending uploads and purges seen from the raw bucket: what stays, what goes, what is sent.

Each test runs on both emulators (``emulator`` in conftest). The bucket is
listed with the SDK behind the driver's back, so "nothing left" means no
object at all, not just nothing the driver would show.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from google.cloud import storage

import regstore
from regstore.errors import DriverError

#: The tests' part size (the conftest drivers' chunksize).
CHUNK = 256 * 1024

Make = Callable[..., regstore.StorageDriver]


def later() -> datetime:
    """A ``before`` that every upload closed in the test is older than."""
    return datetime.now(timezone.utc) + timedelta(minutes=5)


def raw_names(bucket: storage.Bucket, prefix: str = "") -> set[str]:
    """Every object in the bucket (under ``prefix``), as the service lists it."""
    return {blob.name for blob in bucket.list_blobs(prefix=prefix)}


def close_upload(driver: regstore.StorageDriver, path: str, data: bytes) -> None:
    writer = driver.writer(path)
    writer.write(data)
    writer.close()


def wait_for_objects(bucket: storage.Bucket, prefix: str, count: int) -> None:
    """Wait until ``count`` objects exist under ``prefix`` (parts upload in the background)."""
    for _ in range(2000):
        if len(raw_names(bucket, prefix)) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} objects ever appeared under {prefix}")


def test_after_a_purge_the_bucket_holds_only_committed_content(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    committed = {"/repo/blob": os.urandom(3 * CHUNK + 5), "/repo/small": b"small"}
    for path, data in committed.items():
        writer = driver.writer(path)
        writer.write(data)
        writer.commit()
    close_upload(driver, "/repo/blob", os.urandom(2 * CHUNK))  # pending over committed content
    close_upload(driver, "/uploads/a/data", os.urandom(3 * CHUNK + 100))
    close_upload(driver, "/uploads/b/data", b"")
    assert len(raw_names(bucket, "~regstore/")) == 3 + 4 + 1

    purged = driver.purge_uploads(later())

    assert purged == ["/repo/blob", "/uploads/a/data", "/uploads/b/data"]
    assert raw_names(bucket) == {"repo/blob", "repo/small"}
    for path, data in committed.items():
        assert driver.get_content(path) == data
    assert list(driver.pending_uploads()) == []
    driver.delete("/repo")


def test_a_newer_upload_survives_with_all_its_parts(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    old, new = os.urandom(2 * CHUNK + 1), os.urandom(CHUNK + 2)
    close_upload(driver, "/old", old)
    close_upload(driver, "/new", new)
    closed = {u.path: u.modified for u in driver.pending_uploads()}
    assert closed["/old"] < closed["/new"]
    new_objects = raw_names(bucket, "~regstore/uploads/new/")
    assert len(new_objects) == 2  # one part, the state

    assert driver.purge_uploads(closed["/new"]) == ["/old"]

    assert raw_names(bucket) == new_objects
    writer = driver.writer("/new", append=True)
    assert writer.size == len(new)
    writer.commit()
    assert driver.get_content("/new") == new
    assert raw_names(bucket) == {"new"}
    driver.delete("/new")


def test_a_purge_of_one_root_never_touches_another(
    make_driver: Make, bucket: storage.Bucket
) -> None:
    roots = {"": make_driver(), "one": make_driver(rootdirectory="/one")}
    roots["one/two"] = make_driver(rootdirectory="/one/two")
    for driver in roots.values():
        close_upload(driver, "/up", os.urandom(CHUNK + 1))
        close_upload(driver, "/one/up", b"x")  # the bucket root's /one holds the "one" root
        driver.put_content("/kept", b"kept")
    before = raw_names(bucket)

    assert roots[""].purge_uploads(later()) == ["/one/up", "/up"]
    gone = {"~regstore/uploads/up/~part-00000001", "~regstore/uploads/up/~state"}
    gone.add("~regstore/uploads/one/up/~state")
    assert raw_names(bucket) == before - gone
    for root in ("one", "one/two"):
        assert sorted(u.path for u in roots[root].pending_uploads()) == ["/one/up", "/up"]

    assert roots["one"].purge_uploads(later()) == ["/one/up", "/up"]
    assert raw_names(bucket, "one/~regstore/") == set()
    assert len(raw_names(bucket, "one/two/~regstore/")) == 3
    assert roots["one/two"].purge_uploads(later(), "/up") == ["/up"]
    assert [u.path for u in roots["one/two"].pending_uploads()] == ["/one/up"]
    for driver in roots.values():
        driver.purge_uploads(later())
    assert raw_names(bucket) == {"kept", "one/kept", "one/two/kept"}
    for driver in roots.values():
        driver.delete("/kept")


def test_purge_returns_the_paths_it_discarded_sorted(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    paths = ["/a/b/c", "/a", "/a-b", "/ab", "/a/b", "/a/.x", "/a/b.c/d"]
    for path in paths:
        close_upload(driver, path, os.urandom(CHUNK + 3) if path == "/a/b" else b"x")
    assert driver.purge_uploads(later(), "/a/b") == ["/a/b", "/a/b/c"]
    assert driver.purge_uploads(later(), "/a/b") == []
    assert driver.purge_uploads(later(), "/a") == ["/a", "/a/.x", "/a/b.c/d"]
    assert sorted(u.path for u in driver.pending_uploads()) == ["/a-b", "/ab"]
    assert driver.purge_uploads(later(), "/") == ["/a-b", "/ab"]
    assert raw_names(bucket) == set()


def test_pending_uploads_is_one_listing_and_reads_no_content(make_driver: Make, proxy: Any) -> None:
    driver = make_driver()
    for index in range(4):
        close_upload(driver, f"/u/{index}", os.urandom(CHUNK + index))
    proxy.seen.clear()

    found = sorted((u.path, u.size) for u in driver.pending_uploads("/u"))

    assert found == [(f"/u/{index}", CHUNK + index) for index in range(4)]
    [listing] = proxy.seen
    query = parse_qs(urlsplit(listing.path).query)
    assert listing.method == "GET"
    assert query["prefix"] == ["~regstore/uploads/u/"]
    assert query["matchGlob"] == ["**/~state"]
    driver.purge_uploads(later())


def test_parts_of_an_upload_never_closed_go_once_old(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    """A writer that died before its first close left parts and no state: no pending
    upload to report, but nothing of it may stay either."""
    close_upload(driver, "/closed", b"closed")
    abandoned = driver.writer("/abandoned")
    abandoned.write(os.urandom(2 * CHUNK))
    wait_for_objects(bucket, "~regstore/uploads/abandoned/", 2)
    assert [u.path for u in driver.pending_uploads()] == ["/closed"]
    assert driver.purge_uploads(datetime.now(timezone.utc) - timedelta(minutes=5)) == []
    assert len(raw_names(bucket)) == 3

    assert driver.purge_uploads(later()) == ["/closed"]

    assert raw_names(bucket) == set()


def test_an_upload_a_writer_is_adding_to_is_kept(make_driver: Make, bucket: storage.Bucket) -> None:
    """Resumed and given a new part after ``before``: in use, so the purge leaves it."""
    driver, other = make_driver(), make_driver()
    first, more = os.urandom(CHUNK + 7), os.urandom(CHUNK)
    close_upload(driver, "/busy", first)
    [pending] = driver.pending_uploads()
    writer = driver.writer("/busy", append=True)
    writer.write(more)  # the 7 bytes of tail and most of this make part 2
    wait_for_objects(bucket, "~regstore/uploads/busy/", 3)

    assert other.purge_uploads(pending.modified + timedelta(microseconds=1)) == []

    writer.close()
    resumed = other.writer("/busy", append=True)
    resumed.commit()
    assert other.get_content("/busy") == first + more
    assert raw_names(bucket) == {"busy"}
    driver.delete("/busy")


def test_a_resumed_writer_cannot_close_over_a_purged_upload(
    make_driver: Make, bucket: storage.Bucket, emulator: str
) -> None:
    """Without the check, the close would write a state naming parts the purge deleted."""
    if emulator == "gcpemu":
        pytest.skip("gcp-storage-emulator ignores ifGenerationMatch on uploads (emulators.md 3)")
    driver, purger = make_driver(), make_driver()
    close_upload(driver, "/gone", os.urandom(2 * CHUNK + 1))
    writer = driver.writer("/gone", append=True)
    writer.write(b"more")

    assert purger.purge_uploads(later()) == ["/gone"]

    with pytest.raises(DriverError, match="purged, cancelled or closed by another writer"):
        writer.close()
    assert list(driver.pending_uploads()) == []
    assert raw_names(bucket) == set()


def test_a_state_changed_since_the_listing_keeps_the_upload(
    make_driver: Make, proxy: Any, bucket: storage.Bucket
) -> None:
    """GCS answers 412 when the state was closed again after the purge listed it (the
    emulators ignore the precondition, so the proxy gives that answer)."""
    driver = make_driver()
    close_upload(driver, "/kept", os.urandom(2 * CHUNK + 1))
    close_upload(driver, "/purged", b"x")
    staged = raw_names(bucket, "~regstore/uploads/kept/")
    proxy.fail("DELETE", "kept%2F~state", 412, reason="conditionNotMet")

    assert driver.purge_uploads(later()) == ["/purged"]

    deletes = [seen.path for seen in proxy.requests("DELETE")]
    assert any("ifGenerationMatch=" in path for path in deletes)
    assert raw_names(bucket) == staged
    assert [u.path for u in driver.pending_uploads()] == ["/kept"]
    assert driver.purge_uploads(later()) == ["/kept"]
    assert raw_names(bucket) == set()
