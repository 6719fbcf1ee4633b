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
from typing import Any

from regstore.errors import DriverError

from .errors import s3_errors
from .layout import Layout
from .uploads import DELETE_BATCH, LOGGER, Uploads, refused

__all__ = ["delete_files"]


def delete_files(uploads: Uploads, paths: Iterable[str]) -> None:
    """Delete the files at ``paths`` and their pending uploads; DriverError names each refusal."""
    pending = list(dict.fromkeys(paths))
    failures: list[str] = []
    for start in range(0, len(pending), DELETE_BATCH):
        batch = pending[start : start + DELETE_BATCH]
        where = batch[0] if len(batch) == 1 else posixpath.commonpath(batch)
        failures.extend(uploads.delete_batch([uploads.layout.key(path) for path in batch], where))
        _discard_uploads(uploads, batch, where)
    if failures:
        label = pending[0] if len(pending) == 1 else posixpath.commonpath(pending)
        raise refused(label, failures)


def _discard_uploads(uploads: Uploads, batch: list[str], where: str) -> None:
    """Discard the pending uploads of ``batch`` (all below ``where``), leaving their neighbours'."""
    layout: Layout = uploads.layout
    wanted = set(batch)
    recorded: set[str] = set()
    for key in _keys(uploads, layout.uploads_below(where), where):
        entry = layout.upload_entry(key)
        if entry is not None and entry[0] in wanted:
            recorded.add(entry[0])
    for path in sorted(recorded):
        uploads.discard_below(path)
    _abort_unrecorded(uploads, {layout.key(path) for path in wanted}, where)


def _keys(uploads: Uploads, prefix: str, where: str) -> Iterable[str]:
    with s3_errors(uploads.bucket, where):
        pages = uploads.client.get_paginator("list_objects_v2").paginate(
            Bucket=uploads.bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"]


def _abort_unrecorded(uploads: Uploads, keys: set[str], where: str) -> None:
    """Abort the multipart uploads of exactly ``keys`` (one listing below ``where``).

    As in ``Uploads.abort_unrecorded``: without the permission to list
    uploads, or on a server that cannot, this finds nothing.
    """
    client: Any = uploads.client
    try:
        with s3_errors(uploads.bucket, where):
            pages = client.get_paginator("list_multipart_uploads").paginate(
                Bucket=uploads.bucket, Prefix=uploads.layout.key(where)
            )
            for page in pages:
                for upload in page.get("Uploads", ()):
                    if upload["Key"] in keys:
                        uploads.abort(where, upload["UploadId"], key=upload["Key"])
    except DriverError as exc:
        LOGGER.warning("could not look for abandoned multipart uploads below %s: %s", where, exc)
