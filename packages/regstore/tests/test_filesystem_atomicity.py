"""Atomic, durable writes of the filesystem driver, and writers racing directory removal.

A registry reads link files and manifests while other requests rewrite them;
a torn or empty read there breaks pulls. Empty directories are removed after
deletes, so a writer can lose its directory at any moment and must recover.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import regstore
from regstore import StorageDriver
from regstore.drivers._fsutil import temp_name

ROUNDS = 300


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def driver(root: Path) -> StorageDriver:
    return regstore.create("filesystem", {"rootdirectory": str(root)})


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def race(writer: Callable[[int], None], reader: Callable[[], None]) -> list[BaseException]:
    """Run ``writer(round)`` ROUNDS times while ``reader()`` loops in another thread."""
    errors: list[BaseException] = []
    done = threading.Event()

    def read_until_done() -> None:
        try:
            while not done.is_set():
                reader()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read_until_done)
    thread.start()
    try:
        for number in range(ROUNDS):
            writer(number)
    finally:
        done.set()
        thread.join()
    return errors


BIG = b"A" * (256 << 10)
SMALL = b"b" * 1000


@pytest.mark.parametrize("how", ["put_content", "writer"])
def test_readers_never_see_a_torn_or_empty_file(
    driver: StorageDriver, root: Path, how: str
) -> None:
    path = "/repo/_manifests/tags/latest/current/link"
    driver.put_content(path, BIG)
    seen: set[int] = set()

    def write(number: int) -> None:
        content = SMALL if number % 2 else BIG
        if how == "put_content":
            driver.put_content(path, content)
        else:
            with driver.writer(path) as upload:
                upload.write(content)
                upload.commit()

    def read() -> None:
        content = driver.get_content(path)
        assert content in (BIG, SMALL), f"torn read of {len(content)} bytes"
        with driver.reader(path) as stream:
            streamed = stream.read()
        assert streamed in (BIG, SMALL), f"torn stream of {len(streamed)} bytes"
        seen.add(len(content))

    assert race(write, read) == []
    assert seen == {len(BIG), len(SMALL)}, "the reader did not overlap the writes"
    assert files(root) == [path[1:]]


def test_put_content_fsyncs_the_file_and_its_directory(
    driver: StorageDriver, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        synced.append("dir" if stat.S_ISDIR(mode) else f"file of {os.fstat(fd).st_size}")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    driver.put_content("/a/b", b"12345")
    assert synced == ["file of 5", "dir"]
    assert files(root) == ["a/b"]


def test_commit_fsyncs_the_upload_and_the_target_directory(
    driver: StorageDriver, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    with driver.writer("/a/b") as upload:
        upload.write(b"12345")
    assert synced == ["file", "dir"]  # close: the pending file, then its folder
    synced.clear()
    with driver.writer("/a/b", append=True) as upload:
        upload.commit()
    assert synced == ["file", "dir"]
    assert files(root) == ["a/b"]


def test_a_failed_put_leaves_old_content_and_no_temp_file(
    driver: StorageDriver, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver.put_content("/a/b", b"old")

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(regstore.DriverError, match="input/output error") as caught:
        driver.put_content("/a/b", b"new content")
    assert "/a/b" in str(caught.value)
    assert str(root) in str(caught.value)
    monkeypatch.undo()
    assert driver.get_content("/a/b") == b"old"
    assert files(root) == ["a/b"]


def test_writers_survive_deletes_removing_their_directory(
    driver: StorageDriver, root: Path
) -> None:
    """Many threads write into one directory while others empty it, so it keeps vanishing."""
    threads = 8
    rounds = 150
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(worker: int) -> None:
        try:
            start.wait()
            for number in range(rounds):
                path = f"/shared/dir/w{worker}-{number}"
                kind = number % 3
                if kind == 0:
                    driver.put_content(path, b"x" * number)
                elif kind == 1:
                    with driver.writer(path) as upload:
                        upload.write(b"x" * number)
                        upload.commit()
                else:
                    driver.put_content(path + "-src", b"x" * number)
                    driver.move(path + "-src", path)
                assert driver.get_content(path) == b"x" * number
                driver.delete(path)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    # Nothing left but the uploads folder, which stays once made, and it is empty.
    assert [p.name for p in root.iterdir()] == ["~uploads"]
    assert list((root / "~uploads").iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_draws_other_temp_names_than_its_parent(tmp_path: Path) -> None:
    # Writers in forked workers (a registry's pre-fork server) share a directory;
    # the same temp name in both would make one of their writes fail.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write_end, temp_name(str(tmp_path)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode()
    parent = temp_name(str(tmp_path))
    assert child != parent
    assert child.startswith(f"{tmp_path}/~tmp.")
    assert len(child.rsplit(".", 1)[1]) == 16
