"""Pending uploads kept in the bucket: a JSON state object and a tail object per path.

The state names the S3 multipart upload, its parts (number = position + 1, each
exactly ``chunksize`` bytes) and the tail object holding the bytes short of a
part. Any driver instance over the same bucket and root resumes from it; no
``ListMultipartUploads`` search is needed, which some servers answer wrongly
and which pages at 1000. A writer hashing a digest also keeps its hash state
there (``hash``, base64): written with the parts and tail it covers, in the one
request a close makes anyway, and read with them when the upload is resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from regstore.errors import DriverError
from regstore.objectstore.statetext import state_from_text, state_to_text

from .errors import NOT_FOUND, error_code, missing
from .layout import S3Layout
from .reader import read_object

__all__ = [
    "DELETE_BATCH",
    "UploadState",
    "Uploads",
    "complete_upload",
    "multipart_etag",
    "refused",
]

LOGGER = logging.getLogger("regstore_s3")

#: S3 deletes at most this many keys per DeleteObjects request.
DELETE_BATCH = 1000
#: Codes of an upload that is gone already: nothing left to abort.
UPLOAD_GONE = frozenset({"NoSuchUpload", *NOT_FOUND})
STATE_VERSION = 1


@dataclass
class UploadState:
    """What a pending upload has persisted: parts, their ETags and sizes, the tail, the hash.

    ``hash`` is the writer's opaque hash state (``FileWriter.upload_state``) for
    exactly these parts and tail, or None.
    """

    chunksize: int
    upload_id: str | None = None
    parts: list[tuple[str, int]] = field(default_factory=list)
    tail_key: str | None = None
    tail_size: int = 0
    hash: bytes | None = None

    @property
    def size(self) -> int:
        """Bytes in the upload: its parts plus its tail."""
        return sum(size for _, size in self.parts) + self.tail_size

    def to_json(self) -> bytes:
        """The state object's content."""
        content: dict[str, Any] = {
            "version": STATE_VERSION,
            "chunksize": self.chunksize,
            "upload_id": self.upload_id,
            "parts": [{"etag": etag, "size": size} for etag, size in self.parts],
            "tail_key": self.tail_key,
            "tail_size": self.tail_size,
        }
        if self.hash is not None:
            # Optional, so releases that predate it still read the state.
            content["hash"] = state_to_text(self.hash)
        return json.dumps(content, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> UploadState:
        """Read a state object; ValueError when it is not one this driver wrote."""
        try:
            data: dict[str, Any] = json.loads(raw)
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"unknown state version {data.get('version')!r}")
            return cls(
                chunksize=int(data["chunksize"]),
                upload_id=data["upload_id"],
                parts=[(str(part["etag"]), int(part["size"])) for part in data["parts"]],
                tail_key=data["tail_key"],
                tail_size=int(data["tail_size"]),
                hash=_hash_state(data.get("hash")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an upload state object: {exc}") from exc


def _hash_state(encoded: object) -> bytes | None:
    """The hash state a state object holds; None when absent or not base64.

    A damaged hash state costs only the hash: the core then reads the upload
    back where it can, rather than the whole upload becoming unreadable.
    """
    state = state_from_text(encoded)
    if state is None and encoded:
        LOGGER.warning("ignoring a hash state that is not base64 in an upload state object")
    return state


def refused(path: str | None, failures: list[str]) -> DriverError:
    """The error of a delete (of ``path``) the server refused for some keys, each described."""
    shown = "; ".join(failures[:10])
    more = f"; and {len(failures) - 10} more" if len(failures) > 10 else ""
    subject = f"delete of {path}" if path is not None else "delete"
    return DriverError(f"{subject}: {len(failures)} object(s) could not be deleted: {shown}{more}")


def multipart_etag(part_etags: list[str]) -> str | None:
    """The ETag S3 gives an object completed from parts with these ETags (None: unknowable).

    It is the MD5 of the parts' binary MD5s, then ``-<count>``; parts whose
    ETags are not MD5s (SSE-KMS, SSE-C) give no prediction.
    """
    digests = []
    for etag in part_etags:
        text = etag.strip('"')
        if len(text) != 32:
            return None
        try:
            digests.append(bytes.fromhex(text))
        except ValueError:
            return None
    digest = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f'"{digest}-{len(digests)}"'


def complete_upload(
    client: Any, bucket: str, key: str, path: str, upload_id: str, part_etags: list[str]
) -> None:
    """CompleteMultipartUpload, accepting a repeat of a completion that already took effect.

    When an answer is lost, botocore sends the request again, and the server
    no longer knows the upload. The object then carries the ETag the parts
    predict: that is success.
    """
    try:
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": number, "ETag": etag}
                    for number, etag in enumerate(part_etags, start=1)
                ]
            },
        )
    except ClientError as exc:
        if error_code(exc) not in UPLOAD_GONE:
            raise
        expected = multipart_etag(part_etags)
        try:
            etag = client.head_object(Bucket=bucket, Key=key).get("ETag")
        except ClientError as head_error:
            if not missing(head_error):
                raise
            etag = None
        if expected is None or etag != expected:
            raise


