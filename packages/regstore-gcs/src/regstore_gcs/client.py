"""Build the storage client, its retry policy and the URL signer from the parameters.

With ``STORAGE_EMULATOR_HOST`` set (an emulator, scheme included), the client
sends anonymous requests to it: a client built with a service-account key
would first try to fetch a token from Google, which hangs for minutes
offline. The key, when given, still signs redirect URLs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import google.auth
from google.api_core.client_info import ClientInfo
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

from regstore.errors import DriverError, InvalidParameterError

from .__about__ import __version__
from .config import NAME, GCSConfig

__all__ = ["EMULATOR_VARIABLE", "Connection", "connect", "retry_policy"]

EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
SCOPE = "https://www.googleapis.com/auth/devstorage.full_control"
DEFAULT_ENDPOINT = "https://storage.googleapis.com"
#: google's longest wait between two retries (seconds); a longer ``retry_delay`` raises it.
MAX_RETRY_WAIT = 60.0


@dataclass(frozen=True)
class Connection:
    """A ready client, its retry policy, the endpoint, and the credentials that sign URLs."""

    client: storage.Client
    session: AuthorizedSession
    endpoint: str
    signer: service_account.Credentials | None
    emulator: bool
    retry: Retry


def connect(config: GCSConfig, *, pool_size: int) -> Connection:
    """Build a client for ``config``; ``pool_size`` bounds the HTTP connections kept open."""
    signer = _signer(config)
    emulator = os.environ.get(EMULATOR_VARIABLE, "").strip()
    project: str | None = None
    if signer is not None:
        project = config.service_account.get("project_id") if config.service_account else None
    credentials: Credentials
    if emulator:
        if "://" not in emulator:
            emulator = "http://" + emulator
        endpoint = emulator.rstrip("/")
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    else:
        endpoint = DEFAULT_ENDPOINT
        if signer is not None:
            credentials = signer
        else:
            credentials, project = _default_credentials()
    session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    user_agent = config.useragent or f"regstore-gcs/{__version__}"
    client = storage.Client(
        project=project,
        credentials=credentials,
        _http=session,
        client_info=ClientInfo(user_agent=user_agent),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )
    return Connection(client, session, endpoint, signer, bool(emulator), retry_policy(config))


def retry_policy(config: GCSConfig) -> Retry:
    """The SDK's ``DEFAULT_RETRY`` (what it retries) with the configured deadline and first wait.

    The SDK retries by time, not by count: each call is retried until
    ``retry_deadline`` has passed, waiting a random time up to ``retry_delay``
    first and up to twice as long after each failure (at most a minute).
    """
    policy: Retry = DEFAULT_RETRY.with_timeout(config.retry_deadline).with_delay(
        initial=config.retry_delay, maximum=max(MAX_RETRY_WAIT, config.retry_delay)
    )
    return policy


def _signer(config: GCSConfig) -> service_account.Credentials | None:
    if config.service_account is None:
        return None
    parameter = "keyfile" if (config.key_source or "").startswith("keyfile") else "credentials"
    try:
        info = dict(config.service_account)
        credentials: service_account.Credentials = (
            service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[SCOPE]
            )
        )
    except Exception:
        # The parser's message may quote key material: keep it out, say what is wrong.
        raise InvalidParameterError(
            NAME,
            parameter,
            "the service-account key's private_key is not a PEM-encoded RSA private key",
        ) from None
    return credentials


def _default_credentials() -> tuple[Credentials, str | None]:
    try:
        credentials, project = google.auth.default(scopes=[SCOPE])
    except DefaultCredentialsError as exc:
        raise DriverError(
            "no credentials: give keyfile or credentials, or set up Application Default"
            f" Credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud auth): {exc}",
            driver_name=NAME,
        ) from exc
    return credentials, project
