"""Failures as regstore errors: 404, 403 naming the permission, retried 429/5xx, 412.

A ``FaultProxy`` answers chosen requests with the failure; everything else
reaches the real emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import regstore
from regstore_gcs.writer import PARTS_IN_FLIGHT
from testenv import unique_name

Make = Callable[..., regstore.StorageDriver]


def test_missing_path_and_missing_bucket(make_driver: Make) -> None:
    driver = make_driver()
    with pytest.raises(regstore.PathNotFoundError) as caught:
        driver.get_content("/missing")
    assert caught.value.path == "/missing"
    lost = make_driver(bucket=unique_name("nobucket"))
    with pytest.raises(regstore.DriverError, match=r"bucket 'nobucket\w+' does not exist"):
        lost.get_content("/missing")
    with pytest.raises(regstore.DriverError, match="does not exist"):
        lost.put_content("/file", b"x")


@pytest.mark.parametrize(
    ("method", "path_part", "call", "permission"),
    [
        ("GET", "/download/", lambda d: d.get_content("/f"), "storage.objects.get"),
        ("GET", "/o?", lambda d: d.list("/"), "storage.objects.list"),
        ("POST", "/upload/", lambda d: d.put_content("/g", b"x"), "storage.objects.create"),
        ("DELETE", "/o/f", lambda d: d.delete("/f"), "storage.objects.delete"),
    ],
)
def test_forbidden_names_the_permission_and_is_not_retried(
    make_driver: Make,
    proxy: Any,
    method: str,
    path_part: str,
    call: Callable[[regstore.StorageDriver], object],
    permission: str,
) -> None:
    driver = make_driver()
    driver.put_content("/f", b"x")
    proxy.fail(method, path_part, 403, reason="forbidden")
    before = len(proxy.requests(method, path_part))
    with pytest.raises(regstore.DriverError) as caught:
        call(driver)
    assert permission in str(caught.value)
    assert "permission denied" in str(caught.value)
    assert len(proxy.requests(method, path_part)) == before + 1
    driver.delete("/f")


def test_unauthorized_says_the_credentials_were_rejected(make_driver: Make, proxy: Any) -> None:
    driver = make_driver()
    proxy.fail("GET", "/o?", 401, reason="required")
    with pytest.raises(regstore.DriverError, match="credentials were rejected"):
        driver.list("/")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_failures_are_retried(make_driver: Make, proxy: Any, status: int) -> None:
    """Reads, uploads and listings go through the SDK's retry policy."""
    driver = make_driver()
    proxy.fail("POST", "/upload/", status)
    driver.put_content("/f", b"content")
    proxy.fail("GET", "/download/", status, times=2)
    assert driver.get_content("/f") == b"content"
    proxy.fail("GET", "/o?", status)
    assert driver.list("/") == ["/f"]
    assert len(proxy.requests("GET", "/download/")) == 3
    driver.delete("/f")


def test_commit_survives_transient_failures_of_its_steps(make_driver: Make, proxy: Any) -> None:
    """Part uploads, the compose and the cleanup are idempotent, so they retry too."""
    driver = make_driver()
    writer = driver.writer("/u")
    data = bytes(range(256)) * 4096  # 4 parts of 256 KiB
    proxy.fail("POST", "/upload/", 503)
    writer.write(data[:600_000])
    writer.close()
    writer = driver.writer("/u", append=True)
    writer.write(data[600_000:])
    proxy.fail("POST", "/compose", 503)
    proxy.fail("GET", "/o?", 500)
    writer.commit()
    assert driver.get_content("/u") == data
    driver.delete("/u")


def test_precondition_failure_is_reported_not_retried(make_driver: Make, proxy: Any) -> None:
    driver = make_driver()
    driver.put_content("/f", b"x")
    proxy.fail("GET", "/download/", 412, reason="conditionNotMet")
    with pytest.raises(regstore.DriverError, match="412"):
        driver.get_content("/f")
    assert len(proxy.requests("GET", "/download/")) == 1
    driver.delete("/f")


def test_failed_part_upload_keeps_the_last_closed_state(make_driver: Make, proxy: Any) -> None:
    """A writer whose part upload fails stops; the upload resumes from its last close."""
    driver = make_driver()
    writer = driver.writer("/u")
    writer.write(b"a" * 1000)
    writer.close()
    writer = driver.writer("/u", append=True)
    # PARTS_IN_FLIGHT parts go out together; shipping the next one waits for part 1
    # and sees it fail (all of them fail, so it surfaces at the same write every run).
    proxy.fail("POST", "/upload/", 403, times=PARTS_IN_FLIGHT, reason="forbidden")
    with pytest.raises(regstore.DriverError, match=r"storage\.objects\.create"):
        writer.write(b"b" * (256 * 1024 * (PARTS_IN_FLIGHT + 1)))
    with pytest.raises(regstore.DriverError, match="failed earlier"):
        writer.close()
    resumed = driver.writer("/u", append=True)
    assert resumed.size == 1000
    resumed.cancel()


def test_cleanup_failure_after_commit_says_the_content_is_committed(
    make_driver: Make, proxy: Any
) -> None:
    driver = make_driver()
    writer = driver.writer("/u")
    writer.write(b"z" * (256 * 1024 + 1))
    writer.close()
    writer = driver.writer("/u", append=True)
    proxy.fail("GET", "/o?", 403, reason="forbidden")  # the listing of staged objects
    with pytest.raises(regstore.DriverError, match="is committed, but"):
        writer.commit()
    assert driver.get_content("/u") == b"z" * (256 * 1024 + 1)
    driver.delete("/u")  # removes the staged objects too


def test_useragent_reaches_the_wire(make_driver: Make, proxy: Any) -> None:
    make_driver(useragent="registry/3.0 (mirror)").list("/")
    make_driver().list("/")
    agents = [seen.headers["user-agent"] for seen in proxy.requests("GET", "/o?")]
    assert agents[0].startswith("registry/3.0 (mirror)")
    assert agents[1].startswith("regstore-gcs/")
