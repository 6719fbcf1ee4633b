"""What the fast paths send: one request per staged part, listings that ask only for the
fields they read, and times read from the listing's JSON.

Requests are counted by a ``FaultProxy`` in front of each emulator.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google_crc32c
import pytest
from google.cloud import storage

import regstore
from regstore.walking import EPOCH
from regstore_gcs.layout import GCSLayout
from regstore_gcs.listing import mod_time

#: The tests' part size (the conftest drivers' chunksize).
CHUNK = 256 * 1024

Make = Callable[..., regstore.StorageDriver]


def query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def test_each_part_is_one_multipart_request(make_driver: Make, proxy: Any, bucket: Any) -> None:
    driver = make_driver()
    data = bytes(range(256)) * (CHUNK * 3 // 256) + b"tail"
    writer = driver.writer("/big")
    for start in range(0, len(data), 100_000):
        writer.write(data[start : start + 100_000])
    writer.commit()
    uploads = [query(seen.path)["uploadType"][0] for seen in proxy.requests("POST", "/upload/")]
    # Three parts and the tail: one request each, no resumable session anywhere.
    assert uploads == ["multipart"] * 4
    assert driver.get_content("/big") == data
    blob = bucket.get_blob("big")
    assert blob.size == len(data)
    expected = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
    assert blob.crc32c == expected


def test_state_object_keeps_its_metadata_and_resumes(make_driver: Make, proxy: Any) -> None:
    driver = make_driver()
    first = b"a" * (CHUNK + 10)
    with driver.writer("/r") as writer:
        writer.write(first)
    resumed = make_driver().writer("/r", append=True)
    assert resumed.size == len(first)
    resumed.write(b"b" * 5)
    resumed.commit()
    assert driver.get_content("/r") == first + b"b" * 5
    assert [query(s.path)["uploadType"][0] for s in proxy.requests("POST", "/upload/")] == [
        "multipart"
    ] * 3  # part 1, the state with its 10-byte tail, the new tail at commit


def test_a_part_holding_the_boundary_text_survives(make_driver: Make) -> None:
    """The multipart boundary is random, so bytes that look like a boundary stay bytes."""
    driver = make_driver()
    nasty = b"\r\n--regstore-" + b"0" * 32 + b"--\r\n"
    data = (nasty * (CHUNK // len(nasty) + 1))[:CHUNK] + nasty
    writer = driver.writer("/nasty")
    writer.write(data)
    writer.commit()
    assert driver.get_content("/nasty") == data


def test_listings_ask_only_for_the_fields_they_read(make_driver: Make, proxy: Any) -> None:
    driver = make_driver()
    driver.put_content("/d/a/file", b"1")
    driver.put_content("/d/b", b"22")
    assert driver.list("/d") == ["/d/a", "/d/b"]
    assert [info.path for info in driver.walk("/d")] == ["/d/a", "/d/a/file", "/d/b"]
    assert driver.stat("/d").is_dir
    listings = [query(seen.path) for seen in proxy.requests("GET", "/o?")]
    fields = [q["fields"][0] for q in listings]
    assert "items(name),prefixes,nextPageToken" in fields  # list
    assert "items(name,size,updated),nextPageToken" in fields  # walk
    assert "items(name),nextPageToken" in fields  # the stat of a directory
    assert all("nextPageToken" in f for f in fields)


def test_walk_reports_the_sizes_and_times_stat_reports(make_driver: Make) -> None:
    driver = make_driver()
    for index, size in enumerate((0, 1, 300, CHUNK + 1)):
        driver.put_content(f"/t/f{index}", b"x" * size)
    walked = {info.path: info for info in driver.walk("/t")}
    for path, info in walked.items():
        assert info == driver.stat(path)
        assert info.mod_time.tzinfo is not None


def test_list_leaves_out_hidden_and_invalid_names(
    make_driver: Make, bucket: storage.Bucket
) -> None:
    driver = make_driver()
    driver.put_content("/x/ok", b"1")
    driver.writer("/x/pending").close()  # staged under ~regstore, never listed
    # gcp-storage-emulator refuses names with "." or ".." components (the core tests those).
    for name in ("x/bad name", "x/a~b", "x/.hidden"):
        bucket.blob(name).upload_from_string(b"2")
    assert driver.list("/x") == ["/x/.hidden", "/x/ok"]
    assert driver.list("/") == ["/x"]
    assert [info.path for info in driver.walk("/x")] == ["/x/.hidden", "/x/ok"]


def test_pending_upload_objects_keep_the_keys_earlier_releases_wrote() -> None:
    """Uploads closed by an earlier release resume only if their objects stay where they are."""
    layout = GCSLayout("/root/")
    staged = "root/~regstore/uploads/a"
    assert layout.state_name("/a/b") == f"{staged}/b/~state"
    assert layout.part_name("/a", 3) == f"{staged}/~part-00000003"
    assert layout.compose_name("/a", 1, 2) == f"{staged}/~compose-1-000002"
    assert layout.upload_of(f"{staged}/b/~state") == ("/a/b", True)
    assert layout.upload_of(f"{staged}/~part-00000001") == ("/a", False)
    assert layout.upload_of(f"{staged}/not-ours") is None
    assert layout.upload_of(f"{staged}/../~state") is None
    assert layout.owns("/a", f"{staged}/~state")
    assert not layout.owns("/a", f"{staged}/b/~state")
    assert not layout.owns("/a", "root/~regstore/uploads/ab/~state")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05.123Z", datetime(2026, 1, 2, 3, 4, 5, 123000, timezone.utc)),
        ("2026-01-02T03:04:05.123456Z", datetime(2026, 1, 2, 3, 4, 5, 123456, timezone.utc)),
        ("2026-01-02T03:04:05.123456789Z", datetime(2026, 1, 2, 3, 4, 5, 123456, timezone.utc)),
        ("2026-01-02T03:04:05.1Z", datetime(2026, 1, 2, 3, 4, 5, 100000, timezone.utc)),
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, 0, timezone.utc)),
        ("not a time", EPOCH),
        (None, EPOCH),
    ],
)
def test_mod_time_reads_every_rfc3339_fraction(text: str | None, expected: datetime) -> None:
    resource = {} if text is None else {"updated": text}
    assert mod_time(resource) == expected
