"""The ``rewrite`` middleware: change the scheme, host or path prefix of the driver's URLs.

For a public host or a CDN in front of a private endpoint. The query (a SAS
token, a presigned signature) is kept as it is, so this works only where the
signature stays valid behind the new host. No URL from the driver stays no URL
(the registry's version turns an empty URL into ``https://host``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..driver import StorageDriver
from ..params import Parameters
from .base import StorageMiddleware

__all__ = ["RewriteMiddleware"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_HOST = re.compile(r"[^/?#\s@]+")


class RewriteMiddleware(StorageMiddleware):
    """Options ``scheme``, ``host``, ``trimpathprefix`` (whole path components); all optional."""

    def __init__(self, inner: StorageDriver, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(inner)
        params = Parameters("rewrite", options, known=("scheme", "host", "trimpathprefix"))
        self._scheme = params.string("scheme")
        self._host = params.string("host")
        self._trim = params.string("trimpathprefix")
        if self._scheme is not None and not _SCHEME.fullmatch(self._scheme):
            params.fail("scheme", f"must be a URL scheme such as https, got {self._scheme!r}")
        if self._host is not None and not _HOST.fullmatch(self._host):
            params.fail(
                "host",
                f"must be a host name with an optional port, such as cdn.example.com:8443,"
                f" got {self._host!r}",
            )

    def __repr__(self) -> str:
        return (
            f"RewriteMiddleware(scheme={self._scheme!r}, host={self._host!r},"
            f" trimpathprefix={self._trim!r}, {self.inner!r})"
        )

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        url = self.inner.redirect_url(
            path, method=method, expires_in=expires_in, client_ip=client_ip
        )
        if not url:
            return None
        parts = urlsplit(url)
        url_path = parts.path
        prefix = (self._trim or "").rstrip("/")
        # Trim whole components only: "/reg" never trims "/registry/x".
        if prefix and (url_path == prefix or url_path.startswith(prefix + "/")):
            url_path = url_path[len(prefix) :] or "/"
        return urlunsplit(
            (
                self._scheme or parts.scheme,
                self._host or parts.netloc,
                url_path,
                parts.query,
                parts.fragment,
            )
        )
