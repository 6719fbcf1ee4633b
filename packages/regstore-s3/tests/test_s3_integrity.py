"""Every uploaded body is covered by a hash or checksum the server checks against its bytes."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
from s3_helpers import CHUNK, Backend

import regstore
from regstore.errors import DriverError, PathNotFoundError

UPLOADS = ("PutObject", "UploadPart")


def _client(driver: regstore.StorageDriver) -> Any:
    inner: Any = getattr(driver, "inner", driver)
    return inner.client


def _body(request: Any) -> bytes:
    body = request.body
    return bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else body.getvalue()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_every_uploaded_body_is_covered(driver: regstore.StorageDriver) -> None:
    """Each PutObject and UploadPart carries its body's signed SHA-256 or a checksum header."""
    sent: list[tuple[str, dict[str, str], bytes]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        name = event_name.rsplit(".", 1)[-1]
        headers = {_text(key): _text(value) for key, value in request.headers.items()}
        sent.append((name, headers, _body(request)))

    for operation in UPLOADS:
        _client(driver).meta.events.register(f"before-send.s3.{operation}", record)
    data = random.Random(7).randbytes(2 * CHUNK + 123)
    with driver.writer("/covered") as writer:
        writer.write(data)
        writer.commit()
    driver.put_content("/small", b"small")
    assert driver.get_content("/covered") == data
    assert {name for name, _, _ in sent} == set(UPLOADS)
    for name, headers, body in sent:
        signed = headers.get("X-Amz-Content-SHA256")
        checksums = [key for key in headers if key.lower().startswith("x-amz-checksum-")]
        if signed != hashlib.sha256(body).hexdigest():
            assert checksums, f"{name} sent {len(body)} bytes covered by no hash or checksum"


def _write_and_commit(writer: regstore.FileWriter, data: bytes) -> None:
    writer.write(data)
    writer.commit()


def test_a_body_changed_after_signing_is_refused(
    backend: Backend, driver: regstore.StorageDriver
) -> None:
    """A part whose bytes differ from what was hashed fails the write and commits nothing."""
    if backend.name == "moto":
        pytest.skip("moto checks no signature or payload hash (emulators.md)")

    def corrupt(request: Any, **_: Any) -> None:
        body = bytearray(_body(request))
        body[len(body) // 2] ^= 0xFF
        request.body = bytes(body)

    _client(driver).meta.events.register("before-send.s3.UploadPart", corrupt)
    data = random.Random(8).randbytes(2 * CHUNK)
    writer = driver.writer("/corrupted")
    with pytest.raises(DriverError):
        _write_and_commit(writer, data)
    writer.cancel()
    with pytest.raises(PathNotFoundError):
        driver.get_content("/corrupted")
