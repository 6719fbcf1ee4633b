"""Readers and writers: streams, offsets, resumable uploads and their visibility."""

from __future__ import annotations

import hashlib
import io
import random
import threading
from typing import cast

import pytest

from ..driver import FileWriter, StorageDriver
from ..errors import InvalidOffsetError, PathNotFoundError
from ._support import (
    APPEND_CHUNK,
    LARGE_SIZE,
    MiB,
    SuiteBase,
    chunks,
    random_bytes,
    read_all,
    sha256_of_stream,
)


def _write_stream(driver: StorageDriver, path: str, content: bytes, *, commit: bool = True) -> int:
    writer = driver.writer(path)
    try:
        assert writer.write(content) == len(content)
        if commit:
            writer.commit()
        return writer.size
    finally:
        writer.close()


class ReaderTests(SuiteBase):
    """``reader``: offsets, the N-1 and N boundaries, missing paths, file-object API."""

    def test_reader_with_offset(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        first, second, third = random_bytes(32, 1), random_bytes(32, 2), random_bytes(32, 3)
        content = first + second + third
        driver.put_content(path, content)
        assert read_all(driver.reader(path, 0)) == content
        assert read_all(driver.reader(path, len(first))) == second + third
        assert read_all(driver.reader(path, len(first) + len(second))) == third
        size = len(content)
        assert read_all(driver.reader(path, size - 1)) == content[-1:]
        for offset in (size, size + 1, size + 1000):
            with driver.reader(path, offset) as stream:
                assert stream.read() == b""

    def test_reader_negative_offset_is_checked_before_existence(
        self, driver: StorageDriver, base: str
    ) -> None:
        with pytest.raises(InvalidOffsetError) as caught:
            driver.reader(f"{base}/missing", -1)
        assert caught.value.offset == -1
        assert caught.value.path == f"{base}/missing"
        assert isinstance(caught.value, ValueError)
        assert str(caught.value).startswith(f"{driver.name}: ")

    def test_reader_missing_path(self, driver: StorageDriver, base: str) -> None:
        for offset in (0, 10):
            with pytest.raises(PathNotFoundError):
                driver.reader(f"{base}/missing", offset).read()

    def test_reader_of_directory_is_not_found(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/dir/file", b"x")
        for offset in (0, 1):
            with pytest.raises(PathNotFoundError):
                driver.reader(f"{base}/dir", offset).read()

    def test_reader_is_a_binary_file_object(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        content = random_bytes(100_000, 4)
        driver.put_content(path, content)
        with driver.reader(path, 10) as raw:
            stream = cast(io.BufferedIOBase, raw)
            assert stream.read(5) == content[10:15]
            buffer = bytearray(7)
            assert stream.readinto(buffer) == 7
            assert bytes(buffer) == content[15:22]
            assert stream.read() == content[22:]
            assert stream.read() == b""

    def test_reader_read_of_a_huge_size_returns_what_is_left(
        self, driver: StorageDriver, base: str
    ) -> None:
        # A buffered reader allocates the size it is asked for: 2**62 bytes must not be.
        path = f"{base}/file"
        content = random_bytes(100_000, 6)
        driver.put_content(path, content)
        with driver.reader(path, 10) as raw:
            stream = cast(io.BufferedIOBase, raw)
            first = stream.read1(1 << 62)
            assert first
            assert content[10:].startswith(first)
        with driver.reader(path, 10) as whole:
            assert whole.read(1 << 62) == content[10:]
            assert whole.read(1 << 62) == b""

    def test_concurrent_stream_reads(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        content = random_bytes(2 * MiB, 5)
        driver.put_content(path, content)
        failures: list[str] = []

        def read_at(seed: int) -> None:
            offset = random.Random(seed).randrange(len(content))
            got = read_all(driver.reader(path, offset), 64 * 1024)
            if got != content[offset:]:
                failures.append(f"offset {offset}: {len(got)} bytes differ")

        threads = [threading.Thread(target=read_at, args=(seed,)) for seed in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures


class WriterTests(SuiteBase):
    """``writer``: streams, append/resume, visibility until commit, cancel, states."""

    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(b"a", id="1-byte"),
            pytest.param("\u00e9t\u00e9 \u2603 \U0001f433".encode() * 3, id="utf8"),
            pytest.param(bytes(range(32)), id="32-bytes"),
            pytest.param(random_bytes(MiB, 6), id="1-mib"),
            pytest.param(b"\xff\xfe\x80\x00\xc3\x28" * 50, id="non-utf8"),
        ],
    )
    def test_write_read_streams(self, driver: StorageDriver, base: str, content: bytes) -> None:
        path = f"{base}/stream"
        assert _write_stream(driver, path, content) == len(content)
        assert read_all(driver.reader(path)) == content
        assert driver.stat(path).size == len(content)

    def test_writer_takes_a_single_large_write_and_memoryviews(
        self, driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/stream"
        content = random_bytes(12 * MiB + 123, 7)
        writer = driver.writer(path)
        assert writer.write(memoryview(content)[: 12 * MiB]) == 12 * MiB
        assert writer.write(bytearray(content[12 * MiB :])) == 123
        assert writer.size == len(content)
        writer.commit()
        writer.close()
        digest = hashlib.sha256(read_all(driver.reader(path))).hexdigest()
        assert digest == hashlib.sha256(content).hexdigest()

    @pytest.mark.slow
    def test_write_read_large_stream(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/large"
        writer = driver.writer(path)
        for piece in chunks(LARGE_SIZE):
            writer.write(piece)
        writer.commit()
        writer.close()
        assert writer.size == LARGE_SIZE
        assert driver.stat(path).size == LARGE_SIZE
        stream = driver.reader(path)
        with stream:
            digest = sha256_of_stream(iter(lambda: stream.read(MiB), b""))
        assert digest == sha256_of_stream(chunks(LARGE_SIZE))

    def test_zero_byte_stream_then_append(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        writer = driver.writer(path)
        writer.commit()
        writer.close()
        assert writer.size == 0
        assert driver.stat(path).size == 0
        assert driver.get_content(path) == b""
        content = random_bytes(32, 8)
        appender = driver.writer(path, append=True)
        assert appender.size == 0
        appender.write(content)
        appender.commit()
        appender.close()
        assert appender.size == 32
        assert driver.get_content(path) == content

    def test_zero_byte_content_then_append(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        driver.put_content(path, b"")
        content = random_bytes(32, 9)
        appender = driver.writer(path, append=True)
        assert appender.size == 0
        appender.write(content)
        appender.commit()
        appender.close()
        assert driver.get_content(path) == content

    @pytest.mark.parametrize("chunk_size", [32, APPEND_CHUNK], ids=["32-bytes", "large-chunks"])
    def test_continue_stream_append(
        self, driver: StorageDriver, base: str, chunk_size: int
    ) -> None:
        path = f"{base}/upload"
        parts = [random_bytes(chunk_size, seed) for seed in range(3)]
        writer = driver.writer(path)
        writer.write(parts[0])
        writer.close()
        assert writer.size == chunk_size
        writer = driver.writer(path, append=True)
        assert writer.size == chunk_size
        writer.write(parts[1])
        writer.close()
        assert writer.size == 2 * chunk_size
        writer = driver.writer(path, append=True)
        assert writer.size == 2 * chunk_size
        writer.write(parts[2])
        writer.commit()
        writer.close()
        assert writer.size == 3 * chunk_size
        assert driver.stat(path).size == 3 * chunk_size
        assert read_all(driver.reader(path)) == b"".join(parts)

    def test_resumed_writer_that_writes_nothing_keeps_size(
        self, driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/upload"
        _write_stream(driver, path, b"0123456789", commit=False)
        for _ in range(2):
            writer = driver.writer(path, append=True)
            assert writer.size == 10
            writer.close()
            assert writer.size == 10
        writer = driver.writer(path, append=True)
        writer.commit()
        writer.close()
        assert driver.get_content(path) == b"0123456789"

    def test_resume_from_second_driver(
        self, driver: StorageDriver, second_driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/upload"
        first, second = random_bytes(1000, 10), random_bytes(2000, 11)
        _write_stream(driver, path, first, commit=False)
        writer = second_driver.writer(path, append=True)
        assert writer.size == len(first)
        writer.write(second)
        writer.close()
        writer = driver.writer(path, append=True)
        assert writer.size == len(first) + len(second)
        writer.commit()
        writer.close()
        assert second_driver.get_content(path) == first + second

    def test_pending_upload_is_invisible(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/dir/upload"
        _write_stream(driver, path, b"pending", commit=False)
        with pytest.raises(PathNotFoundError):
            driver.get_content(path)
        with pytest.raises(PathNotFoundError):
            driver.reader(path).read()
        with pytest.raises(PathNotFoundError):
            driver.stat(path)
        with pytest.raises(PathNotFoundError):
            driver.stat(f"{base}/dir")
        with pytest.raises(PathNotFoundError):
            driver.list(f"{base}/dir")
        assert base not in driver.list("/")
        assert list(driver.walk("/")) == []
        writer = driver.writer(path, append=True)
        assert writer.size == 7
        writer.cancel()

    def test_pending_upload_does_not_replace_committed_content(
        self, driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/file"
        driver.put_content(path, b"committed")
        _write_stream(driver, path, b"pending upload", commit=False)
        assert driver.get_content(path) == b"committed"
        assert driver.stat(path).size == len(b"committed")
        assert [i.path for i in driver.walk(base)] == [path]
        writer = driver.writer(path, append=True)
        assert writer.size == len(b"pending upload")
        writer.commit()
        writer.close()
        assert driver.get_content(path) == b"pending upload"

    def test_cancel_leaves_committed_content(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        driver.put_content(path, b"committed")
        writer = driver.writer(path)
        writer.write(b"discarded")
        writer.close()
        writer = driver.writer(path, append=True)
        writer.write(b" more")
        writer.cancel()
        assert driver.get_content(path) == b"committed"

    def test_cancel_discards_the_pending_upload(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/upload"
        _write_stream(driver, path, b"abc", commit=False)
        writer = driver.writer(path, append=True)
        assert writer.size == 3
        writer.cancel()
        assert writer.size == 3
        writer = driver.writer(path, append=True)
        assert writer.size == 0
        writer.cancel()
        with pytest.raises(PathNotFoundError):
            driver.get_content(path)

    def test_append_false_starts_empty(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        driver.put_content(path, b"old content")
        _write_stream(driver, path, b"pending", commit=False)
        writer = driver.writer(path)
        assert writer.size == 0
        writer.write(b"new")
        writer.commit()
        writer.close()
        assert driver.get_content(path) == b"new"

    def test_append_false_replaces_the_pending_upload(
        self, driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/upload"
        _write_stream(driver, path, b"older pending upload", commit=False)
        _write_stream(driver, path, b"newer", commit=False)
        writer = driver.writer(path, append=True)
        assert writer.size == len(b"newer")
        writer.write(b" and resumed")
        writer.commit()
        writer.close()
        assert driver.get_content(path) == b"newer and resumed"

    def test_commit_replaces_committed_content(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        driver.put_content(path, random_bytes(5000, 12))
        _write_stream(driver, path, b"replacement")
        assert driver.get_content(path) == b"replacement"

    def test_put_content_and_move_leave_pending_uploads_alone(
        self, driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/upload"
        _write_stream(driver, path, b"pending", commit=False)
        driver.put_content(path, b"other")
        driver.put_content(f"{base}/source", b"moved")
        driver.move(f"{base}/source", path)
        writer = driver.writer(path, append=True)
        assert writer.size == 7
        writer.commit()
        writer.close()
        assert driver.get_content(path) == b"pending"

    def test_delete_discards_pending_uploads(self, driver: StorageDriver, base: str) -> None:
        upload = f"{base}/_uploads/1234/data"
        _write_stream(driver, upload, random_bytes(4096, 13), commit=False)
        _write_stream(driver, f"{base}/_uploads/1234/other", b"x", commit=False)
        driver.delete(f"{base}/_uploads")  # no committed files there: still not an error
        writer = driver.writer(upload, append=True)
        assert writer.size == 0
        writer.cancel()
        with pytest.raises(PathNotFoundError):
            driver.delete(f"{base}/_uploads")

    def test_delete_files_discards_their_pending_uploads_only(
        self, driver: StorageDriver, base: str
    ) -> None:
        committed, pending, neighbour = (f"{base}/dir/{name}" for name in ("a", "b", "c"))
        driver.put_content(committed, b"committed")
        _write_stream(driver, pending, b"pending", commit=False)
        _write_stream(driver, neighbour, b"kept", commit=False)
        driver.delete_files([committed, pending])
        with pytest.raises(PathNotFoundError):
            driver.stat(committed)
        writer = driver.writer(pending, append=True)
        assert writer.size == 0
        writer.cancel()
        writer = driver.writer(neighbour, append=True)
        assert writer.size == 4
        writer.cancel()

    def test_delete_of_a_file_discards_its_pending_upload(
        self, driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/file"
        driver.put_content(path, b"committed")
        _write_stream(driver, path, b"pending", commit=False)
        driver.delete(path)
        writer = driver.writer(path, append=True)
        assert writer.size == 0
        writer.cancel()

    def _closed_writer_checks(self, writer: FileWriter) -> None:
        size = writer.size
        with pytest.raises(ValueError, match="already"):
            writer.write(b"more")
        with pytest.raises(ValueError, match="already"):
            writer.commit()
        with pytest.raises(ValueError, match="already"):
            writer.cancel()
        writer.close()
        writer.close()
        assert writer.size == size

    def test_writer_after_close(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/upload"
        writer = driver.writer(path)
        writer.write(b"abc")
        writer.close()
        self._closed_writer_checks(writer)
        assert writer.size == 3
        resumed = driver.writer(path, append=True)
        assert resumed.size == 3
        resumed.cancel()

    def test_writer_after_commit(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        writer = driver.writer(path)
        writer.write(b"abc")
        writer.commit()
        self._closed_writer_checks(writer)
        assert driver.get_content(path) == b"abc"

    def test_writer_after_cancel(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        writer = driver.writer(path)
        writer.write(b"abc")
        writer.cancel()
        self._closed_writer_checks(writer)
        with pytest.raises(PathNotFoundError):
            driver.get_content(path)

    def test_writer_context_manager_closes_without_commit(
        self, driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/upload"
        with driver.writer(path) as writer:
            writer.write(b"kept for later")
        assert writer.closed
        with pytest.raises(PathNotFoundError):
            driver.get_content(path)
        resumed = driver.writer(path, append=True)
        assert resumed.size == len(b"kept for later")
        resumed.commit()
        resumed.close()
        assert driver.get_content(path) == b"kept for later"

    def test_writer_works_with_shutil_copyfileobj(self, driver: StorageDriver, base: str) -> None:
        import shutil

        path = f"{base}/copied"
        content = random_bytes(300_000, 14)
        writer = driver.writer(path)
        shutil.copyfileobj(io.BytesIO(content), writer, 64 * 1024)
        writer.commit()
        writer.close()
        assert driver.get_content(path) == content

    def test_concurrent_file_streams(self, driver: StorageDriver, base: str) -> None:
        failures: list[str] = []

        def stream(index: int) -> None:
            path = f"{base}/stream-{index}"
            content = random_bytes(4096 + index, 100 + index)
            try:
                _write_stream(driver, path, content)
                if read_all(driver.reader(path)) != content:
                    failures.append(f"{path}: content differs")
            except Exception as exc:
                failures.append(f"{path}: {exc!r}")

        threads = [threading.Thread(target=stream, args=(i,)) for i in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures[:3]
        assert len(driver.list(base)) == 32
