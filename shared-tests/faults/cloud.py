"""Cloud targets: a fresh bucket or container on a running emulator, removed afterwards.

The SDKs are imported only here, when a cloud target is opened, so the
filesystem suites run on a core-only install. Credentials are made distinctive
(moto accepts any; the GCS service-account key is generated here) so the
secrets tests can search for them.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any

import pytest

from testenv import backend_env, fresh_container, unique_name

from .targets import MiB, Target

__all__ = ["OPENERS", "service_account"]

#: Credentials for moto, which accepts any: distinctive, so a leak is easy to spot.
MOTO_ACCESS_KEY = "AKIAREGSTOREROBUST01"
MOTO_SECRET_KEY = "rs-moto-secret-" + "Qx7Vb2Lm9Zt4Wk1"


def _s3_admin(parameters: dict[str, Any]) -> Any:
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=parameters["regionendpoint"],
        region_name="us-east-1",
        aws_access_key_id=parameters["accesskey"],
        aws_secret_access_key=parameters["secretkey"],
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
    )


@contextmanager
def _s3(label: str) -> Iterator[Target]:
    pytest.importorskip("regstore_s3")
    backend = label.split("-", 1)[1]
    env = backend_env(backend)
    if backend == "moto":
        connection = {
            "regionendpoint": env["REGSTORE_TEST_MOTO_ENDPOINT"],
            "accesskey": MOTO_ACCESS_KEY,
            "secretkey": MOTO_SECRET_KEY,
        }
    else:
        connection = {
            "regionendpoint": env["REGSTORE_TEST_RGW_ENDPOINT"],
            "accesskey": env["REGSTORE_TEST_RGW_ACCESS_KEY"],
            "secretkey": env["REGSTORE_TEST_RGW_SECRET_KEY"],
        }
    client = _s3_admin(connection)
    bucket = unique_name("rob")
    root = unique_name("root")
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
        yield Target(
            label,
            "s3",
            {**connection, "bucket": bucket, "rootdirectory": root, "chunksize": 5 * MiB},
            leftovers=leftovers,
            part_size=5 * MiB,
            secrets=(connection["secretkey"], connection["accesskey"]),
            endpoint=connection["regionendpoint"],
        )
    finally:
        with contextlib.suppress(Exception):
            _empty_s3_bucket(client, bucket)
            client.delete_bucket(Bucket=bucket)


def _empty_s3_bucket(client: Any, bucket: str) -> None:
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
def _azure(label: str) -> Iterator[Target]:
    pytest.importorskip("regstore_azure")
    from azure.storage.blob import BlobServiceClient

    env = backend_env("azurite")
    connection_string = env["REGSTORE_TEST_AZURITE_CONNECTION_STRING"]
    fields = dict(
        part.split("=", 1) for part in connection_string.strip(";").split(";") if "=" in part
    )
    endpoint = env["REGSTORE_TEST_AZURITE_ENDPOINT"].rsplit("/", 1)[0]
    service = BlobServiceClient.from_connection_string(connection_string)
    container = fresh_container(service, "rob")
    root = "registry"

    def leftovers() -> list[str]:
        committed = {blob.name for blob in container.list_blobs()}
        found: list[str] = []
        for blob in container.list_blobs(include=["uncommittedblobs"]):
            if "~" in blob.name or blob.name not in committed:
                found.append(blob.name)
                continue
            _, blocks = container.get_blob_client(blob.name).get_block_list("uncommitted")
            if blocks:
                found.append(f"{blob.name} ({len(blocks)} uncommitted blocks)")
        return found

    try:
        yield Target(
            label,
            "azure",
            {
                "connectionstring": connection_string,
                "container": container.container_name,
                "rootdirectory": root,
            },
            leftovers=leftovers,
            part_size=4 * MiB,
            secrets=(fields["AccountKey"],),
            endpoint=endpoint,
        )
    finally:
        with contextlib.suppress(Exception):
            container.delete_container()
        service.close()


@lru_cache(maxsize=1)
def service_account() -> dict[str, str]:
    """A service-account key that exists nowhere but here (the emulators do not check it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "regstore-robust",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": "regstore-robust@regstore-robust.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def private_key_secrets(account: dict[str, str]) -> tuple[str, ...]:
    """The key id and every base64 line of the PEM body: none may leak."""
    lines = [
        line
        for line in account["private_key"].splitlines()
        if line and not line.startswith("-----") and len(line) >= 40
    ]
    return (account["private_key_id"], *lines)


@contextmanager
def _gcs(label: str) -> Iterator[Target]:
    pytest.importorskip("regstore_gcs")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    backend = label.split("-", 1)[1]
    endpoint = next(iter(backend_env(backend).values())).rstrip("/")
    admin = storage.Client(
        project="test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )
    bucket = admin.create_bucket(unique_name("rob"))
    root = "registry"
    account = service_account()

    def leftovers() -> list[str]:
        return [blob.name for blob in bucket.list_blobs(prefix=f"{root}/~")]

    try:
        yield Target(
            label,
            "gcs",
            {
                "bucket": bucket.name,
                "rootdirectory": root,
                "chunksize": 256 * 1024,
                "credentials": account,
            },
            env={"STORAGE_EMULATOR_HOST": endpoint},
            leftovers=leftovers,
            part_size=256 * 1024,
            secrets=private_key_secrets(account),
            endpoint=endpoint,
        )
    finally:
        with contextlib.suppress(Exception):
            bucket.delete(force=True)


OPENERS: dict[str, Callable[[str], AbstractContextManager[Target]]] = {
    "s3-moto": _s3,
    "s3-rgw": _s3,
    "azure-azurite": _azure,
    "gcs-fakegcs": _gcs,
    "gcs-gcpemu": _gcs,
}
