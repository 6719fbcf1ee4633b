"""What ``writer(path, append=True)`` resumes from: a staging blob's committed blocks and state.

Two requests are sent at once, so a resume waits one round trip: Get Block
List (the ids and sizes a later ``Put Block List`` must repeat) and Get Blob
Properties (the metadata holding the digest hash state, see ``hashstate``; it
also tells an upload closed empty from blocks of a writer that never closed).

The two answers describe one version of the staging blob only when their ETags
match. A close by another writer between them changes the ETag: both are asked
again (up to ``ATTEMPTS`` times), then the blocks are used without a state, and
a writer hashing a digest reads the upload back, pinned to the blocks' ETag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobProperties

from .backend import Backend
from .blocks import Block
from .errors import error_code
from .hashstate import state_from_metadata

__all__ = ["ATTEMPTS", "Staged", "load_staged"]

#: Times both answers are asked for before the blocks are taken without a state.
ATTEMPTS = 3


@dataclass(frozen=True)
class Staged:
    """A closed upload as its staging blob holds it."""

    blocks: list[Block]
    #: The staging blob's ETag when the blocks were listed (None when it had none).
    etag: str | None
    #: The hash state its last close kept (undecoded bytes; None: none).
    state: bytes | None
    #: Whether the staging blob carries metadata (a ``commit`` must not copy it).
    has_metadata: bool


def load_staged(backend: Backend, name: str) -> Staged | None:
    """The closed upload on staging blob ``name``, or None when it holds none."""
    blob = backend.blob(name)
    for attempt in range(1, ATTEMPTS + 1):
        asked = backend.in_background(lambda: _properties(blob))
        try:
            listed = _committed(blob)
        finally:
            properties = asked.result()  # also when the listing failed: never left running
        last = attempt == ATTEMPTS
        if listed is None:
            if properties is None or last:
                return None  # no staging blob (one that appeared meanwhile has no list yet)
            continue
        blocks, etag = listed
        if properties is None:
            if not blocks:
                return None  # only blocks of a writer that never closed
            if last:
                return Staged(blocks, etag, None, has_metadata=True)
            continue
        if etag is None or etag == str(properties.etag):
            metadata = properties.metadata or {}
            return Staged(blocks, etag, state_from_metadata(metadata), bool(metadata))
        if last:
            # Closed again between the two answers, every time: the blocks without a state.
            return Staged(blocks, etag, None, has_metadata=True)
    raise AssertionError("unreachable")  # pragma: no cover


def _committed(blob: BlobClient) -> tuple[list[Block], str | None] | None:
    """The committed blocks and the ETag they were listed at; None when there is no blob."""
    headers: dict[str, Any] = {}

    def keep_headers(response: Any, deserialized: Any, response_headers: dict[str, Any]) -> Any:
        headers.update(response_headers)
        return deserialized

    try:
        committed, _ = blob.get_block_list("committed", cls=keep_headers)
    except ResourceNotFoundError as exc:
        if error_code(exc) != "BlobNotFound":
            raise
        return None
    etag = headers.get("ETag")
    blocks = [Block(str(block.id), int(block.size)) for block in committed]
    return blocks, str(etag) if etag else None


def _properties(blob: BlobClient) -> BlobProperties | None:
    try:
        return blob.get_blob_properties()
    except ResourceNotFoundError as exc:
        if error_code(exc) != "BlobNotFound":
            raise
        return None