class Uploads:
    """Reads, writes and discards the pending uploads of one driver."""

    def __init__(
        self, client: Any, bucket: str, layout: S3Layout, write_arguments: dict[str, str]
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.layout = layout
        #: ACL and encryption of state and tail objects, as for content (bucket
        #: policies may require them); no storage class: they are short-lived.
        self._arguments = {
            name: value for name, value in write_arguments.items() if name != "StorageClass"
        }

    def load(self, path: str) -> UploadState | None:
        """The pending upload at ``path``, or None."""
        key = self.layout.state_key(path)
        try:
            raw = read_object(self.client, self.bucket, key, path)
        except ClientError as exc:
            if missing(exc):
                return None
            raise
        try:
            return UploadState.from_json(raw)
        except ValueError as exc:
            raise DriverError(
                f"the pending upload of {path} is unreadable ({exc}); delete {path} to discard it"
            ) from exc

    def save(self, path: str, state: UploadState) -> None:
        """Persist ``state`` as the pending upload at ``path``."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.layout.state_key(path),
            Body=state.to_json(),
            **{**self._arguments, "ContentType": "application/json"},
        )

    def put_tail(self, path: str, data: bytes, size: int) -> str:
        """Store ``data`` as a new tail of the upload at ``path``, now ``size`` bytes; its key.

        Every close writes one, empty or not: its name carries the upload's
        size and its ``LastModified`` is the time of the close, so a listing
        alone describes the upload (see ``lifecycle``).
        """
        key = self.layout.tail_key(path, uuid.uuid4().hex, size)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **self._arguments)
        return key

    def read_tail(self, path: str, state: UploadState) -> bytes:
        """The tail bytes ``state`` refers to."""
        if state.tail_key is None or state.tail_size == 0:
            return b""
        try:
            data = read_object(self.client, self.bucket, state.tail_key, path)
        except ClientError as exc:
            if not missing(exc):
                raise
            raise DriverError(
                f"the pending upload of {path} is damaged: its tail object is missing;"
                f" delete {path} to discard it"
            ) from exc
        if len(data) != state.tail_size:
            raise DriverError(
                f"the pending upload of {path} is damaged: its tail holds {len(data)} bytes,"
                f" its state says {state.tail_size}"
            )
        return data

    def abort(self, path: str, upload_id: str | None, *, key: str | None = None) -> None:
        """Abort the multipart upload of ``path`` (or ``key``); one already gone is fine."""
        if upload_id is None:
            return
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=key or self.layout.key(path), UploadId=upload_id
            )
        except ClientError as exc:
            if error_code(exc) not in UPLOAD_GONE:
                raise

    def sweep(self, path: str) -> None:
        """Delete the state and every tail object of the upload at ``path`` (not those below)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.layout.uploads_below(path), Delimiter="/"
        )
        keys = [item["Key"] for page in pages for item in page.get("Contents", ())]
        self.delete_keys(keys, path)

    def discard_below(self, path: str) -> bool:
        """Remove and abort every pending upload at or below ``path``; True if any was found.

        The bookkeeping goes before the multipart uploads: a process killed in
        between leaves an upload nothing names (which ``abort_unrecorded``
        finds), never a state naming an aborted upload.
        """
        found = False
        batch: list[str] = []
        aborts: list[tuple[str, str]] = []
        for key in self.keys(self.layout.uploads_below(path)):
            found = True
            upload_path = self.layout.state_path(key)
            if upload_path is not None:
                state = self.load(upload_path)
                if state is not None and state.upload_id is not None:
                    aborts.append((upload_path, state.upload_id))
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                self._delete_then_abort(batch, aborts, path)
                batch, aborts = [], []
        self._delete_then_abort(batch, aborts, path)
        return self.abort_unrecorded(path) or found

    def _delete_then_abort(self, keys: list[str], aborts: list[tuple[str, str]], path: str) -> None:
        self.delete_keys(keys, path)
        for upload_path, upload_id in aborts:
            self.abort(upload_path, upload_id)

    def abort_unrecorded(self, path: str) -> bool:
        """Abort multipart uploads of keys at or below ``path``; True if there were any.

        Only a process killed between creating an upload and recording it in
        the state leaves one: this sweep is a clean-up, not how uploads are
        found. It needs ``s3:ListBucketMultipartUploads``; without it, or on a
        server that cannot list uploads by prefix, it finds nothing.
        """
        key = self.layout.key(path)
        found = False
        try:
            for name, upload_id in self.multipart_uploads(key):
                if name == key or name.startswith(key + "/"):
                    found = True
                    self.abort(path, upload_id, key=name)
        except (ClientError, BotoCoreError) as exc:
            LOGGER.warning("could not look for abandoned multipart uploads below %s: %s", path, exc)
        return found

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key starting with ``prefix``, in byte order."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"]

    def multipart_uploads(self, prefix: str) -> Iterator[tuple[str, str]]:
        """The key and id of every multipart upload whose key starts with ``prefix``."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for upload in page.get("Uploads", ()):
                yield upload["Key"], upload["UploadId"]

    def delete_keys(self, keys: Iterable[str], path: str | None) -> None:
        """Delete ``keys`` with DeleteObjects, 1000 at a time; report every key that failed."""
        failures: list[str] = []
        pending = list(keys)
        for start in range(0, len(pending), DELETE_BATCH):
            failures.extend(self.delete_batch(pending[start : start + DELETE_BATCH]))
        if failures:
            raise refused(path, failures)

    def delete_batch(self, keys: list[str]) -> list[str]:
        """One DeleteObjects request of at most 1000 ``keys``; each key refused, described."""
        answer = self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        return [
            f"{self._describe(error.get('Key', '?'))}"
            f" ({error.get('Code', 'error')}: {error.get('Message', 'no message')})"
            for error in answer.get("Errors", ())
        ]

    def _describe(self, key: str) -> str:
        path = self.layout.path_of(key)
        return path if path is not None else f"key {key!r}"
