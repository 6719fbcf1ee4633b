"""The gcs driver's parameters: the distribution registry's keys, checked once.

A service-account key (``keyfile`` or ``credentials``) is kept only as parsed
credentials; its private key never reaches a message, a ``repr`` or a log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from regstore.params import Parameters

__all__ = [
    "CHUNK_MULTIPLE",
    "DEFAULT_CHUNKSIZE",
    "DEFAULT_MAXCONCURRENCY",
    "DEFAULT_RETRY_DEADLINE",
    "DEFAULT_RETRY_DELAY",
    "KNOWN_KEYS",
    "MIN_MAXCONCURRENCY",
    "NAME",
    "GCSConfig",
    "parse",
]

NAME = "gcs"
CHUNK_MULTIPLE = 256 * 1024
DEFAULT_CHUNKSIZE = 16 * 1024 * 1024
DEFAULT_MAXCONCURRENCY = 50
MIN_MAXCONCURRENCY = 25
#: Seconds the SDK keeps retrying one call: google's own ``DEFAULT_RETRY`` deadline.
DEFAULT_RETRY_DEADLINE = 120.0
#: Seconds before the first retry (doubling after each): google's own initial backoff.
DEFAULT_RETRY_DELAY = 1.0

#: Every parameter the driver takes (``regstore.parameters`` entry point).
KNOWN_KEYS = (
    "bucket",
    "rootdirectory",
    "chunksize",
    "keyfile",
    "credentials",
    "useragent",
    "maxconcurrency",
    "retry_deadline",
    "retry_delay",
)

#: Fields a service-account key must carry to authenticate and to sign URLs.
_REQUIRED_FIELDS = ("client_email", "private_key")


@dataclass(frozen=True)
class GCSConfig:
    """Validated parameters; ``service_account`` is the key's fields, hidden from ``repr``."""

    bucket: str
    rootdirectory: str = ""
    chunksize: int = DEFAULT_CHUNKSIZE
    useragent: str | None = None
    maxconcurrency: int = DEFAULT_MAXCONCURRENCY
    #: How long (seconds) one call is retried before it fails.
    retry_deadline: float = DEFAULT_RETRY_DEADLINE
    #: The first wait (seconds) between retries; later waits double, up to a minute.
    retry_delay: float = DEFAULT_RETRY_DELAY
    service_account: Mapping[str, str] | None = field(default=None, repr=False)
    #: Where the key came from, for messages: ``keyfile <path>`` or ``credentials``.
    key_source: str | None = None


def parse(parameters: Mapping[str, Any] | None) -> GCSConfig:
    """Read and check every parameter; bad values raise ``InvalidParameterError``."""
    params = Parameters(NAME, parameters, known=KNOWN_KEYS)
    bucket = params.string("bucket", required=True)
    assert bucket is not None
    rootdirectory = (params.string("rootdirectory", "") or "").strip("/")
    chunksize = params.integer("chunksize", DEFAULT_CHUNKSIZE, minimum=CHUNK_MULTIPLE)
    if chunksize % CHUNK_MULTIPLE:
        params.fail(
            "chunksize",
            f"must be a multiple of {CHUNK_MULTIPLE} (256 KiB), got {chunksize}",
        )
    maxconcurrency = params.integer(
        "maxconcurrency",
        DEFAULT_MAXCONCURRENCY,
        minimum=MIN_MAXCONCURRENCY,
        clamp_minimum=True,
    )
    useragent = params.string("useragent")
    retry_deadline = params.duration("retry_deadline", DEFAULT_RETRY_DEADLINE)
    retry_delay = params.duration("retry_delay", DEFAULT_RETRY_DELAY)
    if params.has("keyfile") and params.has("credentials"):
        params.fail(
            "credentials",
            "give either keyfile (a path to a service-account JSON key) or credentials"
            " (the same fields as a mapping), not both",
        )
    account: Mapping[str, str] | None = None
    source: str | None = None
    if params.has("keyfile"):
        keyfile = params.string("keyfile")
        assert keyfile is not None
        account = _from_keyfile(params, keyfile)
        source = f"keyfile {keyfile}"
    elif params.has("credentials"):
        account = _from_mapping(params, "credentials", params.raw("credentials"))
        source = "credentials"
    return GCSConfig(
        bucket=bucket,
        rootdirectory=rootdirectory,
        chunksize=chunksize,
        useragent=useragent,
        maxconcurrency=maxconcurrency,
        retry_deadline=retry_deadline,
        retry_delay=retry_delay,
        service_account=account,
        key_source=source,
    )


def _from_keyfile(params: Parameters, keyfile: str) -> Mapping[str, str]:
    try:
        with open(keyfile, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        params.fail("keyfile", f"cannot read the service-account key file {keyfile!r}: {exc}")
    try:
        loaded = json.loads(text)
    except ValueError:
        # The parser's message quotes the document: keep it out.
        params.fail("keyfile", f"{keyfile!r} is not a JSON service-account key")
    return _from_mapping(params, "keyfile", loaded)


def _from_mapping(params: Parameters, key: str, value: Any) -> Mapping[str, str]:
    if isinstance(value, str) and key == "credentials":
        try:
            value = json.loads(value)
        except ValueError:
            params.fail(key, "must be a mapping of the service-account JSON key's fields")
    if not isinstance(value, Mapping):
        params.fail(
            key,
            "must be a mapping of the service-account JSON key's fields,"
            f" got {type(value).__name__}",
        )
    fields: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str):
            params.fail(key, "every field name and value of the service-account key is a string")
        fields[name] = item
    kind = fields.get("type", "service_account")
    if kind != "service_account":
        params.fail(key, f"must be a service-account key (type service_account), got type {kind!r}")
    missing = [name for name in _REQUIRED_FIELDS if not fields.get(name)]
    if missing:
        params.fail(key, f"the service-account key lacks {', '.join(missing)}")
    fields.setdefault("type", "service_account")
    fields.setdefault("token_uri", "https://oauth2.googleapis.com/token")
    return fields
