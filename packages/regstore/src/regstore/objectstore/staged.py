"""``StagedObjectStore``: a whole driver over get, put and list, uploads staged as part objects.

For a backend with no multipart API of its own. A pending upload of ``/a/b``
keeps its bytes as part objects ``<upload_dir>/~part-<index>-<size>`` and its
hash state in ``<upload_dir>/~state`` (written at every ``close``: it marks the
upload as pending, empty or not). ``commit`` joins the parts into the path's
key with ``compose_object``, then drops them. Part names carry their sizes, so
resuming and listing uploads never read a part.
"""

from __future__ import annotations

import builtins
import io
from abc import abstractmethod
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from ..driver import FileWriter, PendingUpload
from ..errors import DriverError, PathNotFoundError
from ..paths import ROOT
from .base import ObjectStoreDriver

__all__ = ["PART_SIZE", "StagedObjectStore", "StagedWriter"]

#: Bytes a writer buffers before it stores them as one part object.
PART_SIZE = 8 * 1024 * 1024
#: Part uploads a writer keeps in flight.
PARTS_IN_FLIGHT = 4
_STATE = "~state"
_PART = "~part-"


def _part_size(name: str) -> int | None:
    """The size a part object's name records (``~part-<index>-<size>``), or None."""
    if not name.startswith(_PART):
        return None
    _, _, size = name[len(_PART) :].partition("-")
    return int(size) if size.isdigit() else None


