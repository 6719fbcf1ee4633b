"""Azure error codes mapped to regstore errors, with messages that say what to fix.

Messages are built from the error code and the driver's own context (account,
container, path), never from the service's response text, which can echo
request details; the SDK exception stays reachable as ``__cause__``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from regstore.errors import DriverError, PathNotFoundError, StorageDriverError

from .retrying import retries_done

__all__ = ["ErrorContext", "describe", "error_code"]

NOT_FOUND = "not found"
# A URL's query can carry a SAS signature: never let one into a message.
_QUERY = re.compile(r"\?[^\s'\"]*")

#: Azure error code -> message (``NOT_FOUND`` becomes ``PathNotFoundError``).
#: Placeholders: ``{account}``, ``{container}``, ``{code}``, and ``{retried}``: how
#: often the request was retried, as far as the retry policy recorded it.
ERROR_TABLE: dict[str, str] = {
    "BlobNotFound": NOT_FOUND,
    "ContainerNotFound": (
        "container {container!r} does not exist in storage account {account!r};"
        " create it, or set the container parameter to an existing container"
    ),
    "ContainerBeingDeleted": "container {container!r} is being deleted; use another container",
    "ContainerDisabled": "container {container!r} is disabled",
    "AuthenticationFailed": (
        "storage account {account!r} refused the account key or credentials"
        " (AuthenticationFailed); check accountkey, credentials or connectionstring"
    ),
    "InvalidAuthenticationInfo": (
        "storage account {account!r} refused the credentials (InvalidAuthenticationInfo);"
        " check credentials (tenant, client id, secret) or connectionstring"
    ),
    "AuthorizationFailure": (
        "storage account {account!r} refused the account key or credentials, or they may"
        " not do this (AuthorizationFailure); check accountkey, credentials or"
        " connectionstring, their permissions and the account's network rules"
    ),
    "AuthorizationPermissionMismatch": (
        "the credentials lack a data-plane role on container {container!r}"
        " (AuthorizationPermissionMismatch); assign 'Storage Blob Data Contributor'"
    ),
    "AuthorizationResourceTypeMismatch": (
        "the SAS in connectionstring does not cover this resource type"
        " (AuthorizationResourceTypeMismatch); it needs service, container and object access"
    ),
    "AuthorizationServiceMismatch": (
        "the SAS in connectionstring does not cover the blob service (AuthorizationServiceMismatch)"
    ),
    "InsufficientAccountPermissions": (
        "the credentials lack the account permission this needs (InsufficientAccountPermissions)"
    ),
    "AccountIsDisabled": "storage account {account!r} is disabled",
    "BlobArchived": "the blob is in the archive tier; rehydrate it before reading",
    "BlobBeingRehydrated": "the blob is being rehydrated from the archive tier; try again later",
    "InvalidBlobType": "the blob is not a block blob",
    "InvalidBlockList": (
        "the staged blocks no longer match the upload (another writer committed"
        " or cancelled it meanwhile)"
    ),
    "InvalidBlobOrBlock": (
        "the service rejected a block: the blob holds blocks whose ids have another"
        " length (written by another tool); delete the blob first"
    ),
    "CannotVerifyCopySource": (
        "the service could not read the copy source (CannotVerifyCopySource):"
        " it is gone, or its signed URL was refused"
    ),
    "BlockCountExceedsLimit": "the blob would exceed Azure's limit of 50,000 blocks",
    "LeaseIdMissing": "the blob has an active lease; break or release it first",
    "ServerBusy": "the storage service was busy (ServerBusy){retried}",
    "OperationTimedOut": "the storage service timed out (OperationTimedOut){retried}",
    "InternalError": "the storage service failed (InternalError){retried}",
}


#: The operations of a writer: there a staging blob that is gone, or holds other
#: blocks, means another writer or a purge discarded the upload.
WRITER_OPERATIONS = frozenset({"write", "close", "commit", "resume the digest of"})
_DISCARDED = frozenset({"BlobNotFound", "InvalidBlockList"})


@dataclass(frozen=True)
class ErrorContext:
    """What error messages may name: the account, the container, the service URL."""

    account: str
    container: str
    service_url: str


def error_code(exc: BaseException) -> str:
    """The Azure error code of an SDK exception (``""`` when there is none)."""
    code = getattr(exc, "error_code", None)
    if isinstance(code, enum.Enum):
        code = code.value
    return str(code) if code else ""


def describe(
    exc: AzureError, context: ErrorContext, action: str, path: str | None = None
) -> StorageDriverError:
    """The regstore error for an SDK exception raised while doing ``action`` on ``path``."""
    where = f"{action} {path}" if path else action
    code = error_code(exc)
    if action in WRITER_OPERATIONS and code in _DISCARDED:
        return DriverError(
            f"{where}: the pending upload was discarded (cancelled or deleted) while this"
            " writer had it open"
        )
    template = ERROR_TABLE.get(code)
    if template == NOT_FOUND:
        if path is not None:
            return PathNotFoundError(path)
        template = "the blob does not exist"
    retried = _retried(exc)
    if template is not None:
        text = template.format(
            account=context.account, container=context.container, code=code, retried=retried
        )
        return DriverError(f"{where}: {text}")
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        transient = status in (408, 429) or status >= 500
        return DriverError(
            f"{where}: {_by_status(status, code, context)}{retried if transient else ''}"
        )
    if isinstance(exc, ClientAuthenticationError):
        return DriverError(
            f"{where}: could not get a token for the configured credentials: {_first_line(exc)}"
        )
    if isinstance(exc, ServiceRequestError):
        return DriverError(
            f"{where}: cannot reach the blob service at {context.service_url}{retried}:"
            f" {_first_line(exc)}"
        )
    if isinstance(exc, ServiceResponseError):
        return DriverError(
            f"{where}: the connection to {context.service_url} broke{retried}: {_first_line(exc)}"
        )
    return DriverError(f"{where}: {type(exc).__name__}: {_first_line(exc)}")


def _retried(exc: AzureError) -> str:
    """`` after 5 retries (max_retries)``, `` (not retried)``, or nothing when not known."""
    done = retries_done(exc)
    if done is None:
        return ""
    if done == 0:
        return " (not retried)"
    return f" after {done} {'retry' if done == 1 else 'retries'} (max_retries)"


def _by_status(status: int, code: str, context: ErrorContext) -> str:
    label = f"HTTP {status}" + (f" {code}" if code else "")
    if status in (401, 403):
        return (
            f"storage account {context.account!r} refused the request ({label}):"
            " check the credentials and their permissions on the container"
        )
    if status == 404:
        return f"not found ({label}): check serviceurl, accountname and container"
    return f"the storage service answered {label}"


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "message", None) or exc).strip()
    line = message.splitlines()[0] if message else type(exc).__name__
    return _QUERY.sub("?...", line)
