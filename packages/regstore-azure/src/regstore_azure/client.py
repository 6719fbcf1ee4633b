"""The SDK client for a configuration: credentials, retry policy, transfer sizes."""

from __future__ import annotations

from typing import Any

from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.storage.blob import BlobServiceClient

from .config import AzureConfig, ClientSecret, DefaultCredentials, SasToken, SharedKey
from .retrying import ThrottleAwareRetry

__all__ = ["DOWNLOAD_CHUNK", "build_service_client", "close_credential"]

MiB = 1 << 20
#: Readers fetch ranges of this size one after another, so memory stays bounded.
DOWNLOAD_CHUNK = 4 * MiB


def build_credential(config: AzureConfig) -> Any:
    """The azure-core credential for the configured auth (azure-identity is imported lazily)."""
    auth = config.auth
    if isinstance(auth, SharedKey):
        return AzureNamedKeyCredential(config.account_name, auth.account_key)
    if isinstance(auth, SasToken):
        return AzureSasCredential(auth.token)
    from azure.identity import ClientSecretCredential, DefaultAzureCredential

    if isinstance(auth, ClientSecret):
        return ClientSecretCredential(auth.tenant_id, auth.client_id, auth.secret)
    assert isinstance(auth, DefaultCredentials)
    return DefaultAzureCredential()


def build_service_client(config: AzureConfig, credential: Any) -> BlobServiceClient:
    """A service client whose retries follow ``max_retries`` and ``retry_delay``.

    The SDK's exponential policy waits ``retry_delay + 2**n`` seconds before retry
    ``n`` (give or take ``retry_delay``), or longer when the service's
    ``Retry-After`` asks for it, and gives up after ``max_retries`` retries; 429
    answers are retried like 503.
    """
    retry = ThrottleAwareRetry(
        initial_backoff=config.retry_delay,  # type: ignore[arg-type]  # seconds, float is fine
        increment_base=2,
        retry_total=config.max_retries,
        retry_connect=config.max_retries,
        retry_read=config.max_retries,
        retry_status=config.max_retries,
        random_jitter_range=config.retry_delay,  # type: ignore[arg-type]
    )
    return BlobServiceClient(
        account_url=config.service_url,
        credential=credential,
        retry_policy=retry,
        connection_verify=not config.skip_verify,
        max_single_get_size=DOWNLOAD_CHUNK,
        max_chunk_get_size=DOWNLOAD_CHUNK,
    )


def close_credential(credential: Any) -> None:
    """Close a token credential's HTTP session (key and SAS credentials have none)."""
    close = getattr(credential, "close", None)
    if callable(close):
        close()
