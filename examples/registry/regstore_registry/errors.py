"""The OCI distribution error codes and their body: ``{"errors": [{code, message, detail}]}``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

__all__ = ["RegistryError", "error_response"]

#: code -> (HTTP status, the spec's message).
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown to registry"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "RANGE_INVALID": (416, "invalid content range"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "UNSUPPORTED": (405, "the operation is unsupported"),
    "UNKNOWN": (500, "unknown error"),
}


class RegistryError(Exception):
    """A request the registry refuses: one OCI error ``code`` and a ``detail`` for the client."""

    def __init__(
        self,
        code: str,
        detail: Any = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail is not None else code)
        self.code = code
        self.detail = detail
        self.status = CODES[code][0]
        self.headers = headers or {}


def error_response(error: RegistryError) -> web.Response:
    """The error as the spec's JSON body, with its status and headers."""
    entry: dict[str, Any] = {"code": error.code, "message": CODES[error.code][1]}
    if error.detail is not None:
        entry["detail"] = error.detail
    return web.Response(
        status=error.status,
        body=json.dumps({"errors": [entry]}).encode(),
        content_type="application/json",
        headers=error.headers,
    )
