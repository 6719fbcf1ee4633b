"""Digests on S3: the hash state rides in the upload's state object, resumes read nothing back.

S3 cannot read the parts of an uncompleted multipart upload, so a resumed
digest must come from the state a hashing close kept. These tests check that
it does, across processes, that it always matches the parts and tail beside
it, and that nothing of it is left once the upload ends.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from s3_helpers import CHUNK, Backend, keys_under, leftovers
from s3_writer_process import PIECE, pieces

from regstore import CheckedDriver
from regstore.errors import DigestMismatchError, DriverError, UnsupportedMethodError

PROCESS = Path(__file__).with_name("s3_digest_process.py")
Calls = Callable[[str], list[dict[str, Any]]]


def expected(algorithm: str, data: bytes) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def stream(first: int, count: int) -> bytes:
    return b"".join(pieces(first, count))


def state_of(backend: Backend, root: str, path: str) -> dict[str, Any]:
    """The upload's state object as stored, parsed."""
    key = f"{root}/~regstore/uploads{path}/state"
    answer = backend.client.get_object(Bucket=backend.bucket, Key=key)
    state: dict[str, Any] = json.loads(answer["Body"].read())
    return state


def body_size(body: Any) -> int:
    """Bytes in a request body as the driver passed it (botocore may wrap it in BytesIO)."""
    return body.getbuffer().nbytes if isinstance(body, io.BytesIO) else len(body)


def tail_reads(calls: Calls) -> list[str]:
    return [params["Key"] for params in calls("GetObject") if "/tail-" in params["Key"]]


