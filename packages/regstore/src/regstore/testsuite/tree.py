"""The namespace: ``stat``, ``list``, ``move``, ``delete``, ``walk`` and ``redirect_url``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ..driver import FileInfo, StorageDriver
from ..errors import InvalidPathError, PathNotFoundError
from ._support import SuiteBase, expected_walk, fetch, random_bytes, walk_tuples

#: A small registry-shaped tree, with names that sort differently by component
#: and by byte (``a-1`` before ``a/`` in byte order, ``0.1.2`` vs ``0.1.20``).
TREE = {
    "/a/x": 1,
    "/a/y/z": 2,
    "/a-1/y": 3,
    "/a.b": 4,
    "/ab/c": 5,
    "/tags/0.1.2/current/link": 6,
    "/tags/0.1.20/current/link": 7,
    "/tags/0.1.2-rc/link": 8,
    "/z": 9,
}


def _put_tree(driver: StorageDriver, base: str, tree: dict[str, int]) -> dict[str, int]:
    files = {f"{base}{path}": size for path, size in tree.items()}
    for path, size in files.items():
        driver.put_content(path, random_bytes(size, size))
    return files


class StatListTests(SuiteBase):
    """``stat`` and ``list``."""

    def test_stat_file_and_directories(self, driver: StorageDriver, base: str) -> None:
        before = datetime.now(timezone.utc) - timedelta(minutes=5)
        path = f"{base}/dir/sub/file"
        driver.put_content(path, b"12345")
        info = driver.stat(path)
        assert info == FileInfo(path, 5, info.mod_time, False)
        assert info.mod_time.tzinfo is not None
        assert before <= info.mod_time <= datetime.now(timezone.utc) + timedelta(minutes=5)
        for directory in (base, f"{base}/dir", f"{base}/dir/sub"):
            dir_info = driver.stat(directory)
            assert dir_info.path == directory
            assert dir_info.is_dir
            assert dir_info.size == 0
            assert dir_info.mod_time.tzinfo is not None
        for missing in (f"{base}/dir/su", f"{base}/di", f"{base}/dir/sub/file/x", f"{base}/nope"):
            with pytest.raises(PathNotFoundError):
                driver.stat(missing)

    def test_stat_root(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/file", b"x")
        info = driver.stat("/")
        assert info.is_dir
        assert info.path == "/"

    def test_stat_mod_time_follows_changes(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/file"
        driver.put_content(path, b"one")
        first = driver.stat(path).mod_time
        driver.put_content(path, b"second version")
        second = driver.stat(path)
        assert second.size == len(b"second version")
        assert second.mod_time >= first

    def test_list(self, driver: StorageDriver, base: str) -> None:
        files = _put_tree(driver, base, TREE)
        assert base in driver.list("/")
        assert driver.list(base) == sorted(
            {f"{base}/{p[len(base) + 1 :].split('/')[0]}" for p in files}
        )
        assert driver.list(f"{base}/a") == [f"{base}/a/x", f"{base}/a/y"]
        assert driver.list(f"{base}/tags") == [
            f"{base}/tags/0.1.2",
            f"{base}/tags/0.1.2-rc",
            f"{base}/tags/0.1.20",
        ]

    def test_list_empty_root(self, driver: StorageDriver) -> None:
        assert driver.list("/") == []

    def test_list_missing_or_file_is_not_found(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/dir/file", b"x")
        for path in (f"{base}/missing", f"{base}/di", f"{base}/dir/file"):
            with pytest.raises(PathNotFoundError):
                driver.list(path)

    def test_list_prefix_is_not_a_directory(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/a/b", b"1")
        driver.put_content(f"{base}/ab", b"2")
        driver.put_content(f"{base}/a-b/c", b"3")
        assert driver.list(f"{base}/a") == [f"{base}/a/b"]
        assert driver.list(base) == [f"{base}/a", f"{base}/a-b", f"{base}/ab"]

    def test_list_many_entries_paginates(self, driver: StorageDriver, base: str) -> None:
        names = [f"{base}/many/{index:05d}" for index in range(1100)]
        for name in names:
            driver.put_content(name, b"")
        driver.put_content(f"{base}/many/sub/file", b"")
        assert driver.list(f"{base}/many") == sorted([*names, f"{base}/many/sub"])


class MoveDeleteTests(SuiteBase):
    """``move`` and ``delete``."""

    def test_move(self, driver: StorageDriver, base: str) -> None:
        content = random_bytes(32_000, 20)
        driver.put_content(f"{base}/src/dir/file", content)
        driver.move(f"{base}/src/dir/file", f"{base}/dest/new/place")
        assert driver.get_content(f"{base}/dest/new/place") == content
        with pytest.raises(PathNotFoundError):
            driver.get_content(f"{base}/src/dir/file")
        with pytest.raises(PathNotFoundError):
            driver.stat(f"{base}/src")
        assert driver.list(base) == [f"{base}/dest"]

    def test_move_overwrite(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/src", b"new content")
        driver.put_content(f"{base}/dest", random_bytes(5000, 21))
        driver.move(f"{base}/src", f"{base}/dest")
        assert driver.get_content(f"{base}/dest") == b"new content"
        with pytest.raises(PathNotFoundError):
            driver.get_content(f"{base}/src")

    def test_move_missing_source_leaves_dest(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/dest", b"untouched")
        with pytest.raises(PathNotFoundError) as caught:
            driver.move(f"{base}/missing", f"{base}/dest")
        assert caught.value.path == f"{base}/missing"
        assert driver.get_content(f"{base}/dest") == b"untouched"

    def test_move_invalid(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/file", b"x")
        with pytest.raises(InvalidPathError):
            driver.move(f"{base}/file", "/")
        with pytest.raises(InvalidPathError):
            driver.move(f"{base}/file", f"{base}//x")
        assert driver.get_content(f"{base}/file") == b"x"

    def test_delete_file(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/file", b"x")
        driver.put_content(f"{base}/other", b"y")
        driver.delete(f"{base}/file")
        with pytest.raises(PathNotFoundError):
            driver.get_content(f"{base}/file")
        assert driver.list(base) == [f"{base}/other"]

    def test_delete_folder(self, driver: StorageDriver, base: str) -> None:
        for name in ("f1", "f2", "sub/f3", "sub/deeper/f4"):
            driver.put_content(f"{base}/folder/{name}", b"x")
        driver.put_content(f"{base}/keep", b"y")
        driver.delete(f"{base}/folder/sub")
        assert driver.list(f"{base}/folder") == [f"{base}/folder/f1", f"{base}/folder/f2"]
        driver.delete(f"{base}/folder")
        for gone in (f"{base}/folder", f"{base}/folder/f1", f"{base}/folder/sub/deeper/f4"):
            with pytest.raises(PathNotFoundError):
                driver.stat(gone)
        assert driver.list(base) == [f"{base}/keep"]

    def test_delete_only_deletes_subpaths(self, driver: StorageDriver, base: str) -> None:
        for name in ("a/file", "ab", "a-b/file", "a.b", "abc/file"):
            driver.put_content(f"{base}/{name}", name.encode())
        driver.delete(f"{base}/a")
        assert driver.list(base) == [f"{base}/a-b", f"{base}/a.b", f"{base}/ab", f"{base}/abc"]
        assert driver.get_content(f"{base}/a-b/file") == b"a-b/file"
        assert driver.get_content(f"{base}/abc/file") == b"abc/file"

    def test_delete_missing(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/ab", b"x")
        for path in (f"{base}/missing", f"{base}/a", f"{base}/ab/c"):
            with pytest.raises(PathNotFoundError):
                driver.delete(path)
        assert driver.get_content(f"{base}/ab") == b"x"

    def test_delete_many(self, driver: StorageDriver, base: str) -> None:
        for index in range(1050):
            driver.put_content(f"{base}/many/{index // 100}/{index}", b"")
        driver.delete(f"{base}/many")
        with pytest.raises(PathNotFoundError):
            driver.list(f"{base}/many")

    def test_delete_files(self, driver: StorageDriver, base: str) -> None:
        names = [f"{base}/blobs/{index % 7}/{index}/data" for index in range(1005)]
        for index, path in enumerate(names):
            driver.put_content(path, str(index).encode())
        kept = [f"{base}/blobs/0/0/other", f"{base}/blobs/0/1/data2", f"{base}/blobs-x/data"]
        for path in kept:
            driver.put_content(path, b"kept")
        doomed = [*names[1:], f"{base}/missing", f"{base}/blobs/0/7/data/below"]
        driver.delete_files(iter(doomed))
        assert driver.get_content(names[0]) == b"0"
        for path in kept:
            assert driver.get_content(path) == b"kept"
        for path in (names[1], names[500], names[-1], f"{base}/blobs/3/3"):
            with pytest.raises(PathNotFoundError):
                driver.stat(path)
        driver.delete_files([])  # nothing to do
        with pytest.raises(InvalidPathError):
            driver.delete_files([f"{base}/ok", f"{base}//bad"])


class WalkTests(SuiteBase):
    """``walk``: order, infos, ``prune``, ``start_after``."""

    def test_walk_order_and_infos(self, driver: StorageDriver, base: str) -> None:
        files = _put_tree(driver, base, TREE)
        walked = list(driver.walk(base))
        assert walk_tuples(iter(walked)) == expected_walk(files, base)
        keys = [info.walk_key for info in walked]
        assert keys == sorted(keys)
        for info in walked:
            assert info.mod_time.tzinfo is not None
            if not info.is_dir:
                assert info.size == files[info.path]

    def test_walk_from_root_and_subdirectory(self, driver: StorageDriver, base: str) -> None:
        files = _put_tree(driver, base, TREE)
        assert walk_tuples(driver.walk("/")) == expected_walk(files, "/")
        assert walk_tuples(driver.walk(f"{base}/a")) == expected_walk(files, f"{base}/a")
        assert walk_tuples(driver.walk(f"{base}/tags/0.1.2")) == [
            (f"{base}/tags/0.1.2/current", True, 0),
            (f"{base}/tags/0.1.2/current/link", False, 6),
        ]

    def test_walk_byte_order_example(self, driver: StorageDriver, base: str) -> None:
        for name in ("a/x", "a-1/y"):
            driver.put_content(f"{base}/{name}", b"")
        assert [i.path for i in driver.walk(base)] == [
            f"{base}/a-1",
            f"{base}/a-1/y",
            f"{base}/a",
            f"{base}/a/x",
        ]

    def test_walk_prune(self, driver: StorageDriver, base: str) -> None:
        files = _put_tree(driver, base, TREE)
        pruned = {f"{base}/a", f"{base}/tags/0.1.2"}
        walked = walk_tuples(driver.walk(base, prune=lambda info: info.path in pruned))
        expected = [
            entry
            for entry in expected_walk(files, base)
            if not any(entry[0].startswith(p + "/") for p in pruned)
        ]
        assert walked == expected
        assert (f"{base}/a", True, 0) in walked

    def test_walk_prune_many(self, driver: StorageDriver, base: str) -> None:
        for index in range(1100):
            driver.put_content(f"{base}/big/{index:05d}", b"")
        driver.put_content(f"{base}/c/after", b"x")
        walked = [i.path for i in driver.walk(base, prune=lambda i: i.path == f"{base}/big")]
        assert walked == [f"{base}/big", f"{base}/c", f"{base}/c/after"]

    @pytest.mark.parametrize(
        "start_after",
        [
            "",
            "/a",
            "/a-1",
            "/a-1/",
            "/a-1/y",
            "/a.b",
            "/a/",
            "/a/x",
            "/a/y",
            "/a/y/",
            "/a/y/z",
            "/ab",
            "/tags/0.1.2/",
            "/tags/0.1.2/current/link",
            "/tags/0.1.2-rc",
            "/z",
            "/zz",
        ],
    )
    def test_walk_start_after(self, driver: StorageDriver, base: str, start_after: str) -> None:
        files = _put_tree(driver, base, TREE)
        after = base + start_after
        walked = walk_tuples(driver.walk(base, start_after=after))
        expected = [e for e in expected_walk(files, base) if (e[0] + "/" if e[1] else e[0]) > after]
        assert walked == expected

    def test_walk_start_after_outside_path(self, driver: StorageDriver, base: str) -> None:
        files = _put_tree(driver, base, TREE)
        assert walk_tuples(driver.walk(base, start_after="/")) == expected_walk(files, base)
        assert list(driver.walk(base, start_after=base + "~")) == []

    def test_walk_missing_or_file_is_not_found(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/file", b"x")
        for path in (f"{base}/missing", f"{base}/file", f"{base}/fil"):
            with pytest.raises(PathNotFoundError):
                list(driver.walk(path))

    def test_walk_empty_root(self, driver: StorageDriver) -> None:
        assert list(driver.walk("/")) == []


class RedirectTests(SuiteBase):
    """``redirect_url``: a URL plain HTTP clients can GET and HEAD, or None."""

    def test_redirect_url(self, driver: StorageDriver, base: str) -> None:
        path = f"{base}/blob"
        content = random_bytes(3000, 30)
        driver.put_content(path, content)
        url = driver.redirect_url(path)
        if url is None:
            assert driver.redirect_url(path, method="HEAD") is None
            return
        status, _, body = fetch(url)
        assert status == 200
        assert body == content
        head_url = driver.redirect_url(path, method="HEAD", expires_in=60)
        assert head_url is not None
        status, headers, body = fetch(head_url, "HEAD")
        assert status == 200
        assert int({k.lower(): v for k, v in headers.items()}["content-length"]) == len(content)
        assert body == b""

    def test_redirect_url_only_for_get_and_head(self, driver: StorageDriver, base: str) -> None:
        driver.put_content(f"{base}/blob", b"x")
        for method in ("PUT", "DELETE", "POST"):
            assert driver.redirect_url(f"{base}/blob", method=method) is None
