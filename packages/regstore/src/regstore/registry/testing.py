"""Registry trees with known garbage, written through any driver, and what gc must do to them.

``build_tree`` writes what a registry's pushes leave behind (blobs, ``_layers``
links, revisions, tags with history, uploads) with the registry's exact file
formats, and returns a ``RegistryTree`` that says which blobs and manifests a
collection keeps and deletes in each mode, so the same tree serves unit tests,
comparisons with the Go registry's ``garbage-collect``, and benchmarks.

Per repository: ``latest`` (Docker schema2) whose previous manifest is still a
revision (untagged, in the tag's history); ``v1`` (OCI image manifest); with
``index``, ``multi``: an OCI index whose two children were pushed by digest
(untagged); one manifest pushed by digest only; with ``schema1`` (first
repository), ``legacy``. Layers come from a pool shared by every repository
plus one layer of their own. ``orphans`` blobs are linked from the first
repository but no manifest (an aborted push). The first repository holds an
old and a fresh ``_uploads/<uuid>``.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..driver import StorageDriver
from .layout import DEFAULT_ROOT, Layout
from .manifests import DOCKER_SCHEMA2, OCI_INDEX, OCI_MANIFEST

__all__ = ["RegistryTree", "build_tree", "go_hash_state", "repository_names"]

_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_SHA256_IV = (
    0x6A09E667,
    0xBB67AE85,
    0x3C6EF372,
    0xA54FF53A,
    0x510E527F,
    0x9B05688C,
    0x1F83D9AB,
    0x5BE0CD19,
)


def go_hash_state() -> bytes:
    """The registry's ``hashstates/sha256/0`` file: Go's SHA-256 state before any byte."""
    return b"sha\x03" + struct.pack(">8I", *_SHA256_IV) + bytes(64) + struct.pack(">Q", 0)


def repository_names(count: int) -> list[str]:
    """``count`` repository names, including a nested pair (``team/app`` and ``team/app/cache``)."""
    fixed = ["library/alpine", "team/app", "team/app/cache", "team-b/app.web"]
    return (fixed + [f"project{i}/service_{i}" for i in range(count)])[:count]


@dataclass
class RegistryTree:
    """What ``build_tree`` wrote, and what a garbage collection must keep and delete."""

    root: str
    repositories: list[str]
    #: repo -> tag -> digest the tag's ``current/link`` names.
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    #: digest -> size of every blob written (layers, configs, manifests).
    blobs: dict[str, int] = field(default_factory=dict)
    #: (repo, manifest digest) -> digests it references.
    manifests: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    #: (repo, digest) of index children pushed by digest (Go 2.8 deletes them with -m).
    index_children: set[tuple[str, str]] = field(default_factory=set)
    orphans: set[str] = field(default_factory=set)
    #: ``_uploads/<uuid>`` directories whose ``startedat`` is ``old_upload_age`` ago / now.
    uploads_old: list[str] = field(default_factory=list)
    uploads_fresh: list[str] = field(default_factory=list)
    old_upload_age: timedelta = timedelta(days=30)

    def tagged(self, repo: str) -> set[str]:
        """The digests ``repo``'s tags point to."""
        return set(self.tags.get(repo, {}).values())

    def marked(self, delete_untagged: bool, *, go28: bool = False) -> set[str]:
        """The mark set: digests kept. ``go28``: as registry 2.8 marks (no descent)."""
        marked: set[str] = set()
        for (repo, digest), refs in self.manifests.items():
            if not delete_untagged or digest in self.tagged(repo):
                marked.add(digest)
                marked.update(refs)
                if delete_untagged and not go28:
                    stack = [r for r in refs if (repo, r) in self.manifests]
                    while stack:
                        child = stack.pop()
                        marked.add(child)
                        more = self.manifests[(repo, child)]
                        marked.update(more)
                        stack.extend(r for r in more if (repo, r) in self.manifests)
        return marked

    def deleted_blobs(self, delete_untagged: bool, *, go28: bool = False) -> set[str]:
        """The blob digests a collection deletes."""
        return set(self.blobs) - self.marked(delete_untagged, go28=go28)

    def kept_blobs(self, delete_untagged: bool, *, go28: bool = False) -> set[str]:
        """The blob digests a collection keeps."""
        return set(self.blobs) & self.marked(delete_untagged, go28=go28)

    def deleted_manifests(
        self, delete_untagged: bool, *, go28: bool = False
    ) -> set[tuple[str, str]]:
        """The (repo, digest) revisions a collection deletes (only with ``delete_untagged``)."""
        if not delete_untagged:
            return set()
        marked = self.marked(True, go28=go28)
        return {
            (repo, digest)
            for repo, digest in self.manifests
            if digest not in self.tagged(repo) and (go28 or digest not in marked)
        }

    def bytes_freed(self, delete_untagged: bool, *, go28: bool = False) -> int:
        """The bytes of blob data a collection deletes."""
        return sum(self.blobs[d] for d in self.deleted_blobs(delete_untagged, go28=go28))


