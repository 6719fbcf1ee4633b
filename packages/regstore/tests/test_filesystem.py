"""The filesystem driver's own behaviour: parameters, on-disk layout, listings, delete and move.

The conformance suite covers the contract; these tests cover what only a real
directory tree has: where files land, hidden names, empty directories, and
files written by another tool (a registry) beside ours.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import time
from datetime import timedelta, timezone
from pathlib import Path

import pytest

import regstore
from regstore import DriverError, InvalidParameterError, PathNotFoundError, StorageDriver
from regstore.driver import FileInfo
from regstore.drivers._fsutil import STALE_AFTER
from regstore.drivers.filesystem import FilesystemDriver


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def driver(root: Path) -> StorageDriver:
    return regstore.create("filesystem", {"rootdirectory": str(root)})


def tree(root: Path) -> list[str]:
    """Every file and directory under ``root``, relative, sorted (what is really on disk).

    The ``~uploads`` folder, which stays once made, is left out while it is empty.
    """
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    if found.count("~uploads") and not any(p.startswith("~uploads/") for p in found):
        found.remove("~uploads")
    return found


# -- parameters -------------------------------------------------------------------


def test_parameters_default_to_the_registry_values() -> None:
    driver = FilesystemDriver({})
    assert driver.rootdirectory == "/var/lib/registry"
    assert driver.concurrency_limit == 100


@pytest.mark.parametrize(
    ("given", "limit"), [(1, 25), ("24", 25), (-3, 25), ("25", 25), (64, 64), ("0x100", 256)]
)
def test_maxthreads_below_25_is_raised_to_25(root: Path, given: object, limit: int) -> None:
    driver = regstore.create("filesystem", {"rootdirectory": str(root), "maxthreads": given})
    assert regstore.unwrap(driver).concurrency_limit == limit


def test_maxthreads_that_is_not_a_number_names_the_parameter(root: Path) -> None:
    with pytest.raises(InvalidParameterError, match="maxthreads") as caught:
        regstore.create("filesystem", {"rootdirectory": str(root), "maxthreads": "many"})
    assert caught.value.parameter == "maxthreads"


def test_unknown_parameter_is_refused_with_the_allowed_keys(root: Path) -> None:
    with pytest.raises(InvalidParameterError, match="rootdirectory") as caught:
        regstore.create("filesystem", {"rootdir": str(root)})
    assert caught.value.parameter == "rootdir"


@pytest.mark.parametrize("given", [True, ["/a"], "/tmp/a\x00b"])
def test_a_rootdirectory_that_cannot_name_a_directory_is_refused(given: object) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        regstore.create("filesystem", {"rootdirectory": given})
    assert caught.value.parameter == "rootdirectory"


def test_rootdirectory_accepts_a_pathlib_path(root: Path) -> None:
    driver = regstore.create("filesystem", {"rootdirectory": root})
    driver.put_content("/x", b"1")
    assert (root / "x").read_bytes() == b"1"


def test_relative_rootdirectory_is_fixed_at_creation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    driver = regstore.create("filesystem", {"rootdirectory": "store"})
    monkeypatch.chdir("/")
    driver.put_content("/x", b"1")
    assert (tmp_path / "store" / "x").read_bytes() == b"1"


# -- layout -----------------------------------------------------------------------


def test_files_live_at_root_plus_path(driver: StorageDriver, root: Path) -> None:
    path = "/docker/registry/v2/repositories/library/alpine/_manifests/tags/3.20/current/link"
    driver.put_content(path, b"sha256:abc")
    assert (root / path[1:]).read_bytes() == b"sha256:abc"
    assert [p for p in tree(root) if (root / p).is_file()] == [path[1:]]


def test_a_registry_directory_is_read_in_place(driver: StorageDriver, root: Path) -> None:
    blob = root / "docker/registry/v2/blobs/sha256/ab/abcdef/data"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"layer bytes")
    os.utime(blob, (1_700_000_000, 1_700_000_000))

    assert driver.get_content("/docker/registry/v2/blobs/sha256/ab/abcdef/data") == b"layer bytes"
    info = driver.stat("/docker/registry/v2/blobs/sha256/ab/abcdef/data")
    assert (info.size, info.is_dir) == (11, False)
    assert info.mod_time.tzinfo == timezone.utc
    assert info.mod_time.timestamp() == 1_700_000_000
    assert driver.list("/docker/registry/v2/blobs/sha256") == [
        "/docker/registry/v2/blobs/sha256/ab"
    ]
    walked = [(i.path, i.is_dir) for i in driver.walk("/docker/registry/v2/blobs")]
    assert walked == [
        ("/docker/registry/v2/blobs/sha256", True),
        ("/docker/registry/v2/blobs/sha256/ab", True),
        ("/docker/registry/v2/blobs/sha256/ab/abcdef", True),
        ("/docker/registry/v2/blobs/sha256/ab/abcdef/data", False),
    ]


def test_root_is_created_on_the_first_write_only(driver: StorageDriver, root: Path) -> None:
    assert driver.list("/") == []
    assert list(driver.walk("/")) == []
    assert driver.stat("/").is_dir
    with pytest.raises(PathNotFoundError):
        driver.get_content("/a")
    with pytest.raises(PathNotFoundError):
        driver.delete("/a")
    assert not root.exists()

    driver.put_content("/a", b"1")
    assert root.is_dir()


def test_a_directory_without_files_is_still_a_directory(driver: StorageDriver, root: Path) -> None:
    (root / "made/by/another/tool").mkdir(parents=True)
    assert driver.stat("/made").is_dir
    assert driver.list("/made") == ["/made/by"]
    with pytest.raises(PathNotFoundError):
        driver.get_content("/made/by")


def test_listing_a_file_is_path_not_found(driver: StorageDriver) -> None:
    driver.put_content("/a/file", b"1")
    with pytest.raises(PathNotFoundError):
        driver.list("/a/file")
    with pytest.raises(PathNotFoundError):
        list(driver.walk("/a/file"))


def test_a_name_too_long_for_the_disk_is_missing_for_reads_and_refused_for_writes(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/a/b", b"1")
    long = "/a/" + "n" * 300
    for call in (
        lambda: driver.get_content(long),
        lambda: driver.reader(long),
        lambda: driver.stat(long),
        lambda: driver.list(long),
        lambda: list(driver.walk(long)),
        lambda: driver.delete(long),
        lambda: driver.move(long, "/b"),
    ):
        with pytest.raises(PathNotFoundError):
            call()
    with pytest.raises(DriverError, match="too long for the filesystem") as caught:
        driver.put_content(long, b"1")
    assert str(caught.value).startswith(f"filesystem: cannot store {long}: ")
    with pytest.raises(DriverError, match="too long for the filesystem"):
        driver.writer(long)
    assert tree(root) == ["a", "a/b"]


@pytest.mark.parametrize("offset", [3, 4, 2**45, 2**62, 2**63, 2**70])
def test_an_offset_beyond_what_the_disk_addresses_reads_nothing(
    driver: StorageDriver, offset: int
) -> None:
    driver.put_content("/a", b"abc")
    with driver.reader("/a", offset) as stream:
        assert stream.read() == b""


def test_a_root_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "root").write_bytes(b"not a directory")
    driver = regstore.create("filesystem", {"rootdirectory": str(tmp_path / "root")})
    for call in (
        lambda: driver.list("/"),
        lambda: list(driver.walk("/")),
        lambda: driver.stat("/"),
    ):
        with pytest.raises(DriverError, match="not a directory") as caught:
            call()
        assert str(tmp_path / "root") in str(caught.value)
    with pytest.raises(DriverError, match=f"storage root {tmp_path / 'root'}"):
        driver.put_content("/a", b"1")


# -- hidden names -----------------------------------------------------------------


def test_own_names_never_show_in_listings(driver: StorageDriver, root: Path) -> None:
    driver.put_content("/repo/file", b"1")
    with driver.writer("/repo/upload") as upload:
        upload.write(b"pending")
    # A temp file that a crash left behind, beside a stored file.
    (root / "repo" / "~tmp.0123456789abcdef").write_bytes(b"torn")

    assert driver.list("/") == ["/repo"]
    assert driver.list("/repo") == ["/repo/file"]
    assert [i.path for i in driver.walk("/")] == ["/repo", "/repo/file"]
    with pytest.raises(PathNotFoundError):
        driver.stat("/repo/upload")
    driver.delete("/repo")
    assert tree(root) == []


def age(path: Path, seconds: float) -> None:
    """Make ``path`` look untouched for ``seconds``."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_list_and_walk_sweep_stale_temp_files_from_the_folders_they_read(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/repo/sub/file", b"1")
    driver.put_content("/top", b"1")
    stale = [root / "~tmp.00000000000000aa", root / "repo/~tmp.00000000000000bb"]
    stale.append(root / "repo/sub/~tmp.00000000000000cc")
    fresh = root / "repo/~tmp.00000000000000dd"  # a live put_content's, maybe
    other = root / "repo/~tmp.not-ours"  # hidden, but no name the driver makes
    for file in (*stale, fresh, other):
        file.write_bytes(b"torn")
    for file in (*stale, other):
        age(file, 2 * STALE_AFTER)

    assert driver.list("/") == ["/repo", "/top"]
    assert [file.exists() for file in stale] == [False, True, True]  # the listed folder only
    assert [i.path for i in driver.walk("/repo")] == ["/repo/sub", "/repo/sub/file"]
    assert [file.exists() for file in stale] == [False, False, False]
    assert fresh.exists()
    assert other.exists()
    assert driver.get_content("/repo/sub/file") == b"1"


