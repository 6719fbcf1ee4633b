"""Fixtures for the S3 driver's own tests: each runs on moto and on Ceph radosgw.

A backend gets one bucket per session; every test a fresh ``rootdirectory``
in it, cleaned afterwards through a raw boto3 client (which is also how tests
look at what the driver left in the bucket).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from s3_helpers import CHUNK, Backend, connection, raw_client, wipe

import regstore
from testenv import unique_name


@pytest.fixture(scope="session", params=["moto", "rgw"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    name: str = request.param
    conn = connection(name)
    client = raw_client(conn)
    bucket = unique_name("s3tests")
    client.create_bucket(Bucket=bucket)
    yield Backend(name, conn, bucket, client)
    with contextlib.suppress(Exception):
        wipe(client, bucket, "")
        client.delete_bucket(Bucket=bucket)


@pytest.fixture
def root(backend: Backend) -> Iterator[str]:
    """A fresh rootdirectory; whatever a test leaves below it is removed afterwards."""
    name = unique_name("root")
    yield name
    wipe(backend.client, backend.bucket, name + "/")


@pytest.fixture
def parameters(backend: Backend, root: str) -> dict[str, Any]:
    return backend.parameters(rootdirectory=root, chunksize=CHUNK)


@pytest.fixture
def driver(parameters: dict[str, Any]) -> Iterator[regstore.StorageDriver]:
    with regstore.create("s3", parameters) as driver:
        yield driver


@pytest.fixture
def calls(driver: regstore.StorageDriver) -> Callable[[str], list[dict[str, Any]]]:
    """``calls("UploadPart")``: the parameters of every such S3 call the driver made so far."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, dict(params)))

    inner: Any = getattr(driver, "inner", driver)
    inner.client.meta.events.register("before-parameter-build.s3", record)
    return lambda operation: [params for name, params in seen if name == operation]
