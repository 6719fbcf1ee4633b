"""The aiohttp application: the OCI distribution routes, errors as OCI JSON, the store's life."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

import regstore.aio
from regstore import StorageDriverError

from .blobs import get_blob
from .errors import RegistryError, error_response
from .manifests import MAX_MANIFEST_SIZE, delete_manifest, get_manifest, list_tags, put_manifest
from .settings import SETTINGS, Settings
from .storage import Storage
from .uploads import cancel_upload, finish_upload, patch_upload, start_upload, upload_status

__all__ = ["create_app"]

_log = logging.getLogger("regstore_registry")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NAME = r"{name:[^_][^:]*?}"
_DIGEST = r"{digest:[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+}"
_UUID = r"{uuid:[^/]+}"


@web.middleware
async def oci_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals as the OCI error body; a storage failure as ``UNKNOWN`` (500), logged."""
    try:
        return await handler(request)
    except RegistryError as exc:
        return error_response(exc)
    except StorageDriverError as exc:
        _log.exception("%s %s failed", request.method, request.path)
        return error_response(RegistryError("UNKNOWN", str(exc)))


async def version_check(request: web.Request) -> web.Response:
    """``GET /v2/``: the API is here and needs no authentication."""
    return web.json_response({})


async def _api_version(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Docker-Distribution-API-Version"] = "registry/2.0"


def create_app(
    config: str | os.PathLike[str] | Mapping[str, Any],
    *,
    upload_url: str | None = None,
    max_threads: int | None = None,
) -> web.Application:
    """The registry over the store a registry ``config`` (file or mapping) describes.

    ``upload_url``: the base URL that upload ``Location`` headers name
    (default: the one the client used).
    """
    app = web.Application(client_max_size=MAX_MANIFEST_SIZE, middlewares=[oci_errors])
    state = Settings(upload_url=upload_url)
    app[SETTINGS] = state

    async def open_store(app: web.Application) -> AsyncIterator[None]:
        driver = await regstore.aio.from_config(config, max_threads=max_threads)
        state.storage = Storage(driver)
        try:
            yield
        finally:
            state.storage = None
            await driver.aclose()

    app.cleanup_ctx.append(open_store)
    app.on_response_prepare.append(_api_version)
    add = app.router.add_route
    add("GET", "/v2/", version_check)
    add("GET", f"/v2/{_NAME}/tags/list", list_tags)
    add("POST", f"/v2/{_NAME}/blobs/uploads/", start_upload)
    for method, handler in [
        ("GET", upload_status),
        ("PATCH", patch_upload),
        ("PUT", finish_upload),
        ("DELETE", cancel_upload),
    ]:
        add(method, f"/v2/{_NAME}/blobs/uploads/{_UUID}", handler)
    app.router.add_get(f"/v2/{_NAME}/blobs/{_DIGEST}", get_blob)  # HEAD too
    app.router.add_get(f"/v2/{_NAME}/manifests/{{reference}}", get_manifest)
    add("PUT", f"/v2/{_NAME}/manifests/{{reference}}", put_manifest)
    add("DELETE", f"/v2/{_NAME}/manifests/{{reference}}", delete_manifest)
    return app
