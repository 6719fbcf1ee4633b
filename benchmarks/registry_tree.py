"""A generated registry tree with known garbage, for timing garbage collection at scale.

``generate`` returns every file of a distribution-layout tree (paths relative to
``/docker/registry/v2``) and which blob digests a collection must keep or
delete. Per repository: tagged OCI images over shared base layers, a two-platform
index, images deleted by digest (blobs and layer links left), orphan uploads
(a blob and its layer link, no manifest) and upload sessions in progress.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field

__all__ = ["Generated", "generate"]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
BASE_LAYERS = 20
TAGGED = 3
DELETED = 4
ORPHANS = 4
UPLOADS = 5


@dataclass
class Generated:
    """The files of a tree and the blob digests a collection keeps and deletes."""

    files: dict[str, bytes] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


class _Writer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.out = Generated()

    def blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        hexpart = _hex(digest)
        self.out.files[f"blobs/sha256/{hexpart[:2]}/{hexpart}/data"] = data
        return digest

    def random_blob(self) -> str:
        return self.blob(self.rng.randbytes(self.rng.randrange(64, 512)))

    def link(self, repo: str, kind: str, digest: str) -> None:
        self.out.files[f"repositories/{repo}/{kind}/sha256/{_hex(digest)}/link"] = digest.encode()

    def layer_links(self, repo: str, digests: list[str]) -> None:
        for digest in digests:
            self.link(repo, "_layers", digest)

    def image(self, repo: str, base: str, layers: int) -> tuple[str, list[str]]:
        """An image manifest blob over a base and ``layers`` fresh layers; (digest, its blobs)."""
        config = self.blob(json.dumps({"os": "linux", "n": self.rng.random()}).encode())
        own = [self.random_blob() for _ in range(layers)]
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "digest": config, "size": 1},
            "layers": [{"mediaType": LAYER, "digest": d, "size": 1} for d in [base, *own]],
        }
        digest = self.blob(json.dumps(manifest).encode())
        self.layer_links(repo, [config, base, *own])
        return digest, [digest, config, *own]

    def tag(self, repo: str, tag: str, digest: str) -> None:
        self.link(repo, "_manifests/revisions", digest)
        tags = f"repositories/{repo}/_manifests/tags/{tag}"
        self.out.files[f"{tags}/current/link"] = digest.encode()
        self.out.files[f"{tags}/index/sha256/{_hex(digest)}/link"] = digest.encode()

    def upload(self, repo: str) -> None:
        uid = "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}".format(
            *(self.rng.getrandbits(bits) for bits in (32, 16, 12, 12, 48))
        )
        folder = f"repositories/{repo}/_uploads/{uid}"
        self.out.files[f"{folder}/startedat"] = b"2026-01-01T00:00:00Z"
        self.out.files[f"{folder}/data"] = self.rng.randbytes(100)
        self.out.files[f"{folder}/hashstates/sha256/0"] = self.rng.randbytes(108)


def generate(repositories: int, seed: int = 1) -> Generated:
    """A tree of ``repositories`` repositories (150 gives ~3,600 kept blobs, ~17,000 files)."""
    w = _Writer(seed)
    bases = [w.random_blob() for _ in range(BASE_LAYERS)]
    for number in range(repositories):
        repo = f"team{number % 10}/app{number}"
        for t in range(TAGGED):
            base = w.rng.choice(bases)
            digest, blobs = w.image(repo, base, 3)
            w.tag(repo, f"v{t}", digest)
            w.out.kept.update([*blobs, base])
        children = {}
        for arch in ("amd64", "arm64"):
            base = w.rng.choice(bases)
            digest, blobs = w.image(repo, base, 2)
            w.link(repo, "_manifests/revisions", digest)
            children[arch] = digest
            w.out.kept.update([*blobs, base])
        index = {
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [
                {
                    "mediaType": MANIFEST,
                    "digest": d,
                    "size": 1,
                    "platform": {"os": "linux", "architecture": a},
                }
                for a, d in children.items()
            ],
        }
        index_digest = w.blob(json.dumps(index).encode())
        w.tag(repo, "multi", index_digest)
        w.out.kept.add(index_digest)
        for _ in range(DELETED):
            # Deleted by digest: the revision link and tag are gone, blobs and layer links stay.
            base = w.rng.choice(bases)
            _, blobs = w.image(repo, base, 2)
            w.out.garbage.update([*blobs, base])
        for _ in range(ORPHANS):
            digest = w.random_blob()
            w.layer_links(repo, [digest])
            w.out.garbage.add(digest)
        for _ in range(UPLOADS):
            w.upload(repo)
    w.out.garbage -= w.out.kept
    return w.out