@pytest.mark.parametrize(
    ("before", "algorithm"),
    [(3, "sha512"), (5, "sha256"), (7, "sha256")],
    ids=["all-tail", "one-part-no-tail", "part-and-tail"],
)
def test_digest_resumed_in_another_process_continues_from_the_stored_state(
    backend: Backend,
    driver: CheckedDriver,
    parameters: dict[str, Any],
    root: str,
    before: int,
    algorithm: str,
) -> None:
    path = "/blobs/uploads/1/data"
    first = stream(0, before)
    writer = driver.writer(path, digest=algorithm)
    writer.write(first)
    writer.close()

    spec = {"parameters": parameters, "path": path, "algorithm": algorithm, "first": before}
    done = subprocess.run(
        [sys.executable, str(PROCESS)],
        input=json.dumps({**spec, "count": 2}),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=PROCESS.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["resumed_size"] == before * PIECE
    assert report["resumed_digest"] == expected(algorithm, first)
    # The state object, and nothing of the upload's bytes: no tail, no content key.
    assert report["reads_to_resume"] == [f"{root}/~regstore/uploads{path}/state"]
    whole = stream(0, before + 2)
    assert report["digest"] == expected(algorithm, whole)

    resumed = driver.writer(path, append=True, digest=algorithm)
    assert resumed.digest == expected(algorithm, whole)
    resumed.commit(expected_digest=expected(algorithm, whole))
    assert hashlib.sha256(driver.get_content(path)).digest() == hashlib.sha256(whole).digest()
    assert leftovers(backend, root) == []


def test_the_hash_state_is_kept_in_the_state_object_and_dropped_by_a_plain_write(
    backend: Backend, driver: CheckedDriver, root: str
) -> None:
    path = "/data"
    writer = driver.writer(path, digest="sha256")
    writer.write(stream(0, 6))
    writer.close()
    bookkeeping = keys_under(backend.client, backend.bucket, f"{root}/~regstore/")
    names = sorted(key.rsplit("/", 1)[1].split("-", 1)[0] for key in bookkeeping)
    assert names == ["state", "tail"], "a close writes the state and one tail, nothing more"
    kept = state_of(backend, root, path).get("hash")
    assert isinstance(kept, str)
    assert base64.b64decode(kept, validate=True)

    plain = driver.writer(path, append=True)
    plain.write(b"not hashed")
    plain.close()
    assert "hash" not in state_of(backend, root, path), "a state for another size was kept"
    driver.delete(path)
    assert leftovers(backend, root) == []


def test_resuming_parts_closed_without_a_hash_state_is_refused_clearly(
    backend: Backend, driver: CheckedDriver, root: str
) -> None:
    path = "/data"
    content = stream(0, 6)
    with driver.writer(path) as writer:
        writer.write(content)
    with pytest.raises(UnsupportedMethodError) as caught:
        driver.writer(path, append=True, digest="sha256")
    message = str(caught.value)
    assert message.startswith("s3: ")
    assert "S3 cannot read back the 1 part(s) (5242880 bytes)" in message
    assert "resume it without a digest" in message
    resumed = driver.writer(path, append=True)
    assert resumed.size == len(content)
    resumed.commit()
    assert driver.get_content(path) == content
    assert leftovers(backend, root) == []


def test_an_all_tail_upload_closed_without_a_hash_is_read_back_once(
    backend: Backend, driver: CheckedDriver, root: str, calls: Calls
) -> None:
    path = "/data"
    first, second = stream(0, 2), stream(2, 4)
    with driver.writer(path) as writer:
        writer.write(first)
    resumed = driver.writer(path, append=True, digest="sha256")
    assert resumed.digest == expected("sha256", first)
    resumed.write(second)
    resumed.commit(expected_digest=expected("sha256", first + second))
    assert driver.get_content(path) == first + second
    assert len(tail_reads(calls)) == 1, "the hash and the next part share one read of the tail"
    assert leftovers(backend, root) == []


def test_a_close_that_fails_keeps_the_earlier_hash_with_its_parts_and_tail(
    backend: Backend, driver: CheckedDriver, root: str, calls: Calls
) -> None:
    path = "/data"
    first, lost, last = stream(0, 6), stream(6, 7), stream(13, 2)
    writer = driver.writer(path, digest="sha256")
    writer.write(first)
    writer.close()

    def refuse_state(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").endswith("/state"):
            raise EndpointConnectionError(endpoint_url="http://unreachable.invalid")

    events = driver.inner.client.meta.events  # type: ignore[attr-defined]
    events.register("before-parameter-build.s3.PutObject", refuse_state, unique_id="refuse")
    try:
        failing = driver.writer(path, append=True, digest="sha256")
        failing.write(lost)  # a new part is uploaded, and a new tail written by the close
        with pytest.raises(DriverError, match="cannot reach"):
            failing.close()
    finally:
        events.unregister("before-parameter-build.s3.PutObject", unique_id="refuse")

    reads_before = len(tail_reads(calls))
    resumed = driver.writer(path, append=True, digest="sha256")
    assert resumed.size == len(first)
    assert resumed.digest == expected("sha256", first)
    assert len(tail_reads(calls)) == reads_before, "the digest came from the kept state"
    resumed.write(last)
    resumed.commit(expected_digest=expected("sha256", first + last))
    assert driver.get_content(path) == first + last
    assert leftovers(backend, root) == []


def test_a_checked_commit_that_mismatches_while_parts_upload_goes_on_cleanly(
    backend: Backend, driver: CheckedDriver, root: str, calls: Calls
) -> None:
    path = "/data"
    first, second = stream(0, 11), stream(11, 5)
    writer = driver.writer(path, digest="sha256")
    writer.write(first)
    with pytest.raises(DigestMismatchError):
        writer.commit(expected_digest=expected("sha256", b"other"))
    writer.write(second)
    writer.commit(expected_digest=expected("sha256", first + second))
    assert driver.get_content(path) == first + second
    sizes = [body_size(params["Body"]) for params in calls("UploadPart")]
    assert sizes == [CHUNK, CHUNK, CHUNK, PIECE], "every part but the last is a whole chunk"
    assert leftovers(backend, root) == []


@pytest.mark.parametrize("ending", ["commit", "cancel", "delete", "purge"])
def test_nothing_of_a_hashed_upload_is_left_once_it_ends(
    backend: Backend, driver: CheckedDriver, root: str, ending: str
) -> None:
    path = "/blobs/data"
    content = stream(0, 6)
    writer = driver.writer(path, digest="sha512")
    writer.write(content)
    writer.close()
    assert "hash" in state_of(backend, root, path)
    if ending == "delete":
        driver.delete(path)
    elif ending == "purge":
        assert driver.purge_uploads(datetime.now(timezone.utc) + timedelta(minutes=5)) == [path]
    else:
        resumed = driver.writer(path, append=True, digest="sha512")
        if ending == "commit":
            resumed.commit(expected_digest=expected("sha512", content))
            assert driver.get_content(path) == content
            driver.delete(path)
        else:
            resumed.cancel()
    assert leftovers(backend, root) == []
    assert keys_under(backend.client, backend.bucket, root + "/") == []
    fresh = driver.writer(path, append=True, digest="sha512")
    assert fresh.size == 0
    assert fresh.digest == expected("sha512", b"")
    fresh.cancel()
