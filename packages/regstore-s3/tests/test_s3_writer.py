"""The multipart writer: equal parts, the tail object, resume anywhere, nothing left behind."""

from __future__ import annotations

import hashlib
import io
import json
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from s3_helpers import CHUNK, Backend, MiB, keys_under, leftovers, uploads_under
from s3_writer_process import PIECE, pieces

import regstore
from regstore.errors import DriverError, PathNotFoundError
from regstore_s3.client import pool_size

PROCESS = Path(__file__).with_name("s3_writer_process.py")
Calls = Callable[[str], list[dict[str, Any]]]


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def body_size(body: Any) -> int:
    return body.getbuffer().nbytes if isinstance(body, io.BytesIO) else len(body)


def uneven(data: bytes, step: int) -> Iterator[bytes]:
    for start in range(0, len(data), step):
        yield data[start : start + step]


def run_writer(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``s3_writer_process.py`` with ``spec``; its JSON report."""
    done = subprocess.run(
        [sys.executable, str(PROCESS)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_parts_are_equal_and_the_tail_waits_in_a_side_object(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    path = "/blob/data"
    data = random_bytes(3 * CHUNK + 1_234_567, 1)
    writer = driver.writer(path)
    for piece in uneven(data, 777_777):
        writer.write(piece)
    writer.close()
    assert writer.size == len(data)

    (key, upload_id), *others = uploads_under(backend.client, backend.bucket, root + "/")
    assert not others
    assert key == f"{root}/blob/data"
    parts = backend.client.list_parts(Bucket=backend.bucket, Key=key, UploadId=upload_id)
    assert [part["Size"] for part in parts["Parts"]] == [CHUNK, CHUNK, CHUNK]
    bookkeeping = keys_under(backend.client, backend.bucket, f"{root}/~regstore/uploads/blob/data/")
    tails = [k for k in bookkeeping if k.rsplit("/", 1)[1].startswith("tail-")]
    assert len(tails) == 1
    assert sorted(set(bookkeeping) - set(tails)) == [f"{root}/~regstore/uploads/blob/data/state"]
    head = backend.client.head_object(Bucket=backend.bucket, Key=tails[0])
    assert head["ContentLength"] == 1_234_567

    resumed = driver.writer(path, append=True)
    assert resumed.size == len(data)
    resumed.commit()
    assert driver.get_content(path) == data
    sizes = [body_size(params["Body"]) for params in calls("UploadPart")]
    assert sizes == [CHUNK, CHUNK, CHUNK, 1_234_567]
    assert leftovers(backend, root) == []
    assert keys_under(backend.client, backend.bucket, root + "/") == [key]


def test_parts_in_flight_never_exceed_multipartuploadmaxconcurrency(
    backend: Backend, parameters: dict[str, Any], root: str
) -> None:
    limit, parts = 2, 7
    data = random_bytes(parts * CHUNK + 10, 20)
    running, most = 0, 0
    lock = threading.Lock()

    def started(**_: Any) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)

    def finished(**_: Any) -> None:
        nonlocal running
        with lock:
            running -= 1

    with regstore.create("s3", {**parameters, "multipartuploadmaxconcurrency": limit}) as driver:
        events = driver.inner.client.meta.events  # type: ignore[attr-defined]
        events.register("before-send.s3.UploadPart", started)
        events.register("needs-retry.s3.UploadPart", finished)
        writer = driver.writer("/wide")
        for piece in uneven(data, 3 * MiB):
            writer.write(piece)
        writer.commit()
        assert driver.get_content("/wide") == data
    assert 1 <= most <= limit
    assert leftovers(backend, root) == []


def test_an_upload_shorter_than_a_part_commits_with_one_put(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    path = "/small"
    first, second = random_bytes(100_000, 2), random_bytes(200_000, 3)
    with driver.writer(path) as writer:
        writer.write(first)
    writer = driver.writer(path, append=True)
    writer.write(second)
    writer.commit()
    assert driver.get_content(path) == first + second
    assert calls("CreateMultipartUpload") == []
    puts = [params["Key"] for params in calls("PutObject")]
    assert puts.count(f"{root}/small") == 1
    assert leftovers(backend, root) == []


def test_resume_reads_back_only_the_tail_in_another_instance(
    backend: Backend, driver: regstore.StorageDriver, parameters: dict[str, Any], root: str
) -> None:
    path = "/upload/data"
    first, second = random_bytes(CHUNK + 1000, 4), random_bytes(CHUNK - 990, 5)
    with driver.writer(path) as writer:
        writer.write(first)

    with regstore.create("s3", parameters) as other:
        seen: list[tuple[str, dict[str, Any]]] = []
        other.inner.client.meta.events.register(  # type: ignore[attr-defined]
            "before-parameter-build.s3",
            lambda params, model, **_: seen.append((model.name, dict(params))),
        )
        writer = other.writer(path, append=True)
        assert writer.size == len(first)
        writer.write(second)
        writer.close()
        assert writer.size == len(first) + len(second)
    reads = [params["Key"] for name, params in seen if name == "GetObject"]
    assert reads, "the resumed writer must read its state"
    assert all("/~regstore/uploads/upload/data/" in key for key in reads), reads
    assert not [name for name, _ in seen if name in ("UploadPartCopy", "CopyObject")]

    (key, upload_id), *_ = uploads_under(backend.client, backend.bucket, root + "/")
    parts = backend.client.list_parts(Bucket=backend.bucket, Key=key, UploadId=upload_id)
    assert [part["Size"] for part in parts["Parts"]] == [CHUNK, CHUNK]

    with regstore.create("s3", parameters) as third:
        writer = third.writer(path, append=True)
        assert writer.size == len(first) + len(second)
        writer.commit()
    assert driver.get_content(path) == first + second
    assert leftovers(backend, root) == []


def test_resume_from_another_process(
    backend: Backend, driver: regstore.StorageDriver, parameters: dict[str, Any], root: str
) -> None:
    path = "/uploads/1/data"
    with driver.writer(path) as writer:
        for piece in pieces(0, 7):
            writer.write(piece)
    report = run_writer(
        {
            "driver": "s3",
            "parameters": parameters,
            "path": path,
            "append": True,
            "first": 7,
            "count": 6,
        }
    )
    assert report["size_before"] == 7 * PIECE
    assert report["size"] == 13 * PIECE
    writer = driver.writer(path, append=True)
    assert writer.size == 13 * PIECE
    writer.commit()
    with driver.reader(path) as stream:
        digest = hashlib.sha256(stream.read()).hexdigest()
    assert digest == hashlib.sha256(b"".join(pieces(0, 13))).hexdigest()
    assert leftovers(backend, root) == []


def test_cancel_leaves_no_multipart_upload_and_no_state(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    path = "/uploads/2/data"
    with driver.writer(path) as writer:
        writer.write(random_bytes(2 * CHUNK + 100, 6))
    assert uploads_under(backend.client, backend.bucket, root + "/")
    writer = driver.writer(path, append=True)
    writer.write(random_bytes(MiB, 7))
    writer.cancel()
    assert uploads_under(backend.client, backend.bucket, root + "/") == []
    assert keys_under(backend.client, backend.bucket, root + "/") == []
    assert driver.writer(path, append=True).size == 0


def test_delete_of_a_directory_discards_the_pending_uploads_below(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    with driver.writer("/uploads/a/data") as writer:
        writer.write(random_bytes(CHUNK + 10, 8))
    with driver.writer("/uploads/b/data") as writer:
        writer.write(b"small")
    driver.put_content("/uploads/c", b"committed")
    driver.put_content("/uploadsx/kept", b"sibling")
    with driver.writer("/uploadsx/pending") as writer:
        writer.write(b"sibling upload")
    driver.delete("/uploads")
    assert keys_under(backend.client, backend.bucket, f"{root}/uploads/") == []
    remaining = uploads_under(backend.client, backend.bucket, f"{root}/uploads/")
    assert remaining == []
    assert driver.writer("/uploadsx/pending", append=True).size == len(b"sibling upload")
    with pytest.raises(PathNotFoundError):
        driver.delete("/uploads")
    driver.delete("/uploadsx")
    assert leftovers(backend, root) == []


def test_a_new_writer_discards_the_earlier_pending_upload(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    path = "/data"
    with driver.writer(path) as writer:
        writer.write(random_bytes(CHUNK + 1, 9))
    assert len(uploads_under(backend.client, backend.bucket, root + "/")) == 1
    writer = driver.writer(path)
    assert uploads_under(backend.client, backend.bucket, root + "/") == []
    writer.write(b"fresh")
    writer.close()
    resumed = driver.writer(path, append=True)
    assert resumed.size == 5
    resumed.cancel()
    assert leftovers(backend, root) == []


def test_append_to_committed_content_is_refused(driver: regstore.StorageDriver) -> None:
    driver.put_content("/blob", b"committed")
    with pytest.raises(DriverError, match="append=False") as caught:
        driver.writer("/blob", append=True)
    assert str(caught.value).startswith("s3: cannot append to /blob: it holds 9 bytes")


def test_bookkeeping_is_hidden_from_list_walk_and_stat(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    with driver.writer("/top") as writer:
        writer.write(b"pending")
    assert keys_under(backend.client, backend.bucket, f"{root}/~regstore/")
    assert driver.list("/") == []
    assert list(driver.walk("/")) == []
    with pytest.raises(PathNotFoundError):
        driver.stat("/")
    driver.put_content("/visible", b"x")
    assert driver.list("/") == ["/visible"]
    assert [info.path for info in driver.walk("/")] == ["/visible"]
    driver.delete("/top")
    driver.delete("/visible")
    assert leftovers(backend, root) == []


def test_a_failed_part_keeps_what_the_last_close_saved(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    path = "/flaky"
    saved = random_bytes(CHUNK + MiB, 10)
    with driver.writer(path) as writer:
        writer.write(saved)

    def fail(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://unreachable.invalid")

    client = driver.inner.client  # type: ignore[attr-defined]
    client.meta.events.register("before-call.s3.UploadPart", fail, unique_id="flaky")
    try:
        writer = driver.writer(path, append=True)
        early: DriverError | None = None
        try:
            writer.write(random_bytes(2 * CHUNK, 11))  # a part may fail already here
        except DriverError as exc:
            early = exc
        with pytest.raises(DriverError, match=r"part upload of /flaky failed|cannot reach"):
            writer.close()  # never saves a state with a part missing
        assert writer.closed
        assert early is None or "cannot reach the S3 endpoint" in str(early)
    finally:
        client.meta.events.unregister("before-call.s3.UploadPart", unique_id="flaky")
    resumed = driver.writer(path, append=True)
    assert resumed.size == len(saved)
    resumed.commit()
    assert driver.get_content(path) == saved
    assert leftovers(backend, root) == []


def test_commit_accepts_a_completion_that_already_took_effect(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    """A lost CompleteMultipartUpload answer is retried by botocore; the repeat must succeed."""
    path = "/uploads/3/data"
    content = random_bytes(2 * CHUNK, 12)
    with driver.writer(path) as writer:
        writer.write(content)
    ((key, upload_id),) = uploads_under(backend.client, backend.bucket, root + "/")
    parts = backend.client.list_parts(Bucket=backend.bucket, Key=key, UploadId=upload_id)
    backend.client.complete_multipart_upload(  # what the lost first attempt did
        Bucket=backend.bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts["Parts"]]
        },
    )
    writer = driver.writer(path, append=True)
    writer.commit()
    assert driver.get_content(path) == content
    assert leftovers(backend, root) == []


def test_delete_aborts_an_upload_a_killed_process_never_recorded(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    """A process killed between creating a multipart upload and saving the state."""
    for key in (f"{root}/uploads/4/data", f"{root}/uploads-other/data"):
        backend.client.create_multipart_upload(Bucket=backend.bucket, Key=key)
    driver.delete("/uploads")
    remaining = [key for key, _ in uploads_under(backend.client, backend.bucket, root + "/")]
    assert remaining == [f"{root}/uploads-other/data"]
    driver.delete("/uploads-other")
    assert leftovers(backend, root) == []


def test_encryption_covers_content_and_upload_bookkeeping(
    backend: Backend, parameters: dict[str, Any], root: str
) -> None:
    if backend.name == "rgw":
        pytest.skip("radosgw over plain HTTP with no key backend refuses SSE (InvalidRequest)")
    path = "/secret/data"
    with regstore.create("s3", {**parameters, "encrypt": "true"}) as driver:
        with driver.writer(path) as writer:
            writer.write(random_bytes(CHUNK + 10, 13))
        for key in keys_under(backend.client, backend.bucket, f"{root}/~regstore/"):
            head = backend.client.head_object(Bucket=backend.bucket, Key=key)
            assert head.get("ServerSideEncryption") == "AES256", key
        writer = driver.writer(path, append=True)
        writer.commit()
        driver.put_content("/secret/link", b"sha256:abc")
        for key in (f"{root}/secret/data", f"{root}/secret/link"):
            head = backend.client.head_object(Bucket=backend.bucket, Key=key)
            assert head.get("ServerSideEncryption") == "AES256", key
        driver.delete("/secret")
    assert leftovers(backend, root) == []


def test_an_upload_stored_by_the_previous_release_resumes(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    # The keys and state format every release wrote: a state object and a tail
    # object below ``<root>/~regstore/uploads/<path>/``, the parts in a multipart upload.
    path, client, bucket = "/repo/_uploads/u1/data", backend.client, backend.bucket
    part, tail, more = random_bytes(CHUNK, 20), random_bytes(1000, 21), random_bytes(500, 22)
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=f"{root}{path}")["UploadId"]
    etag = client.upload_part(
        Bucket=bucket, Key=f"{root}{path}", UploadId=upload_id, PartNumber=1, Body=part
    )["ETag"]
    directory = f"{root}/~regstore/uploads{path}"
    tail_key = f"{directory}/tail-{CHUNK + len(tail)}-0123456789abcdef"
    client.put_object(Bucket=bucket, Key=tail_key, Body=tail)
    state = {
        "version": 1,
        "chunksize": CHUNK,
        "upload_id": upload_id,
        "parts": [{"etag": etag, "size": CHUNK}],
        "tail_key": tail_key,
        "tail_size": len(tail),
    }
    client.put_object(Bucket=bucket, Key=f"{directory}/state", Body=json.dumps(state).encode())

    assert [(u.path, u.size) for u in driver.pending_uploads()] == [(path, CHUNK + len(tail))]
    writer = driver.writer(path, append=True)
    assert writer.size == CHUNK + len(tail)
    writer.write(more)
    writer.commit()
    assert driver.get_content(path) == part + tail + more
    assert leftovers(backend, root) == []


def test_writers_sharing_part_buffers_never_mix_their_bytes(
    backend: Backend, parameters: dict[str, Any], root: str
) -> None:
    """Part buffers go back to the driver's spares once sent; four writers at once reuse
    them part after part, and each commits exactly its own bytes."""
    limit = 3
    contents = {f"/shared/{n}": random_bytes(4 * CHUNK + 1000 * n, 30 + n) for n in range(4)}
    with regstore.create("s3", {**parameters, "multipartuploadmaxconcurrency": limit}) as driver:

        def upload(path: str) -> None:
            writer = driver.writer(path)
            for piece in uneven(contents[path], 700_001):
                writer.write(piece)
            writer.commit()

        threads = [threading.Thread(target=upload, args=(path,)) for path in contents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for path, content in contents.items():
            assert driver.get_content(path) == content, path
        buffers = driver.inner.part_buffers  # type: ignore[attr-defined]
        # Bounded by one writer's peak, whatever ran at once; dropped with the driver.
        assert 1 <= buffers.waiting <= limit + 1
    assert buffers.waiting == 0
    assert leftovers(backend, root) == []


def test_writers_of_one_driver_share_its_part_threads(
    backend: Backend, parameters: dict[str, Any], root: str
) -> None:
    """Twelve writers open at once, three parts in flight each, start no more threads
    than the driver's connection pool holds, and each commits its own bytes."""
    contents = {f"/many/{n}": random_bytes(3 * CHUNK + n, 40 + n) for n in range(12)}
    before = {thread.ident for thread in threading.enumerate()}
    narrow = {"multipartuploadmaxconcurrency": 3, "multipartcopymaxconcurrency": 1}
    with regstore.create("s3", {**parameters, **narrow}) as driver:
        writers = {path: driver.writer(path) for path in contents}
        for path, writer in writers.items():
            writer.write(contents[path])  # three full parts go out in the background
        started = [t for t in threading.enumerate() if t.ident not in before]
        for writer in writers.values():
            writer.commit()
        for path, content in contents.items():
            assert driver.get_content(path) == content, path
        assert started, "the parts went out in the background"
        assert len(started) <= pool_size(driver.inner.config) == 32  # type: ignore[attr-defined]
    assert not [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftovers(backend, root) == []


def test_a_commit_whose_last_part_failed_can_be_tried_again(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    """The short last part goes out beside the full ones, outside their pool: its failure
    fails the commit and leaves the writer open with every byte, as the contract says."""
    path = "/retried"
    data = random_bytes(3 * CHUNK + 12_345, 40)
    client = driver.inner.client  # type: ignore[attr-defined]

    def fail_the_last_part(params: dict[str, Any], **_: Any) -> None:
        if params["PartNumber"] == 4:
            raise EndpointConnectionError(endpoint_url="http://unreachable.invalid")

    writer = driver.writer(path)
    for piece in uneven(data, 1_000_000):
        writer.write(piece)
    event = "before-parameter-build.s3.UploadPart"
    client.meta.events.register(event, fail_the_last_part, unique_id="last")
    try:
        with pytest.raises(DriverError, match="cannot reach"):
            writer.commit()
    finally:
        client.meta.events.unregister(event, unique_id="last")
    assert not writer.closed
    writer.commit()
    assert driver.get_content(path) == data
    numbers = [params["PartNumber"] for params in calls("UploadPart")]
    assert sorted(set(numbers)) == [1, 2, 3, 4]  # the retry sent part 4 again, not a part 5
    assert leftovers(backend, root) == []


def test_a_new_writer_commits_without_listing_its_bookkeeping(
    backend: Backend, driver: regstore.StorageDriver, root: str, calls: Calls
) -> None:
    """A writer that began with no saved upload knows the keys it wrote: its commit deletes
    them without a listing, and leaves nothing behind."""
    data = random_bytes(2 * CHUNK + 77, 41)
    writer = driver.writer("/fresh")
    writer.write(data)
    writer.commit()
    assert driver.get_content("/fresh") == data
    assert calls("ListObjectsV2") == []
    batches = [params["Delete"]["Objects"] for params in calls("DeleteObjects")]
    deleted = [item["Key"] for batch in batches for item in batch]
    assert deleted == [f"{root}/~regstore/uploads/fresh/state"]
    assert leftovers(backend, root) == []
    assert keys_under(backend.client, backend.bucket, root + "/") == [f"{root}/fresh"]