class StagedObjectStore(ObjectStoreDriver):
    """The whole contract over ``get_object``, ``put_object`` and the four namespace primitives.

    ``copy_object`` and ``compose_object`` have defaults that read and write
    whole objects; a backend with server-side copy or compose overrides them.
    """

    #: Bytes a writer stores per part object.
    part_size = PART_SIZE

    # -- the content primitives a backend implements -----------------------------

    @abstractmethod
    def get_object(self, key: str, offset: int = 0) -> bytes | None:
        """The bytes of ``key`` from ``offset`` (``b""`` at or past its end), or None if missing."""

    @abstractmethod
    def put_object(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` atomically, replacing any object there."""

    def copy_object(self, source: str, dest: str) -> bool:
        """Copy ``source`` to ``dest``; False when ``source`` is missing."""
        data = self.get_object(source)
        if data is None:
            return False
        self.put_object(dest, data)
        return True

    def compose_object(self, dest: str, sources: builtins.list[str]) -> None:
        """Store the concatenation of ``sources`` (in order) at ``dest`` atomically."""
        pieces = []
        for source in sources:
            data = self.get_object(source)
            if data is None:
                raise DriverError(f"part {source} of the upload vanished before its commit")
            pieces.append(data)
        self.put_object(dest, b"".join(pieces))

    # -- the contract ------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        data = self.get_object(self.layout.key(path))
        if data is None:
            raise PathNotFoundError(path)
        return data

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        self.put_object(self.layout.key(path), bytes(content))

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        data = self.get_object(self.layout.key(path), offset)
        if data is None:
            raise PathNotFoundError(path)
        return io.BytesIO(data)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        if not append:
            self.delete_objects(self._own_upload_keys(path))
            return StagedWriter(self, path, [], 0, None)
        parts: builtins.list[tuple[str, int]] = []
        state: bytes | None = None
        pending = False
        for entry in self.list_objects(self.layout.upload_dir(path) + "/"):
            found = self.layout.upload_entry(entry.key)
            if found is None or found[0] != path:
                continue  # an upload below this path
            size = _part_size(found[1])
            if size is not None:
                parts.append((entry.key, size))
            elif found[1] == _STATE:
                pending = True
                state = self.get_object(entry.key) or None
        if not pending:
            self.check_appendable(path)
            return StagedWriter(self, path, [], 0, None)
        parts.sort()
        return StagedWriter(self, path, [key for key, _ in parts], sum(s for _, s in parts), state)

    def move(self, source: str, dest: str) -> None:
        if source == dest:
            if self.stat(source).is_dir:
                raise DriverError(f"cannot move {source}: it is a directory; move files one by one")
            return
        if not self.copy_object(self.layout.key(source), self.layout.key(dest)):
            if self.any_object_below(self.layout.dir_prefix(source)):
                raise DriverError(f"cannot move {source}: it is a directory; move files one by one")
            raise PathNotFoundError(source)
        self.delete_objects([self.layout.key(source)])

    def pending_uploads(self, path: str = ROOT) -> Iterator[PendingUpload]:
        for upload_path, (size, modified, _) in sorted(self._uploads(path).items()):
            yield PendingUpload(upload_path, size, modified)

    def purge_uploads(self, before: datetime, path: str = ROOT) -> builtins.list[str]:
        purged = []
        for upload_path, (_, modified, keys) in sorted(self._uploads(path).items()):
            if modified < before:
                self.delete_objects(keys)
                purged.append(upload_path)
        return purged

    # -- helpers -------------------------------------------------------------------

    def _uploads(self, path: str) -> dict[str, tuple[int, datetime, builtins.list[str]]]:
        """Each pending upload at or below ``path``: size, last close and its keys."""
        found: dict[str, tuple[int, datetime, builtins.list[str]]] = {}
        marked: set[str] = set()
        for key, size, modified in self.list_objects(self.layout.uploads_below(path)):
            entry = self.layout.upload_entry(key)
            if entry is None:
                continue
            upload_path, name = entry
            total, latest, keys = found.get(upload_path, (0, modified, []))
            keys.append(key)
            if name == _STATE:
                marked.add(upload_path)
            part = size if name.startswith(_PART) else 0
            found[upload_path] = (total + part, max(latest, modified), keys)
        return {upload: found[upload] for upload in marked}

    def _own_upload_keys(self, path: str) -> builtins.list[str]:
        """The keys of the pending upload of ``path`` itself (not of paths below it)."""
        keys = []
        for entry in self.list_objects(self.layout.upload_dir(path) + "/"):
            found = self.layout.upload_entry(entry.key)
            if found is not None and found[0] == path:
                keys.append(entry.key)
        return keys


class StagedWriter(FileWriter):
    """Buffers ``part_size`` bytes, stores each full buffer as a part object in the background."""

    def __init__(
        self,
        store: StagedObjectStore,
        path: str,
        parts: builtins.list[str],
        size: int,
        state: bytes | None,
    ) -> None:
        super().__init__(path, size=size, upload_state=state)
        self._store = store
        self._dir = store.layout.upload_dir(path)
        self._part_keys = list(parts)
        self._buffer = bytearray()

    def _write(self, data: memoryview) -> None:
        self._buffer += data
        while len(self._buffer) >= self._store.part_size:
            self._store_part(bytes(self._buffer[: self._store.part_size]))
            del self._buffer[: self._store.part_size]

    def _store_part(self, data: bytes) -> None:
        key = f"{self._dir}/{_PART}{len(self._part_keys):08d}-{len(data)}"
        self._part_keys.append(key)
        self._in_flight(PARTS_IN_FLIGHT).submit(lambda: self._store.put_object(key, data))

    def _settle(self) -> None:
        """Store the buffered tail and wait for every part in flight."""
        if self._buffer:
            self._store_part(bytes(self._buffer))
            self._buffer = bytearray()
        self._in_flight(PARTS_IN_FLIGHT).wait()

    def _close(self) -> None:
        self._settle()
        self._store.put_object(f"{self._dir}/{_STATE}", self.upload_state or b"")

    def _commit(self) -> None:
        self._settle()
        key = self._store.layout.key(self.path)
        if self._part_keys:
            self._store.compose_object(key, self._part_keys)
        else:
            self._store.put_object(key, b"")
        self._drop()

    def _read_upload(self) -> Iterator[bytes]:
        for key in self._part_keys:
            data = self._store.get_object(key)
            if data is None:
                raise DriverError(f"part {key} of the pending upload of {self.path} is gone")
            yield data

    def _cancel(self) -> None:
        self._in_flight(PARTS_IN_FLIGHT).shutdown()  # no part may land after the drop
        self._buffer = bytearray()
        self._drop()

    def _drop(self) -> None:
        self._store.delete_objects([*self._part_keys, f"{self._dir}/{_STATE}"])
