"""S3: regstore's s3 driver, raw boto3, s3fs and obstore against the same server.

Baseline: raw boto3 (``put_object``/``get_object``; ``upload_fileobj`` with
its default transfer configuration, 8 MiB parts and 10 threads; the
``list_objects_v2`` paginator; ``delete_objects`` in batches of 1,000).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import regstore

from .clients import POPULATE_THREADS, ChunkStream, Client, RegstoreClient
from .objectstores import ObstoreClient

__all__ = ["S3Server", "s3_clients"]


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


def _populator(client: Any, bucket: str, prefix: str) -> Any:
    def populate(rels: Iterable[str], data: bytes) -> None:
        def put(rel: str) -> None:
            client.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=data)

        with ThreadPoolExecutor(POPULATE_THREADS * 2) as pool:
            list(pool.map(put, rels))

    return populate


class S3fsClient(Client):
    """s3fs (fsspec) over the same bucket."""

    label = "s3fs"

    def __init__(self, server: S3Server, bucket: str, prefix: str) -> None:
        import s3fs

        self.fs = s3fs.S3FileSystem(
            key=server.access_key,
            secret=server.secret_key,
            client_kwargs={"endpoint_url": server.endpoint, "region_name": "us-east-1"},
            config_kwargs={"s3": {"addressing_style": "path"}},
        )
        self.note = (
            f"s3fs {s3fs.__version__}: later s3fs needs aiobotocore, which pins a botocore"
            " older than the one regstore-s3 is tested with"
        )
        self.base = f"{bucket}/{prefix}"

    def _p(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        with self.fs.open(self._p(rel), "wb") as file:
            file.write(data)

    def get(self, rel: str) -> bytes:
        with self.fs.open(self._p(rel), "rb") as file:
            data: bytes = file.read()
        return data

    def write_stream(self, rel: str, block: bytes, size: int) -> None:
        from .clients import chunks

        with self.fs.open(self._p(rel), "wb") as file:
            for piece in chunks(block, size):
                file.write(piece)

    def read_stream(self, rel: str, buffer: bytearray) -> int:
        total = 0
        with self.fs.open(self._p(rel), "rb") as file:
            while n := file.readinto(buffer):
                total += n
        return total

    def list(self, rel: str) -> int:
        return len(self.fs.ls(self._p(rel), detail=False, refresh=True))

    def walk(self, rel: str) -> int:
        self.fs.invalidate_cache()
        return len(self.fs.find(self._p(rel)))

    def delete(self, rel: str) -> None:
        self.fs.invalidate_cache()
        self.fs.rm(self._p(rel), recursive=True)
        self.fs.invalidate_cache()


def s3_clients(server: S3Server) -> tuple[list[Client], Any, dict[str, Any]]:
    """The contenders over a fresh bucket, a callable removing it, the driver's parameters."""
    raw = _boto(server)
    bucket = f"bench-{secrets.token_hex(6)}"
    raw.create_bucket(Bucket=bucket)
    made: list[Client] = []

    def prefix(name: str) -> str:
        return f"{name}"

    baseline = RawBoto3(raw, bucket, prefix("raw"))
    baseline.populate = _populator(raw, bucket, prefix("raw"))  # type: ignore[method-assign]
    made.append(baseline)
    parameters = {
        "regionendpoint": server.endpoint,
        "accesskey": server.access_key,
        "secretkey": server.secret_key,
        "bucket": bucket,
    }
    driver = regstore.create("s3", {**parameters, "rootdirectory": prefix("regstore")})
    mine = RegstoreClient(driver)
    mine.populate = _populator(raw, bucket, prefix("regstore"))  # type: ignore[method-assign]
    made.append(mine)
    try:
        peer: Client = S3fsClient(server, bucket, prefix("s3fs"))
        peer.populate = _populator(raw, bucket, prefix("s3fs"))  # type: ignore[method-assign]
        made.append(peer)
    except ImportError:
        pass
    try:
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
        peer = ObstoreClient(store, prefix("obstore"))
        peer.populate = _populator(raw, bucket, prefix("obstore"))  # type: ignore[method-assign]
        made.append(peer)
    except ImportError:
        pass

    def remove() -> None:
        for client in made:
            client.close()
        pages = raw.get_paginator("list_multipart_uploads").paginate(Bucket=bucket)
        for page in pages:
            for upload in page.get("Uploads", ()):
                raw.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        for page in raw.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            if keys:
                raw.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        raw.delete_bucket(Bucket=bucket)

    return made, remove, parameters
