"""Pending uploads kept as staged part objects plus one state object.

An upload of ``path`` is a run of part objects of ``part_size`` bytes each
(``~part-00000001``, ...) and a state object (``~state``) whose content is
the unsent tail (fewer than ``part_size`` bytes) and whose metadata counts
the parts and, for a writer that hashes a digest, holds its hash state
(base64). The state object is written last, in one request, so it always
describes parts that exist, and a hash state always covers exactly the size
recorded beside it: any process resumes from it, hash included, with no
request more than a resume without a digest. ``commit`` composes
the parts (32 sources per compose, chained) into the final object in one
last compose, so the object appears whole or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as api
from google.cloud import storage

from regstore.errors import DriverError
from regstore.objectstore.statetext import state_from_text, state_to_text

from .deleting import Deleter
from .layout import GCSLayout
from .oneshot import CONTENT_TYPE, crc32c, upload

__all__ = [
    "CONTENT_TYPE",
    "MAX_COMPONENTS",
    "MAX_COMPOSE_SOURCES",
    "Pending",
    "UploadStore",
    "listed_size",
]

#: Sources one compose request accepts.
MAX_COMPOSE_SOURCES = 32
#: Components one composite object may have: the most parts an upload can use.
MAX_COMPONENTS = 1024

_VERSION = "1"
_META_VERSION = "regstore-upload"
_META_PARTS = "regstore-parts"
_META_PART_SIZE = "regstore-part-size"
_META_SIZE = "regstore-size"
_META_HASH = "regstore-hash-state"
#: The largest hash state kept in metadata (GCS allows 8 KiB of custom metadata in all);
#: the core's states are a few hundred bytes, a larger one is not kept (the core reads back).
MAX_STATE = 2048
#: Its length as base64, the form metadata carries.
MAX_STATE_TEXT = 4 * -(-MAX_STATE // 3)


@dataclass(frozen=True)
class Pending:
    """A pending upload as its state object describes it."""

    parts: int
    part_size: int
    tail: bytes
    #: The state object's generation; 0 when there is none.
    generation: int = 0
    #: The opaque hash state kept with the upload (``FileWriter.upload_state``); None: none.
    state: bytes | None = None

    @property
    def size(self) -> int:
        """Bytes in the upload: every part plus the tail."""
        return self.parts * self.part_size + len(self.tail)


def listed_size(resource: Mapping[str, Any]) -> int | None:
    """An upload's size from its state object's listed resource; None when unreadable."""
    meta = resource.get("metadata") or {}
    if meta.get(_META_VERSION) != _VERSION:
        return None
    try:
        size = int(meta[_META_SIZE])
    except (KeyError, ValueError):
        return None
    return size if size >= 0 else None


def _metadata(pending: Pending) -> dict[str, str]:
    """The state object's metadata for ``pending``, its hash state included if it fits."""
    metadata = {
        _META_VERSION: _VERSION,
        _META_PARTS: str(pending.parts),
        _META_PART_SIZE: str(pending.part_size),
        _META_SIZE: str(pending.size),
    }
    text = state_to_text(pending.state, MAX_STATE_TEXT)
    if text is not None:
        metadata[_META_HASH] = text
    return metadata


def _decode_state(meta: Mapping[str, str]) -> bytes | None:
    """The hash state kept in a state object's metadata; None when absent or unreadable."""
    return state_from_text(meta.get(_META_HASH))


