"""The conformance suite against the azure driver on Azurite, sync and through aio.

Each test gets a fresh container from the package's test backend
(``regstore_azure.testing``); the leftovers check lists staging blobs of
pending uploads and blocks staged but never committed.
"""

from __future__ import annotations

from regstore.testsuite.binding import BackendSuite


class TestAzureOnAzurite(BackendSuite):
    backend = "azure-azurite"


class TestAzureOnAzuriteAsync(TestAzureOnAzurite):
    """The suite through ``regstore.aio`` on Azurite."""

    asynchronous = True
