"""reader: ranged, streamed from the HTTP answer, failures as DriverError."""

from __future__ import annotations

import random
import tracemalloc
from typing import Any

import pytest
from s3_helpers import Backend, CuttingProxy, MiB

import regstore
from regstore.errors import DriverError


def drain(stream: Any) -> int:
    total = 0
    while piece := stream.read(64 * 1024):
        total += len(piece)
    return total


def test_reading_never_buffers_the_whole_object(driver: regstore.StorageDriver) -> None:
    content = random.Random(1).randbytes(16 * MiB)
    driver.put_content("/big", content)
    del content
    tracemalloc.start()
    try:
        total = 0
        with driver.reader("/big", offset=MiB) as stream:
            while piece := stream.read(64 * 1024):
                total += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 15 * MiB
    assert peak < 4 * MiB, f"reading 15 MiB held {peak} bytes at once"


def test_offset_past_the_end_of_an_empty_object(driver: regstore.StorageDriver) -> None:
    driver.put_content("/empty", b"")
    with driver.reader("/empty", offset=1) as stream:
        assert stream.read() == b""
    with driver.reader("/empty") as stream:
        assert stream.read() == b""


def test_a_read_resumes_where_the_connection_broke(
    backend: Backend, parameters: dict[str, Any], root: str
) -> None:
    content = random.Random(2).randbytes(2 * MiB)
    backend.client.put_object(Bucket=backend.bucket, Key=f"{root}/blob", Body=content)
    proxy = CuttingProxy(parameters["regionendpoint"], cuts=[256 * 1024])
    try:
        with regstore.create("s3", {**parameters, "regionendpoint": proxy.url}) as driver:
            with driver.reader("/blob", offset=1000) as stream:
                assert stream.read() == content[1000:]
            assert driver.get_content("/blob") == content
    finally:
        proxy.close()
    assert proxy.connections > 8  # each answer broke after 256 KiB and was resumed


def test_a_read_that_cannot_resume_is_a_driver_error(
    backend: Backend, parameters: dict[str, Any], root: str
) -> None:
    content = random.Random(3).randbytes(MiB)
    backend.client.put_object(Bucket=backend.bucket, Key=f"{root}/blob", Body=content)
    proxy = CuttingProxy(parameters["regionendpoint"], cuts=[256 * 1024, 0])
    cut = {**parameters, "regionendpoint": proxy.url}
    try:
        with (
            regstore.create("s3", cut) as driver,
            driver.reader("/blob") as stream,
            pytest.raises(DriverError) as caught,
        ):
            drain(stream)
    finally:
        proxy.close()
    assert str(caught.value).startswith("s3: ")
    assert "/blob" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_reads_to_the_end_give_their_connection_back_to_the_pool(
    backend: Backend, parameters: dict[str, Any], root: str
) -> None:
    if backend.name == "moto":
        pytest.skip("moto's server answers every request with Connection: close")
    content = random.Random(4).randbytes(2 * MiB)
    backend.client.put_object(Bucket=backend.bucket, Key=f"{root}/blob", Body=content)
    proxy = CuttingProxy(parameters["regionendpoint"], cuts=[1 << 40])  # counts, never cuts
    try:
        with regstore.create("s3", {**parameters, "regionendpoint": proxy.url}) as driver:
            for _ in range(3):
                with driver.reader("/blob") as stream:
                    assert stream.read(len(content)) == content  # stops at the last byte
            for _ in range(3):
                with driver.reader("/blob", offset=MiB) as stream:
                    assert stream.read() == content[MiB:]
    finally:
        proxy.close()
    assert proxy.connections == 1  # every read reused the first connection
