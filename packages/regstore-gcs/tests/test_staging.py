"""The writer's staged objects: equal aligned parts, chained composes, nothing left behind."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from google.cloud import storage

import regstore

CHUNK = 256 * 1024
MiB = 1 << 20


def staged_sizes(bucket: storage.Bucket, prefix: str = "~regstore/") -> dict[str, int]:
    """Name (after the upload's directory) → size of each staged object."""
    return {
        blob.name.rsplit("/", 1)[1]: int(blob.size or 0)
        for blob in bucket.list_blobs(prefix=prefix)
    }


def test_parts_are_equal_multiples_of_256_kib(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    """Writes of any length become parts of exactly chunksize; the tail stays in the state."""
    data = os.urandom(3 * CHUNK + 12_345)
    writer = driver.writer("/uploads/u/data")
    for start in range(0, len(data), 100_003):  # odd write sizes cross part boundaries
        writer.write(data[start : start + 100_003])
    writer.close()
    sizes = staged_sizes(bucket)
    assert sizes == {
        "~part-00000001": CHUNK,
        "~part-00000002": CHUNK,
        "~part-00000003": CHUNK,
        "~state": 12_345,
    }
    assert CHUNK % (256 * 1024) == 0
    state = bucket.get_blob("~regstore/uploads/uploads/u/data/~state")
    assert state is not None
    assert state.metadata == {
        "regstore-upload": "1",
        "regstore-parts": "3",
        "regstore-part-size": str(CHUNK),
        "regstore-size": str(len(data)),
    }
    resumed = driver.writer("/uploads/u/data", append=True)
    assert resumed.size == len(data)
    resumed.commit()
    assert driver.get_content("/uploads/u/data") == data
    assert staged_sizes(bucket) == {}
    driver.delete("/uploads")


def test_resume_keeps_the_uploads_part_size(
    make_driver: Callable[..., regstore.StorageDriver], bucket: storage.Bucket
) -> None:
    """A replica configured with another chunksize continues the upload's own part size."""
    small = make_driver(chunksize=CHUNK)
    large = make_driver(chunksize=4 * CHUNK)
    first, second = os.urandom(CHUNK + 10), os.urandom(2 * CHUNK)
    writer = small.writer("/u")
    writer.write(first)
    writer.close()
    writer = large.writer("/u", append=True)
    writer.write(second)
    writer.close()
    assert staged_sizes(bucket) == {
        "~part-00000001": CHUNK,
        "~part-00000002": CHUNK,
        "~part-00000003": CHUNK,
        "~state": 10,
    }
    writer = large.writer("/u", append=True)
    writer.commit()
    assert large.get_content("/u") == first + second
    large.delete("/u")


def test_more_than_32_parts_compose_in_a_chain(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    """70 parts and a tail: three intermediate composes, then one final compose."""
    data = os.urandom(70 * CHUNK + 777)
    writer = driver.writer("/big")
    writer.write(data)
    writer.close()
    assert len(staged_sizes(bucket)) == 71
    writer = driver.writer("/big", append=True)
    writer.commit()
    assert driver.stat("/big").size == len(data)
    assert driver.get_content("/big") == data
    assert staged_sizes(bucket) == {}
    driver.delete("/big")


def test_append_false_discards_an_older_larger_upload(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    """A fresh writer never picks up parts an older upload of the path left."""
    old = driver.writer("/u")
    old.write(os.urandom(5 * CHUNK))
    old.close()
    fresh = driver.writer("/u")
    fresh.write(b"new")
    fresh.close()
    resumed = driver.writer("/u", append=True)
    assert resumed.size == 3
    resumed.commit()
    assert driver.get_content("/u") == b"new"
    assert staged_sizes(bucket) == {}
    driver.delete("/u")


@pytest.mark.parametrize("end", ["commit", "cancel", "delete-file", "delete-directory"])
def test_nothing_left_behind(
    driver: regstore.StorageDriver, bucket: storage.Bucket, end: str
) -> None:
    """Parts, state and intermediate composes all go, however the upload ends."""
    path = "/repo/_uploads/abc/data"
    writer = driver.writer(path)
    # Past 32 parts a commit composes intermediates too.
    writer.write(os.urandom((33 if end == "commit" else 3) * CHUNK + 5))
    writer.close()
    nested = driver.writer("/repo/_uploads/abc/data/x")  # an upload below the path
    nested.write(os.urandom(CHUNK + 1))
    nested.close()
    resumed = driver.writer(path, append=True)
    resumed.write(b"tail")
    if end == "commit":
        resumed.commit()
        nested_writer = driver.writer("/repo/_uploads/abc/data/x", append=True)
        nested_writer.cancel()
        driver.delete("/repo")
    elif end == "cancel":
        resumed.cancel()
        driver.writer("/repo/_uploads/abc/data/x", append=True).cancel()
        with pytest.raises(regstore.PathNotFoundError):
            driver.get_content(path)
    elif end == "delete-file":
        resumed.close()
        driver.delete(path)  # the path's upload and every upload below it
    else:
        resumed.close()
        driver.delete("/repo/_uploads")
    assert [blob.name for blob in bucket.list_blobs()] == []


def test_pending_uploads_stay_apart_from_paths_sharing_a_prefix(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    """Deleting /a discards the uploads of /a and /a/b, never of /ab or /a-b."""
    for path in ("/a", "/a/b", "/ab", "/a-b/c"):
        writer = driver.writer(path)
        writer.write(path.encode())
        writer.close()
    driver.delete("/a")
    for path, size in (("/a", 0), ("/a/b", 0), ("/ab", 3), ("/a-b/c", 6)):
        writer = driver.writer(path, append=True)
        assert writer.size == size, path
        writer.cancel()
    assert [blob.name for blob in bucket.list_blobs()] == []


def test_append_to_committed_content_is_refused(driver: regstore.StorageDriver) -> None:
    """Without a pending upload, only empty or missing files take an append (documented)."""
    driver.put_content("/f", b"committed")
    with pytest.raises(regstore.DriverError, match="9 bytes of committed content"):
        driver.writer("/f", append=True)
    driver.delete("/f")


def test_upload_too_large_for_one_composite_object(
    driver: regstore.StorageDriver, bucket: storage.Bucket
) -> None:
    """1023 parts and a tail is the most one object can be composed from: a clear error.

    The upload's state claims 1023 parts already, so no gigabytes need to move.
    """
    state = bucket.blob("~regstore/uploads/u/~state")
    state.metadata = {
        "regstore-upload": "1",
        "regstore-parts": "1023",
        "regstore-part-size": str(CHUNK),
        "regstore-size": str(1023 * CHUNK),
    }
    state.upload_from_string(b"")
    writer = driver.writer("/u", append=True)
    assert writer.size == 1023 * CHUNK
    with pytest.raises(regstore.DriverError, match="raise the chunksize"):
        writer.write(b"\0" * CHUNK)
    with pytest.raises(regstore.DriverError, match="failed earlier"):
        writer.close()
    driver.delete("/u")
    assert [blob.name for blob in bucket.list_blobs()] == []
