"""The Azure driver's test backend: Azurite, a fresh container per store.

Found through the ``regstore.testing`` entry point group (see ``regstore.testsuite.backends``);
only tests import it, and the Azure SDK only when a store is opened.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from regstore.testsuite.backends import Credentials, FaultRoute, Store, TestBackend

__all__ = ["backends", "connection_fields", "fresh_container"]

MiB = 1 << 20
WRONG_ACCOUNT_KEY = base64.b64encode(b"regstore-wrong-account-key-0123456789").decode()
#: Retry settings for tests that provoke failures: give up after one quick retry.
FAST_FAILURE = {"max_retries": 1, "retry_delay": "10ms"}


def connection_fields(connection_string: str) -> dict[str, str]:
    """The ``Name=value`` fields of an Azure storage connection string."""
    return dict(
        part.split("=", 1) for part in connection_string.strip(";").split(";") if "=" in part
    )


def fresh_container(service: Any, prefix: str = "t") -> Any:
    """A new container under a unique name, as a ``ContainerClient``.

    A create whose first answer was lost (a busy Azurite) is retried by the SDK
    and answers 409; the name is unique, so the container that exists is ours.
    """
    from azure.core.exceptions import ResourceExistsError

    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    try:
        return service.create_container(name)
    except ResourceExistsError:
        return service.get_container_client(name)


def remove_container(container: Any) -> None:
    """Delete a test's container; one already gone counts as deleted.

    A delete whose first answer was lost (a busy Azurite) is retried by the SDK
    and answers 404 although the first request removed the container.
    """
    from azure.core.exceptions import ResourceNotFoundError

    with contextlib.suppress(ResourceNotFoundError):
        container.delete_container()


@contextmanager
def _azurite(env: Mapping[str, str], workdir: Path) -> Iterator[Store]:
    from azure.storage.blob import BlobServiceClient

    connection_string = env["REGSTORE_TEST_AZURITE_CONNECTION_STRING"]
    fields = connection_fields(connection_string)
    endpoint = env["REGSTORE_TEST_AZURITE_ENDPOINT"].rsplit("/", 1)[0]
    service = BlobServiceClient.from_connection_string(connection_string)
    container = fresh_container(service, "rs")

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
        yield Store(
            "azure",
            {
                "connectionstring": connection_string,
                "container": container.container_name,
                "rootdirectory": "registry",
            },
            leftovers=leftovers,
            secrets=(fields["AccountKey"],),
            endpoint=endpoint,
        )
    finally:
        with contextlib.suppress(Exception):
            container.delete_container()
        service.close()


def _wrong_key(store: Store) -> Credentials:
    fields = connection_fields(store.parameters["connectionstring"])
    fields["AccountKey"] = WRONG_ACCOUNT_KEY
    wrong = ";".join(f"{name}={value}" for name, value in fields.items())
    return Credentials({"connectionstring": wrong}, (WRONG_ACCOUNT_KEY,))


def _shared_access_signature(store: Store) -> list[Credentials]:
    """The same account through an account SAS token instead of the key."""
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    fields = connection_fields(store.parameters["connectionstring"])
    sas = generate_account_sas(
        fields["AccountName"],
        fields["AccountKey"],
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(
            read=True, write=True, delete=True, list=True, add=True, create=True
        ),
        expiry="2099-01-01T00:00:00Z",
    )
    signature = dict(part.split("=", 1) for part in sas.split("&"))["sig"]
    endpoint = f"AccountName={fields['AccountName']};BlobEndpoint={fields['BlobEndpoint']}"
    connection = f"{endpoint};SharedAccessSignature={sas}"
    return [Credentials({"connectionstring": connection}, (signature,))]


def backends() -> list[TestBackend]:
    """Azure Blob Storage on Azurite."""
    return [
        TestBackend(
            name="azure-azurite",
            title="AzureAzurite",
            driver="azure",
            open=_azurite,
            emulators=("azurite",),
            variables=(
                "REGSTORE_TEST_AZURITE_ENDPOINT",
                "REGSTORE_TEST_AZURITE_CONNECTION_STRING",
            ),
            part_size=4 * MiB,
            preload=("azure.storage.blob", "regstore_azure.driver"),
            # Retry 5 times, the first after 0.1 s: a 10% fault rate is then mostly absorbed.
            faults=FaultRoute(
                "azure",
                tuning={"max_retries": 5, "retry_delay": "100ms"},
                give_up_soon={"max_retries": 2},
            ),
            bucket_parameter="container",
            numeric_parameter="max_retries",
            fast_failure=FAST_FAILURE,
            fuzzed_parameters=("rootdirectory", "max_retries", "retry_delay", "skipverify"),
            wrong_credentials=_wrong_key,
            credential_variants=_shared_access_signature,
        ),
    ]
