"""The inmemory driver: a tree of files in this process, for tests and throwaway stores.

Thread-safe under one lock. Pending uploads belong to the driver instance
(``append=True`` resumes within it). Appending to committed non-empty content
continues from that content. Storing a file where a directory is, or below a
file, raises ``DriverError``. Moving a directory is not supported.
"""

from __future__ import annotations

import builtins
import io
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from ..driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from ..errors import DriverError, PathNotFoundError
from ..params import Parameters
from ..paths import ROOT, is_below
from ..walking import EPOCH, walk_tree

__all__ = ["InMemoryDriver"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _File:
    data: bytes
    mod_time: datetime


@dataclass
class _Pending:
    data: bytearray
    closed: datetime
    state: bytes | None = None  # the writer's hash state at that close


@dataclass
class _Dir:
    children: dict[str, _Dir | _File] = field(default_factory=dict)
    mod_time: datetime = EPOCH


class InMemoryDriver(StorageDriver):
    """Files kept in a dictionary tree; nothing survives the process."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        Parameters("inmemory", parameters, known=())
        self._root = _Dir()
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        return "inmemory"

    def __repr__(self) -> str:
        return "InMemoryDriver()"

    # -- tree helpers (call with the lock held) ---------------------------------

    def _find(self, path: str) -> _Dir | _File | None:
        node: _Dir | _File = self._root
        if path == ROOT:
            return node
        for part in path[1:].split("/"):
            if not isinstance(node, _Dir):
                return None
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def _file(self, path: str) -> _File:
        node = self._find(path)
        if not isinstance(node, _File):
            raise PathNotFoundError(path)
        return node

    def _store(self, path: str, data: bytes) -> None:
        parts = path[1:].split("/")
        node = self._root
        now = _now()
        for depth, part in enumerate(parts[:-1]):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Dir(mod_time=now)
            if isinstance(child, _File):
                above = "/" + "/".join(parts[: depth + 1])
                raise DriverError(f"cannot store {path}: {above} is a file")
            node = child
        existing = node.children.get(parts[-1])
        if isinstance(existing, _Dir):
            raise DriverError(f"cannot store {path}: it is a directory")
        node.children[parts[-1]] = _File(bytes(data), now)
        node.mod_time = now

    def _remove(self, path: str) -> bool:
        """Remove the node at ``path`` and the directories it leaves empty."""
        parts = path[1:].split("/")
        trail: list[_Dir] = [self._root]
        for part in parts[:-1]:
            child = trail[-1].children.get(part)
            if not isinstance(child, _Dir):
                return False
            trail.append(child)
        if trail[-1].children.pop(parts[-1], None) is None:
            return False
        for depth in range(len(trail) - 1, 0, -1):
            if trail[depth].children:
                break
            del trail[depth - 1].children[parts[depth - 1]]
        return True

    # -- the contract -----------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        with self._lock:
            return self._file(path).data

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        data = bytes(content)
        with self._lock:
            self._store(path, data)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        with self._lock:
            data = self._file(path).data
        stream = io.BytesIO(data)
        stream.seek(min(offset, len(data)))
        return stream

    def writer(self, path: str, append: bool = False) -> FileWriter:
        with self._lock:
            if not append:
                return _InMemoryWriter(self, path, bytearray())
            pending = self._pending.get(path)
            if pending is not None:
                return _InMemoryWriter(self, path, bytearray(pending.data), pending.state)
            node = self._find(path)
            start = node.data if isinstance(node, _File) else b""
            return _InMemoryWriter(self, path, bytearray(start))

    def stat(self, path: str) -> FileInfo:
        with self._lock:
            node = self._find(path)
            if isinstance(node, _File):
                return FileInfo(path, len(node.data), node.mod_time, False)
            if node is None or (path != ROOT and not node.children):
                raise PathNotFoundError(path)
            return FileInfo(path, 0, node.mod_time, True)

    def list(self, path: str) -> builtins.list[str]:
        with self._lock:
            node = self._find(path)
            if not isinstance(node, _Dir):
                raise PathNotFoundError(path)
            base = "" if path == ROOT else path
            return sorted(f"{base}/{name}" for name in node.children)

    def move(self, source: str, dest: str) -> None:
        with self._lock:
            node = self._find(source)
            if isinstance(node, _Dir):
                raise DriverError(f"cannot move {source}: it is a directory")
            if node is None:
                raise PathNotFoundError(source)
            if source == dest:
                return
            self._store(dest, node.data)
            self._remove(source)

    def delete(self, path: str) -> None:
        with self._lock:
            found_pending = [key for key in self._pending if key == path or is_below(key, path)]
            for key in found_pending:
                del self._pending[key]
            if not self._remove(path) and not found_pending:
                raise PathNotFoundError(path)

    def pending_uploads(self, path: str = ROOT) -> Iterator[PendingUpload]:
        with self._lock:
            found = [
                PendingUpload(key, len(pending.data), pending.closed)
                for key, pending in self._pending.items()
                if _at_or_below(key, path)
            ]
        return iter(found)

    def purge_uploads(self, before: datetime, path: str = ROOT) -> builtins.list[str]:
        with self._lock:
            purged = sorted(
                key
                for key, pending in self._pending.items()
                if _at_or_below(key, path) and pending.closed < before
            )
            for key in purged:
                del self._pending[key]
        return purged

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        def children(directory: str) -> builtins.list[FileInfo]:
            with self._lock:
                node = self._find(directory)
                if not isinstance(node, _Dir):
                    raise PathNotFoundError(directory)
                base = "" if directory == ROOT else directory
                return [
                    FileInfo(f"{base}/{name}", len(child.data), child.mod_time, False)
                    if isinstance(child, _File)
                    else FileInfo(f"{base}/{name}", 0, child.mod_time, True)
                    for name, child in node.children.items()
                ]

        return walk_tree(children, path, start_after=start_after, prune=prune)

    # -- used by the writer -----------------------------------------------------

    def _keep_pending(self, path: str, buffer: bytearray, state: bytes | None) -> None:
        with self._lock:
            self._pending[path] = _Pending(bytearray(buffer), _now(), state)

    def _commit(self, path: str, buffer: bytearray) -> None:
        with self._lock:
            self._store(path, bytes(buffer))
            self._pending.pop(path, None)

    def _cancel(self, path: str) -> None:
        with self._lock:
            self._pending.pop(path, None)


def _at_or_below(key: str, path: str) -> bool:
    return key == path or is_below(key, path)


class _InMemoryWriter(FileWriter):
    def __init__(
        self, driver: InMemoryDriver, path: str, buffer: bytearray, state: bytes | None = None
    ) -> None:
        super().__init__(path, size=len(buffer), driver_name=driver.name, upload_state=state)
        self._driver = driver
        self._buffer = buffer

    def _write(self, data: memoryview) -> None:
        self._buffer += data

    def _close(self) -> None:
        self._driver._keep_pending(self.path, self._buffer, self.upload_state)
        self._buffer = bytearray()

    def _read_upload(self) -> Iterator[bytes]:
        yield bytes(self._buffer)

    def _commit(self) -> None:
        self._driver._commit(self.path, self._buffer)
        self._buffer = bytearray()

    def _cancel(self) -> None:
        self._driver._cancel(self.path)
        self._buffer = bytearray()
