"""The ``cloudfront`` storage middleware: CloudFront signed URLs for the S3 objects behind paths.

Configured as in the distribution registry::

    middleware:
      storage:
        - name: cloudfront
          options:
            baseurl: https://d111111abcdef8.cloudfront.net/
            privatekey: /etc/registry/cloudfront.pem
            keypairid: K2JCJMDEHXQW5F
            duration: 20m
            ipfilteredby: awsregion      # none (default), aws or awsregion
            awsregion: us-east-1, us-west-2
            updatefrequency: 12h
            iprangesurl: https://ip-ranges.amazonaws.com/ip-ranges.json

``redirect_url`` gives ``baseurl`` + the object's key (``rootdirectory``
included, so leave the distribution's origin path empty) signed with a canned
policy (RSA-SHA1), valid for ``duration`` or the caller's ``expires_in``,
whichever is shorter. With IP filtering, a client whose ``client_ip`` lies in
the AWS ranges (of the listed regions, for ``awsregion``) gets the S3
presigned URL instead, as traffic inside AWS need not go through the CDN.

The S3 driver must be below (other middleware may sit in between); anything
else is an ``IncompatibleDriverError`` at construction.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import urllib.request
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlunsplit

from botocore.signers import CloudFrontSigner
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from regstore import unwrap
from regstore.driver import StorageDriver
from regstore.middleware import IncompatibleDriverError, StorageMiddleware
from regstore.middleware.options import base_url
from regstore.params import Parameters

__all__ = ["AWSIPRanges", "CloudFrontMiddleware"]

NAME = "cloudfront"
KNOWN_OPTIONS = (
    "baseurl",
    "privatekey",
    "keypairid",
    "duration",
    "ipfilteredby",
    "awsregion",
    "updatefrequency",
    "updatefrenquency",  # the registry's misspelling, still accepted
    "iprangesurl",
)
DEFAULT_DURATION = 20 * 60.0
DEFAULT_UPDATE_FREQUENCY = 12 * 3600.0
DEFAULT_IP_RANGES_URL = "https://ip-ranges.amazonaws.com/ip-ranges.json"
FETCH_TIMEOUT = 30.0

log = logging.getLogger("regstore.cloudfront")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AWSIPRanges:
    """The AWS address ranges from ``ip-ranges.json``: fetched now, refreshed in the background.

    ``regions`` limits them to those regions (None: every region). A failed
    fetch is logged and the previous ranges stay; until one succeeds,
    ``loaded`` is False and nothing is inside.
    """

    def __init__(self, url: str, regions: frozenset[str] | None, every: float) -> None:
        self.url = url
        self.regions = regions
        self.every = every
        self._networks: tuple[Network, ...] = ()
        self._loaded = False
        self._stop = threading.Event()
        self.refresh()
        self._thread = threading.Thread(
            target=self._refresh_loop, name="regstore-aws-ip-ranges", daemon=True
        )
        self._thread.start()

    @property
    def loaded(self) -> bool:
        """True once a fetch has succeeded."""
        return self._loaded

    def refresh(self) -> bool:
        """Fetch the ranges once; False (and a warning in the log) when that fails."""
        try:
            with urllib.request.urlopen(self.url, timeout=FETCH_TIMEOUT) as response:
                document = json.loads(response.read())
            networks = self._parse(document)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("cannot load the AWS IP ranges from %s: %s", self.url, exc)
            return False
        self._networks = networks
        self._loaded = True
        return True

    def _parse(self, document: Any) -> tuple[Network, ...]:
        found: list[Network] = []
        for section, field in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
            for entry in document.get(section, ()):
                region = str(entry.get("region", "")).lower()
                if self.regions is not None and region not in self.regions:
                    continue
                try:
                    found.append(ipaddress.ip_network(entry[field], strict=False))
                except (KeyError, ValueError):
                    log.warning("ignoring an unparsable AWS IP range: %r", entry.get(field))
        v4 = ipaddress.collapse_addresses(n for n in found if n.version == 4)
        v6 = ipaddress.collapse_addresses(n for n in found if n.version == 6)
        return (*v4, *v6)

    def contains(self, address: str) -> bool:
        """True when ``address`` (IPv4 or IPv6) lies in a loaded range."""
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in self._networks)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.every):
            self.refresh()

    def close(self) -> None:
        """Stop refreshing."""
        self._stop.set()


def _load_key(params: Parameters) -> rsa.RSAPrivateKey:
    path = params.string("privatekey", required=True)
    assert path is not None
    try:
        with open(path, "rb") as file:
            pem = file.read()
    except OSError as exc:
        params.fail("privatekey", f"cannot read the key file {path}: {exc.strerror or exc}")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        params.fail(
            "privatekey", f"the key in {path} is encrypted; CloudFront needs it unencrypted"
        )
    except (ValueError, UnsupportedAlgorithm):
        params.fail("privatekey", f"{path} holds no PEM private key (PKCS#1 or PKCS#8 RSA)")
    if not isinstance(key, rsa.RSAPrivateKey):
        params.fail("privatekey", f"the key in {path} must be an RSA key for CloudFront signing")
    return key


class CloudFrontMiddleware(StorageMiddleware):
    """CloudFront canned-policy URLs over the S3 driver; S3 URLs for clients inside AWS."""

    def __init__(self, inner: StorageDriver, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(inner)
        below = unwrap(inner)
        locate = getattr(below, "s3_bucket_key", None)
        if not callable(locate):
            raise IncompatibleDriverError(
                NAME,
                f"needs the s3 driver underneath, but the driver is {below.name!r};"
                " use it only with storage: s3",
            )
        self._locate = locate
        params = Parameters(NAME, options, known=KNOWN_OPTIONS)
        parts = base_url(params, "baseurl", default_scheme="https")
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        self._base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        key = _load_key(params)
        key_pair = params.string("keypairid", required=True)
        assert key_pair is not None
        self._signer = CloudFrontSigner(
            key_pair, lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())
        )
        self._duration = params.duration("duration", DEFAULT_DURATION)
        self._ranges = self._ip_ranges(params)

    @staticmethod
    def _ip_ranges(params: Parameters) -> AWSIPRanges | None:
        text = params.string("ipfilteredby", "none")
        assert text is not None
        mode = text.strip().lower()
        if mode not in ("none", "aws", "awsregion"):
            params.fail("ipfilteredby", f"must be none, aws or awsregion, got {text!r}")
        if mode == "none":
            return None
        regions = None
        if mode == "awsregion":
            listed = params.string("awsregion")
            names = [r.strip().lower() for r in (listed or "").split(",") if r.strip()]
            if not names:
                params.fail(
                    "awsregion",
                    "is required with ipfilteredby: awsregion: comma-separated regions,"
                    " such as us-east-1, eu-west-1",
                )
            regions = frozenset(names)
        every = params.duration("updatefrequency", DEFAULT_UPDATE_FREQUENCY)
        if params.has("updatefrenquency"):
            warnings.warn(
                "cloudfront: the option 'updatefrenquency' is deprecated; call it"
                " 'updatefrequency'",
                DeprecationWarning,
                stacklevel=4,
            )
            if not params.has("updatefrequency"):
                every = params.duration("updatefrenquency", DEFAULT_UPDATE_FREQUENCY)
        url = params.string("iprangesurl", DEFAULT_IP_RANGES_URL)
        assert url is not None
        return AWSIPRanges(url, regions, every)

    def __repr__(self) -> str:
        return f"CloudFrontMiddleware({self._base!r}, {self.inner!r})"

    def redirect_url(
        self,
        path: str,
        *,
        method: str = "GET",
        expires_in: int = 1200,
        client_ip: str | None = None,
    ) -> str | None:
        ranges = self._ranges
        if ranges is not None and client_ip and ranges.loaded and ranges.contains(client_ip):
            return self.inner.redirect_url(
                path, method=method, expires_in=expires_in, client_ip=client_ip
            )
        _, key = self._locate(path)
        lifetime = min(float(expires_in), self._duration)
        expires = datetime.now(timezone.utc) + timedelta(seconds=lifetime)
        url: str = self._signer.generate_presigned_url(
            self._base + quote(key), date_less_than=expires
        )
        return url

    def close(self) -> None:
        if self._ranges is not None:
            self._ranges.close()
        super().close()
