"""Listing, walking and deleting many keys: pagination, StartAfter, batches of 1000."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from s3_helpers import Backend, keys_under

import regstore
from regstore.errors import PathNotFoundError

Calls = Callable[[str], list[dict[str, Any]]]
MANY = 1005


def put_many(backend: Backend, root: str, paths: list[str]) -> None:
    """Store empty objects at ``paths`` directly, many at a time (setup, not under test)."""

    def put(path: str) -> None:
        backend.client.put_object(Bucket=backend.bucket, Key=root + path, Body=b"")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, paths))


def test_list_and_walk_page_through_many_keys_without_stat(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    names = [f"/many/{index:05d}" for index in range(MANY)]
    put_many(backend, root, [*names, "/many/sub/file", "/z"])
    assert driver.list("/many") == sorted([*names, "/many/sub"])
    walked = [info.path for info in driver.walk("/")]
    assert walked == ["/many", *names, "/many/sub", "/many/sub/file", "/z"]
    listings = calls("ListObjectsV2")
    assert len([p for p in listings if "Delimiter" not in p]) >= 2  # the walk paged
    assert calls("HeadObject") == []


def test_walk_passes_start_after_to_s3(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    put_many(backend, root, ["/repo/a/link", "/repo/b/link", "/repo/c/link"])
    walked = [info.path for info in driver.walk("/repo", start_after="/repo/b/")]
    assert walked == ["/repo/b/link", "/repo/c", "/repo/c/link"]
    (listing,) = calls("ListObjectsV2")
    assert listing["StartAfter"] == f"{root}/repo/b/"
    assert listing["Prefix"] == f"{root}/repo/"


def test_prune_restarts_the_listing_after_a_large_subtree(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    put_many(backend, root, [f"/big/{i:05d}" for i in range(MANY)] + ["/c/after"])
    walked = [info.path for info in driver.walk("/", prune=lambda info: info.path == "/big")]
    assert walked == ["/big", "/c", "/c/after"]
    starts = [p.get("StartAfter") for p in calls("ListObjectsV2")]
    assert f"{root}/big/\x7f" in starts


def test_delete_removes_many_keys_in_batches_of_1000(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    put_many(backend, root, [f"/many/{i // 100}/{i}" for i in range(MANY)] + ["/many-kept"])
    driver.put_content("/many", b"a file next to the directory of the same name")
    driver.delete("/many")
    batches = [len(p["Delete"]["Objects"]) for p in calls("DeleteObjects")]
    assert sorted(batches) == [MANY + 1 - 1000, 1000]
    assert keys_under(backend.client, backend.bucket, root + "/") == [f"{root}/many-kept"]
    with pytest.raises(PathNotFoundError):
        driver.delete("/many")


def test_full_batches_are_deleted_while_the_listing_goes_on(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    put_many(backend, root, [f"/tree/{i:05d}" for i in range(2 * 1000 + 5)])
    threads: list[tuple[str, str]] = []
    events = driver.inner.client.meta.events  # type: ignore[attr-defined]
    events.register(
        "before-call.s3",
        lambda model, **_: threads.append((model.name, threading.current_thread().name)),
    )
    driver.delete("/tree")
    listed = {name for call, name in threads if call == "ListObjectsV2"}
    deleted = [name for call, name in threads if call == "DeleteObjects"]
    assert listed == {threading.current_thread().name}
    assert len(deleted) == 3
    assert all(name.startswith("regstore-s3-delete-/tree") for name in deleted), deleted
    assert keys_under(backend.client, backend.bucket, root + "/") == []


def test_stat_probes_the_directory_with_a_trailing_slash(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    put_many(backend, root, ["/ab", "/a-b/c"])
    with pytest.raises(PathNotFoundError):
        driver.stat("/a")
    assert [p["Prefix"] for p in calls("ListObjectsV2")] == [f"{root}/a/"]
    assert [p["Key"] for p in calls("HeadObject")] == [f"{root}/a"]
