"""Digests on Azure: the hash state kept as staging-blob metadata, and what resumes from it.

A close keeps the state with the same Put Block List that commits the blocks;
a writer resumed anywhere (another process included) continues the hash from
it without reading the upload back. A commit never carries the state onto the
path, and nothing of it outlives cancel, purge or delete.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure.storage.blob import ContainerClient
from azure_helpers import (
    ROOT,
    WRITER_PROCESS,
    Answer,
    DriverFactory,
    Interceptor,
    MiB,
    hidden_objects,
    stream_bytes,
    stream_digest,
)

from regstore import FileWriter, StorageDriver
from regstore.errors import DriverError
from regstore_azure.hashstate import METADATA_KEY

Params = dict[str, Any]
#: Azure's answer to a request the account may not make: final, never retried.
REFUSED: Answer = (403, {"x-ms-error-code": "AuthorizationFailure"}, b"")


def _writer(
    driver: StorageDriver, path: str, *, append: bool = False, digest: str | None = "sha256"
) -> FileWriter:
    open_writer: Callable[..., FileWriter] = driver.writer  # the wrapper takes digest=
    return open_writer(path, append, digest=digest)


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _staging(container: ContainerClient, path: str) -> Any:
    return container.get_blob_client(f"{ROOT}/~regstore/uploads{path}")


def _is_download(method: str, target: str) -> bool:
    """A GET of blob content (not a block list) in the staging area."""
    return method == "GET" and "~regstore" in target and "comp=" not in target


def _run(parameters: Params, **job: Any) -> subprocess.CompletedProcess[str]:
    """One writer step in a new Python process (``azure_writer_process``)."""
    return subprocess.run(
        [sys.executable, str(WRITER_PROCESS), json.dumps({"parameters": parameters, **job})],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _answer(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_digest_resumed_in_another_process_reads_nothing_back(
    params: Params,
    container: ContainerClient,
    interceptor: Interceptor,
    driver: StorageDriver,
) -> None:
    path, seed = "/uploads/one/data", 7
    direct = {**params, "rootdirectory": f"/{ROOT}/"}
    proxied = {**direct, "serviceurl": interceptor.url}
    # Every read of a pending upload's content through the proxy is refused.
    interceptor.answer = lambda method, target: REFUSED if _is_download(method, target) else None
    first, second = 4 * MiB, 5 * MiB + 5  # one whole block, then a short one after it
    step = {"path": path, "seed": seed, "digest": "sha256"}

    _answer(_run(direct, **step, append=False, start=0, end=first, finish="close"))
    resumed = _answer(_run(proxied, **step, append=True, start=first, end=second, finish="close"))
    assert resumed["size"] == second
    assert resumed["resumed_digest"] == f"sha256:{stream_digest(seed, first)}"
    assert resumed["digest"] == f"sha256:{stream_digest(seed, second)}"
    expected = f"sha256:{stream_digest(seed, second)}"
    committed = _answer(
        _run(
            proxied,
            **step,
            append=True,
            start=second,
            end=second,
            finish="commit",
            expected=expected,
        )
    )
    assert committed["resumed_digest"] == expected
    assert interceptor.requests("GET", r"comp=blocklist"), "the resumes went through the proxy"
    assert not [t for m, t in interceptor.log if _is_download(m, t)], "an upload was read back"

    content = driver.get_content(path)
    assert f"sha256:{hashlib.sha256(content).hexdigest()}" == expected
    assert content == b"".join(stream_bytes(seed, 0, second))
    assert container.get_blob_client(f"{ROOT}{path}").get_blob_properties().metadata == {}
    assert hidden_objects(container) == []

    # The refused reads do bite: an upload closed without a state must be read back.
    other = {"path": "/uploads/two/data", "seed": seed, "finish": "close"}
    _answer(_run(direct, **other, append=False, start=0, end=100))
    failed = _run(proxied, **other, append=True, start=100, end=100, digest="sha256")
    assert failed.returncode != 0
    assert "DriverError" in failed.stderr
    assert [t for m, t in interceptor.log if _is_download(m, t)]


def test_close_keeps_the_state_with_its_block_list(
    make_driver: DriverFactory, interceptor: Interceptor, container: ContainerClient
) -> None:
    driver = make_driver(rootdirectory=f"/{ROOT}/", serviceurl=interceptor.url)
    path = "/uploads/state/data"
    writer = _writer(driver, path)
    writer.write(b"a" * 1000)
    writer.close()
    # One request commits the blocks and the state: no metadata request of its own.
    assert len(interceptor.requests("PUT", r"comp=blocklist")) == 1
    assert not interceptor.requests("PUT", r"comp=metadata")
    kept = _staging(container, path).get_blob_properties().metadata[METADATA_KEY]
    assert base64.b64decode(kept) == writer.upload_state

    # A writer without a digest that adds bytes drops the state with the old list.
    plain = driver.writer(path, append=True)
    plain.write(b"b" * 10)
    plain.close()
    assert _staging(container, path).get_blob_properties().metadata == {}
    resumed = _writer(driver, path, append=True)
    assert resumed.digest == _sha256(b"a" * 1000 + b"b" * 10)
    resumed.cancel()
    assert hidden_objects(container) == []


@pytest.mark.parametrize("stale", ["earlier", "garbage"])
def test_a_state_that_is_not_of_the_upload_is_never_used(
    driver: StorageDriver, container: ContainerClient, stale: str
) -> None:
    path = "/uploads/stale/data"
    writer = _writer(driver, path)
    writer.write(b"x" * 1000)
    writer.close()
    staging = _staging(container, path)
    earlier = staging.get_blob_properties().metadata
    resumed = _writer(driver, path, append=True)
    resumed.write(b"y" * 500)
    resumed.close()
    # Another state than the one of these 1500 bytes: of 1000 bytes, or not base64.
    staging.set_blob_metadata(earlier if stale == "earlier" else {METADATA_KEY: "%not base64%"})
    again = _writer(driver, path, append=True)
    assert again.size == 1500
    assert again.digest == _sha256(b"x" * 1000 + b"y" * 500)
    again.write(b"z")
    again.commit(expected_digest=_sha256(b"x" * 1000 + b"y" * 500 + b"z"))
    assert driver.get_content(path) == b"x" * 1000 + b"y" * 500 + b"z"


@pytest.mark.parametrize("more", [b"", b"tail"])
def test_commit_carries_no_state_onto_the_path(
    driver: StorageDriver, container: ContainerClient, more: bytes
) -> None:
    path = "/uploads/commit/data"
    data = bytes(range(256)) * (5 * 4096)  # 5 MiB: a whole block and a short one
    writer = _writer(driver, path)
    writer.write(data)
    writer.close()
    resumed = _writer(driver, path, append=True)
    resumed.write(more)
    resumed.commit(expected_digest=_sha256(data + more))
    assert driver.get_content(path) == data + more
    assert container.get_blob_client(f"{ROOT}{path}").get_blob_properties().metadata == {}
    assert hidden_objects(container) == []


def test_cancel_purge_and_delete_leave_no_state(
    driver: StorageDriver, container: ContainerClient
) -> None:
    for name in ("cancelled", "purged", "deleted"):
        writer = _writer(driver, f"/uploads/{name}/data")
        writer.write(name.encode() * 100)
        writer.close()
    _writer(driver, "/uploads/cancelled/data", append=True).cancel()
    later = datetime.now(timezone.utc) + timedelta(seconds=5)
    assert driver.purge_uploads(later, "/uploads/purged") == ["/uploads/purged/data"]
    driver.delete("/uploads/deleted")
    assert hidden_objects(container) == []


def test_read_back_is_pinned_to_the_listed_blocks(
    make_driver: DriverFactory, interceptor: Interceptor, driver: StorageDriver
) -> None:
    path = "/uploads/raced/data"
    plain = driver.writer(path)
    plain.write(b"q" * 2000)
    plain.close()
    closed_again = []

    def close_first(method: str, target: str) -> Answer | None:
        if _is_download(method, target) and not closed_again:
            closed_again.append(target)
            driver.writer(path, append=True).close()  # a new ETag before the read arrives
        return None

    interceptor.answer = close_first
    proxied = make_driver(rootdirectory=f"/{ROOT}/", serviceurl=interceptor.url)
    with pytest.raises(DriverError, match="changed while it was read back"):
        _writer(proxied, path, append=True)
    assert closed_again
    resumed = _writer(driver, path, append=True)
    assert resumed.digest == _sha256(b"q" * 2000)
    resumed.cancel()


def test_read_back_serves_the_short_tail_to_the_first_write(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(rootdirectory=f"/{ROOT}/", serviceurl=interceptor.url)
    path = "/uploads/tail/data"
    first = bytes(range(256)) * (20 * 1024)  # 5 MiB: its last block is short
    plain = driver.writer(path)
    plain.write(first)
    plain.close()
    resumed = _writer(driver, path, append=True)
    resumed.write(b"more")
    assert resumed.digest == _sha256(first + b"more")
    # The read that rebuilt the hash kept the short block: the write read nothing more.
    downloads = [t for m, t in interceptor.log if _is_download(m, t)]
    assert len(downloads) == 2, downloads  # the whole block and the short one, 4 MiB each
    resumed.commit(expected_digest=_sha256(first + b"more"))
    assert driver.get_content(path) == first + b"more"
