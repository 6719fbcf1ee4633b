"""Manifests by tag and digest (``PUT``, ``GET``, ``HEAD``, ``DELETE``) and the tag list.

A manifest is stored as the registry stores it: the bytes as a blob, a
revision link in the repository and, for a tag, a history entry
(``tags/<tag>/index/...``) then the tag's ``current/link``. Docker schema2,
Docker manifest lists, OCI image manifests and OCI indexes are accepted; every
blob an image references must be in the repository, and so must every
manifest an index lists.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

from aiohttp import web

from regstore import PathNotFoundError
from regstore.registry.layout import is_digest
from regstore.registry.manifests import (
    DOCKER_SCHEMA1,
    DOCKER_SCHEMA1_SIGNED,
    Manifest,
    ManifestError,
    parse_manifest,
)

from .errors import RegistryError
from .settings import settings
from .storage import Storage, check_name, check_tag

__all__ = ["MAX_MANIFEST_SIZE", "delete_manifest", "get_manifest", "list_tags", "put_manifest"]

#: The largest manifest accepted, as the distribution registry 3.x allows.
MAX_MANIFEST_SIZE = 4 << 20


def _parse(content: bytes, declared: str | None) -> Manifest:
    try:
        manifest = parse_manifest(content)
    except ManifestError as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None
    if manifest.media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
        raise RegistryError("MANIFEST_INVALID", "Docker schema1 manifests are not accepted")
    document_type = json.loads(content).get("mediaType")
    if declared and document_type and declared != document_type:
        raise RegistryError(
            "MANIFEST_INVALID",
            f"Content-Type {declared} differs from the manifest's mediaType {document_type}",
        )
    return manifest


async def _missing(storage: Storage, name: str, manifest: Manifest) -> list[str]:
    """The references the repository does not hold (manifests for an index, else blobs)."""
    missing = []
    for ref in manifest.references:
        if ref.external:
            continue  # foreign layers live elsewhere (their descriptor has urls)
        if manifest.is_index:
            held = await storage.has_revision(name, ref.digest)
        else:
            held = await storage.linked_blob_size(name, ref.digest) is not None
        if not held:
            missing.append(ref.digest)
    return missing


async def put_manifest(request: web.Request) -> web.Response:
    """``PUT /v2/<name>/manifests/<tag or digest>``."""
    name = check_name(request.match_info["name"])
    reference = request.match_info["reference"]
    content = await request.read()
    manifest = _parse(content, request.headers.get("Content-Type"))
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    tag = None
    if is_digest(reference):
        if reference != digest:
            raise RegistryError("DIGEST_INVALID", {"expected": reference, "actual": digest})
    else:
        tag = check_tag(reference)
    storage = settings(request).store()
    missing = await _missing(storage, name, manifest)
    if missing:
        raise RegistryError("MANIFEST_BLOB_UNKNOWN", {"digest": missing[0]})
    layout, driver = storage.layout, storage.driver
    if await storage.blob_size(digest) is None:
        await driver.put_content(layout.blob_data(digest), content)
    await driver.put_content(layout.revision_link(name, digest), digest.encode())
    if tag is not None:
        await driver.put_content(layout.tag_index_dir(name, tag, digest) + "/link", digest.encode())
        await driver.put_content(layout.tag_current(name, tag), digest.encode())
    return web.Response(
        status=201,
        headers={"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest},
    )


async def _resolve(storage: Storage, name: str, reference: str) -> str:
    digest = reference if is_digest(reference) else None
    if digest is None:
        digest = await storage.resolve_tag(name, check_tag(reference))
    if digest is None or not await storage.has_revision(name, digest):
        raise RegistryError("MANIFEST_UNKNOWN", {"name": name, "reference": reference})
    return digest


async def get_manifest(request: web.Request) -> web.Response:
    """``GET``/``HEAD /v2/<name>/manifests/<tag or digest>``: Content-Type from its mediaType."""
    name = check_name(request.match_info["name"])
    storage = settings(request).store()
    digest = await _resolve(storage, name, request.match_info["reference"])
    try:
        content = await storage.driver.get_content(storage.layout.blob_data(digest))
    except PathNotFoundError:
        raise RegistryError("MANIFEST_UNKNOWN", {"name": name, "digest": digest}) from None
    try:
        media_type = parse_manifest(content).media_type
    except ManifestError:
        media_type = "application/octet-stream"
    headers = {"Docker-Content-Digest": digest, "ETag": f'"{digest}"'}
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(content))
        headers["Content-Type"] = media_type
        return web.Response(headers=headers)
    return web.Response(body=content, content_type=media_type, headers=headers)


async def delete_manifest(request: web.Request) -> web.Response:
    """``DELETE`` by digest: the revision link, and every tag pointing at it (as the registry)."""
    name = check_name(request.match_info["name"])
    reference = request.match_info["reference"]
    if not is_digest(reference):
        raise RegistryError("UNSUPPORTED", "delete a manifest by its digest, not by tag")
    storage = settings(request).store()
    digest = await _resolve(storage, name, reference)
    await storage.driver.delete(storage.layout.revision_link(name, digest))
    for tag in await storage.tags(name) or []:
        if await storage.resolve_tag(name, tag) == digest:
            await storage.driver.delete(f"{storage.layout.tags_dir(name)}/{tag}")
    return web.Response(status=202)


async def list_tags(request: web.Request) -> web.Response:
    """``GET /v2/<name>/tags/list``: sorted, paginated by ``n`` and ``last``."""
    name = check_name(request.match_info["name"])
    tags = await settings(request).store().tags(name)
    if tags is None:
        raise RegistryError("NAME_UNKNOWN", {"name": name})
    last = request.query.get("last")
    if last is not None:
        tags = [tag for tag in tags if tag > last]
    headers = {}
    count = request.query.get("n")
    if count is not None:
        if not count.isdigit():
            raise RegistryError(
                "PAGINATION_NUMBER_INVALID", f"n must be a non-negative integer, not {count!r:.40}"
            )
        if len(tags) > int(count):
            tags = tags[: int(count)]
            query = urlencode({"n": count, "last": tags[-1]}) if tags else ""
            headers["Link"] = f'</v2/{name}/tags/list?{query}>; rel="next"'
    return web.json_response({"name": name, "tags": tags}, headers=headers)
