"""Parse the manifest kinds a registry stores and list the digests each one references.

Dispatch follows the registry's manifest store: ``schemaVersion`` 1 is Docker
schema1 (``fsLayers[].blobSum``); for 2 the top-level ``mediaType`` decides,
and without one a document with ``manifests`` is an index, anything else an
OCI image manifest. Any other media type is an error, as it aborts the
registry's own garbage collector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .layout import is_digest

__all__ = [
    "DOCKER_LIST",
    "DOCKER_SCHEMA1",
    "DOCKER_SCHEMA2",
    "INDEX_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Descriptor",
    "Manifest",
    "ManifestError",
    "parse_manifest",
]

DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

#: Media types whose references are other manifests (children).
INDEX_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
_IMAGE_TYPES = frozenset({DOCKER_SCHEMA2, OCI_MANIFEST})


class ManifestError(ValueError):
    """The content is not a manifest the registry can read; the message says why."""


@dataclass(frozen=True)
class Descriptor:
    """A reference from a manifest: its digest, the size it claims, and any external URLs."""

    digest: str
    size: int | None = None
    external: bool = False


@dataclass(frozen=True)
class Manifest:
    """What garbage collection and verification need from a manifest."""

    media_type: str
    references: tuple[Descriptor, ...]

    @property
    def is_index(self) -> bool:
        """True for a Docker manifest list or an OCI index (its references are manifests)."""
        return self.media_type in INDEX_TYPES

    @property
    def digests(self) -> tuple[str, ...]:
        """The digests referenced, in document order."""
        return tuple(ref.digest for ref in self.references)


def parse_manifest(content: bytes) -> Manifest:
    """The manifest's kind and every digest it references, or ``ManifestError``."""
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ManifestError("not a JSON object")
    version = document.get("schemaVersion")
    if version == 1:
        return Manifest(DOCKER_SCHEMA1, _schema1(document))
    if version != 2:
        raise ManifestError(f"unrecognized manifest schemaVersion {version!r} (1 and 2 are known)")
    media_type = document.get("mediaType") or ""
    if not isinstance(media_type, str):
        raise ManifestError("mediaType is not a string")
    if not media_type:
        media_type = OCI_INDEX if document.get("manifests") is not None else OCI_MANIFEST
    if media_type in INDEX_TYPES:
        return Manifest(media_type, _descriptors(document, "manifests"))
    if media_type in _IMAGE_TYPES:
        config = document.get("config")
        refs = _descriptors({"config": [config]}, "config") if config is not None else ()
        return Manifest(media_type, refs + _descriptors(document, "layers"))
    raise ManifestError(
        f"unrecognized manifest mediaType {media_type!r} (Docker schema2, manifest list,"
        " OCI image manifest and index are known)"
    )


def _schema1(document: dict[str, Any]) -> tuple[Descriptor, ...]:
    layers = document.get("fsLayers") or []
    if not isinstance(layers, list):
        raise ManifestError("fsLayers is not a list")
    refs = []
    for layer in layers:
        digest = layer.get("blobSum") if isinstance(layer, dict) else None
        if not isinstance(digest, str) or not is_digest(digest):
            raise ManifestError(f"fsLayers entry without a valid blobSum: {layer!r:.120}")
        refs.append(Descriptor(digest))
    return tuple(refs)


def _descriptors(document: dict[str, Any], key: str) -> tuple[Descriptor, ...]:
    entries = document.get(key) or []
    if not isinstance(entries, list):
        raise ManifestError(f"{key} is not a list")
    refs = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ManifestError(f"{key} holds a non-object: {entry!r:.120}")
        digest = entry.get("digest")
        if not isinstance(digest, str) or not is_digest(digest):
            raise ManifestError(f"{key} descriptor without a valid digest: {digest!r:.120}")
        size = entry.get("size")
        refs.append(
            Descriptor(
                digest,
                size if isinstance(size, int) and not isinstance(size, bool) else None,
                bool(entry.get("urls")),
            )
        )
    return tuple(refs)
