"""Where the filesystem driver keeps pending uploads: flat names in the one ``~uploads`` folder.

The pending upload of path ``P`` is the file ``<root>/~uploads/<key>~~data``,
with ``<key>~~size`` beside it recording its size at the last ``close``. The
key is ``P`` without its leading ``/`` and with every other ``/`` written as
``~``. A path component is never empty and never holds a ``~``, so a key never
holds ``~~`` nor ends with ``~``: no two paths share a name, and the uploads at
or below ``P`` are exactly the names that start with ``key + "~"``. So a stream
makes and removes no folders (``~uploads`` stays once made), and ``delete``
finds the uploads below a folder in one scan of ``~uploads``.

A key longer than ``SEGMENT`` characters (a file name holds 255 bytes) is cut
into folders of ``SEGMENT`` characters, the last piece naming the files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone

from ._fsutil import (
    HIDDEN,
    UPLOADS,
    StorageRoot,
    remove_empty_dirs,
    remove_tree,
    sweep_if_stale,
    temp_name,
)

__all__ = ["SEGMENT", "FoundUpload", "UploadArea", "UploadFiles"]

#: The longest piece of a key in one name; leaves room for ``~~tmp.`` and 16 hex digits.
SEGMENT = 200
#: Between a key and what the file holds; never inside a key.
_SEPARATOR = HIDDEN + HIDDEN


@dataclass(frozen=True)
class UploadFiles:
    """The files of one pending upload: ``folder/stem~~data`` and ``folder/stem~~size``."""

    folder: str
    stem: str

    @property
    def data(self) -> str:
        """The pending bytes."""
        return f"{self.folder}/{self.stem}{_SEPARATOR}data"

    @property
    def size(self) -> str:
        """The size at the last ``close``."""
        return f"{self.folder}/{self.stem}{_SEPARATOR}size"

    @property
    def state(self) -> str:
        """The writer's hash state at the last ``close`` (only for uploads hashed with a digest)."""
        return f"{self.folder}/{self.stem}{_SEPARATOR}state"

    def temp(self) -> str:
        """A fresh temp name that ``delete`` of the upload's path removes with it."""
        return temp_name(self.folder, self.stem + HIDDEN)

    def recorded_size(self) -> int | None:
        """The size the last ``close`` recorded (None: none, or unreadable after a power loss)."""
        try:
            fd = os.open(self.size, os.O_RDONLY | _NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            text = os.read(fd, 32)
        finally:
            os.close(fd)
        try:
            size = int(text)
        except ValueError:
            return None
        return size if size >= 0 else None


@dataclass(frozen=True)
class FoundUpload:
    """A pending upload found by a scan of ``~uploads``: its path, files, size and last close."""

    path: str
    files: UploadFiles
    size: int
    closed: float

    @property
    def modified(self) -> datetime:
        """The time of the last ``close``, timezone-aware UTC."""
        return datetime.fromtimestamp(self.closed, timezone.utc)


class UploadArea:
    """The ``~uploads`` folder of one storage root."""

    def __init__(self, root: StorageRoot, segment: int = SEGMENT) -> None:
        self.root = root
        self.directory = root.uploads
        self.segment = segment

    def files(self, path: str) -> UploadFiles:
        """The files of the pending upload of ``path`` (refused if a link leads out of the root)."""
        pieces, stem = self._cut(_key(path))
        self.root.check_each(path, _below(pieces))
        return UploadFiles("/".join((self.directory, *pieces)), stem)

    def discard(self, path: str) -> bool:
        """Remove every pending upload at or below ``path``; False when there was none.

        Temp files left in the scanned folders by killed writers go too once stale.
        """
        rest = _key(path) + HIDDEN
        folder, pieces = self.directory, list[str]()
        found = False
        while len(rest) > self.segment:
            if len(rest) == self.segment + 1:
                # The key of ``path`` itself fits in this folder: its own files are here.
                found |= self._remove_matching(path, folder, pieces, rest[:-1] + _SEPARATOR)
            pieces.append(rest[: self.segment])
            folder, rest = f"{folder}/{pieces[-1]}", rest[self.segment :]
        found |= self._remove_matching(path, folder, pieces, rest)
        if found and pieces:
            remove_empty_dirs(folder, self.directory)
        return found

    def find(self, path: str) -> Iterator[FoundUpload]:
        """Every pending upload at or below ``path`` (``/``: all), from one scan of its folders.

        An upload's size and time are those its last ``close`` recorded; one
        whose record is missing (a writer killed before its first ``close``, or
        one still writing) is resumable all the same, so it counts with its
        file's own size and time.
        """
        key = "" if path == "/" else _key(path)
        # The folders every key at or below ``path`` shares; a key exactly a whole
        # number of segments long names its files one folder up from its descendants.
        depth = max(0, (len(key) - 1) // self.segment) if key else 0
        pieces = [key[i * self.segment : (i + 1) * self.segment] for i in range(depth)]
        self.root.check_each(path, _below(pieces))
        folder = "/".join((self.directory, *pieces))
        yield from self._scan(folder, "".join(pieces), key)

    def forget(self, found: FoundUpload, before: float) -> bool:
        """Remove ``found`` if it was still last closed before ``before``; False if it changed.

        The upload is looked at once more right before it goes, so a writer that
        closed it again since the scan keeps it. A writer that resumes it in the
        moment between that look and the removal finds its upload gone when it
        closes or commits, as after a ``delete``.
        """
        current = _closed_at(found.files)
        if current is None or current >= before:
            return False
        for name in (found.files.size, found.files.state, found.files.data):
            # A concurrent purge, delete, commit or cancel may have got there first.
            with suppress(FileNotFoundError):
                os.unlink(name)
        if found.files.folder != self.directory:
            remove_empty_dirs(found.files.folder, self.directory)
        return True

    def _scan(self, folder: str, folder_key: str, key: str) -> Iterator[FoundUpload]:
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        now = time.time()
        stems: list[str] = []
        folders: list[str] = []
        with entries:
            for entry in entries:
                name = entry.name
                if name.endswith(_DATA):
                    stems.append(name[: -len(_DATA)])
                elif _SEPARATOR not in name and entry.is_dir(follow_symlinks=False):
                    folders.append(name)
                else:
                    sweep_if_stale(entry, now)
        for stem in sorted(stems):
            full = folder_key + stem
            if key and full != key and not full.startswith(key + HIDDEN):
                continue
            files = UploadFiles(folder, stem)
            found = _describe(files)
            if found is not None:
                yield FoundUpload("/" + full.replace(HIDDEN, "/"), files, *found)
        for name in sorted(folders):
            below = folder_key + name
            if below.startswith(key) or key.startswith(below):
                yield from self._scan(f"{folder}/{name}", below, key)

    def _remove_matching(self, path: str, folder: str, pieces: list[str], prefix: str) -> bool:
        self.root.check_each(path, _below(pieces))
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return False
        found = False
        now = time.time()
        with entries:
            for entry in entries:
                if not entry.name.startswith(prefix):
                    sweep_if_stale(entry, now)
                    continue
                found = True
                try:
                    if entry.is_dir(follow_symlinks=False):
                        remove_tree(entry.path)
                    else:
                        os.unlink(entry.path)
                except FileNotFoundError:
                    pass  # a concurrent delete, commit or cancel got there first
        return found

    def _cut(self, key: str) -> tuple[list[str], str]:
        pieces: list[str] = []
        while len(key) > self.segment:
            pieces.append(key[: self.segment])
            key = key[self.segment :]
        return pieces, key


_DATA = _SEPARATOR + "data"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _describe(files: UploadFiles) -> tuple[int, float] | None:
    """Size and time of the last ``close`` of an upload; None when it is gone."""
    try:
        data = os.stat(files.data, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        record = os.stat(files.size, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return data.st_size, data.st_mtime
    size = files.recorded_size()
    return (data.st_size if size is None else size), record.st_mtime


def _closed_at(files: UploadFiles) -> float | None:
    """When the upload was last closed (its data file's time without a record); None if gone."""
    for name in (files.size, files.data):
        try:
            return os.stat(name, follow_symlinks=False).st_mtime
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None


def _key(path: str) -> str:
    return path[1:].replace("/", HIDDEN)


def _below(pieces: list[str]) -> str:
    """The folder of an upload relative to the root, as ``StorageRoot.check_each`` takes it."""
    return "/" + "/".join((UPLOADS, *pieces))
