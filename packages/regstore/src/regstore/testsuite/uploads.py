"""Conformance tests of the pending-upload lifecycle: ``pending_uploads`` and ``purge_uploads``.

An upload closed and neither committed nor cancelled is pending. Any instance
lists it, and ``purge_uploads`` discards it with nothing left in the backend
(the ``leftovers`` fixture is checked right after each purge).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from ..driver import PendingUpload, StorageDriver
from ..errors import InvalidParameterError, InvalidPathError
from ._support import SuiteBase, random_bytes

#: How far a backend's clock may be from this process's (all test backends run on this host).
CLOCK_SKEW = timedelta(seconds=10)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _close_upload(driver: StorageDriver, path: str, data: bytes, *, append: bool = False) -> None:
    writer = driver.writer(path, append=append)
    writer.write(data)
    writer.close()


def _pending(driver: StorageDriver, path: str) -> list[tuple[str, int]]:
    return sorted((u.path, u.size) for u in driver.pending_uploads(path))


class UploadLifecycleTests(SuiteBase):
    """``pending_uploads`` and ``purge_uploads``."""

    def test_pending_uploads_lists_closed_uploads_only(
        self, driver: StorageDriver, base: str
    ) -> None:
        started = _now()
        _close_upload(driver, f"{base}/a/one", random_bytes(1000, 1))
        _close_upload(driver, f"{base}/a/empty", b"")
        driver.put_content(f"{base}/a/committed", b"content")
        cancelled = driver.writer(f"{base}/a/cancelled")
        cancelled.write(b"gone")
        cancelled.cancel()
        committed = driver.writer(f"{base}/a/streamed")
        committed.write(b"done")
        committed.commit()
        finished = _now()
        uploads = sorted(driver.pending_uploads(base), key=lambda u: u.path)
        assert [(u.path, u.size) for u in uploads] == [
            (f"{base}/a/empty", 0),
            (f"{base}/a/one", 1000),
        ]
        for upload in uploads:
            assert isinstance(upload, PendingUpload)
            assert upload.modified.utcoffset() == timedelta(0), "modified must be aware UTC"
            assert started - CLOCK_SKEW <= upload.modified <= finished + CLOCK_SKEW

    def test_pending_upload_follows_resume_and_end(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/upload"
        _close_upload(driver, path, b"12345")
        assert _pending(driver, base) == [(path, 5)]
        first = next(iter(driver.pending_uploads(base))).modified
        _close_upload(driver, path, b"678", append=True)
        [upload] = list(driver.pending_uploads(base))
        assert (upload.path, upload.size) == (path, 8)
        assert upload.modified >= first - timedelta(seconds=1)
        writer = driver.writer(path, append=True)
        writer.commit()
        assert _pending(driver, base) == []
        _close_upload(driver, path, b"again")
        driver.writer(path, append=True).cancel()
        assert _pending(driver, base) == []

    def test_pending_uploads_at_or_below_path(self, driver: StorageDriver, base: str) -> None:
        for path in (f"{base}/a", f"{base}/a/b/c", f"{base}/ab", f"{base}/a-b"):
            _close_upload(driver, path, b"x")
        assert _pending(driver, f"{base}/a") == [(f"{base}/a", 1), (f"{base}/a/b/c", 1)]
        assert _pending(driver, f"{base}/a/b") == [(f"{base}/a/b/c", 1)]
        assert _pending(driver, f"{base}/missing") == []
        everything = [p for p, _ in _pending(driver, "/") if p.startswith(base + "/")]
        assert everything == sorted([f"{base}/a", f"{base}/a/b/c", f"{base}/ab", f"{base}/a-b"])

    def test_pending_uploads_ignore_committed_files(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/file", b"committed")
        assert _pending(driver, base) == []
        assert _pending(driver, f"{base}/file") == []

    def test_pending_uploads_from_second_driver(
        self, driver: StorageDriver, second_driver: StorageDriver, base: str
    ) -> None:
        _close_upload(driver, f"{base}/x/upload", random_bytes(300, 2))
        assert _pending(second_driver, base) == [(f"{base}/x/upload", 300)]

    def test_purge_uploads_discards_old_uploads_and_nothing_else(
        self, driver: StorageDriver, base: str, leftovers: Callable[[], list[str]]
    ) -> None:
        driver.put_content(f"{base}/kept", b"committed")
        _close_upload(driver, f"{base}/kept", b"pending over committed content")
        _close_upload(driver, f"{base}/dir/upload", random_bytes(2000, 3))
        _close_upload(driver, f"{base}/dir/empty", b"")
        purged = driver.purge_uploads(_now() + timedelta(minutes=5), base)
        assert purged == sorted([f"{base}/kept", f"{base}/dir/upload", f"{base}/dir/empty"])
        assert _pending(driver, base) == []
        assert driver.get_content(f"{base}/kept") == b"committed"
        assert [i.path for i in driver.walk(base)] == [f"{base}/kept"]
        assert leftovers() == []
        assert driver.purge_uploads(_now() + timedelta(minutes=5), base) == []
        writer = driver.writer(f"{base}/dir/upload")
        assert writer.size == 0
        writer.cancel()

    def test_purge_uploads_keeps_newer_uploads(self, driver: StorageDriver, base: str) -> None:
        before = _now() - timedelta(minutes=5)
        _close_upload(driver, f"{base}/upload", b"recent")
        assert driver.purge_uploads(before, base) == []
        writer = driver.writer(f"{base}/upload", append=True)
        assert writer.size == 6
        writer.write(b" and resumed")
        writer.commit()
        assert driver.get_content(f"{base}/upload") == b"recent and resumed"

    def test_purge_uploads_only_at_or_below_path(self, driver: StorageDriver, base: str) -> None:
        for path in (f"{base}/a", f"{base}/a/b", f"{base}/ab"):
            _close_upload(driver, path, b"x")
        later = _now() + timedelta(minutes=5)
        assert driver.purge_uploads(later, f"{base}/a") == [f"{base}/a", f"{base}/a/b"]
        assert _pending(driver, base) == [(f"{base}/ab", 1)]

    def test_purge_uploads_from_second_driver(
        self,
        driver: StorageDriver,
        second_driver: StorageDriver,
        base: str,
        leftovers: Callable[[], list[str]],
    ) -> None:
        _close_upload(driver, f"{base}/upload", random_bytes(4000, 4))
        assert second_driver.purge_uploads(_now() + timedelta(minutes=5), base) == [
            f"{base}/upload"
        ]
        assert _pending(driver, base) == []
        assert leftovers() == []
        writer = driver.writer(f"{base}/upload", append=True)
        assert writer.size == 0
        writer.cancel()

    def test_upload_lifecycle_arguments_are_checked(self, driver: StorageDriver) -> None:
        with pytest.raises(InvalidPathError):
            list(driver.pending_uploads("relative"))
        with pytest.raises(InvalidPathError):
            driver.purge_uploads(_now(), "/a/../b")
        with pytest.raises(InvalidParameterError, match="timezone-aware"):
            driver.purge_uploads(datetime.now())  # naive on purpose
        with pytest.raises(TypeError, match="datetime"):
            driver.purge_uploads("168h")  # type: ignore[arg-type]
