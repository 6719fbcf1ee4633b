"""move: CopyObject up to the threshold, a parallel multipart copy above it, aborted on failure."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from s3_helpers import Backend, MiB, keys_under, leftovers, uploads_under

import regstore
from regstore.errors import DriverError, PathNotFoundError

Calls = Callable[[str], list[dict[str, Any]]]


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
def copying_driver(parameters: dict[str, Any]) -> Iterator[regstore.StorageDriver]:
    """A driver that copies anything above 1 MiB in 5 MiB parts, two at a time."""
    with regstore.create(
        "s3",
        {
            **parameters,
            "multipartcopythresholdsize": MiB,
            "multipartcopychunksize": 5 * MiB,
            "multipartcopymaxconcurrency": 2,
        },
    ) as driver:
        yield driver


def recorder(driver: regstore.StorageDriver) -> Calls:
    seen: list[tuple[str, dict[str, Any]]] = []
    driver.inner.client.meta.events.register(  # type: ignore[attr-defined]
        "before-parameter-build.s3",
        lambda params, model, **_: seen.append((model.name, dict(params))),
    )
    return lambda operation: [params for name, params in seen if name == operation]


def test_small_move_is_one_copy(driver: regstore.StorageDriver, calls: Calls) -> None:
    driver.put_content("/src", b"content")
    driver.move("/src", "/dest/file")
    assert driver.get_content("/dest/file") == b"content"
    with pytest.raises(PathNotFoundError):
        driver.stat("/src")
    assert len(calls("CopyObject")) == 1
    assert calls("UploadPartCopy") == []


def test_large_move_copies_parts_in_parallel(
    backend: Backend, copying_driver: regstore.StorageDriver, root: str
) -> None:
    calls = recorder(copying_driver)
    content = random_bytes(11 * MiB, 1)
    copying_driver.put_content("/big", content)
    copying_driver.move("/big", "/moved/big")
    parts = sorted((p["PartNumber"], p["CopySourceRange"]) for p in calls("UploadPartCopy"))
    assert [copy_range for _, copy_range in parts] == [
        f"bytes=0-{5 * MiB - 1}",
        f"bytes={5 * MiB}-{10 * MiB - 1}",
        f"bytes={10 * MiB}-{11 * MiB - 1}",
    ]
    assert calls("CopyObject") == []
    assert copying_driver.get_content("/moved/big") == content
    assert keys_under(backend.client, backend.bucket, root + "/") == [f"{root}/moved/big"]
    assert leftovers(backend, root) == []


def test_a_failed_multipart_copy_is_aborted(
    backend: Backend, copying_driver: regstore.StorageDriver, root: str
) -> None:
    content = random_bytes(11 * MiB, 2)
    copying_driver.put_content("/big", content)
    copied: list[int] = []

    def fail_second_part(params: dict[str, Any], **_: Any) -> None:
        copied.append(params["PartNumber"])
        if params["PartNumber"] == 2:
            raise EndpointConnectionError(endpoint_url="http://unreachable.invalid")

    client = copying_driver.inner.client  # type: ignore[attr-defined]
    client.meta.events.register("before-parameter-build.s3.UploadPartCopy", fail_second_part)
    with pytest.raises(DriverError, match="cannot reach the S3 endpoint"):
        copying_driver.move("/big", "/moved")
    assert 2 in copied
    assert uploads_under(backend.client, backend.bucket, root + "/") == []
    assert keys_under(backend.client, backend.bucket, root + "/") == [f"{root}/big"]
    assert copying_driver.get_content("/big") == content


def test_moving_a_directory_is_refused(driver: regstore.StorageDriver) -> None:
    driver.put_content("/dir/file", b"x")
    with pytest.raises(DriverError, match="it is a directory"):
        driver.move("/dir", "/elsewhere")
    assert driver.get_content("/dir/file") == b"x"


def test_moving_a_file_onto_itself_keeps_it(driver: regstore.StorageDriver) -> None:
    driver.put_content("/same", b"kept")
    driver.move("/same", "/same")
    assert driver.get_content("/same") == b"kept"
