"""Requests broken in transit: cut answers, reset connections, answers lost after the fact.

The ``proxy`` breaks one chosen request; the driver must still give a right
answer (one whole version of a file, a delete that happened) or the
contract's error, never a mix of versions or a missing path that existed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import storage

import regstore
from regstore import unwrap
from regstore_gcs import GCSDriver

#: The tests' chunksize (see conftest): the reader's window.
CHUNK = 256 * 1024

Make = Callable[..., regstore.StorageDriver]


def test_get_content_cut_while_the_object_is_replaced_reads_one_whole_version(
    make_driver: Make, proxy: Any, bucket: storage.Bucket
) -> None:
    """The SDK would resume the cut body with a range of the old generation: gone on
    fake-gcs-server (404, a missing path), the new version's bytes on
    gcp-storage-emulator (a mix). A whole read of the current version is right."""
    driver = make_driver()
    old, new = os.urandom(3 * CHUNK), os.urandom(CHUNK)
    driver.put_content("/f", old)
    proxy.break_next(
        "GET", "/download/", "cut", then=lambda: bucket.blob("f").upload_from_string(new)
    )
    assert driver.get_content("/f") == new
    ranged = [seen for seen in proxy.requests("GET", "/download/") if "range" in seen.headers]
    assert ranged == [], "a cut get_content was resumed with a range"
    driver.delete("/f")


def test_get_content_cut_without_a_change_reads_the_object(make_driver: Make, proxy: Any) -> None:
    driver = make_driver()
    data = os.urandom(2 * CHUNK + 7)
    driver.put_content("/f", data)
    proxy.break_next("GET", "/download/", "cut", times=2)
    assert driver.get_content("/f") == data
    assert len(proxy.requests("GET", "/download/")) == 3
    driver.delete("/f")


def test_every_ranged_read_selects_the_generation_the_reader_opened(
    make_driver: Make, proxy: Any, bucket: storage.Bucket
) -> None:
    driver = make_driver()
    data = os.urandom(3 * CHUNK)
    driver.put_content("/f", data)
    generation = bucket.get_blob("f").generation
    with driver.reader("/f") as stream:
        assert stream.read() == data
        stream.seek(CHUNK + 1)
        assert stream.read(10) == data[CHUNK + 1 : CHUNK + 11]
    reads = proxy.requests("GET", "/download/")
    assert len(reads) == 2
    assert all(f"generation={generation}" in seen.path for seen in reads), reads


@pytest.mark.parametrize("emulator", ["fakegcs"], indirect=True)
def test_reader_of_an_object_replaced_before_its_first_read_fails(make_driver: Make) -> None:
    """fake-gcs-server ignores ifGenerationMatch on reads but serves ?generation=: a
    reader opened on the old version must not return the start of a larger new one.
    (gcp-storage-emulator ignores both and serves whatever generation it holds.)"""
    driver = make_driver()
    old, new = os.urandom(CHUNK + 10), os.urandom(3 * CHUNK)
    driver.put_content("/f", old)
    stream = driver.reader("/f")
    driver.put_content("/f", new)
    with pytest.raises(regstore.DriverError, match="replaced or deleted while it was read"):
        stream.read()
    stream.close()
    driver.delete("/f")


@pytest.mark.parametrize("kind", ["reset", "drop"])
@pytest.mark.parametrize("emulator", ["gcpemu"], indirect=True)
def test_batch_delete_broken_in_transit_is_finished_by_single_deletes(
    make_driver: Make, proxy: Any, bucket: storage.Bucket, kind: str
) -> None:
    """gcp-storage-emulator takes batches. Whether the batch ran (``drop``) or not
    (``reset``), single deletes finish the job, and batches stay in use."""
    driver = make_driver()
    for index in range(5):
        driver.put_content(f"/d/{index}", b"x")
    proxy.break_next("POST", "/batch/", kind)
    driver.delete("/d")
    assert list(bucket.list_blobs()) == []
    assert len(proxy.requests("DELETE", "/o/d%2F")) == 5
    inner = unwrap(driver)
    assert isinstance(inner, GCSDriver)
    assert inner.uses_batches


def test_delete_whose_answer_was_lost_counts_as_done(
    make_driver: Make, proxy: Any, bucket: storage.Bucket
) -> None:
    """The retry of a delete that happened answers 404: the path existed, so no error."""
    driver = make_driver()
    driver.put_content("/f", b"content")
    proxy.break_next("DELETE", "/o/f", "drop")
    driver.delete("/f")
    broken, retried = proxy.requests("DELETE", "/o/f")
    assert (broken.injected, retried.injected) == (0, None)  # the retry reached the emulator
    assert list(bucket.list_blobs()) == []
    with pytest.raises(regstore.PathNotFoundError):
        driver.delete("/f")  # a path that is not there is still missing


def test_delete_of_a_missing_path_broken_in_transit_is_still_missing(
    make_driver: Make, proxy: Any
) -> None:
    """A retried request that answers 404 proves nothing about a path never seen."""
    driver = make_driver()
    for method in ("GET", "DELETE"):
        proxy.break_next(method, "/o/missing", "reset")
    with pytest.raises(regstore.PathNotFoundError):
        driver.delete("/missing")


def test_retry_deadline_bounds_an_outage(make_driver: Make, proxy: Any) -> None:
    """With every read failing, get_content gives up after retry_deadline, not 120 s."""
    driver = make_driver(retry_deadline="1s", retry_delay="50ms")
    driver.put_content("/f", b"content")
    proxy.fail("GET", "/download/", 503, times=10**6)
    with pytest.raises(regstore.DriverError, match="503") as caught:
        driver.get_content("/f")
    assert "\n" not in str(caught.value)
    tries = len(proxy.requests("GET", "/download/"))
    assert 2 <= tries < 60, tries
    proxy.faults.clear()
    driver.delete("/f")


def test_huge_read_sizes_never_allocate(make_driver: Make) -> None:
    driver = make_driver()
    data = os.urandom(CHUNK + 5)
    driver.put_content("/f", data)
    with driver.reader("/f", 3) as stream:
        assert stream.read(2**62) == data[3:]
        assert stream.read(2**62) == b""
        stream.seek(-4, os.SEEK_END)
        assert stream.read1(2**62) == data[-4:]
    with driver.reader("/f") as stream:
        assert stream.read(7) == data[:7]
        assert stream.read(2**62) == data[7:]
    driver.delete("/f")
