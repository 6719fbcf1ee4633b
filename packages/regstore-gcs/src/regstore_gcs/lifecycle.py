"""Pending uploads found by listing the staging area: ``pending_uploads`` and ``purge_uploads``.

Every object of every pending upload at or below a path starts with one
prefix (``KeyLayout.uploads_below``), so one listing finds them all, page by
page. ``pending`` reads only the state objects (``matchGlob`` leaves the parts
out where the server supports it): a state's metadata holds the upload's size
and its ``updated`` time is when the upload was last closed with new bytes,
so no upload content is read.

``purge`` reads every staged object. In name order an upload's own objects
(all named ``~...``) are adjacent and come after those of the uploads below
it, so it handles one upload at a time with bounded memory. Each delete names
the generation that was listed: an object written again meanwhile (a writer
resumed the upload, or a fresh one started over) is left alone.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.api_core import exceptions as api
from google.cloud import storage

from regstore.driver import PendingUpload
from regstore.walking import EPOCH

from .deleting import Deleter
from .layout import GCSLayout
from .listing import STAGED_FIELDS, Lister, mod_time
from .uploads import listed_size

__all__ = ["STATE_GLOB", "UploadLifecycle"]

#: The listing filter that keeps only state objects (where the server supports it).
STATE_GLOB = "**/~state"
#: Old uploads whose state objects are deleted together, in parallel.
_WINDOW = 64
#: Part objects handed to the deleter at a time.
_DELETE_GROUP = 1000

_Version = tuple[str, int | None]


@dataclass
class _Staged:
    """The objects one upload keeps, as one listing saw them."""

    path: str
    objects: builtins.list[_Version] = field(default_factory=list)
    state: Mapping[str, Any] | None = None
    newest: datetime = EPOCH


class UploadLifecycle:
    """Lists and purges the pending uploads of one store from a listing of its staging area."""

    def __init__(
        self,
        bucket: storage.Bucket,
        layout: GCSLayout,
        lister: Lister,
        deleter: Deleter,
        executor: Executor,
        *,
        retry: Any,
    ) -> None:
        self._bucket = bucket
        self._layout = layout
        self._lister = lister
        self._deleter = deleter
        self._executor = executor
        self._retry = retry

    def pending(self, path: str) -> Iterator[PendingUpload]:
        """Every upload at or below ``path`` with a readable state object, as listed."""
        prefix = self._layout.uploads_below(path)
        for item in self._lister.objects(prefix, fields=STAGED_FIELDS, match_glob=STATE_GLOB):
            owner = self._layout.upload_of(item["name"])
            if owner is None or not owner[1]:
                continue  # a part: fake-gcs-server ignores matchGlob
            size = listed_size(item)
            if size is not None:
                yield PendingUpload(owner[0], size, mod_time(item))

    def purge(self, before: datetime, path: str) -> builtins.list[str]:
        """Delete every upload at or below ``path`` closed before ``before``; their paths, sorted.

        An upload with a part newer than ``before`` is in use (a writer
        resumed it and has not closed yet) and is kept. Objects of an upload
        that was never closed (no state object: a writer that died before its
        first ``close``, or a purge cut short) go too once all of them are
        older than ``before``; they are no pending upload, so their paths are
        not returned.
        """
        purged: builtins.list[str] = []
        old: builtins.list[_Staged] = []
        orphans: builtins.list[_Version] = []
        for staged in self._staged(self._layout.uploads_below(path)):
            if staged.state is None:
                if staged.newest < before:
                    orphans.extend(staged.objects)
            elif staged.newest < before:  # a newer part: a writer is adding to it now
                old.append(staged)
            if len(old) >= _WINDOW:
                purged.extend(self._discard(old))
                old = []
            if len(orphans) >= _DELETE_GROUP:
                self._deleter.delete_versions(orphans)
                orphans = []
        purged.extend(self._discard(old))
        if orphans:
            self._deleter.delete_versions(orphans)
        return sorted(purged)

    def _staged(self, prefix: str) -> Iterator[_Staged]:
        """The staged objects under ``prefix``, one upload at a time, in listing order."""
        current: _Staged | None = None
        for item in self._lister.objects(prefix, fields=STAGED_FIELDS):
            owner = self._layout.upload_of(item["name"])
            if owner is None:
                continue  # not an upload's object: nothing any writer made
            path, is_state = owner
            if current is None or current.path != path:
                if current is not None:
                    yield current
                current = _Staged(path)
            generation = item.get("generation")
            current.objects.append((item["name"], int(generation) if generation else None))
            current.newest = max(current.newest, mod_time(item))
            if is_state:
                current.state = item
        if current is not None:
            yield current

    def _discard(self, uploads: builtins.list[_Staged]) -> builtins.list[str]:
        """Delete each upload's state (as listed), then the parts of those whose state went."""
        if not uploads:
            return []
        jobs = [(staged, self._executor.submit(self._drop_state, staged)) for staged in uploads]
        gone = [staged for staged, job in jobs if job.result()]
        parts = [
            version
            for staged in gone
            for version in staged.objects
            if staged.state is None or version[0] != staged.state["name"]
        ]
        for start in range(0, len(parts), _DELETE_GROUP):
            self._deleter.delete_versions(parts[start : start + _DELETE_GROUP])
        return [staged.path for staged in gone]

    def _drop_state(self, staged: _Staged) -> bool:
        """Delete the upload's state object if it is still the listed version.

        False when it changed (closed again, or started over) or is gone
        (committed, cancelled or purged by someone else): then the upload's
        parts are not this purge's to delete.
        """
        assert staged.state is not None
        generation = staged.state.get("generation")
        blob = self._bucket.blob(staged.state["name"])
        with contextlib.suppress(api.NotFound, api.PreconditionFailed):
            blob.delete(
                retry=self._retry,
                if_generation_match=int(generation) if generation else None,
            )
            return True
        return False
