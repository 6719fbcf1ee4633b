"""Names and listings: the Go driver's blob names, delimiter lists, walks that start late."""

from __future__ import annotations

import urllib.parse

from azure.storage.blob import ContainerClient
from azure_helpers import DriverFactory, Interceptor

from regstore import StorageDriver


def test_blobs_are_named_as_the_go_driver_names_them(
    make_driver: DriverFactory, container: ContainerClient
) -> None:
    driver = make_driver(rootdirectory="/docker/registry/")
    driver.put_content("/v2/repositories/app/_layers/link", b"sha256:abc")
    assert [blob.name for blob in container.list_blobs()] == [
        "docker/registry/v2/repositories/app/_layers/link"
    ]
    container.upload_blob("docker/registry/v2/blobs/data", b"written by another tool")
    assert driver.get_content("/v2/blobs/data") == b"written by another tool"
    driver.delete("/v2")


def test_blobs_no_path_can_name_are_not_listed(
    driver: StorageDriver, container: ContainerClient
) -> None:
    for name in ("registry/root/a/ok", "registry/root/a/not ok", "registry/root/a//x"):
        container.upload_blob(name, b"")
    assert driver.list("/a") == ["/a/ok"]
    assert [info.path for info in driver.walk("/")] == ["/a", "/a/ok"]
    driver.delete("/a")
    assert list(container.list_blobs()) == []


def test_list_asks_for_one_level(make_driver: DriverFactory, interceptor: Interceptor) -> None:
    driver = make_driver(serviceurl=interceptor.url)
    for path in ("/dir/a/deep/file", "/dir/b", "/dir-x/c"):
        driver.put_content(path, b"")
    assert driver.list("/dir") == ["/dir/a", "/dir/b"]
    (listing,) = interceptor.requests("GET", r"comp=list")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(listing).query))
    assert query["delimiter"] == "/"
    assert query["prefix"] == "dir/"
    driver.delete("/dir")
    driver.delete("/dir-x")


def test_walk_starts_the_listing_at_start_after(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(serviceurl=interceptor.url, rootdirectory="root")
    for index in range(20):
        driver.put_content(f"/repos/r{index:02d}/_manifests/link", b"")
    interceptor.log.clear()
    walked = [info.path for info in driver.walk("/repos", start_after="/repos/r17/_manifests")]
    assert walked == [
        "/repos/r17/_manifests",  # its walk key ends in "/": after start_after
        "/repos/r17/_manifests/link",
        "/repos/r18",
        "/repos/r18/_manifests",
        "/repos/r18/_manifests/link",
        "/repos/r19",
        "/repos/r19/_manifests",
        "/repos/r19/_manifests/link",
    ]
    listings = [
        dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query))
        for target in interceptor.requests("GET", r"comp=list")
    ]
    walk_listing = [query for query in listings if "delimiter" not in query]
    assert [query.get("startFrom") for query in walk_listing] == ["root/repos/r17/_manifests"]
    driver.delete("/repos")
