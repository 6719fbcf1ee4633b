"""The azure driver's parameters: the distribution registry's keys, read and checked once.

Secrets (the account key, a client secret, a connection string) live in fields
that ``repr`` leaves out, and no error message ever quotes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from regstore.params import Parameters

__all__ = [
    "KNOWN_KEYS",
    "AzureConfig",
    "ClientSecret",
    "DEFAULT_UPLOAD_CONCURRENCY",
    "DefaultCredentials",
    "GivenCredential",
    "SasToken",
    "SharedKey",
    "parse",
]

KNOWN_KEYS = (
    "accountname",
    "accountkey",
    "container",
    "realm",
    "serviceurl",
    "rootdirectory",
    "credentials",
    "max_retries",
    "retry_delay",
    "skipverify",
    "connectionstring",
    "uploadconcurrency",
)
CREDENTIAL_KEYS = ("type", "tenantid", "clientid", "secret")
CREDENTIAL_TYPES = ("shared_key", "client_secret", "default_credentials")

DEFAULT_REALM = "core.windows.net"
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_DELAY = 0.1  # seconds: Go's "100ms"
#: Blocks one writer stages at once, and server-side copies its commit runs at once.
DEFAULT_UPLOAD_CONCURRENCY = 4
MAX_UPLOAD_CONCURRENCY = 64

# Azure's container naming rules, plus the special root container.
_CONTAINER = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]|\$root")
_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")


@dataclass(frozen=True)
class SharedKey:
    """Shared-key auth with the storage account key."""

    account_key: str = field(repr=False)


@dataclass(frozen=True)
class ClientSecret:
    """A Microsoft Entra application: tenant, client id and client secret."""

    tenant_id: str
    client_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class DefaultCredentials:
    """``DefaultAzureCredential``: environment, workload or managed identity, Azure CLI."""


@dataclass(frozen=True)
class GivenCredential:
    """A token credential object the application passed to the driver."""


@dataclass(frozen=True)
class SasToken:
    """A shared access signature from a connection string."""

    token: str = field(repr=False)


Auth = SharedKey | ClientSecret | DefaultCredentials | GivenCredential | SasToken


@dataclass(frozen=True)
class AzureConfig:
    """Everything the driver needs to reach one container; ``repr`` shows no secret."""

    account_name: str
    container: str
    service_url: str
    root: str
    auth: Auth
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    skip_verify: bool = False
    upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY


def parse(
    parameters: Mapping[str, Any] | None, *, driver_name: str, given_credential: bool = False
) -> AzureConfig:
    """Read the registry's ``storage: azure:`` keys; errors name the driver and the key at fault.

    ``given_credential``: the application passes its own token credential,
    so the parameters must not name one.
    """
    params = Parameters(driver_name, parameters, known=KNOWN_KEYS)
    container = params.string("container", required=True)
    assert container is not None
    if not _CONTAINER.fullmatch(container):
        params.fail(
            "container",
            f"{container!r} is not a container name: 3 to 63 characters of lowercase letters,"
            " digits and single hyphens, starting and ending with a letter or digit",
        )
    realm = params.string("realm", DEFAULT_REALM)
    assert realm is not None
    service_url = params.string("serviceurl")
    if service_url is not None:
        service_url = _check_url(params, "serviceurl", service_url)

    auth: Auth
    if given_credential:
        for key in ("connectionstring", "accountkey", "credentials"):
            if params.has(key):
                params.fail(key, "conflicts with the credential object given to the driver")
        account = params.string("accountname", required=True)
        assert account is not None
        auth = GivenCredential()
    elif params.has("connectionstring"):
        account, url, auth = _from_connection_string(params, realm)
        service_url = service_url or url
    else:
        account = params.string("accountname", required=True)
        assert account is not None
        auth = _credentials(params)
    if not _ACCOUNT.fullmatch(account):
        params.fail(
            "accountname",
            f"{account!r} is not a storage account name: 3 to 24 lowercase letters and digits",
        )
    if service_url is None:
        service_url = f"https://{account}.blob.{realm}"

    max_retries = params.integer("max_retries", DEFAULT_MAX_RETRIES)
    if max_retries < 0:
        params.fail(
            "max_retries",
            f"must be 0 or more, got {max_retries} (0 means the default,"
            f" {DEFAULT_MAX_RETRIES}; regstore always waits for a copy to finish)",
        )
    return AzureConfig(
        account_name=account,
        container=container,
        service_url=service_url,
        root=(params.string("rootdirectory", "") or "").strip("/"),
        auth=auth,
        max_retries=max_retries or DEFAULT_MAX_RETRIES,
        retry_delay=params.duration("retry_delay", DEFAULT_RETRY_DELAY),
        skip_verify=params.boolean("skipverify", False),
        upload_concurrency=params.integer(
            "uploadconcurrency",
            DEFAULT_UPLOAD_CONCURRENCY,
            minimum=1,
            maximum=MAX_UPLOAD_CONCURRENCY,
        ),
    )


def _check_url(params: Parameters, key: str, url: str, what: str = "") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        params.fail(
            key,
            f"{what}must be an http or https URL of the blob service without a query,"
            " e.g. https://myaccount.blob.core.windows.net",
        )
    return url.rstrip("/")


def _credentials(params: Parameters) -> Auth:
    raw = params.raw("credentials")
    account_key = params.string("accountkey")
    if raw is None:
        if account_key is None:
            params.fail(
                "credentials",
                "no credentials given: set accountkey (shared key), credentials.type"
                f" ({', '.join(CREDENTIAL_TYPES)}) or connectionstring",
            )
        return SharedKey(account_key)
    if not isinstance(raw, Mapping):
        params.fail("credentials", f"must be a mapping with a 'type' key, got {type(raw).__name__}")
    nested = Parameters(
        params.driver_name,
        {f"credentials.{key}": value for key, value in raw.items()},
        known=[f"credentials.{key}" for key in CREDENTIAL_KEYS],
    )
    kind = nested.string("credentials.type")
    if kind not in CREDENTIAL_TYPES:
        nested.fail(
            "credentials.type",
            f"must be one of {', '.join(CREDENTIAL_TYPES)}, got {kind!r}",
        )
    if kind == "shared_key":
        if account_key is None:
            params.fail("accountkey", "is required with credentials.type shared_key")
        return SharedKey(account_key)
    if kind == "client_secret":
        tenant = nested.string("credentials.tenantid", required=True)
        client = nested.string("credentials.clientid", required=True)
        secret = nested.string("credentials.secret", required=True)
        assert tenant is not None
        assert client is not None
        assert secret is not None
        return ClientSecret(tenant, client, secret)
    return DefaultCredentials()


def _from_connection_string(params: Parameters, realm: str) -> tuple[str, str, Auth]:
    if params.has("accountkey") or params.has("credentials"):
        params.fail(
            "connectionstring",
            "carries the account and its credentials; give either connectionstring"
            " or accountkey/credentials, not both",
        )
    text = params.string("connectionstring")
    assert text is not None
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    account = fields.get("accountname")
    given = params.string("accountname")
    if account is None:
        if given is None:
            params.fail("connectionstring", "has no AccountName (and no accountname was given)")
        account = given
    elif given is not None and given != account:
        params.fail("accountname", "differs from the AccountName in connectionstring")
    auth: Auth
    if fields.get("accountkey"):
        auth = SharedKey(fields["accountkey"])
    elif fields.get("sharedaccesssignature"):
        auth = SasToken(fields["sharedaccesssignature"].lstrip("?"))
    else:
        params.fail("connectionstring", "has neither AccountKey nor SharedAccessSignature")
    endpoint = fields.get("blobendpoint")
    if endpoint:
        url = _check_url(params, "connectionstring", endpoint, "its BlobEndpoint ")
    else:
        protocol = fields.get("defaultendpointsprotocol", "https")
        suffix = fields.get("endpointsuffix", realm)
        url = f"{protocol}://{account}.blob.{suffix}"
    return account, url, auth
