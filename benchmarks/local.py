"""The filesystem and inmemory backends: regstore, raw Python I/O, fsspec.

Filesystem baseline: plain ``open()``/``os`` calls with the durability
regstore gives (temp file, fsync, rename, fsync of the directory) and an
``os.scandir`` walk that stats every file, as ``walk`` reports sizes. Peer:
fsspec's ``LocalFileSystem`` (which neither fsyncs nor renames into place).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import regstore

from .clients import Client, RegstoreClient, chunks

__all__ = ["filesystem_clients", "inmemory_clients"]


def _write_plain(base: str, rels: Iterable[str], data: bytes) -> None:
    """Create files without fsync: setup of a case, not part of any timing."""
    made: set[str] = set()
    for rel in rels:
        path = os.path.join(base, rel)
        directory = os.path.dirname(path)
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)
        with open(path, "wb") as file:
            file.write(data)


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
        _write_plain(self.base, rels, data)

    def settle(self) -> None:
        os.sync()


class FsspecLocal(Client):
    """fsspec's ``LocalFileSystem``."""

    label = "fsspec local"
    note = "no fsync and no rename into place: less durable than the baseline"

    def __init__(self, base: str) -> None:
        from fsspec.implementations.local import LocalFileSystem

        self.fs = LocalFileSystem(auto_mkdir=True)
        self.base = base

    def _p(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self._p(rel), data)

    def get(self, rel: str) -> bytes:
        data: bytes = self.fs.cat_file(self._p(rel))
        return data

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        with self.fs.open(self._p(rel), "wb") as file:
            for piece in chunks(block, size):
                file.write(piece)

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        total = 0
        with self.fs.open(self._p(rel), "rb") as file:
            while n := file.readinto(buffer):
                total += n
        return total

    def list(self, rel: str) -> int:
        return len(self.fs.ls(self._p(rel), detail=False))

    def walk(self, rel: str) -> int:
        return len(self.fs.find(self._p(rel), withdirs=True, detail=True))

    def delete(self, rel: str) -> None:
        self.fs.rm(self._p(rel), recursive=True)

    def populate(self, rels: Iterable[str], data: bytes) -> None:
        _write_plain(self.base, rels, data)

    def settle(self) -> None:
        os.sync()  # it does not fsync: its dirty pages must not slow the next contender


class FilesystemRegstore(RegstoreClient):
    def __init__(self, base: str) -> None:
        super().__init__(regstore.create("filesystem", {"rootdirectory": base}))
        self.base = base

    def populate(self, rels: Iterable[str], data: bytes) -> None:
        _write_plain(self.base, rels, data)

    def settle(self) -> None:
        os.sync()


def filesystem_clients(workdir: Path) -> list[Client]:
    """Baseline first, then regstore, then the peer; each under its own folder."""

    def base(name: str) -> str:
        path = workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    clients: list[Client] = [RawFilesystem(base("raw")), FilesystemRegstore(base("regstore"))]
    with contextlib.suppress(ImportError):  # without fsspec the table has no peer column
        clients.append(FsspecLocal(base("fsspec")))
    return clients


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


class FsspecMemory(Client):
    """fsspec's ``MemoryFileSystem`` (a class-wide store, so each run uses its own root)."""

    label = "fsspec memory"
    # Its find lists every directory by scanning every key (dirs x files): hours at 50,000.
    scale_limit = 5_000
    note = "not timed past 5,000 files: its find scans every key once per directory"

    def __init__(self) -> None:
        from fsspec.implementations.memory import MemoryFileSystem

        self.fs: Any = MemoryFileSystem()
        self.base = f"/bench-{secrets.token_hex(4)}"

    def _p(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self._p(rel), data)

    def get(self, rel: str) -> bytes:
        data: bytes = self.fs.cat_file(self._p(rel))
        return data

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        with self.fs.open(self._p(rel), "wb") as file:
            for piece in chunks(block, size):
                file.write(piece)

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        total = 0
        with self.fs.open(self._p(rel), "rb") as file:
            while n := file.readinto(buffer):
                total += n
        return total

    def list(self, rel: str) -> int:
        return len(self.fs.ls(self._p(rel), detail=False))

    def walk(self, rel: str) -> int:
        return len(self.fs.find(self._p(rel), withdirs=True, detail=True))

    def delete(self, rel: str) -> None:
        self.fs.rm(self._p(rel), recursive=True)

    def populate(self, rels: Iterable[str], data: bytes) -> None:
        for rel in rels:
            self.put(rel, data)


class InmemoryRegstore(RegstoreClient):
    def populate(self, rels: Iterable[str], data: bytes) -> None:
        for rel in rels:
            self.put(rel, data)


def inmemory_clients() -> list[Client]:
    """Baseline (a dict), regstore's inmemory driver, fsspec's memory filesystem."""
    clients: list[Client] = [DictStore(), InmemoryRegstore(regstore.create("inmemory"))]
    with contextlib.suppress(ImportError):
        clients.append(FsspecMemory())
    return clients
