"""The ``redirect`` middleware: send clients to ``baseurl`` + the path, for GET and HEAD.

For a CDN or web server that serves the store's content by path (no
signing, no existence check). The driver path is used, not the backend key,
so ``rootdirectory`` is not part of the URL, as in the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlunsplit

from ..driver import StorageDriver
from ..params import Parameters
from .base import StorageMiddleware
from .options import base_url

__all__ = ["RedirectMiddleware"]


class RedirectMiddleware(StorageMiddleware):
    """``redirect_url(path)`` is ``baseurl`` joined with ``path``; option: ``baseurl``."""

    def __init__(self, inner: StorageDriver, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(inner)
        params = Parameters("redirect", options, known=("baseurl",))
        parts = base_url(params, "baseurl")
        self._scheme = parts.scheme
        self._host = parts.netloc
        self._base = parts.path.rstrip("/")

    def __repr__(self) -> str:
        return f"RedirectMiddleware({self._scheme}://{self._host}{self._base}, {self.inner!r})"

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        return urlunsplit((self._scheme, self._host, self._base + path, "", ""))
