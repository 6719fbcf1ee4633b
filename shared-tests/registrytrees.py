"""A registry store the tests can copy and read back: a filesystem folder or an S3 prefix.

``Store`` gives the ``storage`` section for a registry ``config.yml``, a regstore
driver over the same content, a byte-exact copy to another store of its kind,
and ``Tree``: what is left under ``/docker/registry/v2``, by the units the
garbage collector deletes (blob dirs, revision links, tag links, layer links).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from goregistry import filesystem_storage, rgw_connection, s3_storage

import regstore
from regstore_s3.testing import empty_bucket
from testenv import unique_name

__all__ = ["Store", "Tree", "raw_s3_client"]

V2 = "docker/registry/v2"


def raw_s3_client(connection: Mapping[str, str], pool: int = 32) -> Any:
    """A plain boto3 client for the S3 server in ``connection`` (path style)."""
    return boto3.client(
        "s3",
        endpoint_url=connection["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=connection["accesskey"],
        aws_secret_access_key=connection["secretkey"],
        config=Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard"},
            max_pool_connections=pool,
        ),
    )


@dataclass(frozen=True)
class Tree:
    """The registry content in a store, by collector unit, relative to ``/docker/registry/v2``."""

    blobs: frozenset[str]  # blob digests whose ``data`` exists
    revisions: frozenset[tuple[str, str]]  # (repo, digest) with a revision ``link``
    tags: frozenset[tuple[str, str]]  # (repo, tag) with a ``current/link``
    tag_index: frozenset[tuple[str, str, str]]  # (repo, tag, digest) history entries
    layers: frozenset[tuple[str, str]]  # (repo, digest) ``_layers`` links
    uploads: frozenset[tuple[str, str]]  # (repo, upload id) with any file
    other: frozenset[str]  # any file the above do not explain

    @classmethod
    def from_files(cls, files: Iterable[str]) -> Tree:
        """Sort file paths (relative to ``/docker/registry/v2``) into the collector's units."""
        found: dict[str, set[Any]] = {
            key: set() for key in ("blobs", "revisions", "tags", "tag_index", "layers", "uploads")
        }
        other: set[str] = set()
        for path in files:
            parts = path.split("/")
            if parts[0] == "blobs" and len(parts) == 5 and parts[4] == "data":
                found["blobs"].add(f"{parts[1]}:{parts[3]}")
                continue
            if parts[0] != "repositories":
                other.add(path)
                continue
            marks = [i for i, part in enumerate(parts) if part.startswith("_")]
            if not marks:
                other.add(path)
                continue
            at = marks[0]
            repo, kind, rest = "/".join(parts[1:at]), parts[at], parts[at + 1 :]
            if kind == "_layers" and len(rest) == 3 and rest[2] == "link":
                found["layers"].add((repo, f"{rest[0]}:{rest[1]}"))
            elif kind == "_uploads" and rest:
                found["uploads"].add((repo, rest[0]))
            elif kind == "_manifests" and rest[:1] == ["revisions"] and len(rest) == 4:
                found["revisions"].add((repo, f"{rest[1]}:{rest[2]}"))
            elif kind == "_manifests" and rest[:1] == ["tags"] and rest[2:] == ["current", "link"]:
                found["tags"].add((repo, rest[1]))
            elif kind == "_manifests" and rest[:1] == ["tags"] and len(rest) == 6:
                found["tag_index"].add((repo, rest[1], f"{rest[3]}:{rest[4]}"))
            else:
                other.add(path)
        return cls(
            **{key: frozenset(value) for key, value in found.items()}, other=frozenset(other)
        )

    def collected(self) -> tuple[frozenset[Any], ...]:
        """What the collector decides: blobs, revisions, tags and tag history (not layer links)."""
        return (self.blobs, self.revisions, self.tags, self.tag_index)


class Store:
    """One registry store: ``kind`` ``filesystem`` (``location`` a folder) or ``s3`` (a prefix)."""

    def __init__(
        self,
        kind: str,
        location: str,
        *,
        connection: Mapping[str, str] | None = None,
        bucket: str = "",
    ) -> None:
        self.kind = kind
        self.location = location
        self.connection = dict(connection or {})
        self.bucket = bucket

    def storage(self) -> dict[str, Any]:
        """The ``storage`` section that points a registry at this store."""
        if self.kind == "filesystem":
            return filesystem_storage(Path(self.location))
        return s3_storage(self.connection, self.bucket, "/" + self.location)

    def parameters(self) -> dict[str, Any]:
        """regstore driver parameters for the same content."""
        if self.kind == "filesystem":
            return {"rootdirectory": self.location}
        return {
            "region": "us-east-1",
            "regionendpoint": self.connection["endpoint"],
            "accesskey": self.connection["accesskey"],
            "secretkey": self.connection["secretkey"],
            "bucket": self.bucket,
            "rootdirectory": "/" + self.location,
            "chunksize": 5 << 20,
        }

    def driver(self) -> regstore.StorageDriver:
        """A regstore driver over this store (close it, or use it in a ``with``)."""
        return regstore.create(self.kind, self.parameters())

    def sibling(self, name: str) -> Store:
        """An empty store of the same kind beside this one."""
        if self.kind == "filesystem":
            return Store(self.kind, str(Path(self.location).parent / name))
        return Store(self.kind, name, connection=self.connection, bucket=self.bucket)

    def files(self) -> Iterator[str]:
        """Every file (object) below ``/docker/registry/v2``, relative to it."""
        if self.kind == "filesystem":
            base = Path(self.location) / V2
            for folder, _, names in os.walk(base):
                for name in names:
                    yield (Path(folder) / name).relative_to(base).as_posix()
            return
        prefix = f"{self.location}/{V2}/"
        pages = raw_s3_client(self.connection).get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                yield item["Key"][len(prefix) :]

    def tree(self) -> Tree:
        """The registry content now in this store."""
        return Tree.from_files(self.files())

    def copy_to(self, name: str) -> Store:
        """Copy everything to a new sibling store ``name``, byte for byte; that store."""
        target = self.sibling(name)
        if self.kind == "filesystem":
            shutil.copytree(self.location, target.location, symlinks=True)
            return target
        client = raw_s3_client(self.connection)
        source_prefix, target_prefix = f"{self.location}/", f"{target.location}/"

        def copy(key: str) -> None:
            client.copy_object(
                Bucket=self.bucket,
                Key=target_prefix + key[len(source_prefix) :],
                CopySource={"Bucket": self.bucket, "Key": key},
            )

        keys = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=source_prefix
            )
            for item in page.get("Contents", ())
        ]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(copy, keys))
        return target

    def key(self, relative: str) -> str:
        """The driver path of ``relative`` (below ``/docker/registry/v2``)."""
        return f"/{V2}/{relative}"


@contextlib.contextmanager
def empty_store(kind: str, tmp_path: Path, name: str) -> Iterator[Store]:
    """An empty store ``name``: a folder, or a prefix of a fresh radosgw bucket removed after."""
    if kind == "filesystem":
        yield Store("filesystem", str(tmp_path / name))
        return
    connection = rgw_connection()
    client = raw_s3_client(connection)
    bucket = unique_name(name)
    client.create_bucket(Bucket=bucket)
    try:
        yield Store("s3", name, connection=connection, bucket=bucket)
    finally:
        with contextlib.suppress(Exception):
            empty_bucket(client, bucket)
            client.delete_bucket(Bucket=bucket)
