"""Paths, errors, and whole-content reads and writes."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ..driver import StorageDriver
from ..errors import (
    InvalidPathError,
    PathNotFoundError,
    StorageDriverError,
)
from ._support import MiB, SuiteBase, random_bytes

VALID_PATHS = [
    "/a",
    "/2",
    "/a.a",
    "/0-9/abcdefg",
    "/abcdefg/z.75",
    "/abc/1.2.3.4.5-6_zyx/123.z/4",
    "/docker/docker-registry",
    "/123.abc",
    "/abc./abc",
    "/.abc",
    "/a--b",
    "/a-.b",
    "/_.abc",
    "/Docker/docker-registry",
    "/Abc/Cba",
]

INVALID_PATHS = [
    "",
    "/",
    "abc",
    "123.abc",
    "//bcd",
    "/abc_123/",
    "/a//b",
    "/a b",
    "/a:b",
    "/ü",
    "/a\\b",
    "/a/.",
    "/a/..",
    "/..",
    "/.",
    "/a/../b",
    "/a/./b",
]


class ContentTests(SuiteBase):
    """Valid and invalid paths, error classes, ``put_content`` and ``get_content``."""

    def test_valid_paths(self, driver: StorageDriver) -> None:
        for path in VALID_PATHS:
            content = path.encode() * 3
            driver.put_content(path, content)
            try:
                assert driver.get_content(path) == content
            finally:
                driver.delete("/" + path.split("/")[1])

    @pytest.mark.parametrize("path", INVALID_PATHS)
    def test_invalid_paths_rejected(self, driver: StorageDriver, path: str) -> None:
        with pytest.raises(InvalidPathError) as caught:
            driver.put_content(path, b"x")
        assert caught.value.path == path
        assert str(caught.value).startswith(f"{driver.name}: ")
        with pytest.raises(InvalidPathError):
            driver.get_content(path)

    def test_dot_components_rejected_by_every_method(self, driver: StorageDriver) -> None:
        bad = "/a/../b"
        calls: list[tuple[str, Any]] = [
            ("get_content", lambda: driver.get_content(bad)),
            ("put_content", lambda: driver.put_content(bad, b"x")),
            ("reader", lambda: driver.reader(bad)),
            ("writer", lambda: driver.writer(bad)),
            ("stat", lambda: driver.stat(bad)),
            ("list", lambda: driver.list(bad)),
            ("move source", lambda: driver.move(bad, "/b")),
            ("move dest", lambda: driver.move("/b", bad)),
            ("delete", lambda: driver.delete(bad)),
            ("redirect_url", lambda: driver.redirect_url(bad)),
            ("walk", lambda: list(driver.walk(bad))),
        ]
        for label, call in calls:
            with pytest.raises(InvalidPathError):
                call()
            assert label  # names the failing call in the traceback

    def test_root_is_valid_only_for_stat_list_walk(self, driver: StorageDriver) -> None:
        for call in (
            lambda: driver.get_content("/"),
            lambda: driver.put_content("/", b"x"),
            lambda: driver.reader("/"),
            lambda: driver.writer("/"),
            lambda: driver.delete("/"),
            lambda: driver.move("/", "/a"),
            lambda: driver.move("/a", "/"),
            lambda: driver.redirect_url("/"),
        ):
            with pytest.raises(InvalidPathError):
                call()
        assert driver.list("/") == []
        assert list(driver.walk("/")) == []
        try:
            info = driver.stat("/")
        except PathNotFoundError:
            pass
        else:
            assert info.is_dir

    def test_path_not_found_error_names_driver_and_path(self, driver: StorageDriver) -> None:
        with pytest.raises(PathNotFoundError) as caught:
            driver.get_content("/no/such/file")
        error = caught.value
        assert isinstance(error, FileNotFoundError)
        assert isinstance(error, StorageDriverError)
        assert error.path == "/no/such/file"
        assert error.driver_name == driver.name
        assert str(error).startswith(f"{driver.name}: ")
        assert "/no/such/file" in str(error)

    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(b"a", id="1-byte"),
            pytest.param("\u00e9t\u00e9 \u2603 \U0001f433 registre".encode(), id="utf8"),
            pytest.param(bytes(range(32)), id="32-bytes"),
            pytest.param(random_bytes(MiB, 1), id="1-mib"),
            pytest.param(b"\xff\xfe\xfd\x80\x00\xc3\x28\xa0\xa1", id="non-utf8"),
            pytest.param(b"", id="empty"),
        ],
    )
    def test_write_read(self, driver: StorageDriver, base: str, content: bytes) -> None:
        path = f"{base}/dir/file"
        driver.put_content(path, content)
        assert driver.get_content(path) == content
        assert driver.stat(path).size == len(content)

    def test_put_content_accepts_bytearray_and_memoryview(
        self, driver: StorageDriver, base: str
    ) -> None:
        driver.put_content(f"{base}/ba", bytearray(b"bytearray"))
        driver.put_content(f"{base}/mv", memoryview(b"xxmemoryviewxx")[2:-2])
        assert driver.get_content(f"{base}/ba") == b"bytearray"
        assert driver.get_content(f"{base}/mv") == b"memoryview"

    def test_truncate(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        driver.put_content(path, random_bytes(1024, 2))
        driver.put_content(path, b"short")
        assert driver.get_content(path) == b"short"
        assert driver.stat(path).size == 5

    def test_put_content_multiple_times(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        for round_ in range(5):
            content = random_bytes(100 + round_, round_)
            driver.put_content(path, content)
            assert driver.get_content(path) == content

    def test_get_content_missing(self, driver: StorageDriver, base: str) -> None:
        with pytest.raises(PathNotFoundError):
            driver.get_content(f"{base}/missing")

    def test_get_content_of_directory_is_not_found(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/dir/file", b"x")
        with pytest.raises(PathNotFoundError):
            driver.get_content(f"{base}/dir")

    def test_put_content_is_atomic_under_concurrent_readers(
        self, driver: StorageDriver, base: str
    ) -> None:
        path = f"{base}/link"
        old, new = b"o" * (256 * 1024), b"n" * (128 * 1024)
        driver.put_content(path, old)
        stop = threading.Event()
        seen: list[bytes] = []
        errors: list[BaseException] = []

        def read() -> None:
            try:
                while not stop.is_set():
                    seen.append(driver.get_content(path))
            except BaseException as exc:
                errors.append(exc)

        readers = [threading.Thread(target=read) for _ in range(4)]
        for thread in readers:
            thread.start()
        try:
            for round_ in range(20):
                driver.put_content(path, new if round_ % 2 == 0 else old)
        finally:
            stop.set()
            for thread in readers:
                thread.join()
        assert not errors, f"a reader failed during put_content: {errors[0]!r}"
        torn = [len(content) for content in seen if content not in (old, new)]
        assert not torn, f"readers saw torn content of sizes {torn[:5]}"
        assert seen
