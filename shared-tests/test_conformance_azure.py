"""The conformance suite against the azure driver on Azurite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

import regstore
from regstore.aio.testing import BlockingDriver
from regstore.testsuite import DriverSuite
from testenv import backend_env, fresh_container


class TestAzureOnAzurite(DriverSuite):
    @pytest.fixture
    def container(self) -> Iterator[ContainerClient]:
        env = backend_env("azurite")
        with BlobServiceClient.from_connection_string(
            env["REGSTORE_TEST_AZURITE_CONNECTION_STRING"]
        ) as service:
            client = fresh_container(service, "suite")
            yield client
            client.delete_container()

    @pytest.fixture
    def parameters(self, container: ContainerClient) -> dict[str, str]:
        env = backend_env("azurite")
        return {
            "connectionstring": env["REGSTORE_TEST_AZURITE_CONNECTION_STRING"],
            "container": container.container_name,
            "rootdirectory": "/registry",
        }

    @pytest.fixture
    def driver(self, parameters: dict[str, str]) -> Iterator[regstore.StorageDriver]:
        with regstore.create("azure", parameters) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, parameters: dict[str, str]) -> Iterator[regstore.StorageDriver]:
        with regstore.create("azure", parameters) as driver:
            yield driver

    @pytest.fixture
    def leftovers(self, container: ContainerClient) -> Callable[[], list[str]]:
        """Staging blobs of pending uploads and blocks staged but never committed."""

        def left() -> list[str]:
            committed = {blob.name for blob in container.list_blobs()}
            found: list[str] = []
            for blob in container.list_blobs(include=["uncommittedblobs"]):
                if "~regstore/" in blob.name or blob.name not in committed:
                    found.append(blob.name)
                    continue
                _, blocks = container.get_blob_client(blob.name).get_block_list("uncommitted")
                if blocks:
                    found.append(f"{blob.name} ({len(blocks)} uncommitted blocks)")
            return found

        return left


class TestAzureOnAzuriteAsync(TestAzureOnAzurite):
    """The suite through ``regstore.aio`` on Azurite."""

    @pytest.fixture
    def driver(self, parameters: dict[str, str]) -> Iterator[regstore.StorageDriver]:
        with BlockingDriver.create("azure", parameters) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self, parameters: dict[str, str]) -> Iterator[regstore.StorageDriver]:
        with BlockingDriver.create("azure", parameters) as driver:
            yield driver
