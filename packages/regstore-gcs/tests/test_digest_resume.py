"""Digests of uploads resumed elsewhere: the hash state travels in the state object.

A writer hashing a digest keeps its hash state in the metadata of the upload's
state object, so a writer resumed in another process continues the hash
without reading any staged part back. Requests are counted by a
``FaultProxy`` in front of each emulator (the child process goes through it
too; a read through an object's ``mediaLink``, as of the state object's tail,
goes to the emulator directly, while part reads build their URL and are
seen); every digest is checked against ``hashlib``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import storage

import regstore
from regstore.driver import FileWriter
from regstore_gcs.layout import GCSLayout

#: The tests' part size (the conftest drivers' chunksize).
CHUNK = 256 * 1024
#: The metadata key of the hash state in a state object.
HASH_KEY = "regstore-hash-state"

Make = Callable[..., regstore.StorageDriver]

#: Resumes ``path`` with a digest, reports what it resumed, writes ``size`` seeded bytes, closes.
CHILD = r"""
import json, os, random, sys
import regstore

order = json.loads(sys.argv[1])
with regstore.create("gcs", json.loads(os.environ["REGSTORE_GCS_PARAMS"])) as driver:
    writer = driver.writer(order["path"], True, digest=order["digest"])
    report = {"start": writer.size, "resumed": writer.digest}
    writer.write(random.Random(order["seed"]).randbytes(order["size"]))
    writer.close()
    report["closed"] = writer.digest
    print(json.dumps(report))
"""


def hashing_writer(
    driver: regstore.StorageDriver, path: str, digest: str, *, append: bool = False
) -> FileWriter:
    """``driver.writer(path, append, digest=...)``: the wrapper's ``regstore.create`` gives."""
    open_writer: Callable[..., FileWriter] = driver.writer
    return open_writer(path, append, digest=digest)


