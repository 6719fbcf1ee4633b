"""Deliberately broken drivers: the conformance suite must fail each one."""

from __future__ import annotations

import builtins
import io
import time
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from regstore.driver import FileInfo, FileWriter, Prune
from regstore.drivers.inmemory import InMemoryDriver, _InMemoryWriter
from regstore.walking import walk_tree


class NonAtomicPut(InMemoryDriver):
    """Writes content in two steps, so a reader can see half of it."""

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        data = bytes(content)
        with self._lock:
            self._store(path, data[: len(data) // 2])
        time.sleep(0.001)
        with self._lock:
            self._store(path, data)


class VisiblePendingUpload(InMemoryDriver):
    """Publishes an upload at ``close``, before ``commit``."""

    def _keep_pending(self, path: str, buffer: bytearray, state: bytes | None) -> None:
        super()._keep_pending(path, buffer, state)
        with self._lock:
            self._store(path, bytes(buffer))


class WrongWalkOrder(InMemoryDriver):
    """Sorts a directory's children by name, not by walk key (``a`` before ``a-1``)."""

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        entries = list(super().walk(path, start_after=start_after, prune=prune))
        return iter(sorted(entries, key=lambda info: info.path))


class PrefixDelete(InMemoryDriver):
    """Deletes every top-level sibling whose name merely starts with the path's name."""

    def delete(self, path: str) -> None:
        parent, _, name = path.rpartition("/")
        siblings = [p for p in self.list(parent or "/") if p.rsplit("/", 1)[1].startswith(name)]
        super().delete(path)
        for sibling in siblings:
            if sibling != path:
                super().delete(sibling)


class PurgeEverything(InMemoryDriver):
    """Purges every pending upload whose path starts with the given one, whatever its age."""

    def purge_uploads(self, before: datetime, path: str = "/") -> builtins.list[str]:
        with self._lock:
            purged = sorted(key for key in self._pending if key.startswith(path))
            for key in purged:
                del self._pending[key]
        return purged


class DirectoryReader(InMemoryDriver):
    """Opens a directory as an empty file instead of reporting it missing."""

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        if self.stat(path).is_dir:
            return io.BytesIO()
        return super().reader(path, offset)


class FreshWriterResumes(InMemoryDriver):
    """``writer(path)`` without ``append`` continues the pending upload instead of replacing it."""

    def writer(self, path: str, append: bool = False) -> FileWriter:
        with self._lock:
            resumable = path in self._pending
        return super().writer(path, append=append or resumable)


__all__ = [
    "DirectoryReader",
    "FreshWriterResumes",
    "NonAtomicPut",
    "PrefixDelete",
    "PurgeEverything",
    "VisiblePendingUpload",
    "WrongWalkOrder",
    "walk_tree",
    "_InMemoryWriter",
]
