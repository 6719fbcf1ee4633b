"""Real images without a network: OCI image layouts written here, moved by ``skopeo``.

``Layout`` writes an OCI image layout (``oci-layout``, ``index.json``, blobs):
random gzip'd tar layers, configs, image manifests and a multi-platform index.
``push``, ``pull``, ``raw_manifest`` and ``delete`` wrap ``skopeo`` against a
plain-HTTP registry on loopback.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "INDEX",
    "MANIFEST",
    "Descriptor",
    "Layout",
    "delete",
    "pull",
    "push",
    "raw_manifest",
    "sha256",
]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def sha256(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    """A blob written to a layout: digest, size, media type, and for layers the diff ID."""

    digest: str
    size: int
    media_type: str
    diff_id: str = ""

    def json(self) -> dict[str, Any]:
        """The OCI descriptor object."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


class Layout:
    """An OCI image layout directory that images and indexes are written into."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self._refs: dict[str, Descriptor] = {}
        self._write_index()

    def blob(self, data: bytes, media_type: str, diff_id: str = "") -> Descriptor:
        """Store ``data`` as a blob and describe it."""
        digest = sha256(data)
        (self.path / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        return Descriptor(digest, len(data), media_type, diff_id)

    def layer(self, size: int = 2048) -> Descriptor:
        """A fresh layer: a gzip'd tar holding one file of ``size`` random bytes."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(f"file-{os.urandom(6).hex()}")
            info.size = size
            info.mtime = 0
            tar.addfile(info, io.BytesIO(os.urandom(size)))
        tar_bytes = raw.getvalue()
        return self.blob(gzip.compress(tar_bytes, mtime=0), LAYER, sha256(tar_bytes))

    def image(
        self, layers: list[Descriptor], *, arch: str = "amd64", label: str = ""
    ) -> Descriptor:
        """An image manifest over ``layers`` for ``linux/arch`` (``label`` varies the config)."""
        config = {
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": {"revision": label or os.urandom(4).hex()}},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        }
        config_blob = self.blob(json.dumps(config).encode(), CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": config_blob.json(),
            "layers": [layer.json() for layer in layers],
        }
        return self.blob(json.dumps(manifest).encode(), MANIFEST)

    def index(self, children: dict[str, Descriptor]) -> Descriptor:
        """An image index of ``{arch: image manifest}``, all for ``linux``."""
        index = {
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [
                {**child.json(), "platform": {"architecture": arch, "os": "linux"}}
                for arch, child in children.items()
            ],
        }
        return self.blob(json.dumps(index).encode(), INDEX)

    def tag(self, name: str, target: Descriptor) -> None:
        """Name ``target`` in ``index.json`` so ``oci:<dir>:<name>`` finds it."""
        self._refs[name] = target
        self._write_index()

    def _write_index(self) -> None:
        index = {
            "schemaVersion": 2,
            "manifests": [
                {**target.json(), "annotations": {REF_NAME: name}}
                for name, target in sorted(self._refs.items())
            ],
        }
        (self.path / "index.json").write_text(json.dumps(index))


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    command = ["skopeo", "--insecure-policy", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def push(
    layout: Layout,
    tag: str,
    host: str,
    repo: str,
    *,
    docker_schema2: bool = False,
    multi: bool = False,
    dest_tag: str | None = None,
) -> str:
    """Push ``oci:<layout>:<tag>`` to ``host/repo:dest_tag``; the digest the registry stored."""
    digest_file = layout.path / f".digest-{tag}"
    args = ["copy", "--dest-tls-verify=false", "--digestfile", str(digest_file)]
    if docker_schema2:
        args += ["--format", "v2s2"]
    if multi:
        args += ["--multi-arch", "all"]
    args += [f"oci:{layout.path}:{tag}", f"docker://{host}/{repo}:{dest_tag or tag}"]
    _skopeo(*args)
    return digest_file.read_text().strip()


def pull(host: str, repo: str, tag: str, dest: Path, *, multi: bool = False) -> str:
    """Copy ``host/repo:tag`` (all platforms if ``multi``) into an OCI layout; its digest there."""
    dest.mkdir(parents=True, exist_ok=True)
    digest_file = dest.parent / f".{dest.name}-{tag}.digest"
    args = ["copy", "--src-tls-verify=false", "--digestfile", str(digest_file)]
    if multi:
        args += ["--multi-arch", "all"]
    args += [f"docker://{host}/{repo}:{tag}", f"oci:{dest}:{tag}"]
    _skopeo(*args)
    return digest_file.read_text().strip()


def raw_manifest(host: str, reference: str) -> bytes:
    """The manifest bytes the registry serves for ``repo:tag`` or ``repo@digest``."""
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{reference}"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"skopeo inspect {reference} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout


def delete(host: str, repo: str, digest: str) -> None:
    """Delete ``repo@digest`` (the revision link and every tag pointing at it)."""
    _skopeo("delete", "--tls-verify=false", f"docker://{host}/{repo}@{digest}")