def seeded(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def expected(algorithm: str, data: bytes) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def run_child(params: dict[str, Any], **order: Any) -> dict[str, Any]:
    """Resume an upload with a digest in a separate process (same endpoint: the proxy)."""
    env = dict(os.environ, REGSTORE_GCS_PARAMS=json.dumps(params))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(order)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def part_reads(proxy: Any, since: int = 0) -> list[str]:
    """Paths of the content GETs of staged parts the proxy forwarded after request ``since``."""
    return [
        seen.path
        for seen in proxy.seen[since:]
        if seen.method == "GET" and "alt=media" in seen.path and "part-0" in seen.path
    ]


def state_object(bucket: storage.Bucket, path: str) -> storage.Blob:
    blob = bucket.get_blob(GCSLayout("").state_name(path))
    assert blob is not None, f"no state object for {path}"
    return blob


@pytest.fixture
def params(bucket: storage.Bucket) -> dict[str, Any]:
    return {"bucket": bucket.name, "chunksize": CHUNK}


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_digest_resumed_in_another_process_reads_nothing_back(
    params: dict[str, Any],
    proxy: Any,
    bucket: storage.Bucket,
    staged: Callable[[str], list[str]],
    algorithm: str,
) -> None:
    path = "/uploads/digest/data"
    first = seeded(1, 3 * CHUNK + 1000)  # three staged parts and a tail
    second = seeded(2, 2 * CHUNK + 7)
    with regstore.create("gcs", params) as driver:
        writer = hashing_writer(driver, path, algorithm)
        writer.write(first)
        writer.close()
        assert HASH_KEY in (state_object(bucket, path).metadata or {})
        before = len(proxy.seen)
        report = run_child(params, path=path, digest=algorithm, seed=2, size=len(second))
        assert report["start"] == len(first)
        assert report["resumed"] == expected(algorithm, first)
        assert report["closed"] == expected(algorithm, first + second)
        assert part_reads(proxy, before) == [], "the child read staged parts back"
        before = len(proxy.seen)
        resumed = hashing_writer(driver, path, algorithm, append=True)
        assert resumed.digest == expected(algorithm, first + second)
        resumed.write(b"end")
        resumed.commit(expected_digest=expected(algorithm, first + second + b"end"))
        assert part_reads(proxy, before) == []
        assert driver.get_content(path) == first + second + b"end"
        committed = bucket.get_blob(path.lstrip("/"))
        assert committed is not None
        assert HASH_KEY not in (committed.metadata or {}), "the hash state leaked into the file"
        assert staged("") == []


def test_upload_kept_without_hash_state_is_read_back_once(
    make_driver: Make, proxy: Any, bucket: storage.Bucket
) -> None:
    """An upload written without a digest is read back on the first digest resume, then not."""
    driver = make_driver()
    path = "/plain"
    data = seeded(3, 2 * CHUNK + 99)
    writer = driver.writer(path)
    writer.write(data)
    writer.close()
    assert HASH_KEY not in (state_object(bucket, path).metadata or {})
    resumed = hashing_writer(make_driver(), path, "sha256", append=True)
    assert resumed.digest == expected("sha256", data)
    assert len(part_reads(proxy)) == 2, "both staged parts are read back"
    resumed.close()  # no new bytes: the rebuilt state is added to the state object
    assert HASH_KEY in (state_object(bucket, path).metadata or {})
    before = len(proxy.seen)
    again = hashing_writer(make_driver(), path, "sha256", append=True)
    assert again.size == len(data)
    assert again.digest == expected("sha256", data)
    assert part_reads(proxy, before) == []
    again.commit(expected_digest=expected("sha256", data))
    assert driver.get_content(path) == data


def test_resume_without_digest_drops_the_hash_state(
    make_driver: Make, bucket: storage.Bucket
) -> None:
    """Bytes written without hashing make the kept state stale: the close removes it."""
    driver = make_driver()
    path = "/mixed"
    writer = hashing_writer(driver, path, "sha256")
    writer.write(seeded(4, CHUNK + 5))
    writer.close()
    plain = make_driver().writer(path, append=True)
    plain.write(b"unhashed")
    plain.close()
    assert HASH_KEY not in (state_object(bucket, path).metadata or {})
    resumed = hashing_writer(make_driver(), path, "sha256", append=True)
    assert resumed.digest == expected("sha256", seeded(4, CHUNK + 5) + b"unhashed")
    resumed.cancel()
    assert list(driver.pending_uploads()) == []


def test_hash_state_of_another_size_is_not_used(make_driver: Make, bucket: storage.Bucket) -> None:
    """A state planted from an upload of another size is refused: the upload is read back."""
    driver = make_driver()
    short, long = seeded(5, CHUNK + 1), seeded(6, CHUNK + 2)
    for path, data in (("/short", short), ("/long", long)):
        writer = hashing_writer(driver, path, "sha256")
        writer.write(data)
        writer.close()
    target = state_object(bucket, "/long")
    planted = dict(target.metadata or {})
    planted[HASH_KEY] = (state_object(bucket, "/short").metadata or {})[HASH_KEY]
    target.metadata = planted
    target.patch()
    resumed = hashing_writer(make_driver(), "/long", "sha256", append=True)
    assert resumed.digest == expected("sha256", long)
    resumed.commit(expected_digest=expected("sha256", long))
    assert driver.get_content("/long") == long


def test_checked_commit_after_mismatch_stages_and_cleans_up(
    make_driver: Make, proxy: Any, staged: Callable[[str], list[str]]
) -> None:
    """The tail staged while a checked commit waited is reused, and gone after the commit."""
    driver = make_driver()
    path = "/checked"
    data = seeded(7, 2 * CHUNK + 300)
    writer = hashing_writer(driver, path, "sha256")
    writer.write(data)
    with pytest.raises(regstore.DigestMismatchError):
        writer.commit(expected_digest=expected("sha256", b"other"))
    assert any(name.endswith("~part-00000003") for name in staged(""))
    uploads = len(proxy.requests("POST", "/upload/"))
    writer.commit(expected_digest=expected("sha256", data))
    assert len(proxy.requests("POST", "/upload/")) == uploads, "the staged tail was sent again"
    assert driver.get_content(path) == data
    assert staged("") == []
