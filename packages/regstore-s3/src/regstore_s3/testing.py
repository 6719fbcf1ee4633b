"""The S3 driver's test backends: moto and Ceph radosgw, a fresh bucket and root per store.

Found through the ``regstore.testing`` entry point group (see ``regstore.testsuite.backends``);
only tests import it, and boto3 only when a store is opened.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from regstore.testsuite.backends import Credentials, FaultRoute, Store, TestBackend

__all__ = ["admin_client", "backends", "empty_bucket"]

MiB = 1 << 20
#: Credentials for moto, which accepts any: distinctive, so a leak is easy to spot.
MOTO_ACCESS_KEY = "AKIAREGSTOREROBUST01"
MOTO_SECRET_KEY = "rs-moto-secret-" + "Qx7Vb2Lm9Zt4Wk1"
#: A secret radosgw refuses: it must not show in the refusal either.
WRONG_SECRET_KEY = "rs-wrong-secret-" + "Hj3Kq9Lp2Mz8Nx4"

#: Parameters the hostile-input tests may fuzz (never the endpoint or the credentials).
FUZZED = (
    "region",
    "sessiontoken",
    "encrypt",
    "keyid",
    "secure",
    "skipverify",
    "v4auth",
    "chunksize",
    "multipartcopychunksize",
    "multipartcopymaxconcurrency",
    "multipartcopythresholdsize",
    "rootdirectory",
    "storageclass",
    "objectacl",
    "useragent",
    "loglevel",
    "redirectendpoint",
)


def admin_client(connection: Mapping[str, Any]) -> Any:
    """A plain boto3 client on the same endpoint and credentials, to set up and inspect."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=connection["regionendpoint"],
        region_name="us-east-1",
        aws_access_key_id=connection["accesskey"],
        aws_secret_access_key=connection["secretkey"],
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
    )


def empty_bucket(client: Any, bucket: str) -> None:
    """Abort every multipart upload and delete every object of ``bucket``."""
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", ()):
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


@contextmanager
def _store(connection: dict[str, str]) -> Iterator[Store]:
    """A new bucket with a fresh root in it; emptied and removed afterwards."""
    client = admin_client(connection)
    bucket = f"rs{uuid.uuid4().hex[:16]}"
    root = f"root{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)

    def leftovers() -> list[str]:
        found: list[str] = []
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{root}/~")
        for page in pages:
            found.extend(f"object {item['Key']}" for item in page.get("Contents", ()))
        pages = client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, Prefix=f"{root}/"
        )
        for page in pages:
            found.extend(f"multipart upload {item['Key']}" for item in page.get("Uploads", ()))
        return found

    try:
        yield Store(
            "s3",
            {**connection, "bucket": bucket, "rootdirectory": root, "chunksize": 5 * MiB},
            leftovers=leftovers,
            secrets=(connection["secretkey"], connection["accesskey"]),
            endpoint=connection["regionendpoint"],
        )
    finally:
        with contextlib.suppress(Exception):
            empty_bucket(client, bucket)
            client.delete_bucket(Bucket=bucket)


def moto_connection(env: Mapping[str, str]) -> dict[str, str]:
    """Endpoint and (distinctive, unchecked) credentials of a running moto."""
    return {
        "regionendpoint": env["REGSTORE_TEST_MOTO_ENDPOINT"],
        "accesskey": MOTO_ACCESS_KEY,
        "secretkey": MOTO_SECRET_KEY,
    }


def rgw_connection(env: Mapping[str, str]) -> dict[str, str]:
    """Endpoint and the user's credentials of a running radosgw."""
    return {
        "regionendpoint": env["REGSTORE_TEST_RGW_ENDPOINT"],
        "accesskey": env["REGSTORE_TEST_RGW_ACCESS_KEY"],
        "secretkey": env["REGSTORE_TEST_RGW_SECRET_KEY"],
    }


@contextmanager
def _moto(env: Mapping[str, str], workdir: Path) -> Iterator[Store]:
    with _store(moto_connection(env)) as store:
        yield store


@contextmanager
def _rgw(env: Mapping[str, str], workdir: Path) -> Iterator[Store]:
    with _store(rgw_connection(env)) as store:
        yield store


def _wrong_secret(store: Store) -> Credentials:
    return Credentials({"secretkey": WRONG_SECRET_KEY}, (WRONG_SECRET_KEY,))


def backends() -> list[TestBackend]:
    """S3 on moto (fast, lenient) and on Ceph radosgw (a real server, checks signatures)."""
    common: dict[str, Any] = {
        "driver": "s3",
        "part_size": 5 * MiB,
        "preload": ("boto3", "botocore", "regstore_s3.driver"),
        "faults": FaultRoute("s3"),
        "bucket_parameter": "bucket",
        "numeric_parameter": "chunksize",
        "fuzzed_parameters": FUZZED,
    }
    return [
        TestBackend(
            name="s3-moto",
            title="S3Moto",
            open=_moto,
            emulators=("moto",),
            variables=("REGSTORE_TEST_MOTO_ENDPOINT",),
            **common,
        ),
        TestBackend(
            name="s3-rgw",
            title="S3Radosgw",
            open=_rgw,
            emulators=("rgw",),
            variables=(
                "REGSTORE_TEST_RGW_ENDPOINT",
                "REGSTORE_TEST_RGW_ACCESS_KEY",
                "REGSTORE_TEST_RGW_SECRET_KEY",
            ),
            wrong_credentials=_wrong_secret,
            **common,
        ),
    ]
