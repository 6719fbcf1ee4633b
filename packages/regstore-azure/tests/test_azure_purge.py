"""Pending uploads and their purge, checked against what the container really holds."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from azure.storage.blob import ContainerClient
from azure_helpers import ROOT, Answer, DriverFactory, Interceptor, hidden_objects
from faults.proxy import FaultPlan, FaultProxy

from regstore import DriverError, PendingUpload, StorageDriver

STAGING = f"{ROOT}/~regstore/uploads"
BATCH_REFUSED: Answer = (
    400,
    {"x-ms-error-code": "FeatureNotSupported", "Content-Type": "application/xml"},
    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>FeatureNotSupported</Code>'
    b"<Message>Blob batch is not supported.</Message></Error>",
)


def later() -> datetime:
    """A ``before`` that every upload closed so far is older than."""
    return datetime.now(timezone.utc) + timedelta(minutes=5)


def close_upload(driver: StorageDriver, path: str, data: bytes, *, append: bool = False) -> None:
    writer = driver.writer(path, append=append)
    writer.write(data)
    writer.close()


def pending(driver: StorageDriver, path: str = "/") -> dict[str, PendingUpload]:
    return {upload.path: upload for upload in driver.pending_uploads(path)}


def committed(container: ContainerClient) -> dict[str, str]:
    """Committed blob names and their ETags (a rewrite or delete changes them)."""
    return {blob.name: str(blob.etag) for blob in container.list_blobs()}


def staging_names(container: ContainerClient) -> set[str]:
    """Every blob under a ``~regstore`` area, uncommitted blocks only included."""
    listed = container.list_blobs(include=["uncommittedblobs"])
    return {blob.name for blob in listed if "~regstore/" in blob.name}


def close_again_until(driver: StorageDriver, path: str, moment: datetime) -> PendingUpload:
    """Resume and close ``path`` (writing nothing) until a close is recorded at ``moment`` or later.

    Last-Modified has whole seconds; this waits on the service's clock, not this host's.
    """
    for _ in range(100):
        driver.writer(path, append=True).close()
        upload = pending(driver, path)[path]
        if upload.modified >= moment:
            return upload
        time.sleep(0.05)
    raise AssertionError(f"no close of {path} was recorded at or after {moment}")


# -- listing -------------------------------------------------------------------------


def test_pending_uploads_come_from_one_listing_without_reading_uploads(
    make_driver: DriverFactory, interceptor: Interceptor
) -> None:
    driver = make_driver(rootdirectory=f"/{ROOT}/", serviceurl=interceptor.url)
    close_upload(driver, "/uploads/1/data", b"x" * 1000)
    close_upload(driver, "/uploads/2/data", b"")
    close_upload(driver, "/uploads/3/data", b"abc")
    close_upload(driver, "/uploads/3/data", b"def", append=True)
    driver.put_content("/uploads/4/data", b"committed, not pending")
    start = len(interceptor.log)
    uploads = pending(driver, "/uploads")
    sizes = {path: upload.size for path, upload in uploads.items()}
    assert sizes == {"/uploads/1/data": 1000, "/uploads/2/data": 0, "/uploads/3/data": 6}
    sent = interceptor.log[start:]
    assert len(sent) == 1, sent
    method, target = sent[0]
    assert method == "GET"
    assert "comp=list" in target
    assert "uncommitted" not in target


def test_a_close_with_nothing_new_moves_modified(
    driver: StorageDriver, container: ContainerClient
) -> None:
    close_upload(driver, "/upload", b"12345")
    first = pending(driver)["/upload"]
    again = close_again_until(driver, "/upload", first.modified + timedelta(seconds=1))
    assert again.size == 5
    assert driver.writer("/upload", append=True).size == 5
    properties = container.get_blob_client(f"{STAGING}/upload").get_blob_properties()
    assert properties.last_modified == again.modified


# -- purging ---------------------------------------------------------------------------


def test_a_purge_leaves_only_committed_content(
    driver: StorageDriver, container: ContainerClient
) -> None:
    driver.put_content("/repo/layer", b"committed")
    driver.put_content("/repo/uploads/1/startedat", b"2026-01-01")
    close_upload(driver, "/repo/layer", b"a pending upload over committed content")
    close_upload(driver, "/repo/uploads/1/data", b"x" * 3000)
    close_upload(driver, "/repo/uploads/2/data", b"")
    # A writer resumed /repo/uploads/1/data and staged a block, then died before closing.
    staging = container.get_blob_client(f"{STAGING}/repo/uploads/1/data")
    staging.stage_block("f" * 32, b"never closed")
    kept = committed(container)
    assert len(staging_names(container)) == 3

    purged = driver.purge_uploads(later(), "/repo")

    assert purged == ["/repo/layer", "/repo/uploads/1/data", "/repo/uploads/2/data"]
    assert hidden_objects(container) == []
    assert staging_names(container) == set()
    assert committed(container) == {
        name: etag for name, etag in kept.items() if "~regstore/" not in name
    }
    assert driver.get_content("/repo/layer") == b"committed"
    assert pending(driver) == {}
    assert driver.purge_uploads(later(), "/repo") == []


def test_a_newer_upload_survives(driver: StorageDriver, container: ContainerClient) -> None:
    close_upload(driver, "/uploads/old", b"old")
    close_upload(driver, "/uploads/new", b"new")
    before = pending(driver)["/uploads/old"].modified + timedelta(seconds=1)
    newer = close_again_until(driver, "/uploads/new", before)

    assert driver.purge_uploads(before, "/uploads") == ["/uploads/old"]
    # Last closed exactly at ``before`` is not before it.
    assert driver.purge_uploads(newer.modified, "/uploads") == []
    assert staging_names(container) == {f"{STAGING}/uploads/new"}
    writer = driver.writer("/uploads/new", append=True)
    assert writer.size == 3
    writer.write(b" and resumed")
    writer.commit()
    assert driver.get_content("/uploads/new") == b"new and resumed"
    assert hidden_objects(container) == []


def test_a_purge_returns_the_paths_at_or_below_its_path(
    driver: StorageDriver, container: ContainerClient
) -> None:
    for path in ("/a", "/a/b", "/a/b/c", "/ab", "/a-b", "/a/bc"):
        close_upload(driver, path, b"x")
    driver.put_content("/a/b/file", b"committed")

    assert driver.purge_uploads(later(), "/a/b") == ["/a/b", "/a/b/c"]
    assert driver.purge_uploads(later(), "/a/b/file") == []
    assert driver.purge_uploads(later(), "/a") == ["/a", "/a/bc"]
    assert sorted(pending(driver)) == ["/a-b", "/ab"]
    assert staging_names(container) == {f"{STAGING}/a-b", f"{STAGING}/ab"}
    assert driver.purge_uploads(later()) == ["/a-b", "/ab"]
    assert driver.get_content("/a/b/file") == b"committed"
    assert hidden_objects(container) == []


def test_a_purge_never_touches_another_root(
    make_driver: DriverFactory, container: ContainerClient
) -> None:
    roots = ["", "registry", ROOT, f"{ROOT}2"]
    drivers = {root: make_driver(rootdirectory=f"/{root}/" if root else "") for root in roots}
    for driver in drivers.values():
        driver.put_content("/up/file", b"committed")
        close_upload(driver, "/up", b"one")
        close_upload(driver, "/up/load", b"two")
    files = {name for name in committed(container) if "~regstore/" not in name}
    assert len(files) == 4

    for done, root in enumerate(roots, start=1):
        assert drivers[root].purge_uploads(later()) == ["/up", "/up/load"]
        left = roots[done:]
        expected = {
            f"{prefix}~regstore/uploads/{path}"
            for prefix in (f"{r}/" if r else "" for r in left)
            for path in ("up", "up/load")
        }
        assert staging_names(container) == expected
        for other in left:
            assert sorted(pending(drivers[other])) == ["/up", "/up/load"]
        assert {name for name in committed(container) if "~regstore/" not in name} == files
    for driver in drivers.values():
        assert driver.get_content("/up/file") == b"committed"


@pytest.mark.parametrize("batches", [True, False], ids=["batch", "single-deletes"])
def test_an_upload_closed_while_the_purge_runs_is_kept(
    make_driver: DriverFactory,
    interceptor: Interceptor,
    container: ContainerClient,
    batches: bool,
) -> None:
    purger = make_driver(rootdirectory=f"/{ROOT}/", serviceurl=interceptor.url)
    writer_driver = make_driver(rootdirectory=f"/{ROOT}/")
    close_upload(writer_driver, "/race/kept", b"first ")
    close_upload(writer_driver, "/race/gone", b"old")
    closed_again: list[str] = []

    def between_listing_and_delete(method: str, target: str) -> Answer | None:
        deleting = (method == "POST" and "comp=batch" in target) or method == "DELETE"
        if deleting and not closed_again:
            # Another replica resumes the upload and closes it again.
            close_upload(writer_driver, "/race/kept", b"second", append=True)
            closed_again.append(target)
        if not batches and method == "POST" and "comp=batch" in target:
            return BATCH_REFUSED
        return None

    interceptor.answer = between_listing_and_delete
    assert purger.purge_uploads(later(), "/race") == ["/race/gone"]
    assert closed_again
    if not batches:
        assert len(interceptor.requests("DELETE")) == 2  # conditional single deletes
    assert staging_names(container) == {f"{STAGING}/race/kept"}
    resumed = writer_driver.writer("/race/kept", append=True)
    assert resumed.size == 12
    resumed.commit()
    assert writer_driver.get_content("/race/kept") == b"first second"
    assert hidden_objects(container) == []


def test_a_writer_whose_upload_was_purged_fails_instead_of_losing_bytes(
    driver: StorageDriver, container: ContainerClient
) -> None:
    close_upload(driver, "/uploads/idle", b"abc")
    close_upload(driver, "/uploads/busy", b"abc")
    idle = driver.writer("/uploads/idle", append=True)
    busy = driver.writer("/uploads/busy", append=True)
    assert driver.purge_uploads(later(), "/uploads") == ["/uploads/busy", "/uploads/idle"]
    with pytest.raises(DriverError, match="discarded"):
        idle.close()  # its close would have recorded the three purged bytes
    with pytest.raises(DriverError, match="discarded"):
        busy.write(b"def")  # its short last block is gone with the upload
    busy.cancel()
    assert pending(driver) == {}
    assert hidden_objects(container) == []


@pytest.mark.parametrize("fault", ["drop-response", "500"])
def test_a_purge_whose_batch_answer_is_lost_returns_what_it_deleted(
    make_driver: DriverFactory, fault_proxy: FaultProxy, container: ContainerClient, fault: str
) -> None:
    driver = make_driver(
        rootdirectory=f"/{ROOT}/",
        serviceurl=f"{fault_proxy.url}/devstoreaccount1",
        retry_delay="10ms",
    )
    for index in range(3):
        close_upload(driver, f"/uploads/{index}", b"x")
    # drop-response: the batch ran, its answer never came; 500: it never ran.
    fault_proxy.plan = FaultPlan(every=fault, match=r"^POST .*comp=batch", limit=1)
    assert driver.purge_uploads(later()) == ["/uploads/0", "/uploads/1", "/uploads/2"]
    assert fault_proxy.stats().by_kind == {fault: 1}
    assert hidden_objects(container) == []
