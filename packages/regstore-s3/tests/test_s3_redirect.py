"""redirect_url: presigned GET and HEAD that plain urllib can use, expiry and redirectendpoint."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from s3_helpers import Backend

import regstore
from regstore.errors import DriverError
from testenv import http_fetch


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    return http_fetch(url, method)


def test_presigned_get_and_head(driver: regstore.StorageDriver) -> None:
    content = b"layer bytes" * 1000
    driver.put_content("/blobs/sha256/ab/data", content)
    url = driver.redirect_url("/blobs/sha256/ab/data", expires_in=300)
    assert url is not None
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"]
    status, _, body = fetch(url)
    assert (status, body) == (200, content)
    head_url = driver.redirect_url("/blobs/sha256/ab/data", method="HEAD")
    assert head_url is not None
    status, headers, body = fetch(head_url, "HEAD")
    assert (status, int(headers["content-length"]), body) == (200, len(content), b"")
    assert driver.redirect_url("/blobs/sha256/ab/data", method="PUT") is None


def test_redirectendpoint_replaces_scheme_and_host(
    backend: Backend, parameters: dict[str, Any]
) -> None:
    endpoint = urllib.parse.urlsplit(parameters["regionendpoint"])
    public = f"http://localhost:{endpoint.port}"
    with regstore.create("s3", {**parameters, "redirectendpoint": public}) as driver:
        driver.put_content("/blob", b"through the public name")
        url = driver.redirect_url("/blob")
        assert url is not None
        assert url.startswith(f"{public}/{backend.bucket}/")
        assert fetch(url)[2] == b"through the public name"
        driver.delete("/blob")


def test_expired_url_is_refused(backend: Backend, driver: regstore.StorageDriver) -> None:
    if backend.name == "moto":
        pytest.skip("moto checks neither presigned signatures nor expiry (emulators.md, moto)")
    driver.put_content("/blob", b"x")
    url = driver.redirect_url("/blob", expires_in=1)
    assert url is not None
    time.sleep(2.5)
    assert fetch(url)[0] == 403


def test_expiry_beyond_seven_days_is_an_error(driver: regstore.StorageDriver) -> None:
    with pytest.raises(DriverError, match="at most 604800 seconds"):
        driver.redirect_url("/blob", expires_in=8 * 24 * 3600)
