"""``delete_files``: many files in a few requests, for sweeps such as garbage collection.

Each batch of up to 1000 files costs three requests whatever its size: one
``DeleteObjects`` of their keys, one listing of the upload bookkeeping below
their common directory (nothing there, in a registry's ``blobs/``), and one
``ListMultipartUploads`` below it for uploads a killed writer left unrecorded.
Files are not looked up first: deleting a missing key is no error in S3, and a
missing file is none here either.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ClientError

from .uploads import DELETE_BATCH, LOGGER, Uploads, refused

__all__ = ["delete_files"]


def delete_files(uploads: Uploads, paths: Iterable[str]) -> None:
    """Delete the files at ``paths`` and their pending uploads; DriverError names each refusal."""
    pending = list(dict.fromkeys(paths))
    failures: list[str] = []
    for start in range(0, len(pending), DELETE_BATCH):
        batch = pending[start : start + DELETE_BATCH]
        where = batch[0] if len(batch) == 1 else posixpath.commonpath(batch)
        failures.extend(uploads.delete_batch([uploads.layout.key(path) for path in batch]))
        _discard_uploads(uploads, batch, where)
    if failures:
        label = pending[0] if len(pending) == 1 else posixpath.commonpath(pending)
        raise refused(label, failures)


def _discard_uploads(uploads: Uploads, batch: list[str], where: str) -> None:
    """Discard the pending uploads of ``batch`` (all below ``where``), leaving their neighbours'."""
    layout = uploads.layout
    wanted = set(batch)
    recorded: set[str] = set()
    for key in uploads.keys(layout.uploads_below(where)):
        entry = layout.upload_entry(key)
        if entry is not None and entry[0] in wanted:
            recorded.add(entry[0])
    for path in sorted(recorded):
        uploads.discard_below(path)
    _abort_unrecorded(uploads, {layout.key(path) for path in wanted}, where)


def _abort_unrecorded(uploads: Uploads, keys: set[str], where: str) -> None:
    """Abort the multipart uploads of exactly ``keys`` (one listing below ``where``).

    As in ``Uploads.abort_unrecorded``: without the permission to list
    uploads, or on a server that cannot, this finds nothing.
    """
    try:
        for key, upload_id in uploads.multipart_uploads(uploads.layout.key(where)):
            if key in keys:
                uploads.abort(where, upload_id, key=key)
    except (ClientError, BotoCoreError) as exc:
        LOGGER.warning("could not look for abandoned multipart uploads below %s: %s", where, exc)
