"""Pending uploads listed and purged from one listing of the upload bookkeeping.

The directory ``<uploads><path>/`` of a pending upload holds its ``state`` and
the tail its last close wrote, ``tail-<size>-<token>``: the name gives the
upload's size and the tail's ``LastModified`` the time of that close. So one
listing of 1000 keys describes about 500 uploads; a state is read only where
the listing is not conclusive (a writer killed in the middle of a close, a
state no close has written yet, or a tail of an older release).

A purge reads the state of each upload it discards, for its multipart upload
id and to see that nobody saved it since the listing, then deletes the
bookkeeping and only then aborts the multipart uploads. Last, it aborts the
old multipart uploads that no state names (``Orphans``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from regstore.driver import PendingUpload
from regstore.paths import ROOT

from .errors import missing
from .layout import STATE, TAIL, S3Layout, tail_size
from .uploads import DELETE_BATCH, Uploads, UploadState

__all__ = ["PURGE_WORKERS", "Lifecycle", "UploadDir"]

LOGGER = logging.getLogger("regstore_s3")

#: Requests a purge sends at once (state reads, then aborts, of one batch of uploads).
PURGE_WORKERS = 8
#: Uploads a purge examines together; bounds what it holds in memory.
PURGE_BATCH = DELETE_BATCH // 2
#: Keys per listing request.
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Entry:
    """One listed bookkeeping object."""

    key: str
    name: str
    modified: datetime
    etag: str


@dataclass
class UploadDir:
    """The bookkeeping objects of one upload path, as one listing saw them."""

    path: str
    prefix: str
    entries: list[Entry] = field(default_factory=list)
    #: The state as read (``Lifecycle.read_state``), once read.
    loaded: tuple[UploadState | None, str | None] | None = None

    @property
    def state(self) -> Entry | None:
        """The listed state object, if any."""
        return next((entry for entry in self.entries if entry.name == STATE), None)

    @property
    def tails(self) -> list[Entry]:
        """The listed tail objects."""
        return [entry for entry in self.entries if entry.name.startswith(TAIL)]

    @property
    def newest(self) -> datetime:
        """When the most recent of its objects was written."""
        return max(entry.modified for entry in self.entries)


class Lifecycle:
    """``pending_uploads`` and ``purge_uploads`` of one driver."""

    def __init__(self, uploads: Uploads) -> None:
        self.uploads = uploads
        self.client: Any = uploads.client
        self.bucket = uploads.bucket
        self.layout: S3Layout = uploads.layout

    # -- listing --------------------------------------------------------------------

    def pending(self, path: str) -> Iterator[PendingUpload]:
        """Every pending upload at or below ``path``, streamed from the listing."""
        for directory in self.scan(path):
            upload = self.describe(directory)
            if upload is not None:
                yield upload

    def scan(self, path: str) -> Iterator[UploadDir]:
        """The upload directories at or below ``path``, each once all of its keys are listed.

        Keys arrive in byte order, so a directory is complete once a key outside
        it arrives; the directories still open are the ancestors of the current
        key, never more than the depth of a path.
        """
        open_dirs: list[UploadDir] = []
        for item in self._listing(self.layout.uploads_below(path)):
            key = item["Key"]
            while open_dirs and not key.startswith(open_dirs[-1].prefix):
                yield open_dirs.pop()
            found = self.layout.upload_entry(key)
            if found is None:
                continue
            upload_path, name = found
            prefix = key[: len(key) - len(name)]
            if not open_dirs or open_dirs[-1].prefix != prefix:
                open_dirs.append(UploadDir(upload_path, prefix))
            modified = item["LastModified"].astimezone(timezone.utc)
            entry = Entry(key, name, modified, str(item.get("ETag", "")))
            open_dirs[-1].entries.append(entry)
        while open_dirs:
            yield open_dirs.pop()

    def describe(self, directory: UploadDir) -> PendingUpload | None:
        """The pending upload ``directory`` holds, or None (no readable state)."""
        state = directory.state
        if state is None:
            return None
        tails = directory.tails
        if len(tails) == 1 and tails[0].modified <= state.modified:
            size = tail_size(tails[0].name)
            if size is not None:
                return PendingUpload(directory.path, size, tails[0].modified)
        loaded, _ = self.read_state(directory)
        if loaded is None:
            return None
        named = next((tail for tail in tails if tail.key == loaded.tail_key), None)
        modified = named.modified if named is not None else state.modified
        return PendingUpload(directory.path, loaded.size, modified)

    def read_state(self, directory: UploadDir) -> tuple[UploadState | None, str | None]:
        """The state of ``directory`` and its ETag as read now; (None, None) when it is gone.

        An unreadable state gives (None, its ETag): it is discarded like a
        remnant, its multipart upload aborted as one nothing names.
        """
        if directory.loaded is None:
            directory.loaded = self._get_state(directory.path)
        return directory.loaded

    def _get_state(self, path: str) -> tuple[UploadState | None, str | None]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.layout.state_key(path))
            raw = answer["Body"].read()
        except ClientError as exc:
            if not missing(exc):
                raise
            return None, None
        etag = str(answer.get("ETag", ""))
        try:
            return UploadState.from_json(raw), etag
        except ValueError as exc:
            LOGGER.warning("the pending upload of %s has an unreadable state: %s", path, exc)
            return None, etag

    def _listing(self, prefix: str) -> Iterator[Any]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": PAGE_SIZE}
        )
        for page in pages:
            yield from page.get("Contents", ())

    # -- purging --------------------------------------------------------------------

    def purge(self, before: datetime, path: str) -> list[str]:
        """Discard what at or below ``path`` was last closed before ``before``; the paths."""
        purged: set[str] = set()
        with ThreadPoolExecutor(PURGE_WORKERS, thread_name_prefix="regstore-s3-purge") as pool:
            batch: list[UploadDir] = []
            for directory in self.scan(path):
                if self._closed_before(directory, before):
                    batch.append(directory)
                if len(batch) == PURGE_BATCH:
                    purged.update(self._purge_batch(batch, path, pool))
                    batch = []
            purged.update(self._purge_batch(batch, path, pool))
            purged.update(Orphans(self, pool).abort(before, path))
        return sorted(purged)

    def _closed_before(self, directory: UploadDir, before: datetime) -> bool:
        upload = self.describe(directory)
        when = upload.modified if upload is not None else directory.newest
        return when < before

    def _purge_batch(
        self, batch: list[UploadDir], path: str, pool: ThreadPoolExecutor
    ) -> list[str]:
        """Delete the bookkeeping of ``batch``, then abort the multipart uploads it named.

        A directory whose state changed since the listing is being resumed and
        is left alone. The bookkeeping goes first: whatever happens next, no
        state is left naming an aborted upload.
        """
        if not batch:
            return []
        states = list(pool.map(self.read_state, batch))
        keys: list[str] = []
        aborts: list[tuple[str, str]] = []
        purged: list[str] = []
        for directory, (state, etag) in zip(batch, states, strict=True):
            listed = directory.state
            if (listed.etag if listed is not None else None) != etag:
                continue  # saved, again or for the first time, or discarded since the listing
            keys.extend(entry.key for entry in directory.entries)
            purged.append(directory.path)
            if state is not None and state.upload_id is not None:
                aborts.append((directory.path, state.upload_id))
        self.uploads.delete_keys(keys, path)
        for _ in pool.map(lambda job: self.uploads.abort(*job), aborts):
            pass
        return purged


class Orphans:
    """Old multipart uploads below the root that no pending upload's state names.

    A writer killed between creating a multipart upload and recording it, or
    a registry's own abandoned upload of ``.../_uploads/<uuid>/data``. Found
    with ``ListMultipartUploads``, only below the driver's root and ``path``.
    """

    def __init__(self, lifecycle: Lifecycle, pool: ThreadPoolExecutor) -> None:
        self._lifecycle = lifecycle
        self._layout = lifecycle.layout
        self._pool = pool
        self._recorded: tuple[str, str | None] | None = None

    def abort(self, before: datetime, path: str) -> set[str]:
        """Abort those initiated before ``before``; the paths they map to."""
        layout = self._layout
        private = layout.uploads_below(path)
        prefixes = [layout.prefix] if path == ROOT else [layout.key(path), private]
        found: set[str] = set()
        jobs: list[tuple[str, str]] = []
        try:
            for prefix in prefixes:
                for key, upload_id, initiated in self._uploads(prefix):
                    if initiated >= before or not self._in_scope(key, path):
                        continue
                    owner = self._owner(key)
                    if owner is not None and self._recorded_id(owner) == upload_id:
                        continue
                    jobs.append((key, upload_id))
                    shown = self._shown(key, owner)
                    if shown is not None:
                        found.add(shown)
                    if len(jobs) == PURGE_BATCH:
                        self._abort_all(jobs, path)
                        jobs = []
        except (ClientError, BotoCoreError) as exc:
            LOGGER.warning("could not look for abandoned multipart uploads below %s: %s", path, exc)
        self._abort_all(jobs, path)
        return found

    def _abort_all(self, jobs: list[tuple[str, str]], path: str) -> None:
        """Abort each (key, upload id), several at once."""
        uploads = self._lifecycle.uploads
        for _ in self._pool.map(lambda job: uploads.abort(path, job[1], key=job[0]), jobs):
            pass

    def _uploads(self, prefix: str) -> Iterator[tuple[str, str, datetime]]:
        lifecycle = self._lifecycle
        pages = lifecycle.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=lifecycle.bucket, Prefix=prefix
        )
        for page in pages:
            for upload in page.get("Uploads", ()):
                yield upload["Key"], upload["UploadId"], upload["Initiated"]

    def _in_scope(self, key: str, path: str) -> bool:
        """True for a key below the root and at or below ``path`` (content or bookkeeping)."""
        layout = self._layout
        if not key.startswith(layout.prefix):
            return False
        if path == ROOT:
            return True
        content = layout.key(path)
        return key == content or key.startswith((content + "/", layout.uploads_below(path)))

    def _owner(self, key: str) -> str | None:
        """The path whose writer would have created an upload at ``key`` (content keys only)."""
        if key.startswith(self._layout.uploads):
            return None
        return self._layout.path_of(key)

    def _shown(self, key: str, owner: str | None) -> str | None:
        """The path a purge reports for an orphan at ``key``: its own, or its upload's."""
        if owner is not None:
            return owner
        found = self._layout.upload_entry(key)
        return found[0] if found is not None else None

    def _recorded_id(self, owner: str) -> str | None:
        """The multipart upload id the pending upload at ``owner`` records (read once)."""
        if self._recorded is None or self._recorded[0] != owner:
            state, _ = self._lifecycle.read_state(UploadDir(owner, ""))
            self._recorded = (owner, state.upload_id if state is not None else None)
        return self._recorded[1]
