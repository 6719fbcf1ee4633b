"""The S3 storage driver: Amazon S3 and S3-compatible servers through boto3.

Paths are stored at the distribution registry's keys (``rootdirectory +
path``), so regstore works on an existing registry's bucket in place. Pending
uploads live under ``~regstore/`` below the root, where no path maps (see
``layout`` and ``uploads``).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from regstore.driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from regstore.errors import DriverError, InvalidParameterError, PathNotFoundError
from regstore.paths import ROOT
from regstore.redaction import register_secrets
from regstore.walking import EPOCH, walk_flat

from .bulk import delete_files
from .client import build_client
from .config import S3Config, parse
from .copying import server_side_copy
from .deleting import BatchDeleter
from .errors import DENIED, NOT_FOUND, error_code, s3_errors, translate
from .layout import PAST_VALID, Layout
from .lifecycle import Lifecycle
from .reader import open_object, read_object
from .uploads import Uploads
from .writer import S3Writer

__all__ = ["S3AWSDriver", "S3Driver"]

#: The longest a SigV4 presigned URL may live (7 days).
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
#: Keys per listing request.
PAGE_SIZE = 1000


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


class S3Driver(StorageDriver):
    """A driver over one bucket (and ``rootdirectory`` inside it); thread-safe."""

    #: The registered name; ``S3AWSDriver`` is the same driver registered as ``s3aws``.
    driver_name: ClassVar[str] = "s3"

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self.config: S3Config = parse(self.driver_name, parameters)
        register_secrets(self.config.accesskey, self.config.secretkey, self.config.sessiontoken)
        self.bucket = self.config.bucket
        self.chunksize = self.config.chunksize
        self.layout = Layout(self.config.rootdirectory)
        try:
            self.client: Any = build_client(self.config)
        except (BotoCoreError, ValueError) as exc:
            raise InvalidParameterError(
                self.driver_name,
                "regionendpoint",
                f"the AWS SDK rejected the endpoint settings: {exc}",
            ) from exc
        self.uploads = Uploads(self.client, self.bucket, self.layout, self.config.write_arguments())
        self.lifecycle = Lifecycle(self.uploads)
        self._presigner: Any = None
        self._presigner_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.driver_name

    def __repr__(self) -> str:
        endpoint = self.config.endpoint
        if endpoint is not None:
            parts = urlsplit(endpoint)
            endpoint = f"{parts.scheme}://{parts.hostname}" + (
                f":{parts.port}" if parts.port else ""
            )
        return (
            f"{type(self).__name__}(bucket={self.bucket!r}, region={self.config.region!r},"
            f" endpoint={endpoint!r})"
        )

    # -- content ----------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        return read_object(self.client, self.bucket, self.layout.key(path), path, self.name)

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        body = bytes(content) if isinstance(content, memoryview) else content
        with s3_errors(self.bucket, path):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.layout.key(path),
                Body=body,
                **self.config.write_arguments(),
            )

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        key = self.layout.key(path)
        return open_object(self.client, self.bucket, key, path, self.name, offset)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        saved = self.uploads.load(path)
        if not append:
            if saved is not None:
                self.uploads.sweep(path)
                self.uploads.abort(path, saved.upload_id)
            return S3Writer(self, path, None)
        if saved is not None:
            return S3Writer(self, path, saved)
        size = self._head(path)
        if size is not None and size[0] > 0:
            raise DriverError(
                f"cannot append to {path}: it holds {size[0]} bytes of committed content and"
                " has no pending upload; S3 objects cannot grow in place, so write the whole"
                " content with append=False"
            )
        return S3Writer(self, path, None)

    # -- namespace --------------------------------------------------------------

    def stat(self, path: str) -> FileInfo:
        if path == ROOT:
            if self._has_children(ROOT):
                return FileInfo(ROOT, 0, EPOCH, True)
            raise PathNotFoundError(path)
        denied: ClientError | None = None
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=self.layout.key(path))
            return FileInfo(path, int(answer["ContentLength"]), _utc(answer["LastModified"]), False)
        except ClientError as exc:
            code = error_code(exc)
            if code not in NOT_FOUND and code not in DENIED:
                raise translate(exc, bucket=self.bucket, path=path) from exc
            if code in DENIED:
                denied = exc  # HEAD may be denied where listing is allowed: try a directory
        except BotoCoreError as exc:
            raise translate(exc, bucket=self.bucket, path=path) from exc
        with s3_errors(self.bucket, path):
            answer = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=self.layout.below(path), MaxKeys=1
            )
        contents = answer.get("Contents") or []
        if contents:
            return FileInfo(path, 0, _utc(contents[0]["LastModified"]), True)
        if denied is not None:
            raise translate(denied, bucket=self.bucket, path=path) from denied
        raise PathNotFoundError(path)

    def list(self, path: str) -> builtins.list[str]:
        children = set(self._children(path))
        if not children and path != ROOT:
            raise PathNotFoundError(path)
        return sorted(children)

    def move(self, source: str, dest: str) -> None:
        head = self._head(source)
        if head is None:
            if self._has_children(source):
                raise DriverError(f"cannot move {source}: it is a directory; move files one by one")
            raise PathNotFoundError(source)
        if source == dest:
            return
        size, etag = head
        server_side_copy(self, source, dest, size, etag)
        with s3_errors(self.bucket, source):
            self.client.delete_object(Bucket=self.bucket, Key=self.layout.key(source))

    def delete(self, path: str) -> None:
        key = self.layout.key(path)
        with BatchDeleter(self.uploads, path) as deleter:
            for item in self._objects(self.layout.below(path), path):
                deleter.add(item["Key"])
            # Sent while the last batches are still being deleted.
            if self._is_file(key, path):
                deleter.add(key)
            deleter.finish()
        if not self.uploads.discard_below(path) and not deleter.count:
            raise PathNotFoundError(path)

    def delete_files(self, paths: Iterable[str]) -> None:
        delete_files(self.uploads, paths)

    def pending_uploads(self, path: str = ROOT) -> Iterator[PendingUpload]:
        return self.lifecycle.pending(path)

    def purge_uploads(self, before: datetime, path: str = ROOT) -> builtins.list[str]:
        return self.lifecycle.purge(before, path)

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        if self.config.v4auth and expires_in > MAX_PRESIGN_SECONDS:
            raise DriverError(
                f"expires_in must be at most {MAX_PRESIGN_SECONDS} seconds (7 days) for"
                f" S3 presigned URLs, got {expires_in}"
            )
        operation = "head_object" if method == "HEAD" else "get_object"
        with s3_errors(self.bucket, path):
            url: str = self._presign_client().generate_presigned_url(
                operation,
                Params={"Bucket": self.bucket, "Key": self.layout.key(path)},
                ExpiresIn=expires_in,
            )
        return url

    def s3_bucket_key(self, path: str) -> tuple[str, str]:
        """The bucket and object key that hold ``path``: for middleware such as cloudfront."""
        return self.bucket, self.layout.key(path)

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        listed = False

        def list_files(after: str | None) -> Iterator[FileInfo]:
            nonlocal listed
            for info in self._files(path, after):
                listed = True
                yield info

        yield from walk_flat(list_files, path, start_after=start_after, prune=prune)
        if not listed and path != ROOT and (start_after is None or not self._has_children(path)):
            raise PathNotFoundError(path)

    def close(self) -> None:
        self.client.close()
        if self._presigner is not None:
            self._presigner.close()

    # -- helpers ------------------------------------------------------------------

    def _head(self, path: str) -> tuple[int, str] | None:
        """Size and ETag of the object at ``path``, or None when there is none."""
        try:
            with s3_errors(self.bucket, path):
                answer = self.client.head_object(Bucket=self.bucket, Key=self.layout.key(path))
        except PathNotFoundError:
            return None
        return int(answer["ContentLength"]), str(answer["ETag"])

    def _is_file(self, key: str, path: str) -> bool:
        """True when an object is stored at exactly ``key`` (a one-key listing, not a HEAD)."""
        with s3_errors(self.bucket, path):
            first = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in first.get("Contents", ()))

    def _objects(self, prefix: str, path: str, after: str | None = None) -> Iterator[Any]:
        """Every object below ``prefix`` in key order, paged by ``StartAfter``.

        Paging by the last key seen (not a continuation token) stays correct
        while the caller deletes what it was given.
        """
        while True:
            extra = {"StartAfter": after} if after is not None else {}
            with s3_errors(self.bucket, path):
                page = self.client.list_objects_v2(
                    Bucket=self.bucket, Prefix=prefix, MaxKeys=PAGE_SIZE, **extra
                )
            contents = page.get("Contents") or []
            yield from contents
            if not page.get("IsTruncated") or not contents:
                return
            after = contents[-1]["Key"]

    def _files(self, path: str, after: str | None) -> Iterator[FileInfo]:
        """Files strictly below ``path`` whose path sorts after ``after``, in byte order."""
        prefix = self.layout.below(path)
        start = self.layout.start_after(after) if after is not None else None
        for item in self._objects(prefix, path, start):
            key = item["Key"]
            if key[len(prefix) : len(prefix) + 1] >= PAST_VALID:
                return  # ``~regstore/`` and anything after it: no valid path
            found = self.layout.path(key)
            if found is not None:
                yield FileInfo(found, int(item["Size"]), _utc(item["LastModified"]), False)

    def _children(self, path: str) -> Iterator[str]:
        """Direct children of ``path`` (files and directories) as paths, possibly repeated."""
        with s3_errors(self.bucket, path):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=self.layout.below(path),
                Delimiter="/",
                PaginationConfig={"PageSize": PAGE_SIZE},
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    child = self.layout.child(path, item["Key"])
                    if child is not None:
                        yield child
                for common in page.get("CommonPrefixes", ()):
                    child = self.layout.child(path, common["Prefix"])
                    if child is not None:
                        yield child

    def _has_children(self, path: str) -> bool:
        return next(self._children(path), None) is not None

    def _presign_client(self) -> Any:
        """The client that signs redirect URLs: ``redirectendpoint`` if set, else the main one."""
        endpoint = self.config.redirectendpoint
        if endpoint is None:
            return self.client
        with self._presigner_lock:
            if self._presigner is None:
                self._presigner = build_client(self.config, endpoint)
            return self._presigner


class S3AWSDriver(S3Driver):
    """The S3 driver registered under the distribution registry's other name, ``s3aws``."""

    driver_name: ClassVar[str] = "s3aws"
