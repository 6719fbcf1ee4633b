"""The azure writer's fast paths: blocks staged in parallel, one-request commits.

Each fast path is checked for the contract it must keep (invisible until
commit, resumable after close, nothing left behind) and for the requests it
sends, seen through a logging proxy in front of Azurite.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import pytest
from azure.storage.blob import BlobType, ContainerClient
from azure_helpers import (
    ROOT,
    DriverFactory,
    Interceptor,
    MiB,
    hidden_objects,
    stream_bytes,
    stream_digest,
)

import regstore
from regstore import DriverError, InvalidParameterError, PathNotFoundError, StorageDriver
from regstore_azure import blocks, writer

STAGE_BLOCK = r"[?&]comp=block(&|$)"


def staged_sizes(container: ContainerClient, path: str) -> list[int]:
    """Committed block sizes on the staging blob of ``path``: what a resume sees."""
    staging = container.get_blob_client(f"{ROOT}/~regstore/uploads{path}")
    committed, _ = staging.get_block_list("committed")
    return [block.size for block in committed]


def write_stream(target: Any, seed: int, start: int, end: int, piece: int = MiB) -> None:
    for chunk in stream_bytes(seed, start, end):
        for offset in range(0, len(chunk), piece):
            target.write(chunk[offset : offset + piece])


@pytest.fixture
def proxied(make_driver: DriverFactory, interceptor: Interceptor) -> StorageDriver:
    """A driver whose requests go through the logging proxy."""
    return make_driver(rootdirectory=f"/{ROOT}/", serviceurl=interceptor.url)


# -- the parameter -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be at least 1 (allowed: 1 to 64), got 0"),
        ("65", "must be at most 64 (allowed: 1 to 64), got 65"),
        ("many", "must be an integer, got 'many'"),
        (True, "must be an integer, got True"),
    ],
)
def test_uploadconcurrency_is_checked(params: dict[str, Any], value: Any, message: str) -> None:
    with pytest.raises(InvalidParameterError, match="'uploadconcurrency'") as caught:
        regstore.create("azure", {**params, "uploadconcurrency": value})
    assert message in str(caught.value)


def test_uploadconcurrency_accepts_strings(make_driver: DriverFactory) -> None:
    driver = make_driver(uploadconcurrency="8")
    assert driver.inner.config.upload_concurrency == 8  # type: ignore[attr-defined]
    assert make_driver().inner.config.upload_concurrency == 4  # type: ignore[attr-defined]


# -- staging in parallel -------------------------------------------------------------


def test_blocks_are_staged_in_parallel_up_to_the_limit(
    make_driver: DriverFactory, interceptor: Interceptor, container: ContainerClient
) -> None:
    driver = make_driver(rootdirectory=f"/{ROOT}/", serviceurl=interceptor.url, uploadconcurrency=3)
    lock = threading.Lock()
    active = [0]
    peak = [0]

    def slow_blocks(method: str, target: str) -> None:
        if method == "PUT" and "comp=block&" in target + "&" and "~regstore" in target:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.3)
            with lock:
                active[0] -= 1
        return None

    interceptor.answer = slow_blocks  # type: ignore[assignment,return-value]
    path = "/uploads/1/data"
    size = 8 * 4 * MiB + 5
    upload = driver.writer(path)
    write_stream(upload, 1, 0, size, piece=64 * 1024)
    upload.close()
    assert 2 <= peak[0] <= 3
    assert staged_sizes(container, path) == [4 * MiB] * 8 + [5]
    resumed = driver.writer(path, append=True)
    assert resumed.size == size
    resumed.commit()
    assert hashlib.sha256(driver.get_content(path)).hexdigest() == stream_digest(1, size)
    assert hidden_objects(container) == []


def test_a_resume_refills_the_short_block_after_parallel_staging(
    driver: StorageDriver, container: ContainerClient
) -> None:
    path = "/uploads/2/data"
    first, second = 9 * MiB + 5, 3 * MiB + 10
    upload = driver.writer(path)
    write_stream(upload, 2, 0, first, piece=64 * 1024)
    upload.close()
    assert staged_sizes(container, path) == [4 * MiB, 4 * MiB, MiB + 5]
    upload = driver.writer(path, append=True)
    write_stream(upload, 2, first, first + second)
    upload.close()
    assert staged_sizes(container, path) == [4 * MiB, 4 * MiB, 4 * MiB, 15]
    with pytest.raises(PathNotFoundError):
        driver.stat(path)
    upload = driver.writer(path, append=True)
    upload.commit()
    total = first + second
    assert hashlib.sha256(driver.get_content(path)).hexdigest() == stream_digest(2, total)
    assert hidden_objects(container) == []


def test_cancel_waits_for_blocks_in_flight(
    driver: StorageDriver, container: ContainerClient
) -> None:
    path = "/uploads/3/data"
    upload = driver.writer(path)
    write_stream(upload, 3, 0, 5 * MiB)
    upload.close()
    upload = driver.writer(path, append=True)
    write_stream(upload, 3, 5 * MiB, 30 * MiB)  # blocks still in flight when cancel starts
    upload.cancel()
    assert hidden_objects(container) == []
    assert driver.writer(path, append=True).size == 0


def test_a_block_that_fails_breaks_the_writer_and_keeps_the_last_close(
    proxied: StorageDriver, interceptor: Interceptor, container: ContainerClient
) -> None:
    path = "/uploads/4/data"
    upload = proxied.writer(path)
    upload.write(b"kept")
    upload.close()

    def refuse_blocks(method: str, target: str) -> Any:
        if method == "PUT" and "comp=block&" in target + "&":
            return (400, {"x-ms-error-code": "InvalidHeaderValue"}, b"")
        return None

    interceptor.answer = refuse_blocks
    upload = proxied.writer(path, append=True)
    write_stream(upload, 4, 0, 12 * MiB)  # three blocks go out in the background
    with pytest.raises(DriverError):
        upload.commit()  # waits for them: the first failure
    with pytest.raises(DriverError, match=r"could not be staged.*as the last close left it"):
        upload.commit()  # the upload has a hole: never published
    with pytest.raises(DriverError, match="could not be staged"):
        upload.close()  # nor persisted
    interceptor.answer = lambda method, target: None
    resumed = proxied.writer(path, append=True)
    assert resumed.size == 4
    resumed.commit()
    assert proxied.get_content(path) == b"kept"
    assert hidden_objects(container) == []


def test_a_failure_while_writing_shows_at_close(
    proxied: StorageDriver, interceptor: Interceptor, container: ContainerClient
) -> None:
    def refuse_blocks(method: str, target: str) -> Any:
        if method == "PUT" and "comp=block&" in target + "&":
            return (400, {"x-ms-error-code": "InvalidHeaderValue"}, b"")
        return None

    interceptor.answer = refuse_blocks
    upload = proxied.writer("/uploads/5/data")
    write_stream(upload, 5, 0, 8 * MiB)
    with pytest.raises(DriverError):
        upload.close()
    assert upload.closed
    interceptor.answer = lambda method, target: None
    assert proxied.writer("/uploads/5/data", append=True).size == 0
    assert hidden_objects(container) == []


# -- one-request commits -------------------------------------------------------------


def test_a_small_upload_is_committed_with_one_put_blob(
    proxied: StorageDriver, interceptor: Interceptor, container: ContainerClient
) -> None:
    path = "/small"
    upload = proxied.writer(path)
    upload.write(b"x" * 1000)
    upload.write(b"y" * 1000)
    start = len(interceptor.log)
    upload.commit()
    sent = sorted(interceptor.log[start:])  # the two go out at once
    assert [method for method, _ in sent] == ["GET", "PUT"]  # a block-list probe, Put Blob
    assert "comp=blocklist" in sent[0][1]
    assert "~regstore" in sent[0][1]
    assert sent[1][1].endswith(f"/{ROOT}/small")
    assert proxied.get_content(path) == b"x" * 1000 + b"y" * 1000
    properties = container.get_blob_client(f"{ROOT}{path}").get_blob_properties()
    assert properties.blob_type == BlobType.BLOCKBLOB
    assert hidden_objects(container) == []


def test_a_small_commit_replaces_a_pending_upload_of_the_path(
    driver: StorageDriver, container: ContainerClient
) -> None:
    path = "/uploads/8/data"
    pending = driver.writer(path)
    pending.write(b"pending")
    pending.close()
    fresh = driver.writer(path)
    fresh.write(b"fresh")
    fresh.commit()
    assert driver.get_content(path) == b"fresh"
    assert hidden_objects(container) == []


def test_a_resumed_upload_held_in_memory_is_committed_with_one_put_blob(
    driver: StorageDriver, container: ContainerClient
) -> None:
    path = "/uploads/6/data"
    upload = driver.writer(path)
    upload.write(b"first ")
    upload.close()
    upload = driver.writer(path, append=True)
    upload.write(b"second")  # the short block comes back into memory
    upload.commit()
    assert driver.get_content(path) == b"first second"
    assert hidden_objects(container) == []


def test_a_staged_upload_is_published_with_one_synchronous_copy(
    proxied: StorageDriver, interceptor: Interceptor, container: ContainerClient
) -> None:
    path = "/big"
    size = 9 * MiB + 3
    proxied.put_content(path, b"old")
    upload = proxied.writer(path)
    write_stream(upload, 7, 0, size)
    start = len(interceptor.log)
    upload.commit()
    copies = [target for method, target in interceptor.log[start:] if "comp=" not in target]
    # One copy onto the final blob, one delete of the staging blob; no block copied by range.
    assert len(copies) == 2
    assert not interceptor.requests("PUT", r"/root/big\?.*comp=block&")
    assert hashlib.sha256(proxied.get_content(path)).hexdigest() == stream_digest(7, size)
    assert hidden_objects(container) == []


def test_uploads_above_the_sync_copy_limit_are_copied_by_ranges(
    driver: StorageDriver, container: ContainerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limits scaled down, so that a 9 MiB upload takes the path of a > 256 MiB one.
    monkeypatch.setattr(writer, "SYNC_COPY_LIMIT", 4 * MiB)
    monkeypatch.setattr(blocks, "COPY_RANGE", 2 * MiB)
    path = "/big"
    size = 9 * MiB + 3
    driver.put_content(path, b"old")
    upload = driver.writer(path)
    write_stream(upload, 8, 0, size)
    upload.commit()
    final, _ = container.get_blob_client(f"{ROOT}{path}").get_block_list("committed")
    assert [block.size for block in final] == [2 * MiB] * 4 + [MiB + 3]
    assert hashlib.sha256(driver.get_content(path)).hexdigest() == stream_digest(8, size)
    assert hidden_objects(container) == []


@pytest.mark.parametrize("size", [100, 5 * MiB], ids=["put-blob", "copy"])
def test_both_commit_paths_replace_append_blobs_of_the_go_driver(
    driver: StorageDriver, container: ContainerClient, size: int
) -> None:
    legacy = container.get_blob_client(f"{ROOT}/written")
    legacy.create_append_blob()
    legacy.append_block(b"legacy content")
    upload = driver.writer("/written")
    write_stream(upload, 9, 0, size)
    upload.commit()
    assert hashlib.sha256(driver.get_content("/written")).hexdigest() == stream_digest(9, size)
    assert legacy.get_blob_properties().blob_type == BlobType.BLOCKBLOB
    assert hidden_objects(container) == []


def test_put_content_during_a_staged_upload_leaves_it_alone(
    driver: StorageDriver, container: ContainerClient
) -> None:
    path = "/uploads/7/data"
    upload = driver.writer(path)
    write_stream(upload, 10, 0, 6 * MiB)
    driver.put_content(path, b"other")
    driver.put_content("/source", b"moved")
    driver.move("/source", path)
    write_stream(upload, 10, 6 * MiB, 7 * MiB)
    upload.commit()
    assert hashlib.sha256(driver.get_content(path)).hexdigest() == stream_digest(10, 7 * MiB)
    assert hidden_objects(container) == []
