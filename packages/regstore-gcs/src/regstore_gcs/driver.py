"""The gcs driver: regstore's contract over one Google Cloud Storage bucket.

Objects sit where the distribution registry's gcs driver puts them (the key
``rootdirectory + path``); pending uploads sit under ``~regstore/`` (see
``layout`` and ``uploads``). Every call is retried by the SDK's own retry
policy on 408, 429, 5xx and connection errors; the calls this driver makes
are idempotent (same name, same bytes or same sources), so uploads and
composes retry too.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import IO, Any

from google.api_core import exceptions as api
from google.cloud.storage import Blob

from regstore.driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from regstore.errors import DriverError, PathNotFoundError, StorageDriverError
from regstore.paths import ROOT
from regstore.reading import SizedReader
from regstore.redaction import register_secrets
from regstore.walking import EPOCH, walk_flat

from .client import connect
from .config import NAME, GCSConfig, parse
from .deleting import Deleter
from .errors import ErrorMap
from .layout import Layout
from .lifecycle import UploadLifecycle
from .listing import NAME_FIELDS, Lister, mod_time
from .reader import ObjectReader
from .uploads import Pending, UploadStore
from .writer import GCSWriter

__all__ = ["BACKGROUND_WORKERS", "MAX_SIGNED_URL_SECONDS", "GCSDriver"]

#: Threads one driver uses for part uploads, composes and single deletes.
BACKGROUND_WORKERS = 16
#: The longest validity of a V4 signed URL.
MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600
#: Names handed to the deleter at a time while a directory is listed.
_DELETE_GROUP = 1000
_READ_BUFFER = 256 * 1024


class GCSDriver(StorageDriver):
    """Google Cloud Storage, configured with the distribution registry's gcs keys."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        config = parse(parameters)
        if config.service_account is not None:
            register_secrets(config.service_account.get("private_key"))
        self._config = config
        # The wrapper bounds concurrent calls by this (the registry's maxconcurrency).
        self.concurrency_limit = config.maxconcurrency
        self._connection = connect(config, pool_size=config.maxconcurrency + BACKGROUND_WORKERS)
        self._client = self._connection.client
        self._bucket = self._client.bucket(config.bucket)
        self._layout = Layout(config.rootdirectory)
        self._retry = self._connection.retry
        self._lister = Lister(self._client, self._bucket, retry=self._retry)
        self._executor = ThreadPoolExecutor(BACKGROUND_WORKERS, thread_name_prefix="regstore-gcs")
        self._errors = ErrorMap(config.bucket, self._connection.endpoint, self._bucket_exists)
        self._deleter = Deleter(self._client, self._bucket, self._executor, retry=self._retry)
        self._uploads = UploadStore(
            self._client, self._bucket, self._layout, self._deleter, self._executor,
            retry=self._retry,
        )  # fmt: skip
        self._lifecycle = UploadLifecycle(
            self._bucket, self._layout, self._lister, self._deleter, self._executor,
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

    # -- files --------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        key = self._layout.key(path)

        def whole() -> bytes:
            data: bytes = self._bucket.blob(key).download_as_bytes(retry=None)
            return data

        with self._errors.translating("get_content", path):
            # Each attempt is one whole, checksummed GET of the current version: a cut
            # body is read again from the start, never resumed with a range of what may
            # by then be another version (gcp-storage-emulator ignores ?generation=).
            return self._retry(whole)()

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        data = content if isinstance(content, bytes) else bytes(content)
        with self._errors.translating("put_content", path):
            self._uploads.put(self._layout.key(path), data)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        with self._errors.translating("reader", path):
            blob = self._object(self._layout.key(path))
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
            guard=self._guard("read", path),
        )
        return SizedReader(raw, lambda: max(0, raw.size - raw.tell()), _READ_BUFFER)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        empty = Pending(0, self._config.chunksize, b"")
        with self._errors.translating("writer", path):
            if append:
                found = self._uploads.load(path)
                if found is None:
                    self._check_appendable(path)
            else:
                self._uploads.forget(path)  # a fresh upload never resumes older parts
                found = None
        return GCSWriter(
            self._uploads,
            self._layout,
            self._errors,
            path,
            pending=found or empty,
            fresh=not append,
            driver_name=NAME,
        )

    def _check_appendable(self, path: str) -> None:
        """Appending without a pending upload continues only an empty or missing file."""
        blob = self._object(self._layout.key(path))
        if blob is not None and blob.size:
            raise DriverError(
                f"cannot append to {path}: it holds {blob.size} committed bytes and has no"
                " pending upload; the gcs driver resumes pending uploads and empty files only"
            )

    # -- the namespace --------------------------------------------------------------

    def stat(self, path: str) -> FileInfo:
        with self._errors.translating("stat", path):
            if path != ROOT:
                blob = self._object(self._layout.key(path))
                if blob is not None:
                    return FileInfo(path, blob.size or 0, blob.updated or EPOCH, False)
            if self._any_below(path):
                return FileInfo(path, 0, EPOCH, True)
        raise PathNotFoundError(path)

    def list(self, path: str) -> builtins.list[str]:
        with self._errors.translating("list", path):
            names = self._lister.children(self._layout.children_prefix(path))
        children = self._layout.children(path, names)
        if not children and path != ROOT:
            raise PathNotFoundError(path)
        return children

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        first = [True]

        def list_files(after: str | None) -> Iterator[FileInfo]:
            found = False
            for info in self._files_below(path, after):
                found = True
                yield info
            if first[0] and not found and path != ROOT:
                with self._errors.translating("walk", path):
                    if not self._any_below(path):
                        raise PathNotFoundError(path)
            first[0] = False

        return walk_flat(list_files, path, start_after=start_after, prune=prune)

    def _files_below(self, path: str, after: str | None) -> Iterator[FileInfo]:
        """Files strictly below ``path`` whose path sorts after ``after``, in byte order."""
        if after is not None and self._layout.after_every_path(after):
            return
        start = None if after is None else self._layout.start_offset(after)
        prefix = self._layout.children_prefix(path)
        # Below the root, stop before the driver's own ``~`` objects.
        end = prefix + "~" if path == ROOT else None
        with self._errors.translating("walk", path):
            for item in self._lister.objects(prefix, start_offset=start, end_offset=end):
                found = self._layout.path(item["name"])
                if found is None or (after is not None and found <= after):
                    continue  # startOffset includes ``after`` itself; emulators may ignore it
                yield FileInfo(found, int(item.get("size", 0)), mod_time(item), False)

    def move(self, source: str, dest: str) -> None:
        if source == dest:
            if self.stat(source).is_dir:
                raise DriverError(f"cannot move {source}: it is a directory")
            return
        origin = self._bucket.blob(self._layout.key(source))
        with self._errors.translating("move", source):
            target = self._bucket.blob(self._layout.key(dest))
            token: str | None = None
            try:
                while True:  # big objects take several rewrite calls
                    token, _, _ = target.rewrite(origin, token=token, retry=self._retry)
                    if token is None:
                        break
            except api.NotFound:
                if self._any_below(source):
                    raise DriverError(
                        f"cannot move {source}: it is a directory; the gcs driver moves files only"
                    ) from None
                raise
        try:
            origin.delete(retry=self._retry)
        except api.NotFound:
            pass  # deleted meanwhile by someone else: the move is done
        except Exception as exc:
            error = self._errors.translate(exc, "move", source)
            raise DriverError(
                f"copied {source} to {dest} but could not delete the source: {error}"
            ) from exc

    def delete(self, path: str) -> None:
        found = False
        key = self._layout.key(path)
        with self._errors.translating("delete", path):
            for prefix in (key + "/", self._layout.upload_dir(path) + "/"):
                group: builtins.list[str] = []
                for item in self._lister.objects(prefix, fields=NAME_FIELDS):
                    found = True
                    group.append(item["name"])
                    if len(group) >= _DELETE_GROUP:
                        self._deleter.delete(group)
                        group = []
                if group:
                    self._deleter.delete(group)
            # Known to exist before its delete, a file whose delete is retried and answers
            # 404 (the answer to a delete that happened was lost) is not reported missing.
            if self._object(key) is not None:
                self._deleter.delete([key])
                found = True
        if not found:
            raise PathNotFoundError(path)

    # -- pending uploads ----------------------------------------------------------

    def pending_uploads(self, path: str = ROOT) -> Iterator[PendingUpload]:
        return self._translated("pending_uploads", path, self._lifecycle.pending(path))

    def purge_uploads(self, before: datetime, path: str = ROOT) -> builtins.list[str]:
        with self._errors.translating("purge_uploads", path):
            return self._lifecycle.purge(before, path)

    def _translated(
        self, operation: str, path: str, items: Iterator[PendingUpload]
    ) -> Iterator[PendingUpload]:
        """Yield from ``items`` with this driver's error mapping (listing happens lazily)."""
        with self._errors.translating(operation, path):
            yield from items

    # -- redirects ------------------------------------------------------------------

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        """A V4 signed URL; None without a service-account key (nothing to sign with)."""
        signer = self._connection.signer
        if signer is None:
            return None
        if expires_in > MAX_SIGNED_URL_SECONDS:
            raise DriverError(
                f"expires_in must be at most {MAX_SIGNED_URL_SECONDS} seconds (7 days) for a"
                f" V4 signed URL, got {expires_in}"
            )
        url: str = self._bucket.blob(self._layout.key(path)).generate_signed_url(
            version="v4",
            expiration=timedelta(seconds=expires_in),
            method=method,
            credentials=signer,
            api_access_endpoint=self._connection.endpoint,
        )
        return url

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._connection.session.close()  # type: ignore[no-untyped-call]

    # -- helpers --------------------------------------------------------------------

    def _object(self, key: str) -> Blob | None:
        """The object's metadata, or None when there is no such object."""
        blob = self._bucket.blob(key)
        try:
            blob.reload(retry=self._retry)
        except api.NotFound:
            if not self._errors.bucket_exists():
                raise  # reported as the missing bucket, not a missing path
            return None
        return blob

    def _any_below(self, path: str) -> bool:
        """True when some object of this store lies below the directory ``path``."""
        prefix = self._layout.children_prefix(path)
        end = prefix + "~" if path == ROOT else None
        listing = self._lister.objects(prefix, fields=NAME_FIELDS, end_offset=end, max_results=1)
        # Emulators may ignore endOffset and maxResults: skip the driver's own objects.
        hidden = self._layout.hidden_prefix
        return any(not item["name"].startswith(hidden) for item in listing)

    def _bucket_exists(self) -> bool:
        exists: bool = self._bucket.exists(retry=self._retry)
        return exists

    def _guard(self, operation: str, path: str) -> Callable[[Callable[[], bytes]], bytes]:
        """Run calls made after this driver returned (reads) with its error mapping."""

        def run(call: Callable[[], bytes]) -> bytes:
            try:
                with self._errors.translating(operation, path):
                    try:
                        return call()
                    except (api.NotFound, api.PreconditionFailed) as exc:
                        # The generation this reader started on is gone.
                        raise DriverError(
                            f"{operation} {path}: the object was replaced or deleted while it"
                            " was read; open a new reader"
                        ) from exc
            except StorageDriverError as exc:
                exc.driver_name = exc.driver_name or NAME
                raise

        return run
