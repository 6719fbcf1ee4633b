"""Fixtures for the azure driver's tests: Azurite, one fresh container per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure_helpers import ROOT, DriverFactory, Interceptor

import regstore
from regstore import StorageDriver
from testenv import backend_env, fresh_container, remove_container

# The robustness suites' fault-injecting proxy (``faults.proxy``), shared by every driver.
SHARED_TESTS = str(Path(__file__).resolve().parents[3] / "shared-tests")
if SHARED_TESTS not in sys.path:
    sys.path.append(SHARED_TESTS)

from faults.proxy import FaultProxy  # noqa: E402


@pytest.fixture
def azurite() -> dict[str, str]:
    """Azurite's endpoint (``.../devstoreaccount1``) and connection string."""
    env = backend_env("azurite")
    return {
        "endpoint": env["REGSTORE_TEST_AZURITE_ENDPOINT"],
        "connection_string": env["REGSTORE_TEST_AZURITE_CONNECTION_STRING"],
    }


@pytest.fixture
def account_key(azurite: dict[str, str]) -> str:
    """Azurite's well-known development account key, read from the connection string."""
    fields = dict(part.split("=", 1) for part in azurite["connection_string"].split(";") if part)
    return fields["AccountKey"]


@pytest.fixture
def service(azurite: dict[str, str]) -> Iterator[BlobServiceClient]:
    """An SDK client for looking at what the driver stored."""
    with BlobServiceClient.from_connection_string(azurite["connection_string"]) as client:
        yield client


@pytest.fixture
def container(service: BlobServiceClient) -> Iterator[ContainerClient]:
    """A fresh, empty container, deleted after the test."""
    client = fresh_container(service, "az")
    yield client
    remove_container(client)


@pytest.fixture
def params(azurite: dict[str, str], account_key: str, container: ContainerClient) -> dict[str, Any]:
    """Shared-key parameters for the fresh container, as a registry configuration gives them."""
    return {
        "accountname": "devstoreaccount1",
        "accountkey": account_key,
        "container": container.container_name,
        "serviceurl": azurite["endpoint"],
    }


@pytest.fixture
def make_driver(params: dict[str, Any]) -> Iterator[DriverFactory]:
    """Build drivers over the fresh container; extra keyword arguments override parameters."""
    made: list[StorageDriver] = []

    def make(**overrides: Any) -> StorageDriver:
        driver = regstore.create("azure", {**params, **overrides})
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()


@pytest.fixture
def driver(make_driver: DriverFactory) -> StorageDriver:
    """A driver over the fresh container, with a rootdirectory."""
    return make_driver(rootdirectory=f"/{ROOT}/")


@pytest.fixture
def interceptor(azurite: dict[str, str]) -> Iterator[Interceptor]:
    """An ``Interceptor`` in front of Azurite, closed after the test."""
    proxy = Interceptor(azurite["endpoint"])
    yield proxy
    proxy.close()


@pytest.fixture
def fault_proxy(azurite: dict[str, str]) -> Iterator[FaultProxy]:
    """The fault-injecting proxy in front of Azurite, faultless until a test sets its plan.

    The driver reaches it with ``serviceurl=proxy.url + "/devstoreaccount1"``.
    """
    upstream, _, _ = azurite["endpoint"].rpartition("/")
    with FaultProxy(upstream, dialect="azure") as proxy:
        yield proxy
