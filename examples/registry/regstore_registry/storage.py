"""Where the registry keeps uploads, blobs, links and tags, and the async reads and writes of them.

Paths are the distribution registry's (``regstore.registry.Layout``) plus the
upload directory ``repositories/<name>/_uploads/<uuid>`` holding ``startedat``
(RFC 3339, UTC, seconds) and ``data`` (the bytes, a pending regstore upload
until the final ``PUT`` commits it).
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timezone

from regstore import InvalidPathError, PathNotFoundError
from regstore.aio import AsyncDriver
from regstore.registry.layout import Layout, check_repository, is_digest

from .errors import RegistryError

__all__ = ["Storage", "check_digest", "check_name", "check_tag", "check_uuid"]

_TAG = re.compile(r"[\w][\w.-]{0,127}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def check_name(name: str) -> str:
    """``name`` if it is a valid repository name, else ``NAME_INVALID``."""
    try:
        return check_repository(name)
    except InvalidPathError as exc:
        raise RegistryError("NAME_INVALID", {"name": name, "reason": exc.message}) from None


def check_digest(text: str | None) -> str:
    """``text`` if it is a digest (``sha256:`` and 64 lowercase hex, ...), else DIGEST_INVALID."""
    if text is None or not is_digest(text):
        raise RegistryError(
            "DIGEST_INVALID",
            f"{text!r:.100} is not a digest: sha256:, sha384: or sha512: and lowercase hex",
        )
    return text


def check_tag(tag: str) -> str:
    """``tag`` if it matches ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``, else ``TAG_INVALID``."""
    if not _TAG.fullmatch(tag) or not tag.isascii():
        raise RegistryError(
            "TAG_INVALID", f"{tag!r:.140} is not a tag ([A-Za-z0-9_][\\w.-]{{0,127}})"
        )
    return tag


def check_uuid(uuid: str) -> str:
    """``uuid`` if it is a canonical lowercase UUID, else ``BLOB_UPLOAD_UNKNOWN``."""
    if not _UUID.fullmatch(uuid):
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", f"no upload {uuid!r:.60}")
    return uuid


def rfc3339_now() -> str:
    """The current UTC time as the registry writes ``startedat``: ``2026-12-05T23:10:32Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Storage:
    """The registry's files through an ``AsyncDriver``, one method per thing the endpoints need."""

    def __init__(self, driver: AsyncDriver, layout: Layout | None = None) -> None:
        self.driver = driver
        self.layout = layout or Layout()

    # -- uploads -------------------------------------------------------------------

    def upload_dir(self, name: str, uuid: str) -> str:
        """``repositories/<name>/_uploads/<uuid>``."""
        return f"{self.layout.repo(name)}/_uploads/{uuid}"

    def upload_data(self, name: str, uuid: str) -> str:
        """The upload's bytes: pending while the upload runs, committed by the final ``PUT``."""
        return self.upload_dir(name, uuid) + "/data"

    async def start_upload(self, name: str, uuid: str) -> None:
        """Record the upload's start, as the registry does, and open its empty data."""
        await self.driver.put_content(
            self.upload_dir(name, uuid) + "/startedat", rfc3339_now().encode()
        )
        writer = await self.driver.writer(self.upload_data(name, uuid), digest="sha256")
        await writer.close()

    async def upload_exists(self, name: str, uuid: str) -> bool:
        """True while ``_uploads/<uuid>/startedat`` is there (the final ``PUT`` removes it)."""
        return await self.exists(self.upload_dir(name, uuid) + "/startedat")

    async def drop_upload(self, name: str, uuid: str) -> None:
        """Delete the upload directory and its pending data, if any is left."""
        with contextlib.suppress(PathNotFoundError):
            await self.driver.delete(self.upload_dir(name, uuid))

    # -- blobs and links -----------------------------------------------------------------

    async def exists(self, path: str) -> bool:
        """True when a file is stored at ``path``."""
        try:
            return not (await self.driver.stat(path)).is_dir
        except PathNotFoundError:
            return False

    async def read_link(self, path: str) -> str | None:
        """The digest a link file holds, or None when there is none (or it is garbled)."""
        try:
            text = (await self.driver.get_content(path)).decode("ascii", "replace").strip()
        except PathNotFoundError:
            return None
        return text if is_digest(text) else None

    async def blob_size(self, digest: str) -> int | None:
        """The size of the blob's data, or None when it is not stored."""
        try:
            info = await self.driver.stat(self.layout.blob_data(digest))
        except PathNotFoundError:
            return None
        return None if info.is_dir else info.size

    async def linked_blob_size(self, name: str, digest: str) -> int | None:
        """The blob's size when repository ``name`` links it (``_layers``) and it is stored."""
        if await self.read_link(self.layout.layer_link(name, digest)) != digest:
            return None
        return await self.blob_size(digest)

    async def link_layer(self, name: str, digest: str) -> None:
        """Write ``_layers/<alg>/<hex>/link``: repository ``name`` may serve the blob."""
        await self.driver.put_content(self.layout.layer_link(name, digest), digest.encode())

    # -- manifests and tags ------------------------------------------------------------------

    async def has_revision(self, name: str, digest: str) -> bool:
        """True when ``name`` holds the manifest ``digest`` (revision link and blob data)."""
        link = await self.read_link(self.layout.revision_link(name, digest))
        return link == digest and await self.blob_size(digest) is not None

    async def resolve_tag(self, name: str, tag: str) -> str | None:
        """The digest ``tags/<tag>/current/link`` names, or None."""
        return await self.read_link(self.layout.tag_current(name, tag))

    async def tags(self, name: str) -> list[str] | None:
        """The repository's tag names, sorted; None when the repository does not exist."""
        try:
            children = await self.driver.list(self.layout.tags_dir(name))
        except PathNotFoundError:
            for kind in ("_manifests", "_layers"):
                try:
                    if (await self.driver.stat(f"{self.layout.repo(name)}/{kind}")).is_dir:
                        return []
                except PathNotFoundError:
                    continue
            return None
        return sorted(child.rsplit("/", 1)[-1] for child in children)
