"""Uploads resumed by another process, as a registry's replicas do, and at size.

The child is a real ``python`` process with its own driver over the same
bucket; it learns the parameters from the environment and streams what it
writes from a seed, so neither side holds the whole upload.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.cloud import storage

import regstore

MiB = 1 << 20
CHUNK = 256 * 1024

#: Size of the large cross-process upload (slow): 1 GiB by hand, small by default.
HUGE_SIZE = int(os.environ.get("REGSTORE_GCS_HUGE_SIZE", str(128 * MiB)))

#: The stream both processes compute: ``size`` bytes from ``seed``, in ``block`` pieces.
PIECES = r"""
import hashlib

def pieces(seed, size, block):
    base = hashlib.sha256(str(seed).encode()).digest() * (block // 32)
    sent = index = 0
    while sent < size:
        piece = (index.to_bytes(8, "big") + base[8:])[: min(block, size - sent)]
        yield piece
        sent += len(piece)
        index += 1
"""

CHILD = (
    PIECES
    + r"""
import json, os, resource, sys
import regstore

order = json.loads(sys.argv[1])
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with regstore.create("gcs", json.loads(os.environ["REGSTORE_GCS_PARAMS"])) as driver:
    writer = driver.writer(order["path"], append=order["append"])
    start = writer.size
    baseline = rss()
    for piece in pieces(order["seed"], order["size"], order["block"]):
        writer.write(piece)
    if order["commit"]:
        writer.commit()
    writer.close()
    print(json.dumps({"start": start, "size": writer.size, "baseline": baseline, "peak": rss()}))
"""
)

_namespace: dict[str, Any] = {}
exec(PIECES, _namespace)
pieces: Callable[[int, int, int], Iterator[bytes]] = _namespace["pieces"]


def run_child(params: dict[str, Any], **order: Any) -> dict[str, int]:
    """Write ``order["size"]`` bytes from a separate process and report its sizes and RSS."""
    order = {"append": True, "commit": False, "block": 64 * 1024, **order}
    env = dict(os.environ, REGSTORE_GCS_PARAMS=json.dumps(params))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(order)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture
def params(bucket: storage.Bucket) -> dict[str, Any]:
    return {"bucket": bucket.name, "chunksize": CHUNK, "rootdirectory": "/registry"}


def test_child_process_resumes_and_parent_commits(
    params: dict[str, Any], staged: Callable[[str], list[str]]
) -> None:
    path = "/docker/registry/v2/repositories/r/_uploads/1/data"
    first = b"".join(pieces(1, 300 * 1024, 64 * 1024))
    with regstore.create("gcs", params) as driver:
        writer = driver.writer(path)
        writer.write(first)
        writer.close()
        report = run_child(params, path=path, seed=2, size=700 * 1024)
        assert report == {**report, "start": len(first), "size": len(first) + 700 * 1024}
        writer = driver.writer(path, append=True)
        assert writer.size == len(first) + 700 * 1024
        writer.commit()
        writer.close()
        expected = first + b"".join(pieces(2, 700 * 1024, 64 * 1024))
        assert driver.get_content(path) == expected
        assert staged("registry") == []
        driver.delete("/docker")


def test_parent_resumes_what_a_child_started_and_child_commits(
    params: dict[str, Any], staged: Callable[[str], list[str]]
) -> None:
    path = "/uploads/2/data"
    run_child(params, path=path, seed=3, size=CHUNK * 2 + 5, append=False)
    with regstore.create("gcs", params) as driver:
        writer = driver.writer(path, append=True)
        assert writer.size == CHUNK * 2 + 5
        writer.write(b"parent")
        writer.close()
        with pytest.raises(regstore.PathNotFoundError):
            driver.stat(path)  # still pending
        report = run_child(params, path=path, seed=4, size=CHUNK + 1, commit=True)
        assert report["start"] == CHUNK * 2 + 5 + len(b"parent")
        content = driver.get_content(path)
        assert content == (
            b"".join(pieces(3, CHUNK * 2 + 5, 64 * 1024))
            + b"parent"
            + b"".join(pieces(4, CHUNK + 1, 64 * 1024))
        )
        assert staged("registry") == []
        driver.delete("/uploads")


@pytest.mark.slow
def test_huge_stream_bounded_memory_resumed_by_another_process(
    bucket: storage.Bucket, staged: Callable[[str], list[str]]
) -> None:
    """Half the stream from one process, half from another, each with bounded memory.

    Sized by ``REGSTORE_GCS_HUGE_SIZE`` (1 GiB: ``REGSTORE_GCS_HUGE_SIZE=1073741824``).
    Memory may grow by a few parts in flight, never by the stream's size.
    """
    size = HUGE_SIZE
    chunksize = 16 * MiB if size >= 1024 * MiB else MiB
    params = {"bucket": bucket.name, "chunksize": chunksize}
    path = "/uploads/huge/data"
    half = size // 2
    first = run_child(params, path=path, seed=5, size=half, append=False, block=MiB)
    second = run_child(params, path=path, seed=6, size=size - half, commit=True, block=MiB)
    assert second["start"] == half
    assert second["size"] == size
    bound = 10 * chunksize + 40 * MiB
    for report in (first, second):
        growth = report["peak"] - report["baseline"]
        peak = report["peak"] / MiB
        print(f"writer process: peak RSS {peak:.0f} MiB, growth {growth / MiB:.0f} MiB")
        assert growth < bound, f"memory grew by {growth} bytes while writing {half} bytes"
        assert growth < half
    with regstore.create("gcs", params) as driver:
        assert driver.stat(path).size == size
        digest = hashlib.sha256()
        with driver.reader(path) as stream:
            for piece in iter(lambda: stream.read(4 * MiB), b""):
                digest.update(piece)
        expected = hashlib.sha256()
        for piece in pieces(5, half, MiB):
            expected.update(piece)
        for piece in pieces(6, size - half, MiB):
            expected.update(piece)
        assert digest.hexdigest() == expected.hexdigest()
        assert staged("") == []
        driver.delete("/uploads")
