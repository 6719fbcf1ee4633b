"""Blob uploads: ``POST``, ``PATCH`` chunks, ``PUT ?digest=``, ``GET`` status, ``DELETE``.

``POST`` starts an upload, or stores a whole blob (``?digest=``), or mounts
one from another repository (``?mount=&from=``; 202 and a new upload when the
blob is not there).

An upload's bytes are one pending regstore upload at ``_uploads/<uuid>/data``
hashed with SHA-256 as they arrive. Each request resumes it (from whichever
process over the same store), so the hash state the driver kept at the last
``close`` carries on; the final ``PUT`` commits it only if its digest is the
one the client names, then moves it to the blob path.
"""

from __future__ import annotations

import re
import uuid as uuids

from aiohttp import web

from regstore import DigestMismatchError
from regstore.aio import AsyncWriter

from .errors import RegistryError
from .settings import settings
from .storage import Storage, check_digest, check_name, check_uuid

__all__ = ["cancel_upload", "finish_upload", "patch_upload", "start_upload", "upload_status"]

#: Bytes gathered from the request body before one write to the driver.
WRITE_SIZE = 1 << 20
#: The digest algorithms whose upload the writer can verify.
VERIFIABLE = ("sha256", "sha512")
_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?")


def _location(request: web.Request, name: str, uuid: str) -> str:
    base = settings(request).upload_url or str(request.url.origin())
    return f"{base.rstrip('/')}/v2/{name}/blobs/uploads/{uuid}"


def _progress(request: web.Request, name: str, uuid: str, size: int) -> dict[str, str]:
    """``Location``, ``Range`` (``0-<last byte>``, ``0-0`` when empty) and the upload's UUID."""
    return {
        "Location": _location(request, name, uuid),
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": uuid,
    }


def _blob_created(name: str, digest: str) -> web.Response:
    return web.Response(
        status=201,
        headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest},
    )


async def _known(request: web.Request) -> tuple[Storage, str, str]:
    name = check_name(request.match_info["name"])
    uuid = check_uuid(request.match_info["uuid"])
    storage = settings(request).store()
    if not await storage.upload_exists(name, uuid):
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", f"no upload {uuid} in {name}")
    return storage, name, uuid


def _check_range(request: web.Request, name: str, uuid: str, size: int) -> None:
    """A ``Content-Range`` must start where the upload ends (else 416 with the current range)."""
    header = request.headers.get("Content-Range")
    if header is None:
        return
    match = _RANGE.fullmatch(header.strip())
    if match is None or int(match[1]) != size or int(match[2]) < int(match[1]):
        raise RegistryError(
            "RANGE_INVALID",
            f"Content-Range {header!r:.80} does not continue the upload, which holds {size} bytes",
            headers=_progress(request, name, uuid, size),
        )


async def _copy_body(request: web.Request, writer: AsyncWriter) -> None:
    """Append the request body to ``writer`` in writes of about ``WRITE_SIZE`` bytes."""
    pending: list[bytes] = []
    held = 0
    async for chunk in request.content.iter_chunked(WRITE_SIZE):
        pending.append(chunk)
        held += len(chunk)
        if held >= WRITE_SIZE:
            await writer.write(b"".join(pending))
            pending, held = [], 0
    if pending:
        await writer.write(b"".join(pending))


async def start_upload(request: web.Request) -> web.Response:
    """``POST /v2/<name>/blobs/uploads/``: mount, monolithic upload, or a new upload session."""
    name = check_name(request.match_info["name"])
    storage = settings(request).store()
    mount, source = request.query.get("mount"), request.query.get("from")
    if mount is not None and source is not None:
        digest = check_digest(mount)
        if await storage.linked_blob_size(check_name(source), digest) is not None:
            await storage.link_layer(name, digest)
            return _blob_created(name, digest)
    uuid = str(uuids.uuid4())
    await storage.start_upload(name, uuid)
    if "digest" in request.query:
        return await _finish(request, storage, name, uuid, check_digest(request.query["digest"]))
    return web.Response(status=202, headers=_progress(request, name, uuid, 0))


async def patch_upload(request: web.Request) -> web.Response:
    """``PATCH``: append the body (a chunk, or the whole stream) to the upload."""
    storage, name, uuid = await _known(request)
    path = storage.upload_data(name, uuid)
    async with storage.driver.writer(path, append=True, digest="sha256") as writer:
        _check_range(request, name, uuid, writer.size)
        await _copy_body(request, writer)
        size = writer.size
    return web.Response(status=202, headers=_progress(request, name, uuid, size))


async def finish_upload(request: web.Request) -> web.Response:
    """``PUT ?digest=``: append the body, if any, then commit the blob if the digest matches."""
    storage, name, uuid = await _known(request)
    return await _finish(request, storage, name, uuid, check_digest(request.query.get("digest")))


async def _finish(
    request: web.Request, storage: Storage, name: str, uuid: str, digest: str
) -> web.Response:
    algorithm = digest.partition(":")[0]
    if algorithm not in VERIFIABLE:
        await storage.drop_upload(name, uuid)
        raise RegistryError("DIGEST_INVALID", f"{algorithm} digests cannot be verified here")
    path = storage.upload_data(name, uuid)
    async with storage.driver.writer(path, append=True, digest=algorithm) as writer:
        _check_range(request, name, uuid, writer.size)
        await _copy_body(request, writer)
        try:
            await writer.commit(expected_digest=digest)
        except DigestMismatchError as exc:
            # As the registry does: a failed commit ends the upload.
            await writer.cancel()
            await storage.drop_upload(name, uuid)
            raise RegistryError(
                "DIGEST_INVALID", {"expected": digest, "actual": exc.actual}
            ) from None
    if await storage.blob_size(digest) is None:
        await storage.driver.move(path, storage.layout.blob_data(digest))
    await storage.link_layer(name, digest)
    await storage.drop_upload(name, uuid)
    return _blob_created(name, digest)


async def upload_status(request: web.Request) -> web.Response:
    """``GET``: how many bytes the upload holds, as ``Range``."""
    storage, name, uuid = await _known(request)
    size = 0
    async for pending in storage.driver.pending_uploads(storage.upload_data(name, uuid)):
        size = pending.size
    return web.Response(status=204, headers=_progress(request, name, uuid, size))


async def cancel_upload(request: web.Request) -> web.Response:
    """``DELETE``: discard the upload and everything it holds."""
    storage, name, uuid = await _known(request)
    await storage.drop_upload(name, uuid)
    return web.Response(status=204)
