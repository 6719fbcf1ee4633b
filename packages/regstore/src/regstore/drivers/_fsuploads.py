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
from dataclasses import dataclass

from ._fsutil import (
    HIDDEN,
    UPLOADS,
    StorageRoot,
    remove_empty_dirs,
    remove_tree,
    sweep_if_stale,
    temp_name,
)

__all__ = ["SEGMENT", "UploadArea", "UploadFiles"]

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

    def temp(self) -> str:
        """A fresh temp name that ``delete`` of the upload's path removes with it."""
        return temp_name(self.folder, self.stem + HIDDEN)


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


def _key(path: str) -> str:
    return path[1:].replace("/", HIDDEN)


def _below(pieces: list[str]) -> str:
    """The folder of an upload relative to the root, as ``StorageRoot.check_each`` takes it."""
    return "/" + "/".join((UPLOADS, *pieces))
