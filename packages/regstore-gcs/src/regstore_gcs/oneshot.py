"""Objects written in one request: a JSON API multipart upload (metadata and bytes together).

The SDK's ``upload_from_string`` opens a resumable session for anything over
8 MiB, which is a request to open the session and another to send the bytes;
a part of a regstore upload is 16 MiB by default. One multipart request does
the same job with the same integrity check (the CRC32C sent in the metadata
is verified by the service). It goes through the SDK's own connection, so the
client's headers, its error mapping and the driver's retry policy apply.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from typing import Any

import google_crc32c
from google.cloud import storage

from regstore.errors import DriverError

__all__ = ["CONTENT_TYPE", "crc32c", "upload"]

CONTENT_TYPE = "application/octet-stream"


def upload(
    bucket: storage.Bucket,
    name: str,
    data: bytes,
    *,
    metadata: Mapping[str, str] | None = None,
    if_generation_match: int | None = None,
    retry: Any,
) -> Mapping[str, Any]:
    """Store ``data`` as the object ``name`` and return the object's resource.

    Idempotent (same name, same bytes), so the retry policy may send it again;
    with ``if_generation_match`` a resent request whose first answer was lost
    fails with ``PreconditionFailed``, which the caller has to check.
    """
    checksum = crc32c(data)
    resource: dict[str, Any] = {"name": name, "contentType": CONTENT_TYPE, "crc32c": checksum}
    if metadata:
        resource["metadata"] = dict(metadata)
    # A random boundary: the bytes are sent as they are, so it must not occur in them.
    boundary = "regstore-" + secrets.token_hex(16)
    body = b"".join(
        (
            f"--{boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n".encode(),
            json.dumps(resource).encode(),
            f"\r\n--{boundary}\r\ncontent-type: {CONTENT_TYPE}\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--".encode(),
        )
    )
    connection = bucket.client._connection
    query = {"uploadType": "multipart"}
    if if_generation_match is not None:
        query["ifGenerationMatch"] = str(if_generation_match)
    stored: Mapping[str, Any] = connection.api_request(
        method="POST",
        path=f"{bucket.path}/o",
        query_params=query,
        data=body,
        content_type=f'multipart/related; boundary="{boundary}"',
        api_base_url=f"{connection.API_BASE_URL}/upload",
        retry=retry,
    )
    size = stored.get("size")
    if size is not None and int(size) != len(data):
        raise DriverError(
            f"the storage service stored {size} bytes of {name} instead of {len(data)}"
        )
    found = stored.get("crc32c")
    if found is not None and found != checksum:
        raise DriverError(
            f"the storage service stored {name} with CRC32C {found}, not the {checksum} sent"
        )
    return stored


def crc32c(data: bytes) -> str:
    """The CRC32C of ``data`` as the JSON API writes it (base64 of the big-endian value)."""
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
