"""``ObjectStoreDriver``: the namespace of an object store, written once over four primitives.

An object store keeps flat keys; the contract wants directories that exist
while a file is below them. This base gives ``stat``, ``list``, ``walk``,
``delete`` and the "is it missing?" rules for every backend that can:

- ``head_object(key)``: the size and modification time of one key, or None;
- ``list_objects(prefix, start_after)``: every key below ``prefix``, in byte order;
- ``list_level(prefix)``: the keys and common prefixes one level below ``prefix``;
- ``delete_objects(keys)``: remove keys, missing ones included.

``any_object_below`` has a default over ``list_objects``. A backend implements
the primitives and the content methods (``get_content``, ``put_content``,
``reader``, ``writer``, ``move``), and maps its SDK errors in ``translate``.
"""

from __future__ import annotations

import builtins
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import ClassVar, NamedTuple

from ..driver import StorageDriver
from ..errors import DriverError, PathNotFoundError
from ..info import FileInfo, Prune
from ..paths import ROOT
from ..walking import EPOCH, walk_flat
from .layout import KeyLayout

__all__ = ["DELETE_BATCH", "ObjectEntry", "ObjectStoreDriver"]

#: Keys handed to ``delete_objects`` at a time.
DELETE_BATCH = 1000


class ObjectEntry(NamedTuple):
    """One listed or headed object: its key, size in bytes and modification time (aware UTC)."""

    key: str
    size: int
    modified: datetime


class ObjectStoreDriver(StorageDriver):
    """The contract's namespace over an object store's primitives; see the module docstring.

    Subclasses set ``self.layout`` (a ``KeyLayout`` for their ``rootdirectory``)
    in ``__init__``, and may declare ``max_redirect_seconds``.
    """

    layout: KeyLayout
    #: The longest ``expires_in`` the backend signs (None: no cap of its own).
    max_redirect_seconds: ClassVar[int | None] = None

    # -- the primitives a backend implements -------------------------------------

    @abstractmethod
    def head_object(self, key: str) -> ObjectEntry | None:
        """The object stored at exactly ``key``, or None when there is none."""

    @abstractmethod
    def list_objects(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectEntry]:
        """Every object whose key starts with ``prefix`` and sorts after ``start_after``.

        In byte order of keys, lazily (page by page). ``start_after`` None lists
        from the first key; a backend whose listings start inclusively or
        earlier may yield keys up to ``start_after`` too: callers skip them.
        """

    @abstractmethod
    def list_level(self, prefix: str) -> Iterator[str]:
        """The keys and common prefixes (ending in ``/``) one level below ``prefix``.

        A delimited listing (delimiter ``/``); order and repeats do not matter.
        """

    @abstractmethod
    def delete_objects(self, keys: Iterable[str]) -> None:
        """Delete every key in ``keys``; a key that is already gone is no error."""

    def any_object_below(self, prefix: str) -> bool:
        """True when a path's key starts with ``prefix`` (the private area does not count)."""
        for entry in self.list_objects(prefix):
            if self.layout.is_private(entry.key):
                return False  # it sorts after every path key
            if self.layout.path_of(entry.key) is not None:
                return True
        return False

    def signed_url(self, key: str, method: str, expires_in: int) -> str | None:
        """A URL that lets a plain HTTP client ``method`` the key for ``expires_in`` s, or None."""
        return None

    # -- the contract, written once ----------------------------------------------

    def stat(self, path: str) -> FileInfo:
        if path != ROOT:
            entry = self.head_object(self.layout.key(path))
            if entry is not None:
                return FileInfo(path, entry.size, entry.modified, False)
        if self.any_object_below(self.layout.dir_prefix(path)):
            return FileInfo(path, 0, EPOCH, True)
        raise PathNotFoundError(path)

    def list(self, path: str) -> builtins.list[str]:
        children = self.layout.children(path, self.list_level(self.layout.dir_prefix(path)))
        if not children and path != ROOT:
            raise PathNotFoundError(path)
        return children

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        listed = False

        def list_files(after: str | None) -> Iterator[FileInfo]:
            nonlocal listed
            for info in self.files_below(path, after):
                listed = True
                yield info

        yield from walk_flat(list_files, path, start_after=start_after, prune=prune)
        # An empty walk of a missing directory is an error; one that started after
        # everything below an existing directory is not: only then ask the store.
        if (
            not listed
            and path != ROOT
            and (start_after is None or not self.any_object_below(self.layout.dir_prefix(path)))
        ):
            raise PathNotFoundError(path)

    def files_below(self, path: str, after: str | None = None) -> Iterator[FileInfo]:
        """The files strictly below ``path`` whose path sorts after ``after``, in byte order."""
        layout = self.layout
        if after is not None and layout.after_every_path(after):
            return
        prefix = layout.dir_prefix(path)
        start = None if after is None else layout.listing_start(after)
        if start is not None and start < prefix:
            start = None
        private = layout.private
        path_of = layout.path_of
        for key, size, modified in self.list_objects(prefix, start):
            if key.startswith(private):
                return  # the private area sorts after every path
            found = path_of(key)
            if found is None or (after is not None and found <= after):
                continue
            yield FileInfo(found, size, modified, False)

    def delete(self, path: str) -> None:
        """Delete the file, everything below it, and the pending uploads at or below it."""
        key = self.layout.key(path)
        found = False
        batch: builtins.list[str] = []
        for listed in (self._keys(self.layout.dir_prefix(path)), self.upload_keys(path)):
            for name in listed:
                found = True
                batch.append(name)
                if len(batch) >= DELETE_BATCH:
                    self.delete_objects(batch)
                    batch = []
        if self.head_object(key) is not None:
            batch.append(key)
            found = True
        if batch:
            self.delete_objects(batch)
        if not found:
            raise PathNotFoundError(path)

    def upload_keys(self, path: str) -> Iterator[str]:
        """Every key of the pending uploads at or below ``path``: ``delete`` removes them."""
        staging = self.layout.upload_dir(path)
        for entry in self.list_objects(staging):
            if entry.key == staging or entry.key.startswith(staging + "/"):
                yield entry.key

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        cap = self.max_redirect_seconds
        if cap is not None and expires_in > cap:
            raise DriverError(
                f"expires_in must be at most {cap} seconds ({cap / 86400:g} days) for a signed"
                f" {self.name} URL, got {expires_in}"
            )
        return self.signed_url(self.layout.key(path), method, expires_in)

    # -- helpers for backends ----------------------------------------------------

    def check_appendable(self, path: str) -> None:
        """Raise when ``path`` holds committed bytes: only pending uploads are resumed.

        For ``writer(path, append=True)`` when no pending upload exists: an
        empty or missing file starts a new upload; committed content cannot
        grow in place on an object store.
        """
        entry = self.head_object(self.layout.key(path))
        if entry is not None and entry.size:
            raise DriverError(
                f"cannot append to {path}: it holds {entry.size} bytes of committed content"
                " and has no pending upload; objects cannot grow in place, so write the"
                " whole content again with append=False"
            )

    def _keys(self, prefix: str) -> Iterator[str]:
        for entry in self.list_objects(prefix):
            yield entry.key