class UploadStore:
    """Reads and writes the staged objects of pending uploads in one bucket."""

    def __init__(
        self,
        client: storage.Client,
        bucket: storage.Bucket,
        layout: GCSLayout,
        deleter: Deleter,
        executor: ThreadPoolExecutor,
        *,
        retry: Any,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._layout = layout
        self._deleter = deleter
        #: The driver's pool: background part uploads and parallel composes.
        self.executor = executor
        self._retry = retry

    # -- state ------------------------------------------------------------------

    def load(self, path: str) -> Pending | None:
        """The pending upload of ``path``, or None when there is none."""
        blob = self._bucket.blob(self._layout.state_name(path))
        try:
            blob.reload(retry=self._retry)
        except api.NotFound:
            return None
        meta = blob.metadata or {}
        try:
            version = meta.get(_META_VERSION)
            parts = int(meta[_META_PARTS])
            part_size = int(meta[_META_PART_SIZE])
            size = int(meta[_META_SIZE])
        except (KeyError, ValueError):
            version = None
        if version != _VERSION:
            raise DriverError(
                f"the pending upload of {path} has unreadable state"
                f" ({blob.name}); cancel it or delete the path"
            )
        # Read before the download, which sets it from the answer (None where an
        # emulator reports no generation there: gcp-storage-emulator).
        generation = blob.generation or 0
        tail = b""
        if blob.size:
            tail = blob.download_as_bytes(if_generation_match=generation or None, retry=self._retry)
        if parts < 0 or part_size <= 0 or size != parts * part_size + len(tail):
            raise DriverError(
                f"the pending upload of {path} has inconsistent state: {parts} parts of"
                f" {part_size} bytes and a {len(tail)}-byte tail do not make {size} bytes"
            )
        return Pending(parts, part_size, tail, generation, _decode_state(meta))

    def save(self, path: str, pending: Pending, *, expected: int | None = None) -> None:
        """Write the state object: the tail as content, the part count as metadata.

        With ``expected`` (a generation, 0 for none) the write happens only if
        the state is still that version: a resumed upload that was purged,
        cancelled or closed by another writer meanwhile fails with
        ``DriverError`` instead of describing parts that are gone.
        """
        metadata = _metadata(pending)
        name = self._layout.state_name(path)
        try:
            upload(
                self._bucket,
                name,
                pending.tail,
                metadata=metadata,
                if_generation_match=expected,
                retry=self._retry,
            )
        except api.PreconditionFailed:
            if self._saved(name, metadata, pending.tail):
                return  # an earlier attempt of this save landed; its answer was lost
            raise DriverError(
                f"the pending upload of {path} changed after this writer resumed it: it was"
                " purged, cancelled or closed by another writer, so this close was not kept;"
                " resume the upload again or start it over"
            ) from None

    def keep_state(self, path: str, pending: Pending) -> bool:
        """Add ``pending.state`` to the unchanged state object (generation ``pending.generation``).

        A metadata update, so the tail is not sent again; the whole metadata is
        sent, as emulators may replace it rather than merge. False when the
        state object changed or went meanwhile: the hash state is then not kept.
        """
        blob = self._bucket.blob(self._layout.state_name(path))
        blob.metadata = _metadata(pending)
        try:
            blob.patch(if_generation_match=pending.generation or None, retry=self._retry)
        except (api.NotFound, api.PreconditionFailed):
            return False
        return True

    def _saved(self, name: str, metadata: Mapping[str, str], tail: bytes) -> bool:
        """True when the state object ``name`` holds exactly ``metadata`` and ``tail``."""
        blob = self._bucket.blob(name)
        try:
            blob.reload(retry=self._retry)
        except api.NotFound:
            return False
        if blob.metadata != dict(metadata) or blob.size != len(tail):
            return False
        return bool(blob.crc32c == crc32c(tail))

    def forget(self, path: str) -> None:
        """Drop the state object so that a fresh upload starts from nothing."""
        with contextlib.suppress(api.NotFound):
            self._bucket.blob(self._layout.state_name(path)).delete(retry=self._retry)

    # -- parts --------------------------------------------------------------------

    def put_part(self, path: str, index: int, data: bytes) -> str:
        """Upload part ``index`` and return its object name."""
        name = self._layout.part_name(path, index)
        self.put(name, data)
        return name

    def read_part(self, path: str, index: int, size: int) -> bytes:
        """The content of part ``index`` (from 1), checked to be ``size`` bytes.

        One whole, checksummed GET: used only to rebuild the hash of an
        upload that kept no hash state.
        """
        blob = self._bucket.blob(self._layout.part_name(path, index))
        try:
            data: bytes = blob.download_as_bytes(retry=self._retry)
        except api.NotFound:
            raise DriverError(
                f"part {index} of the pending upload of {path} is gone: the upload was"
                " cancelled, committed or purged while it was read back"
            ) from None
        if len(data) != size:
            raise DriverError(
                f"part {index} of the pending upload of {path} holds {len(data)} bytes, not"
                f" {size}: the upload changed while it was read back; resume it again"
            )
        return data

    def put(self, name: str, data: bytes) -> None:
        """Store ``data`` as the object ``name`` in one request and check what arrived."""
        upload(self._bucket, name, data, retry=self._retry)

    # -- commit and cleanup -------------------------------------------------------

    def publish(self, path: str, sources: Sequence[str], key: str) -> None:
        """Compose ``sources`` into the object ``key``, chaining 32 sources per compose."""
        level = 0
        names = list(sources)
        while len(names) > MAX_COMPOSE_SOURCES:
            level += 1
            merged: list[str] = []
            jobs: list[Future[None]] = []
            for index, start in enumerate(range(0, len(names), MAX_COMPOSE_SOURCES)):
                group = names[start : start + MAX_COMPOSE_SOURCES]
                if len(group) == 1:
                    merged.append(group[0])
                    continue
                target = self._layout.compose_name(path, level, index)
                jobs.append(self.executor.submit(self._compose, group, target))
                merged.append(target)
            wait(jobs)
            for job in jobs:
                job.result()
            names = merged
        self._compose(names, key)

    def _compose(self, sources: Sequence[str], target: str) -> None:
        # A fresh Blob: one that carries an earlier object's checksums is refused.
        destination = self._bucket.blob(target)
        destination.content_type = CONTENT_TYPE
        destination.compose([self._bucket.blob(name) for name in sources], retry=self._retry)

    def owned(self, path: str) -> list[str]:
        """Names of every object the pending upload of ``path`` itself keeps."""
        prefix = self._layout.upload_dir(path) + "/"
        listing = self._client.list_blobs(
            self._bucket, prefix=prefix, delimiter="/", retry=self._retry
        )
        return [blob.name for blob in listing if self._layout.owns(path, blob.name)]

    def discard(self, path: str) -> bool:
        """Delete every object of the pending upload of ``path``; True if there were any."""
        names = self.owned(path)
        if names:
            self._deleter.delete(names)
        return bool(names)
