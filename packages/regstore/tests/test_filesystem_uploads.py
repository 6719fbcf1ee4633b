"""Pending uploads of the filesystem driver: kept in ``~uploads``, resumed by anyone.

A registry's chunked upload may reach a different replica, or a restarted
process, for every chunk; the pending file on disk is what carries it over.
The upload of ``/a/b`` is ``~uploads/a~b~~data``: one flat folder, so a stream
makes no folders of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import regstore
from regstore import DriverError, PathNotFoundError, StorageDriver
from regstore.drivers._fsuploads import SEGMENT, UploadArea
from regstore.drivers._fsutil import StorageRoot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def driver(root: Path) -> StorageDriver:
    return regstore.create("filesystem", {"rootdirectory": str(root)})


def tree(root: Path) -> list[str]:
    """What is on disk below ``root``; the ``~uploads`` folder, which stays, only when not empty."""
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    if found.count("~uploads") and not any(p.startswith("~uploads/") for p in found):
        found.remove("~uploads")
    return found


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_closed_upload_is_a_file_under_uploads(driver: StorageDriver, root: Path) -> None:
    with driver.writer("/repo/_uploads/u1/data") as upload:
        upload.write(b"first chunk")
    assert (root / "~uploads/repo~_uploads~u1~data~~data").read_bytes() == b"first chunk"
    assert driver.list("/") == []
    assert list(driver.walk("/")) == []
    with pytest.raises(PathNotFoundError):
        driver.stat("/repo")


def test_close_persists_every_byte_written(driver: StorageDriver, root: Path) -> None:
    upload = driver.writer("/u")
    pieces = [b"a" * 10, b"b" * (1 << 20), b"c" * 3, b"d" * (3 << 20)]
    for piece in pieces:
        upload.write(piece)
    upload.close()
    assert (root / "~uploads/u~~data").read_bytes() == b"".join(pieces)
    assert upload.size == sum(map(len, pieces))


def test_resume_from_a_second_driver_instance(driver: StorageDriver, root: Path) -> None:
    other = regstore.create("filesystem", {"rootdirectory": str(root)})
    with driver.writer("/up") as first:
        first.write(b"hello ")
    with other.writer("/up", append=True) as second:
        assert second.size == 6
        second.write(b"world")
        second.commit()
    assert driver.get_content("/up") == b"hello world"
    assert tree(root) == ["up"]


def test_resume_in_another_process_both_ways(driver: StorageDriver, root: Path) -> None:
    with driver.writer("/up") as upload:
        upload.write(b"from parent, ")
    printed = run_python(
        f"""
        import regstore
        driver = regstore.create("filesystem", {{"rootdirectory": {str(root)!r}}})
        with driver.writer("/up", append=True) as upload:
            print(upload.size)
            upload.write(b"from child, ")
        """
    )
    assert printed.strip() == "13"
    with driver.writer("/up", append=True) as upload:
        assert upload.size == 25
        upload.write(b"committed by a third writer")
        upload.commit()
    printed = run_python(
        f"""
        import regstore
        driver = regstore.create("filesystem", {{"rootdirectory": {str(root)!r}}})
        print(driver.get_content("/up").decode())
        """
    )
    assert printed.strip() == "from parent, from child, committed by a third writer"
    assert tree(root) == ["up"]


def test_a_crashed_writer_resumes_exactly_where_the_upload_was_last_closed(
    driver: StorageDriver, root: Path
) -> None:
    with driver.writer("/up") as upload:
        upload.write(b"closed part")
    # A process appends more than the write buffer holds, so it reaches the disk, then dies
    # without closing.
    run_python(
        f"""
        import os, regstore
        driver = regstore.create("filesystem", {{"rootdirectory": {str(root)!r}}})
        upload = driver.writer("/up", append=True)
        upload.write(b"lost" * (1 << 20))
        os._exit(0)
        """
    )
    assert (root / "~uploads/up~~data").stat().st_size > 4 << 20
    with driver.writer("/up", append=True) as upload:
        assert upload.size == 11
        upload.write(b", resumed")
        upload.commit()
    assert driver.get_content("/up") == b"closed part, resumed"
    assert tree(root) == ["up"]


def test_commit_leaves_the_file_and_an_empty_uploads_folder(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/other/file", b"1")
    with driver.writer("/a/b/c/upload") as upload:
        upload.write(b"data")
        upload.commit()
    assert tree(root) == ["a", "a/b", "a/b/c", "a/b/c/upload", "other", "other/file"]
    assert list((root / "~uploads").iterdir()) == []


def test_cancel_removes_the_upload_and_keeps_committed_content(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/a/b", b"committed")
    with driver.writer("/a/b") as upload:
        upload.write(b"pending")
    resumed = driver.writer("/a/b", append=True)
    resumed.write(b" more")
    resumed.cancel()
    assert driver.get_content("/a/b") == b"committed"
    assert tree(root) == ["a", "a/b"]


def test_append_continues_from_a_copy_of_committed_content(
    driver: StorageDriver, root: Path
) -> None:
    driver.put_content("/blob", b"abc")
    with driver.writer("/blob", append=True) as upload:
        assert upload.size == 3
        upload.write(b"def")
    assert driver.get_content("/blob") == b"abc"
    with driver.writer("/blob", append=True) as upload:
        assert upload.size == 6
        upload.commit()
    assert driver.get_content("/blob") == b"abcdef"
    assert tree(root) == ["blob"]


@pytest.mark.parametrize("committed", [None, b""])
def test_append_without_pending_upload_starts_at_zero(
    driver: StorageDriver, root: Path, committed: bytes | None
) -> None:
    if committed is not None:
        driver.put_content("/p", committed)
    with driver.writer("/p", append=True) as upload:
        assert upload.size == 0
        upload.write(b"x")
        upload.commit()
    assert driver.get_content("/p") == b"x"


def test_a_resumed_writer_that_writes_nothing_commits_the_exact_size(
    driver: StorageDriver,
) -> None:
    with driver.writer("/p") as upload:
        upload.write(b"12345")
    resumed = driver.writer("/p", append=True)
    resumed.close()
    final = driver.writer("/p", append=True)
    assert final.size == 5
    final.commit()
    assert final.size == 5
    assert driver.stat("/p").size == 5


def test_a_new_writer_restarts_a_pending_upload(driver: StorageDriver) -> None:
    with driver.writer("/p") as upload:
        upload.write(b"old pending bytes")
    with driver.writer("/p") as upload:
        assert upload.size == 0
        upload.write(b"new")
        upload.commit()
    assert driver.get_content("/p") == b"new"


def test_a_failed_commit_keeps_the_upload_resumable(driver: StorageDriver, root: Path) -> None:
    driver.put_content("/dir/inner", b"1")
    upload = driver.writer("/dir")
    upload.write(b"pending")
    with pytest.raises(DriverError, match="is a directory"):
        upload.commit()
    with pytest.raises(DriverError, match="append=True"):
        upload.write(b"more")
    upload.close()
    driver.delete("/dir/inner")
    with driver.writer("/dir", append=True) as resumed:
        assert resumed.size == 7
        resumed.commit()
    assert driver.get_content("/dir") == b"pending"
    assert tree(root) == ["dir"]


def test_commit_after_the_upload_was_deleted_says_so(driver: StorageDriver, root: Path) -> None:
    upload = driver.writer("/repo/upload")
    upload.write(b"data")
    driver.delete("/repo")
    with pytest.raises(DriverError, match="pending upload is gone"):
        upload.commit()
    upload.cancel()
    assert tree(root) == []


def test_delete_of_a_folder_discards_every_pending_upload_below(
    driver: StorageDriver, root: Path
) -> None:
    for path in ("/repo/_uploads/1/data", "/repo/_uploads/2/data", "/repo/_uploads/2/data/x"):
        with driver.writer(path) as upload:
            upload.write(b"pending")
    driver.delete("/repo/_uploads")
    assert tree(root) == []
    with pytest.raises(PathNotFoundError):
        driver.delete("/repo/_uploads")


def test_the_upload_of_a_path_is_one_flat_name(driver: StorageDriver, root: Path) -> None:
    for path in ("/a/b", "/a-b", "/ab", "/a/b/c"):
        with driver.writer(path) as upload:
            upload.write(path.encode())
    names = sorted(p.name for p in (root / "~uploads").iterdir())
    expected = [
        f"{key}~~{kind}" for key in ("a-b", "a~b", "a~b~c", "ab") for kind in ("data", "size")
    ]
    assert names == sorted(expected)
    driver.delete("/a/b")
    assert sorted(p.name for p in (root / "~uploads").iterdir()) == [
        "a-b~~data", "a-b~~size", "ab~~data", "ab~~size"
    ]  # fmt: skip


@pytest.mark.parametrize("length", [SEGMENT - 2, SEGMENT - 1, SEGMENT, SEGMENT + 1, 250])
def test_uploads_of_paths_too_long_for_one_name_are_kept_resumed_and_deleted(
    driver: StorageDriver, root: Path, length: int
) -> None:
    folder = "/" + "d" * length
    below = [folder, f"{folder}/x", f"{folder}/x/{'y' * 200}", f"{folder}/{'z' * 250}/{'w' * 250}"]
    sibling = f"{folder}-b/x"
    for path in (*below, sibling):
        with driver.writer(path) as upload:
            upload.write(path.encode())
    for path in below:
        with driver.writer(path, append=True) as upload:
            assert upload.size == len(path)
    assert driver.list("/") == []

    driver.delete(folder)
    for path in below:
        with driver.writer(path, append=True) as upload:
            assert upload.size == 0
            upload.cancel()
    with pytest.raises(PathNotFoundError):
        driver.delete(folder)
    with driver.writer(sibling, append=True) as upload:
        assert upload.size == len(sibling)
        upload.commit()
    assert driver.get_content(sibling) == sibling.encode()
    driver.delete(sibling)
    assert tree(root) == []


SHORT_PIECES = [
    "/a", "/a/b", "/ab/c", "/abc/d", "/abcd", "/abcd/e", "/abcde", "/abcd-x/f",
    "/abcdefgh", "/abcdefgh/i", "/abcdefghi/j", "/abcdefgh-/k",
]  # fmt: skip


@pytest.mark.parametrize(
    ("folder", "along"),
    [
        ("/a", ["/a/b"]),
        ("/ab", ["/ab/c"]),
        ("/abc", ["/abc/d"]),
        ("/abcd", ["/abcd/e"]),
        ("/abcdefgh", ["/abcdefgh/i"]),
        ("/abcdefghi", ["/abcdefghi/j"]),
    ],
)
def test_delete_finds_uploads_wherever_a_long_key_is_cut(
    root: Path, folder: str, along: list[str]
) -> None:
    """With 4-character pieces, keys are cut at every position: each upload is still found."""
    area = UploadArea(StorageRoot(str(root)), segment=4)
    for path in SHORT_PIECES:
        files = area.files(path)
        os.makedirs(files.folder, exist_ok=True)
        Path(files.data).write_bytes(path.encode())
        Path(files.size).write_bytes(b"0")
    assert area.discard(folder)
    assert not area.discard(folder)
    data = [Path(area.files(path).data) for path in SHORT_PIECES]
    left = sorted(file.read_bytes().decode() for file in data if file.exists())
    assert left == sorted(set(SHORT_PIECES) - {folder, *along})
    for path in SHORT_PIECES:
        area.discard(path)
    assert list((root / "~uploads").iterdir()) == []


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("/", SHORT_PIECES),
        ("/a", ["/a", "/a/b"]),
        ("/abcd", ["/abcd", "/abcd/e"]),
        ("/abcdefgh", ["/abcdefgh", "/abcdefgh/i"]),
        ("/abcdefgh/i", ["/abcdefgh/i"]),
        ("/abcdefghi", ["/abcdefghi/j"]),
        ("/abcdefghij", []),
    ],
)
def test_pending_uploads_are_found_wherever_a_long_key_is_cut(
    root: Path, folder: str, expected: list[str]
) -> None:
    """With 4-character pieces, keys are cut at every position: listing finds the right ones."""
    area = UploadArea(StorageRoot(str(root)), segment=4)
    for number, path in enumerate(SHORT_PIECES):
        files = area.files(path)
        os.makedirs(files.folder, exist_ok=True)
        Path(files.data).write_bytes(b"x" * (number + 10))
        Path(files.size).write_bytes(str(number).encode())
    found = {upload.path: upload.size for upload in area.find(folder)}
    assert found == {path: SHORT_PIECES.index(path) for path in expected}


def test_purge_of_uploads_too_long_for_one_name(driver: StorageDriver, root: Path) -> None:
    long = "/" + "d" * 250 + "/" + "e" * 250
    paths = [long, f"{long}/x", "/" + "d" * 244 + "-other"]
    for path in paths:
        with driver.writer(path) as upload:
            upload.write(path.encode())
    assert sorted((u.path, u.size) for u in driver.pending_uploads("/")) == sorted(
        (path, len(path)) for path in paths
    )
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    assert driver.purge_uploads(later, "/" + "d" * 250) == sorted(paths[:2])
    assert [u.path for u in driver.pending_uploads("/")] == [paths[2]]
    assert driver.purge_uploads(later) == [paths[2]]
    assert tree(root) == []


def test_a_writer_killed_before_its_first_close_is_listed_and_purged(
    driver: StorageDriver, root: Path
) -> None:
    """Its data file is resumable as it is, so it counts, by the file's own size and time."""
    run_python(
        f"""
        import os, regstore
        driver = regstore.create("filesystem", {{"rootdirectory": {str(root)!r}}})
        upload = driver.writer("/killed")
        upload.write(b"k" * (2 << 20))
        os._exit(0)
        """
    )
    data = root / "~uploads/killed~~data"
    [upload] = list(driver.pending_uploads())
    assert (upload.path, upload.size) == ("/killed", data.stat().st_size)
    day_ago = time.time() - 86400
    os.utime(data, (day_ago, day_ago))
    assert driver.purge_uploads(datetime.now(timezone.utc) - timedelta(hours=2)) == ["/killed"]
    assert tree(root) == []


def test_purge_keeps_an_upload_closed_again_after_the_scan(
    driver: StorageDriver, root: Path
) -> None:
    with driver.writer("/up") as upload:
        upload.write(b"first")
    area = UploadArea(StorageRoot(str(root)))
    hour_ago = time.time() - 3600
    os.utime(area.files("/up").size, (hour_ago, hour_ago))
    [found] = list(area.find("/"))
    with driver.writer("/up", append=True) as upload:  # resumed and closed meanwhile
        upload.write(b" second")
    assert not area.forget(found, time.time() - 60)
    [kept] = list(driver.pending_uploads())
    assert kept.size == len(b"first second")


def test_purge_sweeps_stale_temp_files_of_killed_closes(driver: StorageDriver, root: Path) -> None:
    with driver.writer("/a/b") as upload:
        upload.write(b"x")
    stale = root / "~uploads/a~b~~tmp.0123456789abcdef"
    stale.write_bytes(b"12")
    day_ago = time.time() - 86400
    os.utime(stale, (day_ago, day_ago))
    assert driver.purge_uploads(datetime.now(timezone.utc) + timedelta(minutes=1)) == ["/a/b"]
    assert tree(root) == []
