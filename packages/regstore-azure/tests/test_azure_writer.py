"""The block-blob writer: block sizes, resuming across processes, nothing left behind."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from azure.storage.blob import BlobType, ContainerClient
from azure_helpers import (
    ROOT,
    DriverFactory,
    MiB,
    hidden_objects,
    run_writer,
    stream_bytes,
    stream_digest,
)

from regstore import DriverError, PathNotFoundError, StorageDriver
from regstore_azure.blocks import (
    MAX_BLOCK_SIZE,
    MAX_BLOCKS,
    MIN_BLOCK_SIZE,
    block_size_at,
    blocks_for,
)

GiB = 1 << 30
TiB = 1 << 40


def staged_sizes(container: ContainerClient, path: str, state: str = "committed") -> list[int]:
    """Block sizes on the staging blob of ``path`` (committed: what a resume sees)."""
    staging = container.get_blob_client(f"{ROOT}/~regstore/uploads{path}")
    committed, uncommitted = staging.get_block_list(state)
    return [block.size for block in (committed if state == "committed" else uncommitted)]


# -- block sizing (computed) ----------------------------------------------------


def test_block_sizes_grow_within_bounds() -> None:
    assert block_size_at(0) == MIN_BLOCK_SIZE
    sizes = [block_size_at(offset) for offset in range(0, 8 * TiB, 3 * GiB + 12345)]
    assert sizes == sorted(sizes)
    assert all(MIN_BLOCK_SIZE <= size <= MAX_BLOCK_SIZE for size in sizes)
    assert all(size % MiB == 0 for size in sizes)
    assert block_size_at(8 * TiB) == MAX_BLOCK_SIZE


def test_multi_gib_blobs_stay_far_below_the_block_limit() -> None:
    assert blocks_for(1 * GiB) == 256
    assert blocks_for(5 * GiB) == 1280
    assert blocks_for(100 * GiB) < 7_000
    assert blocks_for(1 * TiB) < 17_000
    assert blocks_for(4 * TiB) < MAX_BLOCKS


# -- staging and resuming -------------------------------------------------------


def test_writes_are_staged_as_full_blocks_and_a_resume_refills_the_short_one(
    driver: StorageDriver, container: ContainerClient
) -> None:
    path = "/uploads/1/data"
    first = 9 * MiB + 5
    writer = driver.writer(path)
    for piece in stream_bytes(1, 0, first):
        for start in range(0, len(piece), 64 * 1024):  # small writes, as a client sends them
            writer.write(piece[start : start + 64 * 1024])
    # Full blocks are staged in the background while writing; close waits for them.
    writer.close()
    assert staged_sizes(container, path) == [4 * MiB, 4 * MiB, MiB + 5]

    second = 3 * MiB + 10
    writer = driver.writer(path, append=True)
    assert writer.size == first
    for piece in stream_bytes(1, first, first + second):
        writer.write(piece)
    writer.close()
    assert staged_sizes(container, path) == [4 * MiB, 4 * MiB, 4 * MiB, 15]

    writer = driver.writer(path, append=True)
    writer.commit()
    total = first + second
    assert writer.size == total
    assert hashlib.sha256(driver.get_content(path)).hexdigest() == stream_digest(1, total)
    final, _ = container.get_blob_client(f"{ROOT}{path}").get_block_list("committed")
    assert sum(block.size for block in final) == total  # one server-side copy of the staging blob
    assert hidden_objects(container) == []


def test_commit_without_close_stages_the_tail_on_the_final_blob(
    driver: StorageDriver, container: ContainerClient
) -> None:
    path = "/file"
    writer = driver.writer(path)
    for piece in stream_bytes(2, 0, 5 * MiB):
        writer.write(piece)
    writer.commit()
    final, _ = container.get_blob_client(f"{ROOT}{path}").get_block_list("committed")
    assert [block.size for block in final] == [4 * MiB, MiB]
    assert hashlib.sha256(driver.get_content(path)).hexdigest() == stream_digest(2, 5 * MiB)
    assert hidden_objects(container) == []


def test_resume_from_other_processes(
    driver: StorageDriver, params: dict[str, Any], container: ContainerClient
) -> None:
    parameters = {**params, "rootdirectory": ROOT}
    path = "/uploads/2/data"
    sizes = [3 * MiB + 7, 5 * MiB + 1, 1000]
    ends = [sum(sizes[: i + 1]) for i in range(3)]
    first = run_writer(
        parameters, path=path, append=False, seed=3, start=0, end=ends[0], finish="close"
    )
    assert first["size"] == ends[0]

    writer = driver.writer(path, append=True)  # this process, in between
    assert writer.size == ends[0]
    for piece in stream_bytes(3, ends[0], ends[1]):
        writer.write(piece)
    writer.close()

    with pytest.raises(PathNotFoundError):
        driver.stat(path)  # still pending
    last = run_writer(
        parameters, path=path, append=True, seed=3, start=ends[1], end=ends[2], finish="commit"
    )
    assert last["size"] == ends[2]
    assert hashlib.sha256(driver.get_content(path)).hexdigest() == stream_digest(3, ends[2])
    assert hidden_objects(container) == []


# -- nothing left behind ----------------------------------------------------------


def test_cancel_discards_staged_and_committed_blocks(
    driver: StorageDriver, container: ContainerClient
) -> None:
    path = "/uploads/3/data"
    writer = driver.writer(path)
    for piece in stream_bytes(4, 0, 5 * MiB):
        writer.write(piece)
    writer.close()
    writer = driver.writer(path, append=True)
    for piece in stream_bytes(4, 5 * MiB, 10 * MiB):
        writer.write(piece)
    writer.cancel()  # blocks staged or still in flight, none in any list yet
    assert hidden_objects(container) == []
    assert driver.writer(path, append=True).size == 0


def test_delete_discards_uploads_that_were_never_closed(
    driver: StorageDriver, container: ContainerClient
) -> None:
    abandoned = driver.writer("/uploads/4/data")
    for piece in stream_bytes(5, 0, 5 * MiB):
        abandoned.write(piece)  # a block is staged; the writer is never closed (a crash)
    closed = driver.writer("/uploads/4/other")
    closed.write(b"closed")
    closed.close()
    deadline = time.monotonic() + 30
    while len(hidden_objects(container)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the abandoned writer's block may still be in flight
    assert len(hidden_objects(container)) == 2
    driver.delete("/uploads")
    assert hidden_objects(container) == []
    with pytest.raises(PathNotFoundError):
        driver.delete("/uploads")


def test_append_to_committed_content_is_refused(driver: StorageDriver) -> None:
    driver.put_content("/file", b"committed")
    with pytest.raises(DriverError, match=r"cannot append to /file: it holds 9 bytes"):
        driver.writer("/file", append=True)
    assert driver.get_content("/file") == b"committed"


def test_pending_uploads_are_hidden_at_the_container_root(
    make_driver: DriverFactory, container: ContainerClient
) -> None:
    driver = make_driver()  # no rootdirectory: state lives at ~regstore/ in the container
    with driver.writer("/upload") as writer:
        writer.write(b"pending")
    assert driver.list("/") == []
    assert list(driver.walk("/")) == []
    with pytest.raises(PathNotFoundError):
        driver.stat("/")
    driver.put_content("/a", b"x")
    assert driver.list("/") == ["/a"]
    assert [info.path for info in driver.walk("/")] == ["/a"]
    assert driver.stat("/").is_dir
    driver.delete("/upload")
    driver.delete("/a")
    assert list(container.list_blobs(include=["uncommittedblobs"])) == []


def test_append_blobs_of_the_go_driver_are_replaced(
    driver: StorageDriver, container: ContainerClient
) -> None:
    for name in ("put", "written", "moved"):
        legacy = container.get_blob_client(f"{ROOT}/{name}")
        legacy.create_append_blob()
        legacy.append_block(b"legacy content")
    driver.put_content("/put", b"new")
    writer = driver.writer("/written")
    writer.write(b"new upload")
    writer.commit()
    driver.put_content("/source", b"moved here")
    driver.move("/source", "/moved")
    for path, content in (("/put", b"new"), ("/written", b"new upload"), ("/moved", b"moved here")):
        assert driver.get_content(path) == content
        properties = container.get_blob_client(f"{ROOT}{path}").get_blob_properties()
        assert properties.blob_type == BlobType.BLOCKBLOB
