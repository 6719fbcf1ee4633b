"""Whole reads by presigned GET: the same answers as GetObject, and GetObject whenever in doubt."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from s3_helpers import Backend, CuttingProxy, MiB

import regstore
from regstore.errors import DriverError, PathNotFoundError
from regstore_s3.quickread import QuickReader


def _quick(driver: regstore.StorageDriver) -> QuickReader:
    reader: QuickReader = regstore.unwrap(driver).quick_reader  # type: ignore[attr-defined]
    return reader


def _get_object_calls(driver: regstore.StorageDriver) -> list[str]:
    """Keys of every GetObject call the driver completes from now on (presigning is no call)."""
    keys: list[str] = []

    def record(context: dict[str, Any], **_: Any) -> None:
        keys.append(context.get("input_params", {}).get("Key", "?"))

    client: Any = regstore.unwrap(driver).client  # type: ignore[attr-defined]
    client.meta.events.register("after-call.s3.GetObject", record)
    return keys


def test_whole_reads_take_one_presigned_get(driver: regstore.StorageDriver) -> None:
    contents = {
        "/empty": b"",
        "/link": b"sha256:" + b"a" * 64,
        "/big": random.Random(3).randbytes(3 * MiB + 7),
    }
    for path, content in contents.items():
        driver.put_content(path, content)
    calls = _get_object_calls(driver)
    quick = _quick(driver)
    for path, content in contents.items():
        assert driver.get_content(path) == content
    assert (quick.answered, quick.deferred) == (3, 0)
    assert calls == []


def test_a_missing_key_is_path_not_found_in_one_request(driver: regstore.StorageDriver) -> None:
    calls = _get_object_calls(driver)
    with pytest.raises(PathNotFoundError) as caught:
        driver.get_content("/no/such/file")
    assert caught.value.path == "/no/such/file"
    assert _quick(driver).answered == 1
    assert calls == []


def test_a_cut_answer_is_read_again_by_get_object(
    backend: Backend, parameters: dict[str, Any]
) -> None:
    content = random.Random(5).randbytes(512 * 1024)
    with regstore.create("s3", parameters) as direct:
        direct.put_content("/blob", content)
    # The first connection breaks inside the body; every later one is whole.
    proxy = CuttingProxy(parameters["regionendpoint"], cuts=[64 * 1024, 1 << 40])
    try:
        with regstore.create("s3", {**parameters, "regionendpoint": proxy.url}) as driver:
            calls = _get_object_calls(driver)
            assert driver.get_content("/blob") == content
            assert (_quick(driver).answered, _quick(driver).deferred) == (0, 1)
            assert len(calls) == 1
    finally:
        proxy.close()


def test_a_refused_read_reports_what_get_object_reports(
    backend: Backend, parameters: dict[str, Any]
) -> None:
    if backend.name == "moto":
        pytest.skip("moto checks no signatures: a wrong secret key reads fine")
    with regstore.create("s3", parameters) as direct:
        direct.put_content("/file", b"content")
    wrong = {**parameters, "secretkey": "not-the-secret-key-" + "x" * 21}
    with regstore.create("s3", wrong) as driver, pytest.raises(DriverError) as caught:
        driver.get_content("/file")
    assert _quick(driver).deferred == 1
    message = str(caught.value)
    assert message.startswith("s3: GetObject of /file failed: ")
    assert "secret key" in message
    assert wrong["secretkey"] not in message
    assert parameters["accesskey"] not in message


def test_with_request_logging_every_read_is_a_logged_call(
    parameters: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with regstore.create("s3", {**parameters, "loglevel": "debug"}) as driver:
        assert not _quick(driver).enabled
        driver.put_content("/file", b"content")
        with caplog.at_level(logging.DEBUG, logger="regstore_s3"):
            assert driver.get_content("/file") == b"content"
    assert any("S3 GetObject" in record.getMessage() for record in caplog.records)
