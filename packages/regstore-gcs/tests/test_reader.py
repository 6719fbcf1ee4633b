"""The reader: ranged windows of chunksize, seeks, and an object that changes mid-read."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import pytest

import regstore

CHUNK = 256 * 1024


def test_reads_stream_in_ranged_windows(
    make_driver: Callable[..., regstore.StorageDriver], proxy: Any
) -> None:
    """A 1 MiB object read in 64 KiB pieces costs four ranged GETs of chunksize."""
    driver = make_driver()
    data = os.urandom(4 * CHUNK)
    driver.put_content("/f", data)
    pieces = []
    with driver.reader("/f") as stream:
        for piece in iter(lambda: stream.read(64 * 1024), b""):
            pieces.append(piece)
    assert b"".join(pieces) == data
    ranges = [seen.headers.get("range") for seen in proxy.requests("GET", "/download/")]
    assert ranges == [f"bytes={start}-{start + CHUNK - 1}" for start in range(0, 4 * CHUNK, CHUNK)]
    driver.delete("/f")


def test_offset_at_or_past_the_end_reads_nothing_without_a_download(
    make_driver: Callable[..., regstore.StorageDriver], proxy: Any
) -> None:
    driver = make_driver()
    driver.put_content("/f", b"12345")
    for offset in (5, 6, 10_000):
        with driver.reader("/f", offset) as stream:
            assert stream.read() == b""
    assert proxy.requests("GET", "/download/") == []
    driver.delete("/f")


def test_seek_and_tell(driver: regstore.StorageDriver) -> None:
    data = os.urandom(3 * CHUNK)
    driver.put_content("/f", data)
    with driver.reader("/f", 10) as stream:
        assert stream.tell() == 10
        assert stream.read(5) == data[10:15]
        stream.seek(CHUNK * 2 + 1)
        assert stream.read(3) == data[CHUNK * 2 + 1 : CHUNK * 2 + 4]
        stream.seek(-2, io.SEEK_END)
        assert stream.read() == data[-2:]
        stream.seek(0)
        assert stream.read() == data
    driver.delete("/f")


def test_object_shrinking_mid_read_fails_the_read(driver: regstore.StorageDriver) -> None:
    """Never a mix of two versions: the rest of a replaced object is not read."""
    driver.put_content("/f", os.urandom(4 * CHUNK))
    stream = driver.reader("/f")
    assert len(stream.read(CHUNK + 10)) == CHUNK + 10
    driver.put_content("/f", b"short")
    with pytest.raises(regstore.DriverError) as caught:
        stream.read()
    assert caught.value.driver_name == "gcs"
    assert "/f" in str(caught.value)
    stream.close()
    driver.delete("/f")
