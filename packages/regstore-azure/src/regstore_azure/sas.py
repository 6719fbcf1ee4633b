"""Read-only blob URLs: a service SAS (shared key) or a user delegation SAS (token credentials).

They serve ``redirect_url`` and the service's own server-side reads (block
copies at commit, ``move``), which need the source authorised in the URL.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    UserDelegationKey,
    generate_blob_sas,
)

from regstore.errors import DriverError

from .config import AzureConfig, SasToken, SharedKey

__all__ = ["SOURCE_URL_LIFETIME", "UrlSigner"]

#: How long a URL the service itself reads from (copy sources) stays valid.
SOURCE_URL_LIFETIME = timedelta(hours=1)
#: A user delegation key is requested for at least this long and reused until
#: it would expire before the URL it signs.
DELEGATION_KEY_LIFETIME = timedelta(days=1)
#: Azure's limit for a user delegation key (and so for its SAS).
DELEGATION_KEY_MAX = timedelta(days=7)
_SKEW = timedelta(minutes=5)


class UrlSigner:
    """Builds read-only URLs for blobs of one container; thread-safe."""

    def __init__(self, config: AzureConfig, service: BlobServiceClient) -> None:
        self._config = config
        self._service = service
        self._protocol = "https" if config.service_url.startswith("https:") else None
        self._lock = threading.Lock()
        self._delegation: tuple[UserDelegationKey, datetime] | None = None

    @property
    def can_sign(self) -> bool:
        """False with a connection-string SAS: regstore cannot mint narrower ones from it."""
        return not isinstance(self._config.auth, SasToken)

    def read_url(self, name: str, lifetime: timedelta) -> str:
        """A URL that lets anyone GET or HEAD blob ``name`` for ``lifetime``."""
        blob = self._service.get_blob_client(self._config.container, name)
        auth = self._config.auth
        if isinstance(auth, SasToken):
            # Only for the service's own reads; never handed to clients.
            return f"{blob.url}?{auth.token}"
        expiry = datetime.now(timezone.utc) + lifetime
        if isinstance(auth, SharedKey):
            token = generate_blob_sas(
                self._config.account_name,
                self._config.container,
                name,
                account_key=auth.account_key,
                permission=BlobSasPermissions(read=True),
                expiry=expiry,
                protocol=self._protocol,
            )
        else:
            token = generate_blob_sas(
                self._config.account_name,
                self._config.container,
                name,
                user_delegation_key=self._delegation_key(expiry),
                permission=BlobSasPermissions(read=True),
                expiry=expiry,
                protocol=self._protocol,
            )
        return f"{blob.url}?{token}"

    def source_url(self, name: str) -> str:
        """A URL the storage service reads ``name`` from during a server-side copy."""
        return self.read_url(name, SOURCE_URL_LIFETIME)

    def _delegation_key(self, expiry: datetime) -> UserDelegationKey:
        now = datetime.now(timezone.utc)
        if expiry - now > DELEGATION_KEY_MAX - _SKEW:
            raise DriverError(
                "a URL signed with token credentials (user delegation SAS) lasts at most"
                f" {DELEGATION_KEY_MAX.days} days; ask for a shorter expires_in"
            )
        with self._lock:
            if self._delegation is not None and self._delegation[1] >= expiry + _SKEW:
                return self._delegation[0]
            key_expiry = min(
                now + DELEGATION_KEY_MAX - _SKEW, max(now + DELEGATION_KEY_LIFETIME, expiry + _SKEW)
            )
            key = self._service.get_user_delegation_key(now - _SKEW, key_expiry)
            self._delegation = (key, key_expiry)
            return key
