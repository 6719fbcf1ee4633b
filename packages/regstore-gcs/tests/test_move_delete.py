"""Server-side moves (rewrite) and many-object deletes (batches or parallel singles)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import storage

import regstore
from regstore import unwrap
from regstore_gcs import GCSDriver

MiB = 1 << 20


def test_move_of_a_large_object_is_a_server_side_rewrite(
    make_driver: Callable[..., regstore.StorageDriver], proxy: Any, bucket: storage.Bucket
) -> None:
    driver = make_driver()
    data = os.urandom(24 * MiB + 3)
    driver.put_content("/uploads/1/data", data)
    driver.move("/uploads/1/data", "/blobs/sha256/ab/abcd/data")
    rewrites = proxy.requests("POST", "/rewriteTo/")
    assert len(rewrites) >= 1
    assert proxy.requests("GET", "/download/") == []
    moved = driver.get_content("/blobs/sha256/ab/abcd/data")
    assert hashlib.sha256(moved).digest() == hashlib.sha256(data).digest()
    with pytest.raises(regstore.PathNotFoundError):
        driver.stat("/uploads")
    assert [b.name for b in bucket.list_blobs()] == ["blobs/sha256/ab/abcd/data"]
    driver.delete("/blobs")


def test_move_of_a_directory_is_refused(driver: regstore.StorageDriver) -> None:
    driver.put_content("/dir/file", b"x")
    with pytest.raises(regstore.DriverError, match="is a directory"):
        driver.move("/dir", "/elsewhere")
    assert driver.get_content("/dir/file") == b"x"
    driver.delete("/dir")


def test_move_onto_itself_keeps_the_file(driver: regstore.StorageDriver) -> None:
    driver.put_content("/f", b"content")
    driver.move("/f", "/f")
    assert driver.get_content("/f") == b"content"
    with pytest.raises(regstore.PathNotFoundError):
        driver.move("/missing", "/missing")
    driver.delete("/f")


def test_deletes_use_batches_where_the_server_has_them(
    emulator: str,
    make_driver: Callable[..., regstore.StorageDriver],
    proxy: Any,
    bucket: storage.Bucket,
) -> None:
    """gcp-storage-emulator (like GCS) takes batches of 100; fake-gcs-server gets singles.

    The driver finds out on its first batch: fake-gcs-server has no batch
    endpoint, so that batch fails as a whole and the driver switches to
    parallel single deletes for good.
    """
    driver = make_driver()
    for index in range(150):
        driver.put_content(f"/many/{index}", b"")
    driver.delete("/many")
    assert list(bucket.list_blobs()) == []
    batches = proxy.requests("POST", "/batch/storage/v1")
    singles = proxy.requests("DELETE", "/o/many%2F")
    inner = unwrap(driver)
    assert isinstance(inner, GCSDriver)
    if emulator == "gcpemu":
        assert (len(batches), len(singles), inner.uses_batches) == (2, 0, True)
    else:
        assert (len(batches), len(singles), inner.uses_batches) == (1, 150, False)
        for index in range(3):
            driver.put_content(f"/more/{index}", b"")
        driver.delete("/more")
        assert len(proxy.requests("POST", "/batch/storage/v1")) == 1
        assert list(bucket.list_blobs()) == []


def test_delete_reports_objects_it_could_not_delete(
    make_driver: Callable[..., regstore.StorageDriver], proxy: Any
) -> None:
    """A refused delete inside a batch or among singles is an error naming the permission."""
    driver = make_driver()
    for index in range(5):
        driver.put_content(f"/d/{index}", b"x")
    proxy.fail("POST", "/batch/", 503)  # a failed batch falls back to single deletes
    proxy.fail("DELETE", "/o/d%2F3", 403, reason="forbidden")
    with pytest.raises(regstore.DriverError, match=r"storage\.objects\.delete"):
        driver.delete("/d")
    assert driver.list("/d") == ["/d/3"]
    driver.delete("/d")


def test_move_whose_source_delete_fails_is_an_error(
    make_driver: Callable[..., regstore.StorageDriver], proxy: Any
) -> None:
    driver = make_driver()
    driver.put_content("/src", b"content")
    proxy.fail("DELETE", "/o/src", 403, reason="forbidden")
    with pytest.raises(regstore.DriverError, match="could not delete the source"):
        driver.move("/src", "/dst")
    assert driver.get_content("/dst") == b"content"
    driver.delete("/src")
    driver.delete("/dst")
