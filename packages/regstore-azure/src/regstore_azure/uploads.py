"""Pending uploads, read from one listing of the staging area, and their purge.

A closed upload is a staging blob with a committed block list (see
``writer``). Its listing entry says all ``pending_uploads`` needs: the size is
the blob's length (the committed blocks: the bytes at the last ``close``), and
``modified`` is its ``Last-Modified``, which only the ``Put Block List`` of a
``close`` changes; blocks staged by a writer that has not closed yet do not.
Blobs with uncommitted blocks only (a writer that never closed) are not
listed, so they are not pending uploads.

A purge deletes each old staging blob with ``If-Match`` on the ETag it listed,
so an upload closed again meanwhile is kept; the delete takes every block of
the blob (committed or not) with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from regstore.driver import PendingUpload
from regstore.paths import ROOT, is_below

from .backend import Backend, modified_at

__all__ = ["StagedUpload", "purge_staged", "staged_uploads"]


@dataclass(frozen=True)
class StagedUpload:
    """A pending upload, with the staging blob name and ETag that a conditional delete needs."""

    upload: PendingUpload
    name: str
    etag: str


def staged_uploads(backend: Backend, path: str) -> Iterator[StagedUpload]:
    """Every closed upload at or below ``path``, streamed from one paginated listing."""
    layout = backend.layout
    # The staging blob of ``path`` itself has no ``/`` after its name: list from the name.
    prefix = layout.uploads if path == ROOT else layout.upload_dir(path)
    for blob in backend.container.list_blobs(name_starts_with=prefix):
        upload_path = layout.upload_path(blob.name)
        if upload_path is None or not (upload_path == path or is_below(upload_path, path)):
            continue  # a sibling sharing the prefix (``/ab`` for ``/a``), or not a path
        upload = PendingUpload(upload_path, int(blob.size), modified_at(blob))
        yield StagedUpload(upload, blob.name, str(blob.etag))


def purge_staged(backend: Backend, before: datetime, path: str) -> list[str]:
    """Delete the staging blobs at or below ``path`` last closed before ``before``.

    Returns the paths of those deleted, sorted; an upload closed, committed or
    cancelled since the listing is left to its writer and not returned.
    """
    old = (
        (staged.name, staged.etag)
        for staged in staged_uploads(backend, path)
        if staged.upload.modified < before
    )
    deleted = backend.deleter.delete_unchanged(old)
    paths = (backend.layout.upload_path(name) for name, gone in deleted.items() if gone)
    return sorted(path for path in paths if path is not None)
