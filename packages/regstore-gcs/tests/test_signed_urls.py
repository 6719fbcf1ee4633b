"""``redirect_url``: V4 signed URLs from a key made in the test, fetched with plain urllib."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from google.cloud import storage

import regstore
from testenv import http_fetch

Make = Callable[..., regstore.StorageDriver]


def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    return http_fetch(url, method, headers)


def test_signed_get_works_without_credentials(
    make_driver: Make, service_account: dict[str, str], bucket: storage.Bucket
) -> None:
    driver = make_driver(credentials=service_account, rootdirectory="/registry")
    driver.put_content("/blobs/data", b"layer bytes")
    url = driver.redirect_url("/blobs/data", expires_in=300)
    assert url is not None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == f"/{bucket.name}/registry/blobs/data"
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["300"]
    assert query["X-Goog-Credential"][0].startswith(service_account["client_email"])
    assert fetch(url)[2] == b"layer bytes"
    assert fetch(url, Range="bytes=6-")[2] == b"bytes"
    driver.delete("/blobs")


def test_signed_head_on_fake_gcs_server(
    make_driver: Make, service_account: dict[str, str], emulator: str
) -> None:
    if emulator != "fakegcs":
        pytest.skip("gcp-storage-emulator answers HEAD on signed URLs with 501 (emulators.md 3b)")
    driver = make_driver(credentials=service_account)
    driver.put_content("/blob", b"12345")
    url = driver.redirect_url("/blob", method="HEAD", expires_in=60)
    assert url is not None
    status, headers, body = fetch(url, "HEAD")
    assert (status, headers["content-length"], body) == (200, "5", b"")
    driver.delete("/blob")


def test_no_key_no_url(make_driver: Make) -> None:
    """Without a service-account key there is nothing to sign with: serve the content instead."""
    assert make_driver().redirect_url("/blob") is None


def test_only_get_and_head(make_driver: Make, service_account: dict[str, str]) -> None:
    driver = make_driver(credentials=service_account)
    assert driver.redirect_url("/blob", method="PUT") is None
    assert driver.redirect_url("/blob", method="head") is not None


def test_expiry_is_bounded_by_seven_days(
    make_driver: Make, service_account: dict[str, str]
) -> None:
    driver = make_driver(credentials=service_account)
    assert driver.redirect_url("/blob", expires_in=7 * 24 * 3600) is not None
    with pytest.raises(regstore.DriverError, match="at most 604800 seconds"):
        driver.redirect_url("/blob", expires_in=7 * 24 * 3600 + 1)
