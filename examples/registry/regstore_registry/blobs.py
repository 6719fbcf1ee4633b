"""Blob ``HEAD`` and ``GET``: served only when the repository links the blob (``_layers``).

``GET`` answers ``307`` to the driver's ``redirect_url`` when it gives one (a
presigned S3 URL, say), else streams the data chunk by chunk.
"""

from __future__ import annotations

from aiohttp import web

from regstore.aio import DEFAULT_CHUNK_SIZE

from .errors import RegistryError
from .settings import settings
from .storage import check_digest, check_name

__all__ = ["get_blob"]


async def get_blob(request: web.Request) -> web.StreamResponse:
    """``GET``/``HEAD /v2/<name>/blobs/<digest>``."""
    name = check_name(request.match_info["name"])
    digest = check_digest(request.match_info["digest"])
    storage = settings(request).store()
    size = await storage.linked_blob_size(name, digest)
    if size is None:
        raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
    headers = {
        "Docker-Content-Digest": digest,
        "Content-Type": "application/octet-stream",
        "ETag": f'"{digest}"',
    }
    path = storage.layout.blob_data(digest)
    if request.method == "GET":
        url = await storage.driver.redirect_url(path, client_ip=request.remote)
        if url is not None:
            return web.Response(status=307, headers={**headers, "Location": url})
    response = web.StreamResponse(headers=headers)
    response.content_length = size
    await response.prepare(request)
    if request.method == "GET":
        async with storage.driver.reader(path) as reader:
            async for chunk in reader.chunks(DEFAULT_CHUNK_SIZE):
                await response.write(chunk)
    await response.write_eof()
    return response
