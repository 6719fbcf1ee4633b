"""S3: regstore's s3 driver, raw boto3, s3fs and obstore against the same server.

Baseline: raw boto3 (``put_object``/``get_object``; ``upload_fileobj`` with
its default transfer configuration, 8 MiB parts and 10 threads; the
``list_objects_v2`` paginator; ``delete_objects`` in batches of 1,000).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from typing import Any

import regstore

from .backend import Backend
from .clients import ChunkStream, Client, RegstoreClient
from .fsspecs import FsspecClient
from .objectstores import ObstoreClient

__all__ = ["S3Server", "s3_backend"]

#: The key prefix every contender works under.
ROOT = "bench"


@dataclass(frozen=True)
class S3Server:
    """Where an S3 server listens and the keys it takes."""

    name: str  # "moto" or "radosgw"
    endpoint: str
    access_key: str
    secret_key: str


def _boto(server: S3Server) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32),
    )


class RawBoto3(Client):
    """boto3 calls as a user of the SDK writes them."""

    label = "raw boto3"
    role = "baseline"
    populate_threads = 32

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.s3 = client
        self.bucket = bucket
        self.prefix = prefix

    def _k(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self._k(rel), Body=data)

    def get(self, rel: str) -> bytes:
        data: bytes = self.s3.get_object(Bucket=self.bucket, Key=self._k(rel))["Body"].read()
        return data

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        self.s3.upload_fileobj(ChunkStream(block, size), self.bucket, self._k(rel))

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        body = self.s3.get_object(Bucket=self.bucket, Key=self._k(rel))["Body"]
        total = 0
        with body:
            while n := body.readinto(buffer):
                total += n
        return total

    def list(self, rel: str) -> int:
        found = 0
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._k(rel) + "/", Delimiter="/"
        )
        for page in pages:
            found += len(page.get("Contents", ())) + len(page.get("CommonPrefixes", ()))
        return found

    def walk(self, rel: str) -> int:
        found = 0
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._k(rel) + "/"
        )
        for page in pages:
            found += len(page.get("Contents", ()))
        return found

    def delete(self, rel: str) -> None:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._k(rel) + "/"
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})


S3FS_NOTE = (
    "s3fs {version}: later s3fs needs aiobotocore, which pins a botocore older than the one"
    " regstore-s3 is tested with. Not timed on the 10,000-key cases: its find lists one"
    " directory per request (about a minute for 2,000 registry-shaped keys on moto)"
)


def _s3fs(server: S3Server, bucket: str) -> Client:
    import s3fs

    fs = s3fs.S3FileSystem(
        key=server.access_key,
        secret=server.secret_key,
        client_kwargs={"endpoint_url": server.endpoint, "region_name": "us-east-1"},
        config_kwargs={"s3": {"addressing_style": "path"}},
    )
    peer = FsspecClient(fs, f"{bucket}/{ROOT}", "s3fs", S3FS_NOTE.format(version=s3fs.__version__))
    peer.scale_limit = 2_000
    return peer


def s3_backend(label: str, server: S3Server) -> Backend:
    """The contenders over a fresh bucket, all under one key prefix; baseline first."""
    raw = _boto(server)
    bucket = f"bench-{secrets.token_hex(6)}"
    raw.create_bucket(Bucket=bucket)
    parameters = {
        "regionendpoint": server.endpoint,
        "accesskey": server.access_key,
        "secretkey": server.secret_key,
        "bucket": bucket,
    }
    made: list[Client] = [
        RawBoto3(raw, bucket, ROOT),
        RegstoreClient(regstore.create("s3", {**parameters, "rootdirectory": ROOT})),
    ]
    with contextlib.suppress(ImportError):
        made.append(_s3fs(server, bucket))
    with contextlib.suppress(ImportError):
        from obstore.store import S3Store

        store = S3Store(
            bucket,
            endpoint=server.endpoint,
            access_key_id=server.access_key,
            secret_access_key=server.secret_key,
            region="us-east-1",
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )
        made.append(ObstoreClient(store, ROOT))

    def remove() -> None:
        from regstore_s3.testing import empty_bucket

        empty_bucket(raw, bucket)
        raw.delete_bucket(Bucket=bucket)

    return Backend(label, made, parameters=dict(parameters, rootdirectory="rss"), remove=remove)