def test_delete_sweeps_stale_temp_files_of_other_uploads_but_never_an_upload(
    driver: StorageDriver, root: Path
) -> None:
    with driver.writer("/keep/upload") as upload:
        upload.write(b"pending")
    with driver.writer("/gone") as upload:
        upload.write(b"x")
    uploads = root / "~uploads"
    stale, fresh = (
        uploads / "keep~upload~~tmp.00000000000000aa",
        uploads / "gone~~tmp.0000000000000bb0",
    )
    for file in (stale, fresh):
        file.write_bytes(b"torn")
    for name in ("keep~upload~~tmp.00000000000000aa", "keep~upload~~data", "keep~upload~~size"):
        age(uploads / name, 2 * STALE_AFTER)
    driver.delete("/gone")  # its own temp file goes with it, fresh or not
    assert sorted(p.name for p in uploads.iterdir()) == ["keep~upload~~data", "keep~upload~~size"]
    with driver.writer("/keep/upload", append=True) as upload:
        assert upload.size == 7


# -- walk -------------------------------------------------------------------------


class _Entry:
    """An ``os.DirEntry`` stand-in that counts ``stat`` calls."""

    def __init__(self, entry: os.DirEntry[str], stats: list[str]) -> None:
        self._entry = entry
        self._stats = stats
        self.name = entry.name
        self.path = entry.path

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._entry.is_dir(follow_symlinks=follow_symlinks)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return self._entry.is_file(follow_symlinks=follow_symlinks)

    def is_symlink(self) -> bool:
        return self._entry.is_symlink()

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        self._stats.append(self.path)
        return self._entry.stat(follow_symlinks=follow_symlinks)


