"""One container as the driver and its writers use it: clients, names, signing, deletes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobProperties, BlobType

from regstore.objectstore.layout import KeyLayout
from regstore.walking import EPOCH

from .client import build_credential, build_service_client, close_credential
from .config import AzureConfig
from .deleting import BatchDeleter
from .errors import ErrorContext, error_code
from .sas import UrlSigner

__all__ = ["Backend", "modified_at"]

T = TypeVar("T")


class Backend:
    """The SDK side of the driver; thread-safe, as the SDK clients are."""

    def __init__(self, config: AzureConfig, layout: KeyLayout, credential: Any = None) -> None:
        self.config = config
        self.layout = layout
        self._owns_credential = credential is None
        self.credential = build_credential(config) if credential is None else credential
        self.service = build_service_client(config, self.credential)
        self.container = self.service.get_container_client(config.container)
        self.signer = UrlSigner(config, self.service)
        self.deleter = BatchDeleter(self.container)
        self.context = ErrorContext(config.account_name, config.container, config.service_url)
        self._helpers: ThreadPoolExecutor | None = None
        self._helpers_lock = threading.Lock()

    def blob(self, name: str) -> BlobClient:
        """The client of one blob of the container."""
        return self.container.get_blob_client(name)

    def discard_staging(self, name: str, *, delete_tried: bool = False) -> bool:
        """Delete a staging blob with every block on it; True if one was deleted.

        ``delete_tried`` says a delete of ``name`` just found nothing, so only
        blocks of a writer that never closed can be left.
        """
        blob = self.blob(name)
        if not delete_tried:
            try:
                blob.delete_blob()
                return True
            except ResourceNotFoundError as exc:
                if error_code(exc) == "ContainerNotFound":
                    raise
        # Blocks of a writer that never closed make a blob without committed
        # content, which the service may not delete as such; committing an
        # empty block list first turns it into an ordinary blob.
        try:
            _, uncommitted = blob.get_block_list("uncommitted")
        except ResourceNotFoundError as exc:
            if error_code(exc) == "ContainerNotFound":
                raise
            return False
        if uncommitted:
            blob.commit_block_list([])
            blob.delete_blob()
            return True
        return False

    def staging_exists(self, name: str) -> Future[bool]:
        """Whether a staging blob holds anything, asked on a helper thread.

        A block-list read answers for committed and uncommitted blocks alike, so
        one request settles it; the caller overlaps it with its own request.
        """

        def ask() -> bool:
            try:
                self.blob(name).get_block_list("all")
            except ResourceNotFoundError as exc:
                if error_code(exc) == "ContainerNotFound":
                    raise
                return False
            return True

        return self.in_background(ask)

    def in_background(self, call: Callable[[], T]) -> Future[T]:
        """Run ``call`` on a helper thread, so the caller overlaps it with its own request."""
        with self._helpers_lock:
            if self._helpers is None:
                self._helpers = ThreadPoolExecutor(4, thread_name_prefix="regstore-azure-helper")
            return self._helpers.submit(call)

    def clear_legacy_blob(self, name: str) -> None:
        """Delete a blob at ``name`` that is not a block blob (the Go driver's append blobs).

        Only then can a block blob take the name; the delete is conditional on
        the blob being unchanged since it was looked at.
        """
        blob = self.blob(name)
        try:
            properties = blob.get_blob_properties()
            if properties.blob_type != BlobType.BLOCKBLOB:
                blob.delete_blob(
                    etag=properties.etag, match_condition=MatchConditions.IfNotModified
                )
        except (ResourceNotFoundError, ResourceModifiedError) as exc:
            if error_code(exc) == "ContainerNotFound":
                raise

    def close(self) -> None:
        """Release the HTTP sessions of the client and of a credential built here."""
        with self._helpers_lock:
            if self._helpers is not None:
                self._helpers.shutdown(wait=True)
                self._helpers = None
        self.service.close()
        if self._owns_credential:
            close_credential(self.credential)


def modified_at(properties: BlobProperties) -> datetime:
    """A listed or fetched blob's Last-Modified, in UTC."""
    modified: datetime | None = properties.last_modified
    return modified.astimezone(timezone.utc) if modified is not None else EPOCH