class _Writer:
    def __init__(self, driver: StorageDriver, layout: Layout, tree: RegistryTree) -> None:
        self.driver = driver
        self.layout = layout
        self.tree = tree

    def blob(self, data: bytes, repo: str | None = None) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest not in self.tree.blobs:
            self.driver.put_content(self.layout.blob_data(digest), data)
            self.tree.blobs[digest] = len(data)
        if repo is not None:
            self.driver.put_content(self.layout.layer_link(repo, digest), digest.encode())
        return digest

    def manifest(
        self, repo: str, document: dict[str, object], refs: list[str], tags: tuple[str, ...] = ()
    ) -> tuple[str, int]:
        data = json.dumps(document, indent=3).encode()
        digest = self.blob(data)
        self.driver.put_content(self.layout.revision_link(repo, digest), digest.encode())
        for tag in tags:
            index = self.layout.tag_index_dir(repo, tag, digest) + "/link"
            self.driver.put_content(index, digest.encode())
            self.driver.put_content(self.layout.tag_current(repo, tag), digest.encode())
            self.tree.tags.setdefault(repo, {})[tag] = digest
        self.tree.manifests[(repo, digest)] = tuple(refs)
        return digest, len(data)


def _descriptor(media_type: str, digest: str, size: int) -> dict[str, object]:
    return {"mediaType": media_type, "size": size, "digest": digest}


def build_tree(
    driver: StorageDriver,
    *,
    repositories: int = 3,
    seed: int = 1,
    root: str = DEFAULT_ROOT,
    pool_layers: int = 6,
    layer_size: tuple[int, int] = (64, 4096),
    orphans: int = 3,
    index: bool = True,
    schema1: bool = False,
    uploads: bool = True,
    now: datetime | None = None,
) -> RegistryTree:
    """Write a registry tree with known garbage through ``driver``; say what gc must do."""
    rnd = random.Random(seed)
    layout = Layout(root)
    names = repository_names(repositories)
    tree = RegistryTree(root, sorted(names, key=lambda n: n.split("/")))
    put = _Writer(driver, layout, tree)

    def data(label: str) -> bytes:
        return label.encode() + rnd.randbytes(rnd.randint(*layer_size))

    pool = [data(f"pool{i}") for i in range(pool_layers)]

    def image(
        repo: str, label: str, media: str, shared: int, tags: tuple[str, ...] = ()
    ) -> tuple[str, int]:
        oci = media == OCI_MANIFEST
        config = json.dumps({"architecture": "amd64", "os": "linux", "label": f"{repo} {label}"})
        config_digest = put.blob(config.encode(), repo)
        layers = [pool[(shared + k) % len(pool)] for k in range(2)] if pool else []
        layers.append(data(f"{repo} {label} own"))
        descriptors = []
        for layer in layers:
            digest = put.blob(layer, repo)
            descriptors.append(
                _descriptor(_OCI_LAYER if oci else _DOCKER_LAYER, digest, len(layer))
            )
        document = {
            "schemaVersion": 2,
            "mediaType": media,
            "config": _descriptor(
                _OCI_CONFIG if oci else _DOCKER_CONFIG, config_digest, len(config)
            ),
            "layers": descriptors,
        }
        refs = [config_digest] + [str(d["digest"]) for d in descriptors]
        return put.manifest(repo, document, refs, tags)

    for number, repo in enumerate(names):
        image(repo, "previous latest", DOCKER_SCHEMA2, number, ("latest",))
        image(repo, "latest", DOCKER_SCHEMA2, number + 1, ("latest",))
        image(repo, "v1", OCI_MANIFEST, number + 2, ("v1",))
        image(repo, "by digest", OCI_MANIFEST, number + 3)
        if index:
            children = [
                image(repo, f"platform {arch}", OCI_MANIFEST, number + k)
                for k, arch in enumerate(("amd64", "arm64"))
            ]
            for digest, _ in children:
                tree.index_children.add((repo, digest))
            document = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        **_descriptor(OCI_MANIFEST, digest, size),
                        "platform": {"architecture": arch, "os": "linux"},
                    }
                    for (digest, size), arch in zip(children, ("amd64", "arm64"), strict=True)
                ],
            }
            put.manifest(repo, document, [d for d, _ in children], ("multi",))
        if schema1 and number == 0:
            layer = put.blob(data(f"{repo} legacy"), repo)
            shared = put.blob(pool[0], repo) if pool else layer
            document = {
                "schemaVersion": 1,
                "name": repo,
                "tag": "legacy",
                "architecture": "amd64",
                "fsLayers": [{"blobSum": layer}, {"blobSum": shared}],
                "history": [{"v1Compatibility": "{}"}, {"v1Compatibility": "{}"}],
            }
            put.manifest(repo, document, [layer, shared], ("legacy",))
    for number in range(orphans):
        tree.orphans.add(put.blob(data(f"orphan{number}"), names[0] if names else None))
    if uploads and names:
        moment = now or datetime.now(timezone.utc)
        for started, into in (
            (moment - tree.old_upload_age, tree.uploads_old),
            (moment, tree.uploads_fresh),
        ):
            directory = f"{layout.repo(names[0])}/_uploads/{uuid.UUID(int=rnd.getrandbits(128))}"
            stamp = started.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            driver.put_content(f"{directory}/startedat", stamp.encode())
            driver.put_content(f"{directory}/data", b"")
            driver.put_content(f"{directory}/hashstates/sha256/0", go_hash_state())
            into.append(directory)
    return tree
