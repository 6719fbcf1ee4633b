"""Deleting many blobs: Blob Batch requests of up to 256, or parallel single deletes.

A batch that fails as a whole is not retried as a batch: its deletes are sent
one by one (with bounded concurrency, each retried by the SDK's policy). A
batch refused with a 4xx or 501 answer means the account cannot do batches
(some account kinds and emulators), so the deleter stops trying them.

A single delete whose first answer was lost is retried by the SDK and then
answers 404 for the blob it deleted itself: such a 404 counts as deleted. A
404 after attempts that cannot have taken effect (refused before being sent,
or turned away as busy) means the blob was not there. The same holds for a
batch whose answer was lost (a broken connection, a 5xx other than 503): the
single deletes sent after it count a blob found gone as deleted.

A conditional delete (``delete_unchanged``) carries the ETag the caller listed
(``If-Match``): a blob written since then is kept and reported not deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import ContainerClient

from regstore.errors import DriverError

from .errors import error_code

__all__ = ["BATCH_SIZE", "BatchDeleter"]

#: The Blob Batch API's limit of sub-requests per batch.
BATCH_SIZE = 256
#: Single deletes in flight at once when batches are not available.
PARALLEL_DELETES = 8
#: HTTP 412: an ``If-Match`` delete found the blob changed (or, on some services, gone).
_CHANGED = 412
#: Answers that say the service turned a request away without acting on it.
_TURNED_AWAY = frozenset({429, 503})
#: A blob to delete: its name, and the ETag it must still have (None: unconditional).
_Target = tuple[str, str | None]
_NOT_BATCH_PROBLEMS = frozenset(
    {
        "ContainerNotFound",
        "AuthenticationFailed",
        "AuthorizationFailure",
        "AuthorizationPermissionMismatch",
        "InvalidAuthenticationInfo",
    }
)


class BatchDeleter:
    """Deletes blobs of one container; reports which names existed."""

    def __init__(self, container: ContainerClient, *, use_batch: bool = True) -> None:
        self._container = container
        self._lock = threading.Lock()
        self.use_batch = use_batch

    def delete(self, names: Iterable[str]) -> dict[str, bool]:
        """Delete every name; the result maps each to True (deleted) or False (was missing).

        A blob that an earlier attempt of this call may have deleted (its
        answer lost) counts as deleted.
        """
        return self._delete((name, None) for name in names)

    def delete_unchanged(self, blobs: Iterable[tuple[str, str]]) -> dict[str, bool]:
        """Delete each ``(name, etag)`` blob only if its ETag is still ``etag``.

        The result maps each name to True (deleted) or False (missing, or
        written since it was listed: then it is kept).
        """
        return self._delete(blobs)

    def _delete(self, targets: Iterable[_Target]) -> dict[str, bool]:
        result: dict[str, bool] = {}
        for batch in _batches(targets, BATCH_SIZE):
            if self.use_batch and len(batch) > 1:
                result.update(self._delete_batch(batch))
            else:
                result.update(self._delete_each(batch))
        return result

    def _delete_batch(self, targets: list[_Target]) -> dict[str, bool]:
        try:
            responses = list(
                self._container.delete_blobs(
                    *(_batch_entry(target) for target in targets),
                    raise_on_any_failure=False,
                    retry_total=0,
                )
            )
        except HttpResponseError as exc:
            if error_code(exc) in _NOT_BATCH_PROBLEMS or exc.status_code in (401, 403):
                raise
            status = exc.status_code
            refused = status is not None and (400 <= status < 500 or status == 501)
            if refused:
                with self._lock:
                    self.use_batch = False
            # A 5xx other than 503 may come after the batch ran.
            return self._delete_each(targets, batch_ran=not refused and status != 503)
        except (ServiceRequestError, ServiceResponseError) as exc:
            # The connection broke: the batch may or may not have run; the
            # single deletes settle it, and a blob they find gone counts as
            # deleted by it (unless the request never left).
            return self._delete_each(targets, batch_ran=isinstance(exc, ServiceResponseError))
        result: dict[str, bool] = {}
        for (name, etag), response in zip(targets, responses, strict=True):
            if response.status_code in (200, 202):
                result[name] = True
            elif response.status_code == 404 or (
                etag is not None and response.status_code == _CHANGED
            ):
                result[name] = False
            else:
                raise DriverError(
                    f"batch delete of {len(targets)} blobs: the service refused {name!r}"
                    f" with HTTP {response.status_code}"
                )
        return result

    def _delete_each(self, targets: list[_Target], *, batch_ran: bool = False) -> dict[str, bool]:
        """Single deletes; ``batch_ran``: a batch of these targets may have taken effect."""

        def delete_one(target: _Target) -> bool:
            return self._delete_one(target, batch_ran)

        with ThreadPoolExecutor(max_workers=min(PARALLEL_DELETES, len(targets))) as pool:
            deleted = pool.map(delete_one, targets)
            return dict(zip((name for name, _ in targets), deleted, strict=True))

    def _delete_one(self, target: _Target, batch_ran: bool = False) -> bool:
        name, etag = target
        attempts = _Attempts(may_have_acted=batch_ran)
        conditions: dict[str, Any] = {}
        if etag is not None:
            conditions = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        try:
            self._container.delete_blob(name, retry_hook=attempts.failed, **conditions)
        except ResourceNotFoundError as exc:
            if error_code(exc) == "ContainerNotFound":
                raise
            return attempts.may_have_acted
        except ResourceModifiedError:
            # Written since it was listed: kept. After an attempt that may have
            # deleted it, a 412 can also mean it is gone (deleted by that attempt).
            return attempts.may_have_acted and not self._container.get_blob_client(name).exists()
        return True


class _Attempts:
    """Watches the failed attempts of one request (the SDK's ``retry_hook``)."""

    def __init__(self, *, may_have_acted: bool = False) -> None:
        self.may_have_acted = may_have_acted

    def failed(self, *, response: Any = None, error: BaseException | None = None, **_: Any) -> None:
        """Called before each retry with the failed attempt's answer or error."""
        if error is not None:
            # A request error means it never reached the service; any other
            # error (a reset or timeout while waiting for the answer) may
            # have come after the service acted.
            acted = not isinstance(error, ServiceRequestError)
        else:
            acted = response is not None and response.status_code not in _TURNED_AWAY
        self.may_have_acted = self.may_have_acted or acted


def _batch_entry(target: _Target) -> str | dict[str, Any]:
    """A ``delete_blobs`` argument: the name, or the name with its ``If-Match`` ETag."""
    name, etag = target
    if etag is None:
        return name
    return {"name": name, "etag": etag, "match_condition": MatchConditions.IfNotModified}


def _batches(targets: Iterable[_Target], size: int) -> Iterator[list[_Target]]:
    batch: list[_Target] = []
    for target in targets:
        batch.append(target)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
