"""The gcs driver: regstore's contract over one Google Cloud Storage bucket.

Objects sit where the distribution registry's gcs driver puts them (the key
``rootdirectory + path``); pending uploads sit under ``~regstore/`` (see
``layout`` and ``uploads``). The namespace (``stat``, ``list``, ``walk``,
``delete``) is the kit's ``ObjectStoreDriver`` over the primitives here. Every
call is retried by the SDK's own retry policy on 408, 429, 5xx and connection
errors; the calls this driver makes are idempotent (same name, same bytes or
same sources), so uploads and composes retry too.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import IO, Any, ClassVar

from google.api_core import exceptions as api
from google.cloud.storage import Blob

from regstore.driver import FileWriter, PendingUpload
from regstore.errors import DriverError, PathNotFoundError
from regstore.objectstore import ObjectEntry, ObjectStoreDriver
from regstore.paths import ROOT
from regstore.reading import SizedReader
from regstore.redaction import register_secrets
from regstore.walking import EPOCH

from .client import connect
from .config import NAME, GCSConfig, parse
from .deleting import Deleter
from .errors import ErrorMap
from .layout import GCSLayout
from .lifecycle import UploadLifecycle
from .listing import Lister, parse_time
from .reader import ObjectReader
from .uploads import Pending, UploadStore
from .writer import GCSWriter

__all__ = ["BACKGROUND_WORKERS", "GCSDriver"]

#: Threads one driver uses for part uploads, composes and single deletes.
BACKGROUND_WORKERS = 16
_READ_BUFFER = 256 * 1024


class GCSDriver(ObjectStoreDriver):
    """Google Cloud Storage, configured with the distribution registry's gcs keys."""

    layout: GCSLayout
    #: The longest validity of a V4 signed URL.
    max_redirect_seconds: ClassVar[int | None] = 7 * 24 * 3600

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        config = parse(parameters)
        if config.service_account is not None:
            register_secrets(config.service_account.get("private_key"))
        self._config = config
        self.layout = GCSLayout(config.rootdirectory, NAME)
        # The wrapper bounds concurrent calls by this (the registry's maxconcurrency).
        self.concurrency_limit = config.maxconcurrency
        self._connection = connect(config, pool_size=config.maxconcurrency + BACKGROUND_WORKERS)
        self._client = self._connection.client
        self._bucket = self._client.bucket(config.bucket)
        self._retry = self._connection.retry
        self._lister = Lister(self._client, self._bucket, retry=self._retry)
        self._executor = ThreadPoolExecutor(BACKGROUND_WORKERS, thread_name_prefix="regstore-gcs")
        self._errors = ErrorMap(config.bucket, self._connection.endpoint, self._bucket_exists)
        self._deleter = Deleter(self._client, self._bucket, self._executor, retry=self._retry)
        self._uploads = UploadStore(
            self._client, self._bucket, self.layout, self._deleter, self._executor,
            retry=self._retry,
        )  # fmt: skip
        self._lifecycle = UploadLifecycle(
            self._bucket, self.layout, self._lister, self._deleter, self._executor,
            retry=self._retry,
        )  # fmt: skip

    @property
    def name(self) -> str:
        return NAME

    def __repr__(self) -> str:
        return (
            f"GCSDriver(bucket={self._config.bucket!r},"
            f" rootdirectory={self._config.rootdirectory!r})"
        )

    @property
    def config(self) -> GCSConfig:
        """The validated parameters (the service-account key stays out of its ``repr``)."""
        return self._config

    @property
    def uses_batches(self) -> bool:
        """Whether deletes still go out as batch requests (False once the server lacked them)."""
        return self._deleter.batches

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        return self._errors.translate(exc, operation, path)

    # -- the kit's primitives ---------------------------------------------------------

    def head_object(self, key: str) -> ObjectEntry | None:
        blob = self._blob(key)
        if blob is None:
            return None
        return ObjectEntry(key, blob.size or 0, blob.updated or EPOCH)

    def list_objects(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectEntry]:
        start = None if start_after is None else _start_offset(start_after)
        for item in self._lister.files(prefix, start_offset=start):
            yield ObjectEntry(item.name, int(item.size), parse_time(item.updated))

    def list_level(self, prefix: str) -> Iterator[str]:
        return iter(self._lister.children(prefix))

    def delete_objects(self, keys: Iterable[str]) -> None:
        self._deleter.delete(list(keys))

    def any_object_below(self, prefix: str) -> bool:
        # One name answers the common case: ask for one, ending before the private area
        # at the top (emulators may ignore both); an invalid first name needs the kit's scan.
        end = self.layout.private if prefix == self.layout.prefix else None
        first = next(self._lister.names(prefix, end_offset=end, max_results=1), None)
        if first is None or self.layout.is_private(first):
            return False
        return self.layout.path_of(first) is not None or super().any_object_below(prefix)

    def upload_keys(self, path: str) -> Iterator[str]:
        # An upload's objects lie below its directory: list only there, not /ab for /a.
        yield from self._lister.names(self.layout.upload_dir(path) + "/")

    def signed_url(self, key: str, method: str, expires_in: int) -> str | None:
        """A V4 signed URL; None without a service-account key (nothing to sign with)."""
        signer = self._connection.signer
        if signer is None:
            return None
        url: str = self._bucket.blob(key).generate_signed_url(
            version="v4",
            expiration=timedelta(seconds=expires_in),
            method=method,
            credentials=signer,
            api_access_endpoint=self._connection.endpoint,
        )
        return url

    # -- files --------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        blob = self._bucket.blob(self.layout.key(path))

        def whole() -> bytes:
            data: bytes = blob.download_as_bytes(retry=None)
            return data

        # Each attempt is one whole, checksummed GET of the current version: a cut
        # body is read again from the start, never resumed with a range of what may
        # by then be another version (gcp-storage-emulator ignores ?generation=).
        return self._retry(whole)()

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        data = content if isinstance(content, bytes) else bytes(content)
        self._uploads.put(self.layout.key(path), data)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        blob = self._blob(self.layout.key(path))
        if blob is None:
            raise PathNotFoundError(path)
        raw = ObjectReader(
            self._bucket,
            blob.name,
            path=path,
            size=blob.size or 0,
            generation=blob.generation,
            offset=offset,
            window=self._config.chunksize,
            retry=self._retry,
        )
        return SizedReader(raw, lambda: max(0, raw.size - raw.tell()), _READ_BUFFER)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        found = None
        if append:
            found = self._uploads.load(path)
            if found is None:
                self.check_appendable(path)
        else:
            self._uploads.forget(path)  # a fresh upload never resumes older parts
        empty = Pending(0, self._config.chunksize, b"")
        return GCSWriter(self._uploads, self.layout, path, pending=found or empty, fresh=not append)

    def move(self, source: str, dest: str) -> None:
        if source == dest:
            if self.stat(source).is_dir:
                raise DriverError(f"cannot move {source}: it is a directory")
            return
        origin = self._bucket.blob(self.layout.key(source))
        target = self._bucket.blob(self.layout.key(dest))
        token: str | None = None
        try:
            while True:  # big objects take several rewrite calls
                token, _, _ = target.rewrite(origin, token=token, retry=self._retry)
                if token is None:
                    break
        except api.NotFound:
            if self.any_object_below(self.layout.dir_prefix(source)):
                raise DriverError(
                    f"cannot move {source}: it is a directory; the gcs driver moves files only"
                ) from None
            raise
        try:
            origin.delete(retry=self._retry)
        except api.NotFound:
            pass  # deleted meanwhile by someone else: the move is done
        except Exception as exc:
            error = self.translate(exc, "move", source) or exc
            raise DriverError(
                f"copied {source} to {dest} but could not delete the source: {error}"
            ) from exc

    # -- pending uploads ----------------------------------------------------------

    def pending_uploads(self, path: str = ROOT) -> Iterator[PendingUpload]:
        return self._lifecycle.pending(path)

    def purge_uploads(self, before: datetime, path: str = ROOT) -> builtins.list[str]:
        return self._lifecycle.purge(before, path)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._connection.session.close()  # type: ignore[no-untyped-call]

    # -- helpers --------------------------------------------------------------------

    def _blob(self, key: str) -> Blob | None:
        """The object's metadata, or None when there is no such object."""
        blob = self._bucket.blob(key)
        try:
            blob.reload(retry=self._retry)
        except api.NotFound:
            if not self._errors.bucket_exists():
                raise  # reported as the missing bucket, not a missing path
            return None
        return blob

    def _bucket_exists(self) -> bool:
        exists: bool = self._bucket.exists(retry=self._retry)
        return exists


def _start_offset(start_after: str) -> str:
    """A ``startOffset`` (inclusive) at or before ``start_after`` that GCS takes.

    Object names avoid characters outside printable ASCII, so the offset stops
    at the first one; one above ``~`` becomes ``~``, which still sorts after
    every path character. Either lists from earlier, never later.
    """
    for index, char in enumerate(start_after):
        if char > "~":
            return start_after[:index] + "~"
        if char < " ":
            return start_after[:index]
    return start_after
