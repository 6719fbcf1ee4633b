"""Listings read page by page: every page token followed, and a page that is not JSON named.

The emulators answer a whole listing in one page unless asked for fewer
objects, where GCS pages every 1,000; the ``FaultProxy`` asks them for pages
of three (``page_size``), so every listing here spans several pages.
gcp-storage-emulator ignores ``maxResults`` (emulators.md 3): paging is
proved on fake-gcs-server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import regstore
from regstore import DriverError

Make = Callable[..., regstore.StorageDriver]
NO_PAGES = "gcp-storage-emulator ignores maxResults: one page, no nextPageToken (emulators.md 3)"


def listings(proxy: Any) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(seen.path).query) for seen in proxy.requests("GET", "/o?")]


def test_list_walk_and_stat_follow_every_page(make_driver: Make, proxy: Any, emulator: str) -> None:
    if emulator == "gcpemu":
        pytest.skip(NO_PAGES)
    driver = make_driver()
    files = {f"/d/f{index:02d}": bytes(index) for index in range(10)}
    files.update({"/d/sub/a": b"1", "/d/sub/b": b"22", "/d/zz/c": b"333"})
    for path, content in files.items():
        driver.put_content(path, content)
    proxy.page_size = 3
    directories = ["/d/sub", "/d/zz"]

    assert driver.list("/d") == sorted([p for p in files if p.count("/") == 2] + directories)
    walked = {info.path: info for info in driver.walk("/d")}
    assert {p: i.size for p, i in walked.items() if not i.is_dir} == {
        p: len(c) for p, c in files.items()
    }
    assert sorted(p for p, i in walked.items() if i.is_dir) == directories
    assert all(walked[p] == driver.stat(p) for p in files)
    after = [info.path for info in driver.walk("/d", start_after="/d/f07")]
    assert after == ["/d/f08", "/d/f09", "/d/sub", "/d/sub/a", "/d/sub/b", "/d/zz", "/d/zz/c"]
    assert driver.stat("/d/zz").is_dir

    tokens = [q for q in listings(proxy) if "pageToken" in q]
    assert len(tokens) >= 6  # the list and the walks each took several pages
    assert all(int(q["maxResults"][0]) <= 3 for q in listings(proxy))


def test_pending_uploads_and_purge_follow_every_page(
    make_driver: Make, proxy: Any, emulator: str
) -> None:
    if emulator == "gcpemu":
        pytest.skip(NO_PAGES)
    driver = make_driver()
    for index in range(7):
        writer = driver.writer(f"/up/u{index}")
        writer.write(b"x" * index)
        writer.close()
    proxy.page_size = 3
    pending = {upload.path: upload.size for upload in driver.pending_uploads("/up")}
    assert pending == {f"/up/u{index}": index for index in range(7)}
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    assert driver.purge_uploads(later, "/up") == sorted(pending)
    assert list(driver.pending_uploads("/up")) == []
    assert any("pageToken" in q for q in listings(proxy))


@pytest.mark.parametrize("call", ["list", "walk", "stat"])
def test_a_listing_answered_with_something_else_raises_a_driver_error(
    make_driver: Make, proxy: Any, call: str
) -> None:
    driver = make_driver()
    driver.put_content("/d/sub/file", b"1")
    proxy.break_next("GET", "/o?", "garbage")
    calls: dict[str, Callable[[], object]] = {
        "list": lambda: driver.list("/d"),
        "walk": lambda: list(driver.walk("/d")),
        "stat": lambda: driver.stat("/d/sub"),
    }
    with pytest.raises(DriverError) as caught:
        calls[call]()
    message = str(caught.value)
    assert "answered with something other than a page of objects" in message
    assert "gs://" in message
    assert "/d/" in message
    # The next listing is whole again.
    assert driver.list("/d") == ["/d/sub"]
