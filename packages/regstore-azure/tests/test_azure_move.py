"""move: a server-side copy, polled while pending; a failed or stuck copy keeps the source."""

from __future__ import annotations

import pytest
from azure_helpers import DriverFactory, Interceptor

from regstore import StorageDriver
from regstore.errors import DriverError, PathNotFoundError
from regstore_azure.copying import CopyState, wait_for_copy

COPY_START = r"^/[^?]+/dest(\?|$)"


def _pending_copies(interceptor: Interceptor, polls_pending: int, final: str = "success") -> None:
    """Make the copy look pending at start and for ``polls_pending`` polls, then ``final``."""
    seen = {"polls": 0}

    def rewrite(method: str, target: str, headers: dict[str, str]) -> None:
        if not target.split("?")[0].endswith("/dest"):
            return
        if method == "PUT" and "x-ms-copy-status" in {k.lower() for k in headers}:
            _set(headers, "x-ms-copy-status", "pending")
        elif method == "HEAD":
            seen["polls"] += 1
            status = "pending" if seen["polls"] <= polls_pending else final
            _set(headers, "x-ms-copy-status", status)
            if status == "failed":
                _set(
                    headers, "x-ms-copy-status-description", "500 InternalError source read failed"
                )

    interceptor.rewrite = rewrite


def _set(headers: dict[str, str], name: str, value: str) -> None:
    for key in [k for k in headers if k.lower() == name]:
        del headers[key]
    headers[name] = value


def test_move_copies_then_deletes_the_source(driver: StorageDriver) -> None:
    driver.put_content("/a/source", b"content")
    driver.put_content("/b/dest", b"old")
    driver.move("/a/source", "/b/dest")
    assert driver.get_content("/b/dest") == b"content"
    with pytest.raises(PathNotFoundError):
        driver.stat("/a")


def test_move_polls_a_pending_copy_until_it_succeeds(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(serviceurl=interceptor.url, retry_delay="10ms", max_retries="5")
    driver.put_content("/source", b"moved")
    _pending_copies(interceptor, polls_pending=2)
    driver.move("/source", "/dest")
    assert len(interceptor.requests("HEAD", r"/dest$")) == 3
    assert driver.get_content("/dest") == b"moved"
    with pytest.raises(PathNotFoundError):
        driver.get_content("/source")


def test_failed_copy_raises_and_keeps_the_source(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(serviceurl=interceptor.url, retry_delay="10ms")
    driver.put_content("/source", b"kept")
    _pending_copies(interceptor, polls_pending=1, final="failed")
    with pytest.raises(DriverError, match=r"ended failed.*source read failed.*left in place"):
        driver.move("/source", "/dest")
    assert driver.get_content("/source") == b"kept"


def test_copy_pending_past_max_retries_is_aborted(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(serviceurl=interceptor.url, retry_delay="10ms", max_retries=3)
    driver.put_content("/source", b"kept")
    _pending_copies(interceptor, polls_pending=100)
    with pytest.raises(DriverError, match=r"still pending after 3 polls.*aborted"):
        driver.move("/source", "/dest")
    assert len(interceptor.requests("HEAD", r"/dest$")) == 3
    assert interceptor.requests("PUT", r"comp=copy")  # Abort Copy Blob was sent
    assert driver.get_content("/source") == b"kept"


def test_move_missing_source_leaves_dest(driver: StorageDriver) -> None:
    driver.put_content("/dest", b"untouched")
    with pytest.raises(PathNotFoundError) as caught:
        driver.move("/missing", "/dest")
    assert caught.value.path == "/missing"
    assert driver.get_content("/dest") == b"untouched"


def test_wait_for_copy_backs_off_linearly() -> None:
    states = iter([CopyState("pending"), CopyState("pending"), CopyState("success")])
    sleeps: list[float] = []
    state = wait_for_copy(lambda: next(states), max_retries=5, retry_delay=0.5, sleep=sleeps.append)
    assert state == CopyState("success")
    assert sleeps == [0.5, 1.0, 1.5]


def test_wait_for_copy_gives_up_after_max_retries() -> None:
    sleeps: list[float] = []
    state = wait_for_copy(
        lambda: CopyState("pending"), max_retries=2, retry_delay=0.1, sleep=sleeps.append
    )
    assert state.status == "pending"
    assert sleeps == [0.1, 0.2]
