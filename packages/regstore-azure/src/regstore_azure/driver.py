"""The azure driver: the regstore contract over one Azure Blob Storage container."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import IO, Any, TypeVar

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobProperties, BlobType

from regstore.driver import FileInfo, FileWriter, PendingUpload, Prune, StorageDriver
from regstore.errors import DriverError, PathNotFoundError
from regstore.paths import ROOT
from regstore.redaction import register_secrets
from regstore.walking import EPOCH, walk_flat

from .backend import Backend
from .client import DOWNLOAD_CHUNK
from .config import AzureConfig
from .copying import CopyState, wait_for_copy
from .errors import error_code, translate
from .reader import Retries, open_reader, read_whole
from .resuming import load_staged
from .uploads import purge_staged, staged_uploads
from .writer import AzureFileWriter

__all__ = ["AzureDriver"]

T = TypeVar("T")


class AzureDriver(StorageDriver):
    """Files as block blobs named ``<rootdirectory>/<path>``, where the Go driver keeps them.

    ``AzureDriver(parameters)`` takes the registry's ``storage: azure:`` keys.
    ``credential`` (keyword only) passes an azure-core token credential that
    the application already holds, instead of one built from ``credentials``.
    """

    def __init__(
        self, parameters: Mapping[str, Any] | None = None, *, credential: Any = None
    ) -> None:
        self.config = AzureConfig.from_parameters(
            parameters, given_credential=credential is not None
        )
        auth = self.config.auth
        register_secrets(
            *(getattr(auth, field, None) for field in ("account_key", "secret", "token"))
        )
        self._backend = Backend(self.config, credential)
        self._layout = self._backend.layout
        self._retries = Retries(self.config.max_retries, self.config.retry_delay)

    @property
    def name(self) -> str:
        return "azure"

    def __repr__(self) -> str:
        config = self.config
        return (
            f"AzureDriver(account={config.account_name!r}, container={config.container!r},"
            f" rootdirectory={config.root!r}, serviceurl={config.service_url!r},"
            f" auth={type(config.auth).__name__})"
        )

    def _blob(self, path: str) -> BlobClient:
        return self._backend.blob(self._layout.key(path))

    # -- content ----------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        with self._backend.errors("get_content", path):
            return read_whole(self._blob(path), path, DOWNLOAD_CHUNK, self._retries)

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        data = bytes(content)
        blob = self._blob(path)
        with self._backend.errors("put_content", path):
            try:
                blob.upload_blob(
                    data, blob_type=BlobType.BLOCKBLOB, length=len(data), overwrite=True
                )
            except HttpResponseError as exc:
                if error_code(exc) != "InvalidBlobType":
                    raise
                self._backend.clear_legacy_blob(blob.blob_name)
                blob.upload_blob(
                    data, blob_type=BlobType.BLOCKBLOB, length=len(data), overwrite=True
                )

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        backend = self._backend
        return open_reader(
            self._blob(path),
            path,
            offset,
            DOWNLOAD_CHUNK,
            self._retries,
            lambda: backend.errors("reader", path),
        )

    def writer(self, path: str, append: bool = False) -> FileWriter:
        if not append:
            return AzureFileWriter(self._backend, path)
        with self._backend.errors("writer", path):
            staged = load_staged(self._backend, self._layout.staging_key(path))
            if staged is not None:
                return AzureFileWriter(self._backend, path, staged)
            size = _size_or_none(self._blob(path))
        if size:
            raise DriverError(
                f"cannot append to {path}: it holds {size} bytes of committed content and no"
                " pending upload; append=True resumes pending uploads only (write it again"
                " with append=False to replace it)"
            )
        return AzureFileWriter(self._backend, path)

    # -- namespace --------------------------------------------------------------

    def stat(self, path: str) -> FileInfo:
        with self._backend.errors("stat", path):
            if path != ROOT:
                try:
                    properties = self._blob(path).get_blob_properties()
                except ResourceNotFoundError as exc:
                    if error_code(exc) != "BlobNotFound":
                        raise
                else:
                    return FileInfo(path, properties.size, _utc(properties), False)
            if self._first_child(path) is None:
                raise PathNotFoundError(path)
        return FileInfo(path, 0, EPOCH, True)

    def list(self, path: str) -> builtins.list[str]:
        children: builtins.list[str] = []
        prefix = self._layout.dir_prefix(path)
        with self._backend.errors("list", path):
            for item in self._backend.container.walk_blobs(name_starts_with=prefix, delimiter="/"):
                child = self._layout.child(path, item.name)
                if child is not None:
                    children.append(child)
        if not children and path != ROOT:
            raise PathNotFoundError(path)
        return sorted(children)

    def walk(
        self, path: str, *, start_after: str | None = None, prune: Prune | None = None
    ) -> Iterator[FileInfo]:
        files_below = self._files_below(path)
        listed = False

        def list_files(after: str | None) -> Iterator[FileInfo]:
            nonlocal listed
            for info in files_below(after):
                listed = True
                yield info

        def entries() -> Iterator[FileInfo]:
            yield from walk_flat(list_files, path, start_after=start_after, prune=prune)
            # Only an empty listing needs the extra request that tells "missing" from
            # "everything is before start_after".
            if not listed and path != ROOT and self._first_child(path) is None:
                raise PathNotFoundError(path)

        return self._guarded("walk", path, entries())

    def move(self, source: str, dest: str) -> None:
        source_name, dest_name = self._layout.key(source), self._layout.key(dest)
        with self._backend.errors("move", source):
            if source == dest:
                self._blob(source).get_blob_properties()
                return
            dest_blob = self._backend.blob(dest_name)
            url = self._backend.signer.source_url(source_name)
            try:
                copy = self._start_copy(source, dest_blob, url)
            except HttpResponseError as exc:
                if error_code(exc) != "InvalidBlobType":
                    raise
                # An append blob from the Go driver holds the name: replace it.
                self._backend.clear_legacy_blob(dest_name)
                copy = self._start_copy(source, dest_blob, url)
            state = CopyState(str(copy.get("copy_status")))
            if state.status == "pending":
                state = wait_for_copy(
                    lambda: _copy_state(dest_blob),
                    max_retries=self.config.max_retries,
                    retry_delay=self.config.retry_delay,
                )
            if state.status == "pending":
                self._abort_copy(dest_blob, str(copy.get("copy_id")))
                raise DriverError(
                    f"move {source} to {dest}: the server-side copy was still pending after"
                    f" {self.config.max_retries} polls (max_retries, retry_delay"
                    f" {self.config.retry_delay}s); it was aborted and {source} is left in place"
                )
            if state.status != "success":
                raise DriverError(
                    f"move {source} to {dest}: the server-side copy ended {state.status}"
                    f" ({state.description or 'no description'}); {source} is left in place"
                )
            try:
                self._backend.blob(source_name).delete_blob()
            except ResourceNotFoundError as exc:
                if error_code(exc) != "BlobNotFound":
                    raise

    def delete(self, path: str) -> None:
        key = self._layout.key(path)
        staging = self._layout.staging_key(path)
        container = self._backend.container
        deleter = self._backend.deleter
        # A listed name existed a moment ago, so it counts as found whatever its
        # delete answers (404 included: a concurrent delete, or a retried one
        # whose first answer was lost). Only the path itself is tried unlisted.
        with self._backend.errors("delete", path):
            below = _Listed(blob.name for blob in container.list_blobs(name_starts_with=f"{key}/"))
            found = deleter.delete(_chain(key, below))[key] or below.any
            # Few names live under the staging area: one listing finds the
            # upload of the path itself and those below it.
            pending = _Listed(
                blob.name
                for blob in container.list_blobs(
                    name_starts_with=staging, include=["uncommittedblobs"]
                )
                if blob.name == staging or blob.name.startswith(f"{staging}/")
            )
            for name, deleted in deleter.delete(pending).items():
                if not deleted:
                    # Blocks of a writer that never closed, or gone already.
                    self._backend.discard_staging(name, delete_tried=True)
            found = found or pending.any
        if not found:
            raise PathNotFoundError(path)

    # -- pending uploads --------------------------------------------------------

    def pending_uploads(self, path: str = ROOT) -> Iterator[PendingUpload]:
        uploads = (staged.upload for staged in staged_uploads(self._backend, path))
        return self._guarded("pending_uploads", path, uploads)

    def purge_uploads(self, before: datetime, path: str = ROOT) -> builtins.list[str]:
        with self._backend.errors("purge_uploads", path):
            return purge_staged(self._backend, before, path)

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        if not self._backend.signer.can_sign:
            return None
        with self._backend.errors("redirect_url", path):
            return self._backend.signer.read_url(
                self._layout.key(path), timedelta(seconds=expires_in)
            )

    def close(self) -> None:
        self._backend.close()

    # -- helpers ----------------------------------------------------------------

    def _first_child(self, path: str) -> str | None:
        """A child path of directory ``path``, or None when nothing valid is stored below."""
        prefix = self._layout.dir_prefix(path)
        for item in self._backend.container.walk_blobs(
            name_starts_with=prefix, delimiter="/", results_per_page=50
        ):
            child = self._layout.child(path, item.name)
            if child is not None:
                return child
        return None

    def _files_below(self, path: str) -> Callable[[str | None], Iterator[FileInfo]]:
        """``list_files(after)`` for ``walk_flat``: one flat, name-ordered listing."""
        prefix = self._layout.dir_prefix(path)
        container = self._backend.container
        layout = self._layout

        def list_files(after: str | None) -> Iterator[FileInfo]:
            options: dict[str, Any] = {}
            if after is not None and after.startswith("/"):
                start = layout.key(after)
                if start > prefix:
                    # Inclusive on the service; entries up to ``after`` are skipped below.
                    options["start_from"] = start
            for blob in container.list_blobs(name_starts_with=prefix, **options):
                if blob.name.startswith(layout.private):
                    return  # the driver's own names sort after every path
                child = layout.path_of(blob.name)
                if child is None or (after is not None and child <= after):
                    continue
                yield FileInfo(child, blob.size, _utc(blob), False)

        return list_files

    def _guarded(self, action: str, path: str, items: Iterator[T]) -> Iterator[T]:
        """Yield from ``items`` (a lazy listing), translating SDK errors raised on the way."""
        with self._backend.errors(action, path):
            yield from items

    def _start_copy(self, source: str, dest: BlobClient, source_url: str) -> dict[str, Any]:
        """Start a server-side copy; a missing source is ``PathNotFoundError``."""
        try:
            result: dict[str, Any] = dest.start_copy_from_url(source_url)
        except HttpResponseError as exc:
            missing = error_code(exc) in ("CannotVerifyCopySource", "BlobNotFound")
            if exc.status_code == 404 and missing:
                if not self._backend.container.exists():
                    raise DriverError(
                        f"move {source}: container {self.config.container!r} does not exist"
                        f" in storage account {self.config.account_name!r}; create it, or set"
                        " the container parameter to an existing container"
                    ) from exc
                raise PathNotFoundError(source) from exc
            raise
        return result

    def _abort_copy(self, blob: BlobClient, copy_id: str) -> None:
        try:
            blob.abort_copy(copy_id)
        except HttpResponseError as exc:
            if error_code(exc) != "NoPendingCopyOperation":
                raise translate(exc, self._backend.context, "abort copy") from exc


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


class _Listed:
    """Names from a listing, passed through lazily; ``any`` says whether there was one."""

    def __init__(self, names: Iterable[str]) -> None:
        self._names = names
        self.any = False

    def __iter__(self) -> Iterator[str]:
        for name in self._names:
            self.any = True
            yield name


def _utc(properties: BlobProperties) -> datetime:
    modified: datetime | None = properties.last_modified
    return modified.astimezone(timezone.utc) if modified is not None else EPOCH


def _size_or_none(blob: BlobClient) -> int | None:
    try:
        return int(blob.get_blob_properties().size)
    except ResourceNotFoundError as exc:
        if error_code(exc) != "BlobNotFound":
            raise
        return None


def _copy_state(blob: BlobClient) -> CopyState:
    copy = blob.get_blob_properties().copy
    return CopyState(str(copy.status), copy.status_description)
