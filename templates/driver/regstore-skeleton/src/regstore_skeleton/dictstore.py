"""An in-process object store standing in for a backend's SDK client: replace it with yours.

Buckets live in this module, by name, so two drivers with the same ``bucket``
share their objects (within this process only). The calls have the shape of
an object-store SDK's: flat keys, listings in key order a page at a time with
an optional delimiter, and an exception of its own for a missing key.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import NamedTuple

__all__ = ["Bucket", "NoSuchKey", "StoredObject", "drop_bucket", "open_bucket"]

_BUCKETS: dict[str, Bucket] = {}
_BUCKETS_LOCK = threading.Lock()


class NoSuchKey(KeyError):
    """No object at the key: the SDK-style error that ``SkeletonDriver.translate`` maps."""


class StoredObject(NamedTuple):
    """One listed object: its key, size in bytes and last modification (aware UTC)."""

    key: str
    size: int
    modified: datetime


class Bucket:
    """Objects by key, each replaced whole and atomically; safe to use from many threads."""

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()

    def head(self, key: str) -> StoredObject | None:
        """The object at ``key`` without its bytes, or None."""
        with self._lock:
            found = self._objects.get(key)
        return None if found is None else StoredObject(key, len(found[0]), found[1])

    def get(self, key: str, offset: int = 0) -> bytes:
        """The bytes of ``key`` from ``offset``; ``NoSuchKey`` when there is no object."""
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise NoSuchKey(key)
        return found[0][offset:]

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key``, replacing any object there."""
        stored = (bytes(data), datetime.now(timezone.utc))
        with self._lock:
            self._objects[key] = stored

    def copy(self, source: str, dest: str) -> None:
        """A server-side copy; ``NoSuchKey`` when ``source`` is missing."""
        with self._lock:
            found = self._objects.get(source)
            if found is None:
                raise NoSuchKey(source)
            self._objects[dest] = (found[0], datetime.now(timezone.utc))

    def listing(
        self, prefix: str, start_after: str = "", *, delimiter: str = "", limit: int | None = None
    ) -> tuple[list[StoredObject], list[str]]:
        """Up to ``limit`` objects (None: all) below ``prefix`` after ``start_after``, in key order.

        With a ``delimiter``, keys holding it after ``prefix`` are rolled up into
        common prefixes (second item, each ending with the delimiter), unpaged.
        """
        with self._lock:
            keys = sorted(k for k in self._objects if k.startswith(prefix) and k > start_after)
            found = {key: self._objects[key] for key in keys}
        objects: list[StoredObject] = []
        prefixes: dict[str, None] = {}
        for key, (data, modified) in found.items():
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                prefixes[key[: cut + len(delimiter)]] = None
            elif limit is None or len(objects) < limit:
                objects.append(StoredObject(key, len(data), modified))
        return objects, list(prefixes)

    def delete(self, keys: list[str]) -> None:
        """Delete every key in ``keys``; missing ones are no error."""
        with self._lock:
            for key in keys:
                self._objects.pop(key, None)

    def all_keys(self) -> list[str]:
        """Every key in the bucket, sorted."""
        with self._lock:
            return sorted(self._objects)


def open_bucket(name: str) -> Bucket:
    """The bucket called ``name``, created empty on first use."""
    with _BUCKETS_LOCK:
        return _BUCKETS.setdefault(name, Bucket())


def drop_bucket(name: str) -> None:
    """Forget the bucket called ``name`` and its objects."""
    with _BUCKETS_LOCK:
        _BUCKETS.pop(name, None)