class _Scan:
    def __init__(self, path: str, stats: list[str]) -> None:
        self._scan = _real_scandir(path)
        self._stats = stats

    def __enter__(self) -> _Scan:
        return self

    def __exit__(self, *exc: object) -> None:
        self._scan.close()

    def __iter__(self) -> _Scan:
        return self

    def __next__(self) -> _Entry:
        return _Entry(next(self._scan), self._stats)


_real_scandir = os.scandir


def test_walk_stats_each_file_once_and_no_directory(
    driver: StorageDriver, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = ["/a/b/c", "/a/b/d", "/a-1/x", "/a.b", "/z/y/x/w"]
    for number, path in enumerate(files):
        driver.put_content(path, b"x" * number)
    stats: list[str] = []
    other: list[str] = []
    monkeypatch.setattr(os, "scandir", lambda path: _Scan(path, stats))
    for name in ("stat", "lstat"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda p, *a, _real=real, **k: (other.append(str(p)), _real(p, *a, **k))[1]
        )

    walked = {i.path: i.size for i in driver.walk("/") if not i.is_dir}

    assert walked == {path: number for number, path in enumerate(files)}
    assert sorted(stats) == sorted(str(root) + path for path in files)
    assert other == []


def test_walk_reports_what_stat_reports_as_a_frozen_picklable_dataclass(
    driver: StorageDriver,
) -> None:
    driver.put_content("/a/b", b"12345")
    walked = {info.path: info for info in driver.walk("/")}
    file, directory = walked["/a/b"], walked["/a"]

    assert file == driver.stat("/a/b")
    assert hash(file) == hash(driver.stat("/a/b"))
    assert file.mod_time.tzinfo is not None
    assert file.mod_time.utcoffset() == timedelta(0)
    assert directory.is_dir
    assert directory.size == 0
    assert repr(file) == repr(driver.stat("/a/b"))
    assert pickle.loads(pickle.dumps(file)) == file
    assert copy.deepcopy(file) == file
    assert dataclasses.replace(file, size=1) == FileInfo("/a/b", 1, file.mod_time, False)
    assert dataclasses.asdict(file)["mod_time"] == file.mod_time
    with pytest.raises(dataclasses.FrozenInstanceError):
        file.size = 9  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        file.mod_time = file.mod_time  # type: ignore[misc]


def test_walk_of_a_directory_deleted_meanwhile_skips_it(driver: StorageDriver) -> None:
    driver.put_content("/a/x/1", b"1")
    driver.put_content("/b/2", b"2")
    seen = []
    for info in driver.walk("/"):
        seen.append(info.path)
        if info.path == "/a":
            driver.delete("/a/x")
    assert seen == ["/a", "/b", "/b/2"]


# -- delete and move --------------------------------------------------------------


def test_delete_removes_directories_it_leaves_empty(driver: StorageDriver, root: Path) -> None:
    driver.put_content("/a/b/c/d", b"1")
    driver.put_content("/a/x", b"2")
    driver.delete("/a/b/c/d")
    assert tree(root) == ["a", "a/x"]
    driver.delete("/a/x")
    assert root.is_dir()
    assert tree(root) == []


def test_delete_never_touches_a_sibling_sharing_the_prefix(
    driver: StorageDriver, root: Path
) -> None:
    for path in ("/a/1", "/ab/1", "/a-b/1", "/a.b"):
        driver.put_content(path, b"1")
    for path in ("/a/up", "/ab/up"):
        with driver.writer(path) as upload:
            upload.write(b"pending")
    driver.delete("/a")
    assert driver.list("/") == ["/a-b", "/a.b", "/ab"]
    assert (root / "~uploads/ab~up~~data").read_bytes() == b"pending"
    assert sorted(p.name for p in (root / "~uploads").iterdir()) == ["ab~up~~data", "ab~up~~size"]


def test_delete_does_not_follow_symlinks(driver: StorageDriver, root: Path) -> None:
    driver.put_content("/keep/file", b"kept")
    driver.put_content("/dir/file", b"1")
    os.symlink(root / "keep", root / "dir" / "link")
    driver.delete("/dir")
    assert driver.get_content("/keep/file") == b"kept"
    assert tree(root) == ["keep", "keep/file"]


def test_move_creates_the_destination_and_removes_empty_source_dirs(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/uploads/1/data", b"blob")
    driver.move("/uploads/1/data", "/blobs/ab/data")
    assert (root / "blobs/ab/data").read_bytes() == b"blob"
    assert tree(root) == ["blobs", "blobs/ab", "blobs/ab/data"]


def test_moving_a_directory_is_refused_and_changes_nothing(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/dir/file", b"1")
    with pytest.raises(DriverError, match="is a directory"):
        driver.move("/dir", "/other")
    assert tree(root) == ["dir", "dir/file"]


def test_move_onto_a_directory_is_refused_and_keeps_the_source(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/file", b"1")
    driver.put_content("/dir/inner", b"2")
    with pytest.raises(DriverError, match="directory") as caught:
        driver.move("/file", "/dir")
    assert isinstance(caught.value.__cause__, OSError)
    assert driver.get_content("/file") == b"1"
    assert driver.get_content("/dir/inner") == b"2"


# -- symbolic links ---------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the root, with one file, that a link inside the root points to."""
    target = tmp_path / "outside"
    target.mkdir()
    (target / "secret").write_bytes(b"not yours")
    return target


def test_a_path_through_a_symlink_out_of_the_root_is_refused(
    driver: StorageDriver, root: Path, outside: Path
) -> None:
    driver.put_content("/repo/file", b"1")
    os.symlink(outside, root / "repo" / "escape")
    calls = {
        "get_content": lambda: driver.get_content("/repo/escape/secret"),
        "reader": lambda: driver.reader("/repo/escape/secret"),
        "stat": lambda: driver.stat("/repo/escape/secret"),
        "list": lambda: driver.list("/repo/escape"),
        "walk": lambda: list(driver.walk("/repo/escape")),
        "put_content": lambda: driver.put_content("/repo/escape/new/file", b"x"),
        "writer": lambda: driver.writer("/repo/escape/upload"),
        "move from": lambda: driver.move("/repo/escape/secret", "/stolen"),
        "move to": lambda: driver.move("/repo/file", "/repo/escape/planted"),
        "delete": lambda: driver.delete("/repo/escape/secret"),
    }
    for name, call in calls.items():
        with pytest.raises(DriverError, match="leaves the storage root") as caught:
            call()
        assert "/repo/escape" in str(caught.value), name
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"
    assert driver.get_content("/repo/file") == b"1"


def test_a_symlinked_uploads_folder_is_refused(
    driver: StorageDriver, root: Path, outside: Path
) -> None:
    root.mkdir()
    os.symlink(outside, root / "~uploads")
    with pytest.raises(DriverError, match="leaves the storage root"):
        driver.writer("/repo/upload")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_a_link_planted_as_a_pending_file_is_not_followed(
    driver: StorageDriver, root: Path, outside: Path
) -> None:
    (root / "~uploads").mkdir(parents=True)
    os.symlink(outside / "created", root / "~uploads/repo~upload~~data")
    for append in (False, True):
        with pytest.raises(DriverError, match="symbolic link"):
            driver.writer("/repo/upload", append=append)
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_listings_leave_out_links_that_leave_the_root(
    driver: StorageDriver, root: Path, outside: Path
) -> None:
    driver.put_content("/repo/file", b"1")
    os.symlink(outside, root / "repo" / "escape")
    os.symlink(outside / "secret", root / "repo" / "escape-file")
    assert driver.list("/repo") == ["/repo/file"]
    assert [i.path for i in driver.walk("/")] == ["/repo", "/repo/file"]


def test_links_inside_the_root_are_followed_and_cycles_do_not_trap_walk(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/data/blob", b"content")
    os.symlink(root / "data", root / "alias")
    os.symlink(root, root / "data" / "loop")
    assert driver.get_content("/alias/blob") == b"content"
    assert driver.list("/data") == ["/data/blob", "/data/loop"]
    walked = [(i.path, i.is_dir) for i in driver.walk("/")]
    assert walked == [
        ("/alias", True),
        ("/data", True),
        ("/data/blob", False),
        ("/data/loop", True),
    ]
