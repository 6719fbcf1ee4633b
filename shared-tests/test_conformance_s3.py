"""The conformance suite against the S3 driver, on moto and on Ceph radosgw.

Each class gets its own bucket; each test a fresh ``rootdirectory`` in it. The
``leftovers`` check lists what the driver keeps outside the path namespace:
upload state and tail objects under ``~regstore/`` and open multipart uploads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import boto3
import pytest
from botocore.config import Config

import regstore
from regstore.aio.testing import BlockingDriver
from regstore.testsuite import DriverSuite
from testenv import backend_env, unique_name

MiB = 1 << 20


def _connection(backend: str) -> dict[str, str]:
    """Endpoint and credentials of a running backend (skips or fails when it is not running)."""
    env = backend_env(backend)
    if backend == "moto":
        return {
            "regionendpoint": env["REGSTORE_TEST_MOTO_ENDPOINT"],
            "accesskey": "testing",
            "secretkey": "testing",
        }
    return {
        "regionendpoint": env["REGSTORE_TEST_RGW_ENDPOINT"],
        "accesskey": env["REGSTORE_TEST_RGW_ACCESS_KEY"],
        "secretkey": env["REGSTORE_TEST_RGW_SECRET_KEY"],
    }


def _raw_client(connection: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=connection["regionendpoint"],
        region_name="us-east-1",
        aws_access_key_id=connection["accesskey"],
        aws_secret_access_key=connection["secretkey"],
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
    )


def _empty_bucket(client: Any, bucket: str) -> None:
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", ()):
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


class _S3Suite(DriverSuite):
    backend: ClassVar[str]

    @pytest.fixture(scope="class")
    @classmethod
    def bucket_parameters(cls) -> Iterator[dict[str, Any]]:
        connection = _connection(cls.backend)
        client = _raw_client(connection)
        bucket = unique_name("suite")
        client.create_bucket(Bucket=bucket)
        yield {**connection, "bucket": bucket, "chunksize": 5 * MiB}
        with contextlib.suppress(Exception):
            _empty_bucket(client, bucket)
            client.delete_bucket(Bucket=bucket)

    @pytest.fixture
    def parameters(self, bucket_parameters: dict[str, Any]) -> dict[str, Any]:
        return {**bucket_parameters, "rootdirectory": unique_name("root")}

    @pytest.fixture
    def driver(self, parameters: dict[str, Any]) -> Iterator[regstore.StorageDriver]:
        with regstore.create("s3", parameters) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, parameters: dict[str, Any]) -> Iterator[regstore.StorageDriver]:
        with regstore.create("s3", parameters) as driver:
            yield driver

    @pytest.fixture
    def leftovers(self, parameters: dict[str, Any]) -> Callable[[], list[str]]:
        client = _raw_client(parameters)
        bucket, root = parameters["bucket"], parameters["rootdirectory"] + "/"

        def left() -> list[str]:
            found: list[str] = []
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=root + "~regstore/"
            )
            for page in pages:
                found.extend(f"object {item['Key']}" for item in page.get("Contents", ()))
            pages = client.get_paginator("list_multipart_uploads").paginate(
                Bucket=bucket, Prefix=root
            )
            for page in pages:
                found.extend(f"multipart upload {u['Key']}" for u in page.get("Uploads", ()))
            return found

        return left


class TestS3Moto(_S3Suite):
    backend = "moto"


class TestS3Radosgw(_S3Suite):
    backend = "rgw"


class TestS3MotoAsync(TestS3Moto):
    """The suite through ``regstore.aio`` on moto."""

    @pytest.fixture
    def driver(self, parameters: dict[str, Any]) -> Iterator[regstore.StorageDriver]:
        with BlockingDriver.create("s3", parameters) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, parameters: dict[str, Any]) -> Iterator[regstore.StorageDriver]:
        with BlockingDriver.create("s3", parameters) as driver:
            yield driver
