"""Network faults the driver must survive: throttling, lost answers, cut bodies.

Each test aims one kind of fault (``faults.proxy``) at the requests of one
operation and checks the operation's answer, not only that it did not raise.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure_helpers import DriverFactory, MiB, stream_bytes
from faults.proxy import FaultPlan, FaultProxy

from regstore import DriverError, PathNotFoundError, StorageDriver


def through(make_driver: DriverFactory, proxy: FaultProxy, **overrides: Any) -> StorageDriver:
    """A driver whose requests go through ``proxy``; retries after ~10 ms, then 2 s, 4 s..."""
    settings = {"retry_delay": "10ms", **overrides}
    return make_driver(serviceurl=f"{proxy.url}/devstoreaccount1", **settings)


def aim(proxy: FaultProxy, kind: str, match: str, *, times: int = 1, **plan: Any) -> None:
    """Break the next ``times`` requests matching ``match`` with ``kind``, from now on."""
    proxy.reset_stats()
    proxy.plan = FaultPlan(every=kind, match=match, limit=times, **plan)


def test_a_429_is_retried_after_the_wait_retry_after_asks(
    make_driver: DriverFactory, fault_proxy: FaultProxy
) -> None:
    driver = through(make_driver, fault_proxy)
    driver.put_content("/file", b"content")
    # The first retry would come after ~2 s; the answer asks for 3.
    aim(fault_proxy, "429", r"^GET .*/file$", retry_after=3)
    started = time.monotonic()
    assert driver.get_content("/file") == b"content"
    assert time.monotonic() - started >= 3.0
    assert fault_proxy.stats().by_kind == {"429": 1}


def test_a_throttled_listing_is_retried(
    make_driver: DriverFactory, fault_proxy: FaultProxy
) -> None:
    driver = through(make_driver, fault_proxy)
    driver.put_content("/dir/file", b"x")
    aim(fault_proxy, "429", r"comp=list", retry_after=0)
    assert driver.list("/dir") == ["/dir/file"]
    assert [info.path for info in driver.walk("/dir")] == ["/dir/file"]
    assert fault_proxy.stats().by_kind == {"429": 1}


def test_retries_that_run_out_are_counted_in_the_message(
    make_driver: DriverFactory, fault_proxy: FaultProxy
) -> None:
    driver = through(make_driver, fault_proxy, max_retries=1)
    driver.put_content("/file", b"content")
    fault_proxy.plan = FaultPlan(every="503", retry_after=0)
    with pytest.raises(DriverError) as caught:
        driver.get_content("/file")
    message = str(caught.value)
    assert "the storage service was busy (ServerBusy) after 1 retry (max_retries)" in message
    assert "every retry" not in message
    fault_proxy.plan = FaultPlan(every="429", retry_after=0)
    with pytest.raises(DriverError, match=r"busy \(ServerBusy\) after 1 retry"):
        driver.stat("/file")


def test_a_range_cut_through_every_try_resumes_where_it_broke(
    make_driver: DriverFactory, fault_proxy: FaultProxy
) -> None:
    driver = through(make_driver, fault_proxy)
    content = b"".join(stream_bytes(8, 0, 9 * MiB))
    driver.put_content("/big", content)
    # The second range's answer is cut three times: more than the SDK asks again.
    aim(fault_proxy, "cut-body", r"^GET .*/big$", times=3, after=1)
    with driver.reader("/big") as stream:
        assert stream.read() == content
    stats = fault_proxy.stats()
    assert stats.by_kind == {"cut-body": 3}
    # Three ranges, three cut answers: the read went on from 4 MiB, not from 0.
    assert stats.requests == 6


def test_get_content_survives_cut_ranges(
    make_driver: DriverFactory, fault_proxy: FaultProxy
) -> None:
    driver = through(make_driver, fault_proxy)
    content = b"".join(stream_bytes(9, 0, 9 * MiB))
    driver.put_content("/big", content)
    aim(fault_proxy, "cut-body", r"^GET .*/big$", times=4, after=2)
    assert driver.get_content("/big") == content
    assert fault_proxy.stats().by_kind == {"cut-body": 4}


@pytest.mark.parametrize("kind", ["drop-response", "reset-after-body", "500"])
def test_a_delete_retried_after_it_may_have_acted_succeeds(
    make_driver: DriverFactory, fault_proxy: FaultProxy, kind: str
) -> None:
    driver = through(make_driver, fault_proxy)
    driver.put_content("/dir/file", b"x")
    aim(fault_proxy, kind, r"^DELETE .*/dir/file$")
    driver.delete("/dir/file")
    assert fault_proxy.stats().by_kind == {kind: 1}
    with pytest.raises(PathNotFoundError):
        driver.stat("/dir/file")


@pytest.mark.parametrize("kind", ["503", "429"])
def test_a_delete_of_a_missing_file_turned_away_first_is_path_not_found(
    make_driver: DriverFactory, fault_proxy: FaultProxy, kind: str
) -> None:
    """An attempt the service turned away did nothing, so the 404 after it stands.

    The path's own blob is looked up before it is deleted: a missing one is
    never sent a delete, whose lost answer could not tell "deleted" from
    "never there".
    """
    driver = through(make_driver, fault_proxy)
    driver.put_content("/dir/other", b"x")
    aim(fault_proxy, kind, r"^HEAD .*/dir/missing$", retry_after=0)
    with pytest.raises(PathNotFoundError):
        driver.delete("/dir/missing")
    assert fault_proxy.stats().by_kind == {kind: 1}
    assert driver.get_content("/dir/other") == b"x"


@pytest.mark.parametrize("kind", ["cut-body", "drop-response"])
def test_a_delete_of_a_missing_path_does_not_hang_on_a_lost_answer(
    make_driver: DriverFactory, fault_proxy: FaultProxy, kind: str
) -> None:
    """Nothing there is path not found, whatever answers to a delete would have been lost."""
    driver = through(make_driver, fault_proxy)
    driver.put_content("/dir/other", b"x")
    aim(fault_proxy, kind, r"^DELETE .*/dir/missing", times=3)
    with pytest.raises(PathNotFoundError):
        driver.delete("/dir/missing")
    assert driver.get_content("/dir/other") == b"x"


@pytest.mark.parametrize("kind", ["drop-response", "reset-after-body", "reset-before-body"])
def test_a_folder_delete_whose_batch_broke_succeeds(
    make_driver: DriverFactory, fault_proxy: FaultProxy, kind: str
) -> None:
    driver = through(make_driver, fault_proxy)
    for name in ("a", "b", "c/d"):
        driver.put_content(f"/dir/{name}", b"x")
    driver.put_content("/dir-kept", b"kept")
    aim(fault_proxy, kind, r"comp=batch")
    driver.delete("/dir")
    assert fault_proxy.stats().by_kind == {kind: 1}
    with pytest.raises(PathNotFoundError):
        driver.list("/dir")
    assert driver.list("/") == ["/dir-kept"]
