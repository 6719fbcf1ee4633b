"""Pending uploads and purging, seen in the raw bucket: objects and multipart uploads."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from s3_helpers import CHUNK, Backend, keys_under, leftovers, uploads_under, wipe

import regstore
from regstore.errors import DriverError
from testenv import unique_name

Calls = Callable[[str], list[dict[str, Any]]]
#: Far enough ahead that everything written so far counts as older.
LATER = timedelta(minutes=5)


def now() -> datetime:
    return datetime.now(timezone.utc)


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def close_upload(driver: regstore.StorageDriver, path: str, data: bytes) -> None:
    with driver.writer(path) as writer:
        writer.write(data)


def raw_upload(backend: Backend, key: str) -> str:
    """A multipart upload no driver recorded, as a killed writer or a registry leaves it."""
    upload_id: str = backend.client.create_multipart_upload(Bucket=backend.bucket, Key=key)[
        "UploadId"
    ]
    return upload_id


def open_keys(backend: Backend, prefix: str) -> list[str]:
    return sorted(key for key, _ in uploads_under(backend.client, backend.bucket, prefix))


@pytest.fixture
def other_root(backend: Backend) -> Iterator[str]:
    """A second rootdirectory in the same bucket, removed afterwards."""
    name = unique_name("root")
    yield name
    wipe(backend.client, backend.bucket, name + "/")


@pytest.fixture
def second(parameters: dict[str, Any]) -> Iterator[regstore.StorageDriver]:
    """Another driver over the same bucket and root."""
    with regstore.create("s3", parameters) as driver:
        yield driver


def test_a_purge_leaves_only_committed_content_in_the_bucket(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    driver.put_content("/repo/blob", b"committed")
    close_upload(driver, "/repo/blob", b"pending over committed content")
    close_upload(driver, "/repo/_uploads/1/data", random_bytes(2 * CHUNK + 100, 1))
    close_upload(driver, "/repo/_uploads/2/data", b"")
    close_upload(driver, "/other/data", random_bytes(CHUNK, 2))
    driver.put_content("/other/link", b"sha256:abc")
    assert len(open_keys(backend, root + "/")) == 2

    purged = driver.purge_uploads(now() + LATER)

    assert purged == ["/other/data", "/repo/_uploads/1/data", "/repo/_uploads/2/data", "/repo/blob"]
    assert keys_under(backend.client, backend.bucket, root + "/") == [
        f"{root}/other/link",
        f"{root}/repo/blob",
    ]
    assert open_keys(backend, root + "/") == []
    assert driver.get_content("/repo/blob") == b"committed"
    assert list(driver.pending_uploads()) == []


def test_an_unrecorded_upload_older_than_before_is_aborted(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    registry = f"/docker/registry/v2/repositories/r/_uploads/{uuid.uuid4()}/data"
    raw_upload(backend, root + registry)
    raw_upload(backend, f"{root}/~regstore/uploads/killed/data/tail-unnamed")
    raw_upload(backend, f"{root}/~regstore/elsewhere")
    close_upload(driver, "/docker/registry/v2/repositories/r/_uploads/kept/data", b"x")

    purged = driver.purge_uploads(now() + LATER)

    # The orphan in the bookkeeping maps to its upload's path; one with no upload is not listed.
    assert purged == sorted(
        [registry, "/docker/registry/v2/repositories/r/_uploads/kept/data", "/killed/data"]
    )
    assert open_keys(backend, root + "/") == []
    assert leftovers(backend, root) == []


def test_an_unrecorded_upload_newer_than_before_is_kept(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    if backend.name == "moto":
        pytest.skip("moto reports every multipart upload as initiated on 2010-11-10")
    key = f"{root}/docker/registry/v2/repositories/r/_uploads/{uuid.uuid4()}/data"
    upload_id = raw_upload(backend, key)
    assert driver.purge_uploads(now() - LATER) == []
    assert uploads_under(backend.client, backend.bucket, root + "/") == [(key, upload_id)]


def test_a_pending_upload_keeps_its_multipart_upload_however_old(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    path = "/long/data"
    first = random_bytes(CHUNK + 10, 3)
    close_upload(driver, path, first)
    [(key, upload_id)] = uploads_under(backend.client, backend.bucket, root + "/")
    listed = backend.client.list_multipart_uploads(Bucket=backend.bucket, Prefix=key)
    initiated = listed["Uploads"][0]["Initiated"]
    resumed = driver.writer(path, append=True)
    resumed.write(b"more")
    resumed.close()
    [upload] = driver.pending_uploads()
    before = initiated + timedelta(milliseconds=1)
    assert upload.modified >= before, "the last close must come after the upload began"

    assert driver.purge_uploads(before) == []

    assert uploads_under(backend.client, backend.bucket, root + "/") == [(key, upload_id)]
    writer = driver.writer(path, append=True)
    writer.commit()
    assert driver.get_content(path) == first + b"more"


def test_a_purge_never_touches_anything_outside_the_root_or_the_path(
    backend: Backend,
    driver: regstore.StorageDriver,
    parameters: dict[str, Any],
    root: str,
    other_root: str,
) -> None:
    client, bucket = backend.client, backend.bucket
    outside = [
        f"{root}x/data",  # a sibling root sharing the name's start
        f"{other_root}/a/data",
        f"{other_root}/~regstore/uploads/a/data/tail-x",
        f"outside-{uuid.uuid4().hex}/data",
    ]
    for key in outside:
        raw_upload(backend, key)
    client.put_object(Bucket=bucket, Key=f"{other_root}/a/link", Body=b"other root")
    with regstore.create("s3", {**parameters, "rootdirectory": other_root}) as neighbour:
        close_upload(neighbour, "/a/pending", b"pending in the other root")
    raw_upload(backend, f"{root}/a/data")
    raw_upload(backend, f"{root}/ab/data")

    try:
        assert driver.purge_uploads(now() + LATER, "/a") == ["/a/data"]
        assert open_keys(backend, root + "/") == [f"{root}/ab/data"]
        assert driver.purge_uploads(now() + LATER) == ["/ab/data"]
        assert open_keys(backend, root + "/") == []
        remaining = [key for key, _ in uploads_under(client, bucket, "")]
        assert set(outside) <= set(remaining)
        assert keys_under(client, bucket, f"{other_root}/a/") == [f"{other_root}/a/link"]
        with regstore.create("s3", {**parameters, "rootdirectory": other_root}) as neighbour:
            assert [u.path for u in neighbour.pending_uploads()] == ["/a/pending"]
    finally:
        for key in outside:
            wipe(client, bucket, key)


def test_pending_uploads_come_from_one_listing(
    driver: regstore.StorageDriver, calls: Calls
) -> None:
    sizes = {f"/r/_uploads/{n}/data": n * 1000 for n in range(12)}
    for path, size in sizes.items():
        close_upload(driver, path, random_bytes(size, size))
    close_upload(driver, "/r/_uploads/large/data", random_bytes(CHUNK + 7, 4))
    sizes["/r/_uploads/large/data"] = CHUNK + 7
    seen = len(calls("ListObjectsV2")), len(calls("GetObject"))

    listed = {u.path: u.size for u in driver.pending_uploads("/r")}

    assert listed == sizes
    assert len(calls("ListObjectsV2")) - seen[0] == 1
    assert len(calls("GetObject")) - seen[1] == 0


def test_an_upload_committed_while_a_purge_runs_is_not_purged(
    backend: Backend,
    driver: regstore.StorageDriver,
    second: regstore.StorageDriver,
    root: str,
) -> None:
    path = "/race/data"
    content = random_bytes(CHUNK + 50, 5)
    close_upload(driver, path, content)
    resumed = driver.writer(path, append=True)

    def commit_first(**_: Any) -> None:
        if not resumed.closed:
            resumed.commit()

    events = second.inner.client.meta.events  # type: ignore[attr-defined]
    events.register("before-call.s3.GetObject", commit_first, unique_id="race")
    try:
        assert second.purge_uploads(now() + LATER) == []
    finally:
        events.unregister("before-call.s3.GetObject", unique_id="race")
    assert driver.get_content(path) == content
    assert leftovers(backend, root) == []


def test_an_upload_closed_again_while_a_purge_runs_stays_whole(
    backend: Backend,
    driver: regstore.StorageDriver,
    second: regstore.StorageDriver,
    root: str,
) -> None:
    path = "/race/data"
    first = random_bytes(CHUNK + 50, 6)
    close_upload(driver, path, first)
    resumed = driver.writer(path, append=True)

    def close_first(**_: Any) -> None:
        if not resumed.closed:
            resumed.write(b"more")
            resumed.close()

    events = second.inner.client.meta.events  # type: ignore[attr-defined]
    events.register("before-call.s3.GetObject", close_first, unique_id="race")
    try:
        assert second.purge_uploads(now() + LATER) == []
    finally:
        events.unregister("before-call.s3.GetObject", unique_id="race")
    writer = driver.writer(path, append=True)
    assert writer.size == len(first) + 4
    writer.commit()
    assert driver.get_content(path) == first + b"more"
    assert leftovers(backend, root) == []


def test_a_commit_after_its_upload_was_purged_fails_and_keeps_committed_content(
    backend: Backend, driver: regstore.StorageDriver, second: regstore.StorageDriver, root: str
) -> None:
    path = "/blob"
    driver.put_content(path, b"committed")
    close_upload(driver, path, random_bytes(CHUNK + 50, 7))
    resumed = driver.writer(path, append=True)
    assert second.purge_uploads(now() + LATER) == [path]
    with pytest.raises(DriverError):
        resumed.commit()
    assert driver.get_content(path) == b"committed"
    assert leftovers(backend, root) == []
