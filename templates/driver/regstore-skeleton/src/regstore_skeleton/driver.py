"""The skeleton driver: the whole regstore contract over an object store's few primitives.

``StagedObjectStore`` (from ``regstore.objectstore``) writes the contract once:
stat, list, walk, delete, move, readers, resumable writers with hash state,
pending uploads and their purge. A backend gives it seven primitives: the
namespace four (``head_object``, ``list_objects``, ``list_level``,
``delete_objects``) and ``get_object``, ``put_object`` (plus ``copy_object``
where the backend copies server-side). Here they call ``dictstore``, an
in-process stand-in: to write a driver for your backend, replace each body
with your SDK's call, and map the SDK's exceptions in ``translate``.

Keys: path ``/a/b`` is ``<rootdirectory>/a/b``; pending uploads keep part
objects and a state marker under ``<rootdirectory>/~regstore/uploads/``
(``KeyLayout`` names both). See docs/writing-a-driver.md in the regstore
repository.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from regstore.errors import DriverError, PathNotFoundError
from regstore.objectstore import KeyLayout, ObjectEntry, StagedObjectStore

from . import dictstore
from .config import NAME, parse

__all__ = ["LIST_PAGE", "SkeletonDriver"]

#: Objects asked for per listing request (S3, GCS and Azure answer at most 1000 or 5000).
LIST_PAGE = 1000


class SkeletonDriver(StagedObjectStore):
    """Paths as objects in one bucket of the in-process ``dictstore``, below ``rootdirectory``."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self.config = parse(parameters)
        # Refuses a root with control characters or empty, "." or ".." components.
        self.layout = KeyLayout(self.config.rootdirectory, NAME)
        # Build your SDK client here, from self.config; connect lazily if you can,
        # so a driver that is never used opens nothing.
        self._bucket = dictstore.open_bucket(self.config.bucket)

    @property
    def name(self) -> str:
        return NAME

    def __repr__(self) -> str:
        # Never show credentials here: a repr ends up in logs and tracebacks.
        return f"SkeletonDriver(bucket={self.config.bucket!r}, root={self.layout.root!r})"

    # -- the namespace primitives (ObjectStoreDriver) ----------------------------

    def head_object(self, key: str) -> ObjectEntry | None:
        # An SDK answers a missing key with an error: catch only that one here
        # (e.g. a 404) and return None; everything else goes to translate.
        found = self._bucket.head(key)
        return None if found is None else ObjectEntry(*found)

    def list_objects(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectEntry]:
        # Page by page, lazily: a walk of a big tree must not hold every key at once.
        start = start_after or ""
        while True:
            page, _ = self._bucket.listing(prefix, start, limit=LIST_PAGE)
            for found in page:
                yield ObjectEntry(*found)
            if len(page) < LIST_PAGE:
                return
            start = page[-1].key

    def list_level(self, prefix: str) -> Iterator[str]:
        # A delimited listing: keys directly below the prefix, and "sub/" prefixes.
        objects, prefixes = self._bucket.listing(prefix, delimiter="/")
        yield from prefixes
        for found in objects:
            yield found.key

    def delete_objects(self, keys: Iterable[str]) -> None:
        # Use the backend's batch delete if it has one (S3: 1000 keys per request).
        batch = list(keys)
        if batch:
            self._bucket.delete(batch)

    # -- the content primitives (StagedObjectStore) -------------------------------

    def get_object(self, key: str, offset: int = 0) -> bytes | None:
        # A ranged GET from offset; past the end is b"", a missing key is None.
        try:
            return self._bucket.get(key, offset)
        except dictstore.NoSuchKey:
            return None

    def put_object(self, key: str, data: bytes) -> None:
        # One atomic PUT: readers see the old object or the new one, never a mix.
        self._bucket.put(key, data)

    def copy_object(self, source: str, dest: str) -> bool:
        # Optional: the default reads and writes the whole object through this
        # process; a server-side copy moves no bytes here. Override compose_object
        # the same way when the backend concatenates objects server-side.
        try:
            self._bucket.copy(source, dest)
        except dictstore.NoSuchKey:
            return False
        return True

    # -- errors ------------------------------------------------------------------

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        """The contract error for an exception of the backend, or None to leave it be.

        The one place a driver maps its SDK's errors: the wrapper asks it for
        every method, reader and writer, so the bodies above raise SDK errors as
        they come. Match your SDK's exception types and error codes here (a
        missing object, access denied, a missing bucket, throttling), say which
        parameter to fix, and never put a credential in a message.
        """
        if isinstance(exc, dictstore.NoSuchKey) and path is not None:
            return PathNotFoundError(path)
        if isinstance(exc, MemoryError):
            return DriverError(
                f"{operation} failed: the in-process store of bucket"
                f" {self.config.bucket!r} ran out of memory"
            )
        return None  # the wrapper turns it into a DriverError naming operation and path
