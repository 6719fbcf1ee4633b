"""The filesystem and inmemory backends: regstore, raw Python I/O, fsspec.

Filesystem baseline: plain ``open()``/``os`` calls with the durability
regstore gives (temp file, fsync, rename, fsync of the directory) and an
``os.scandir`` walk that stats every file, as ``walk`` reports sizes. Peer:
fsspec's ``LocalFileSystem`` (which neither fsyncs nor renames into place).
All three work in one folder. In memory, each contender has its own store.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import regstore

from .backend import Backend
from .clients import Client, RegstoreClient, chunks, in_threads
from .fsspecs import LocalFsspecClient

__all__ = ["filesystem_backend", "inmemory_backend"]

#: Threads that create a tree's files (the system calls release the GIL).
WRITE_THREADS = 4


def _write_plain(base: str, rels: Sequence[str], data: bytes) -> None:
    """Create files without fsync, from a few threads: setup of a case, never timed."""

    def write_share(start: str) -> None:
        made: set[str] = set()
        for rel in rels[int(start) :: WRITE_THREADS]:
            path = os.path.join(base, rel)
            directory = os.path.dirname(path)
            if directory not in made:
                os.makedirs(directory, exist_ok=True)
                made.add(directory)
            with open(path, "wb") as file:
                file.write(data)

    in_threads(write_share, [str(n) for n in range(WRITE_THREADS)], WRITE_THREADS)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RawFilesystem(Client):
    """Python's own file calls, as durable as regstore: temp + fsync + replace + fsync dir."""

    label = "raw open()"
    role = "baseline"

    def __init__(self, base: str) -> None:
        self.base = base

    def _atomic(self, path: str) -> tuple[int, str]:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temp = os.path.join(directory, f".tmp.{secrets.token_hex(8)}")
        return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp

    def _publish(self, fd: int, temp: str, path: str) -> None:
        os.fsync(fd)
        os.close(fd)
        os.replace(temp, path)
        _fsync_dir(os.path.dirname(path))

    def put(self, rel: str, data: bytes) -> None:
        path = os.path.join(self.base, rel)
        fd, temp = self._atomic(path)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        self._publish(fd, temp, path)

    def get(self, rel: str) -> bytes:
        with open(os.path.join(self.base, rel), "rb") as file:
            return file.read()

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        path = os.path.join(self.base, rel)
        fd, temp = self._atomic(path)
        for piece in chunks(block, size):
            while piece:
                piece = piece[os.write(fd, piece) :]
        self._publish(fd, temp, path)

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        total = 0
        with open(os.path.join(self.base, rel), "rb", buffering=0) as file:
            while n := file.readinto(buffer):
                total += n
        return total

    def list(self, rel: str) -> int:
        return len(sorted(os.listdir(os.path.join(self.base, rel))))

    def walk(self, rel: str) -> int:
        found = 0
        stack = [os.path.join(self.base, rel)]
        while stack:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    found += 1
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        entry.stat()  # size and mtime, as walk reports them
        return found

    def delete(self, rel: str) -> None:
        shutil.rmtree(os.path.join(self.base, rel))

    def populate(self, rels: Iterable[str], data: bytes) -> None:
        _write_plain(self.base, list(rels), data)

    def settle(self) -> None:
        os.sync()


class FsspecLocal(LocalFsspecClient):
    """fsspec's ``LocalFileSystem``: it does not fsync, so its dirty pages are written back."""

    def settle(self) -> None:
        os.sync()  # its dirty pages must not slow the next contender


class FilesystemRegstore(RegstoreClient):
    def settle(self) -> None:
        os.sync()


def filesystem_backend(workdir: Path) -> Backend:
    """Baseline first, then regstore, then the peer; all in one folder."""
    base = workdir / "bench"
    base.mkdir(parents=True, exist_ok=True)
    clients: list[Client] = [
        RawFilesystem(str(base)),
        FilesystemRegstore(regstore.create("filesystem", {"rootdirectory": str(base)})),
    ]
    with contextlib.suppress(ImportError):  # without fsspec the table has no peer column
        from fsspec.implementations.local import LocalFileSystem

        clients.append(
            FsspecLocal(
                LocalFileSystem(auto_mkdir=True),
                str(base),
                "fsspec local",
                "no fsync and no rename into place: less durable than the baseline",
            )
        )
    rss = {"rootdirectory": str(workdir / "rss")}
    return Backend("filesystem", clients, page_cache=True, parameters=rss)


class DictStore(Client):
    """The floor for an in-process store: a dict of bytes behind a lock."""

    label = "dict"
    role = "baseline"

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def put(self, rel: str, data: bytes) -> None:
        with self.lock:
            self.data[rel] = bytes(data)

    def get(self, rel: str) -> bytes:
        with self.lock:
            return self.data[rel]

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        buffer = bytearray()
        for piece in chunks(block, size):
            buffer += piece
        self.put(rel, bytes(buffer))

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        data = memoryview(self.get(rel))
        total = 0
        while total < len(data):
            n = min(len(buffer), len(data) - total)
            buffer[:n] = data[total : total + n]
            total += n
        return total

    def list(self, rel: str) -> int:
        prefix = rel + "/"
        with self.lock:
            keys = list(self.data)
        return len(sorted({k[len(prefix) :].split("/")[0] for k in keys if k.startswith(prefix)}))

    def walk(self, rel: str) -> int:
        prefix = rel + "/"
        with self.lock:
            keys = sorted(k for k in self.data if k.startswith(prefix))
        dirs = {k[:i] for k in keys for i in range(len(prefix), len(k)) if k[i] == "/"}
        return len(keys) + len(dirs)

    def delete(self, rel: str) -> None:
        prefix = rel + "/"
        with self.lock:
            for key in [k for k in self.data if k.startswith(prefix)]:
                del self.data[key]

    def populate(self, rels: Iterable[str], data: bytes) -> None:
        for rel in rels:
            self.put(rel, data)


class FsspecMemory(LocalFsspecClient):
    """fsspec's ``MemoryFileSystem`` (a class-wide store, so each run uses its own root)."""

    # Its find lists every directory by scanning every key (dirs x files): hours at 50,000.
    scale_limit = 5_000
    note = "not timed past 5,000 files: its find scans every key once per directory"

    def populate(self, rels: Iterable[str], data: bytes) -> None:
        for rel in rels:
            self.put(rel, data)

    def discard(self, rel: str) -> None:
        # Its rm finds first, which scans every key per directory: drop the keys directly.
        prefix = self._p(rel) + "/"
        store = self.fs.store
        for key in [k for k in store if k.startswith(prefix)]:
            del store[key]
        self.fs.pseudo_dirs[:] = [d for d in self.fs.pseudo_dirs if not d.startswith(prefix)]


class InmemoryRegstore(RegstoreClient):
    def populate(self, rels: Iterable[str], data: bytes) -> None:
        for rel in rels:
            self.put(rel, data)


def inmemory_backend() -> Backend:
    """Baseline (a dict), regstore's inmemory driver, fsspec's memory filesystem."""
    clients: list[Client] = [DictStore(), InmemoryRegstore(regstore.create("inmemory"))]
    with contextlib.suppress(ImportError):
        from fsspec.implementations.memory import MemoryFileSystem

        clients.append(
            FsspecMemory(MemoryFileSystem(), f"/bench-{secrets.token_hex(4)}", "fsspec memory")
        )
    return Backend("inmemory", clients, shared=False)
