"""redirect_url: read-only SAS URLs that plain HTTP clients use, and that Azurite checks."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from regstore import StorageDriver
from regstore_azure import AzureDriver
from testenv import http_fetch


def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    status, _, body = http_fetch(url, method, headers)
    return status, body if status < 400 else b""


def with_query(url: str, **changes: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update(changes)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def test_get_range_and_head(driver: StorageDriver) -> None:
    driver.put_content("/blobs/data", b"0123456789")
    url = driver.redirect_url("/blobs/data")
    assert url is not None
    assert fetch(url) == (200, b"0123456789")
    assert fetch(url, headers={"Range": "bytes=2-4"}) == (206, b"234")
    head = urllib.request.Request(driver.redirect_url("/blobs/data", method="HEAD"), method="HEAD")
    with urllib.request.urlopen(head, timeout=30) as response:
        assert response.headers["Content-Length"] == "10"


def test_the_url_only_reads(driver: StorageDriver) -> None:
    driver.put_content("/file", b"kept")
    url = driver.redirect_url("/file")
    assert url is not None
    request = urllib.request.Request(
        url, data=b"overwritten", method="PUT", headers={"x-ms-blob-type": "BlockBlob"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 403
    assert driver.get_content("/file") == b"kept"


def test_tampered_urls_are_refused(driver: StorageDriver) -> None:
    driver.put_content("/file", b"secret content")
    url = driver.redirect_url("/file", expires_in=60)
    assert url is not None
    signature = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["sig"]
    tampered = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert fetch(with_query(url, sig=tampered))[0] == 403
    assert fetch(with_query(url, se="2099-01-01T00:00:00Z"))[0] == 403  # a longer life
    assert fetch(url.replace("/file?", "/other?"))[0] == 403  # another blob
    assert fetch(url) == (200, b"secret content")


def test_expired_urls_are_refused(driver: StorageDriver) -> None:
    driver.put_content("/file", b"x")
    url = driver.redirect_url("/file", expires_in=1)
    assert url is not None
    time.sleep(2.5)
    assert fetch(url)[0] == 403


def test_urls_name_the_blob_under_the_root_and_keep_https() -> None:
    driver = AzureDriver(
        {
            "accountname": "myaccount",
            "accountkey": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==",
            "container": "registry",
            "rootdirectory": "docker/registry",
        }
    )
    url = driver.redirect_url("/v2/blobs/data", expires_in=600)
    assert url is not None
    parts = urllib.parse.urlsplit(url)
    assert parts.netloc == "myaccount.blob.core.windows.net"
    assert parts.path == "/registry/docker/registry/v2/blobs/data"
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert query["sp"] == "r"
    assert query["spr"] == "https"
    assert "c2VjcmV0" not in url
