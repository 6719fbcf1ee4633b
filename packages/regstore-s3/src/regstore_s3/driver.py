"""The S3 storage driver: Amazon S3 and S3-compatible servers through boto3.

The namespace (``stat``, ``list``, ``walk``) comes from the core's
``ObjectStoreDriver`` over the primitives below; paths are stored at the
distribution registry's keys (``rootdirectory + path``), so regstore works on
an existing registry's bucket in place. Pending uploads live under
``~regstore/`` below the root, where no path maps (see ``layout`` and
``uploads``). SDK errors become contract errors in ``translate`` alone.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from regstore.driver import FileInfo, FileWriter, PendingUpload
from regstore.errors import DriverError, InvalidParameterError, PathNotFoundError
from regstore.objectstore import ObjectEntry, ObjectStoreDriver
from regstore.paths import ROOT
from regstore.redaction import register_secrets
from regstore.walking import EPOCH

from .bulk import delete_files
from .client import build_client, pool_size
from .config import S3Config, parse
from .copying import server_side_copy
from .deleting import BatchDeleter
from .errors import DENIED, error_code, missing, to_contract_error
from .layout import S3Layout
from .lifecycle import Lifecycle
from .partbuffers import PartBuffers
from .quickread import QuickReader
from .reader import open_object, read_object
from .uploads import Uploads
from .writer import S3Writer

__all__ = ["S3AWSDriver", "S3Driver"]

#: The longest a SigV4 presigned URL may live (7 days).
SIGV4_MAX_SECONDS = 7 * 24 * 3600
#: Keys per listing request.
PAGE_SIZE = 1000


class S3Driver(ObjectStoreDriver):
    """A driver over one bucket (and ``rootdirectory`` inside it); thread-safe."""

    #: The registered name; ``S3AWSDriver`` is the same driver registered as ``s3aws``.
    driver_name: ClassVar[str] = "s3"
    max_redirect_seconds = SIGV4_MAX_SECONDS

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self.config: S3Config = parse(parameters, self.driver_name)
        register_secrets(self.config.accesskey, self.config.secretkey, self.config.sessiontoken)
        self.bucket = self.config.bucket
        self.chunksize = self.config.chunksize
        self.layout: S3Layout = S3Layout(self.config.rootdirectory, self.driver_name)
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
        self.part_buffers = PartBuffers(
            self.chunksize, spares=self.config.multipartuploadmaxconcurrency + 1
        )
        # Threads outlive each writer: a pool per writer started up to ten threads per
        # upload, each start a wait for the scheduler (16 ms per 128 MiB upload here).
        # One thread per pooled connection, so no part waits for a connection.
        self.part_uploads = ThreadPoolExecutor(
            pool_size(self.config), thread_name_prefix="regstore-s3-parts"
        )
        # With request logging on, every read goes through the logged call.
        self.quick_reader = QuickReader(
            self.client, self.bucket, enabled=self.config.loglevel == "off"
        )
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

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        return to_contract_error(exc, bucket=self.bucket, path=path)

    # -- the object-store primitives ------------------------------------------------

    def head_object(self, key: str) -> ObjectEntry | None:
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if missing(exc):
                return None
            raise
        return ObjectEntry(key, int(answer["ContentLength"]), _utc(answer["LastModified"]))

    def list_objects(
        self, prefix: str, start_after: str | None = None, *, first_page: int = PAGE_SIZE
    ) -> Iterator[ObjectEntry]:
        """See ``ObjectStoreDriver``; ``first_page`` keys in the first request, then pages of 1000.

        Paging by the last key seen (``StartAfter``, not a continuation token)
        stays correct while the caller deletes what it was given.
        """
        size = first_page
        while True:
            extra = {"StartAfter": start_after} if start_after is not None else {}
            page = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=prefix, MaxKeys=size, **extra
            )
            contents = page.get("Contents") or ()
            for item in contents:
                yield ObjectEntry(item["Key"], int(item["Size"]), _utc(item["LastModified"]))
            if not page.get("IsTruncated") or not contents:
                return
            start_after, size = contents[-1]["Key"], PAGE_SIZE

    def list_level(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket,
            Prefix=prefix,
            Delimiter="/",
            PaginationConfig={"PageSize": PAGE_SIZE},
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"]
            for common in page.get("CommonPrefixes", ()):
                yield common["Prefix"]

    def delete_objects(self, keys: Iterable[str]) -> None:
        self.uploads.delete_keys(keys, None)

    def any_object_below(self, prefix: str) -> bool:
        # S3 answers one key as cheaply as none: ask one first, most answers end there.
        for entry in self.list_objects(prefix, first_page=1):
            if self.layout.is_private(entry.key):
                return False
            if self.layout.path_of(entry.key) is not None:
                return True
        return False

    def signed_url(self, key: str, method: str, expires_in: int) -> str | None:
        operation = "head_object" if method == "HEAD" else "get_object"
        url: str = self._presign_client().generate_presigned_url(
            operation, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url

    # -- content ----------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        key = self.layout.key(path)
        content = self.quick_reader.read(key, path)
        if content is not None:
            return content
        return read_object(self.client, self.bucket, key, path)

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        body = bytes(content) if isinstance(content, memoryview) else content
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.layout.key(path),
            Body=body,
            **self.config.write_arguments(),
        )

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        return open_object(self.client, self.bucket, self.layout.key(path), path, offset)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        saved = self.uploads.load(path)
        if not append and saved is not None:
            self.uploads.sweep(path)
            self.uploads.abort(path, saved.upload_id)
            saved = None
        elif saved is None and append:
            self.check_appendable(path)
        return S3Writer(self, path, saved)

    # -- namespace: where S3 differs from the kit -----------------------------------

    def stat(self, path: str) -> FileInfo:
        try:
            return super().stat(path)
        except ClientError as exc:
            if exc.operation_name != "HeadObject" or error_code(exc) not in DENIED:
                raise
            # HEAD may be denied where listing is allowed: a directory is still one.
            if self.any_object_below(self.layout.dir_prefix(path)):
                return FileInfo(path, 0, EPOCH, True)
            raise

    def move(self, source: str, dest: str) -> None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.layout.key(source))
        except ClientError as exc:
            if not missing(exc):
                raise
            if self.any_object_below(self.layout.dir_prefix(source)):
                raise DriverError(
                    f"cannot move {source}: it is a directory; move files one by one"
                ) from None
            raise PathNotFoundError(source) from None
        if source == dest:
            return
        size, etag = int(head["ContentLength"]), str(head["ETag"])
        server_side_copy(self, source, dest, size, etag)
        self.client.delete_object(Bucket=self.bucket, Key=self.layout.key(source))

    def delete(self, path: str) -> None:
        # Overridden: DeleteObjects batches go out while the listing goes on, and
        # pending uploads are multipart uploads to abort, not only keys to delete.
        key = self.layout.key(path)
        with BatchDeleter(self.uploads, path) as deleter:
            for entry in self.list_objects(self.layout.dir_prefix(path)):
                deleter.add(entry.key)
            # Sent while the last batches are still being deleted.
            if self._is_file(key):
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
        if self.config.v4auth:
            return super().redirect_url(path, method=method, expires_in=expires_in)
        # A SigV2 URL names its expiry time: the 7-day cap is SigV4's alone.
        return self.signed_url(self.layout.key(path), method, expires_in)

    def s3_bucket_key(self, path: str) -> tuple[str, str]:
        """The bucket and object key that hold ``path``: for middleware such as cloudfront."""
        return self.bucket, self.layout.key(path)

    def close(self) -> None:
        self.part_uploads.shutdown(wait=True)
        self.part_buffers.clear()
        self.client.close()
        if self._presigner is not None:
            self._presigner.close()

    # -- helpers ------------------------------------------------------------------

    def _is_file(self, key: str) -> bool:
        """True when an object is stored at exactly ``key`` (a one-key listing, not a HEAD)."""
        first = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in first.get("Contents", ()))

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


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)
