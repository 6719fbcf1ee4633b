"""The azure driver: the regstore contract over one Azure Blob Storage container."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import IO, Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobType

from regstore.driver import FileWriter, PendingUpload
from regstore.errors import DriverError, PathNotFoundError
from regstore.objectstore.base import ObjectEntry, ObjectStoreDriver
from regstore.objectstore.layout import KeyLayout
from regstore.paths import ROOT
from regstore.redaction import register_secrets

from .backend import Backend, modified_at
from .client import DOWNLOAD_CHUNK
from .config import parse
from .copying import CopyState, wait_for_copy
from .errors import describe, error_code
from .reader import open_reader, read_whole
from .resuming import load_staged
from .uploads import purge_staged, staged_uploads
from .writer import AzureWriter

__all__ = ["AzureDriver"]

#: Names asked for when only "is anything below?" matters (a full page holds 5,000).
PROBE_PAGE = 50


class AzureDriver(ObjectStoreDriver):
    """Files as block blobs named ``<rootdirectory>/<path>``, where the Go driver keeps them.

    ``AzureDriver(parameters)`` takes the registry's ``storage: azure:`` keys.
    ``credential`` (keyword only) passes an azure-core token credential that
    the application already holds, instead of one built from ``credentials``.
    """

    def __init__(
        self, parameters: Mapping[str, Any] | None = None, *, credential: Any = None
    ) -> None:
        self.config = parse(
            parameters, driver_name=self.name, given_credential=credential is not None
        )
        self.layout = KeyLayout(self.config.root, self.name)
        auth = self.config.auth
        register_secrets(
            *(getattr(auth, field, None) for field in ("account_key", "secret", "token"))
        )
        self._backend = Backend(self.config, self.layout, credential)
        self._container = self._backend.container
        self._attempts = self.config.max_retries + 1

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

    def translate(self, exc: Exception, operation: str, path: str | None) -> Exception | None:
        """SDK errors by their Azure error code, in words that say what to fix."""
        if isinstance(exc, AzureError):
            return describe(exc, self._backend.context, operation, path)
        return None

    def _blob(self, path: str) -> BlobClient:
        return self._backend.blob(self.layout.key(path))

    # -- the object-store primitives ---------------------------------------------

    def head_object(self, key: str) -> ObjectEntry | None:
        try:
            properties = self._backend.blob(key).get_blob_properties()
        except ResourceNotFoundError as exc:
            if error_code(exc) != "BlobNotFound":
                raise
            return None
        return ObjectEntry(key, int(properties.size), modified_at(properties))

    def list_objects(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectEntry]:
        # ``start_from`` is inclusive on the service: the kit skips ``start_after`` itself.
        options: dict[str, Any] = {} if start_after is None else {"start_from": start_after}
        for blob in self._container.list_blobs(name_starts_with=prefix, **options):
            yield ObjectEntry(blob.name, blob.size, modified_at(blob))

    def list_level(self, prefix: str) -> Iterator[str]:
        return (item.name for item in self._container.walk_blobs(prefix, delimiter="/"))

    def delete_objects(self, keys: Iterable[str]) -> None:
        self._backend.deleter.delete(keys)

    def any_object_below(self, prefix: str) -> bool:
        # A small first page: the kit's flat listing would fetch 5,000 names for a yes/no.
        layout = self.layout
        for blob in self._container.list_blobs(
            name_starts_with=prefix, results_per_page=PROBE_PAGE
        ):
            if layout.is_private(blob.name):
                return False
            if layout.path_of(blob.name) is not None:
                return True
        return False

    def signed_url(self, key: str, method: str, expires_in: int) -> str | None:
        signer = self._backend.signer
        if not signer.can_sign:
            return None
        return signer.read_url(key, timedelta(seconds=expires_in))

    # -- content ----------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        return read_whole(self._blob(path), path, DOWNLOAD_CHUNK, self._attempts)

    def put_content(self, path: str, content: bytes | bytearray | memoryview) -> None:
        data = bytes(content)
        blob = self._blob(path)
        try:
            blob.upload_blob(data, blob_type=BlobType.BLOCKBLOB, length=len(data), overwrite=True)
        except HttpResponseError as exc:
            if error_code(exc) != "InvalidBlobType":
                raise
            self._backend.clear_legacy_blob(blob.blob_name)
            blob.upload_blob(data, blob_type=BlobType.BLOCKBLOB, length=len(data), overwrite=True)

    def reader(self, path: str, offset: int = 0) -> IO[bytes]:
        return open_reader(self._blob(path), path, offset, DOWNLOAD_CHUNK, self._attempts)

    def writer(self, path: str, append: bool = False) -> FileWriter:
        if append:
            staged = load_staged(self._backend, self.layout.upload_dir(path))
            if staged is not None:
                return AzureWriter(self._backend, path, staged)
            self.check_appendable(path)
        return AzureWriter(self._backend, path)

    # -- namespace --------------------------------------------------------------

    def move(self, source: str, dest: str) -> None:
        source_name, dest_name = self.layout.key(source), self.layout.key(dest)
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
        # Azure's own: a staging blob with uncommitted blocks only needs its blocks
        # dropped before it can go. A name listed or headed counts as found whatever
        # its delete answers (404 included: a concurrent or retried delete); the
        # path's own blob is headed first, since a retried delete whose answer was
        # lost cannot tell "deleted it" from "was never there".
        key = self.layout.key(path)
        deleter = self._backend.deleter
        below = [entry.key for entry in self.list_objects(self.layout.dir_prefix(path))]
        found = self.head_object(key) is not None
        deleter.delete([key, *below] if found else below)
        found = found or bool(below)
        pending = list(self.upload_keys(path))
        for name, deleted in deleter.delete(pending).items():
            if not deleted:
                # Blocks of a writer that never closed, or gone already.
                self._backend.discard_staging(name, delete_tried=True)
        if not (found or pending):
            raise PathNotFoundError(path)

    def upload_keys(self, path: str) -> Iterator[str]:
        # Uncommitted blobs too: the blocks of a writer that never closed.
        staging = self.layout.upload_dir(path)
        listing = self._container.list_blobs(name_starts_with=staging, include=["uncommittedblobs"])
        for blob in listing:
            if blob.name == staging or blob.name.startswith(f"{staging}/"):
                yield blob.name

    # -- pending uploads --------------------------------------------------------

    def pending_uploads(self, path: str = ROOT) -> Iterator[PendingUpload]:
        return (staged.upload for staged in staged_uploads(self._backend, path))

    def purge_uploads(self, before: datetime, path: str = ROOT) -> builtins.list[str]:
        return purge_staged(self._backend, before, path)

    def close(self) -> None:
        self._backend.close()

    # -- helpers ----------------------------------------------------------------

    def _start_copy(self, source: str, dest: BlobClient, source_url: str) -> dict[str, Any]:
        """Start a server-side copy; a missing source is ``PathNotFoundError``."""
        try:
            result: dict[str, Any] = dest.start_copy_from_url(source_url)
        except HttpResponseError as exc:
            missing = error_code(exc) in ("CannotVerifyCopySource", "BlobNotFound")
            if exc.status_code == 404 and missing:
                if not self._container.exists():
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
                raise


def _copy_state(blob: BlobClient) -> CopyState:
    copy = blob.get_blob_properties().copy
    return CopyState(str(copy.status), copy.status_description)
