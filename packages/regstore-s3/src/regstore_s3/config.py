"""The S3 driver's parameters: the distribution registry's keys, defaults and ranges.

``parse`` reads a parameters mapping (typed YAML values or strings from
environment variables) into an ``S3Config``; every problem is an
``InvalidParameterError`` naming the key and what is allowed. Secrets are kept
out of the dataclass ``repr``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from regstore.params import Parameters

__all__ = ["DEFAULT_UPLOAD_CONCURRENCY", "KNOWN_KEYS", "MiB", "S3Config", "parse"]

MiB = 1 << 20
GiB = 1 << 30
#: S3's smallest part (every part but the last) and largest part or single copy.
MIN_PART = 5 * MiB
MAX_PART = 5 * GiB
MAX_INT64 = (1 << 63) - 1
#: S3's most parts in one multipart upload: more parts in flight than that is meaningless.
MAX_PARTS = 10_000
#: Parts of one writer uploading at once unless ``multipartuploadmaxconcurrency`` says
#: otherwise: s3transfer's default of 10 threads, memory about 11 x ``chunksize``.
DEFAULT_UPLOAD_CONCURRENCY = 10

KNOWN_KEYS = (
    "region",
    "bucket",
    "accesskey",
    "secretkey",
    "sessiontoken",
    "regionendpoint",
    "forcepathstyle",
    "encrypt",
    "keyid",
    "secure",
    "skipverify",
    "v4auth",
    "chunksize",
    "multipartcopychunksize",
    "multipartcopymaxconcurrency",
    "multipartcopythresholdsize",
    "multipartuploadmaxconcurrency",
    "rootdirectory",
    "storageclass",
    "objectacl",
    "useragent",
    "usedualstack",
    "accelerate",
    "usefipsendpoint",
    "loglevel",
    "redirectendpoint",
)

STORAGE_CLASSES = (
    "NONE",
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "OUTPOSTS",
    "GLACIER_IR",
    "EXPRESS_ONEZONE",
)

OBJECT_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)

LOG_LEVELS = (
    "off",
    "debug",
    "debugwithsigning",
    "debugwithhttpbody",
    "debugwithrequestretries",
    "debugwithrequesterrors",
    "debugwitheventstreambody",
)

#: What the AWS SDK accepts as a region name (a DNS label, not all digits).
REGION_NAME = re.compile(r"(?![0-9]+$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
#: The region used with a ``regionendpoint`` when none is given (Go passes "<nil>").
DEFAULT_CUSTOM_REGION = "us-east-1"


@dataclass(frozen=True)
class S3Config:
    """Validated parameters; ``endpoint`` is the full URL of ``regionendpoint`` or None."""

    bucket: str
    region: str
    endpoint: str | None
    forcepathstyle: bool
    encrypt: bool
    keyid: str | None
    secure: bool
    skipverify: bool
    v4auth: bool
    chunksize: int
    multipartcopychunksize: int
    multipartcopymaxconcurrency: int
    multipartcopythresholdsize: int
    multipartuploadmaxconcurrency: int
    rootdirectory: str
    storageclass: str | None
    objectacl: str
    useragent: str | None
    usedualstack: bool
    accelerate: bool
    usefipsendpoint: bool
    loglevel: str
    redirectendpoint: str | None
    accesskey: str | None = field(default=None, repr=False)
    secretkey: str | None = field(default=None, repr=False)
    sessiontoken: str | None = field(default=None, repr=False)

    def write_arguments(self) -> dict[str, str]:
        """Arguments every object write sends: content type, ACL, storage class, encryption."""
        arguments = {"ContentType": "application/octet-stream", "ACL": self.objectacl}
        if self.storageclass is not None:
            arguments["StorageClass"] = self.storageclass
        if self.encrypt:
            if self.keyid:
                arguments["ServerSideEncryption"] = "aws:kms"
                arguments["SSEKMSKeyId"] = self.keyid
            else:
                arguments["ServerSideEncryption"] = "AES256"
        return arguments


def parse(parameters: Mapping[str, Any] | None, driver_name: str = "s3") -> S3Config:
    """Validate ``parameters`` against the distribution registry's S3 parameters.

    ``driver_name`` is the name errors carry (``s3aws`` registers the same driver).
    """
    p = Parameters(driver_name, parameters, known=KNOWN_KEYS)
    bucket = p.string("bucket", required=True)
    assert bucket is not None
    endpoint = _endpoint(p)
    region = _region(p, endpoint)
    accesskey, secretkey, sessiontoken = _credentials(p)
    v4auth = p.boolean("v4auth", True)
    if not v4auth and (endpoint is None or "s3.amazonaws.com" in endpoint):
        p.fail(
            "v4auth",
            "false (signature version 2) is only allowed with a regionendpoint that is not"
            " Amazon S3; Amazon S3 accepts only v4 authentication",
        )
    encrypt = p.boolean("encrypt", False)
    return S3Config(
        bucket=bucket,
        region=region,
        endpoint=endpoint,
        forcepathstyle=p.boolean("forcepathstyle", endpoint is not None),
        encrypt=encrypt,
        keyid=p.string("keyid") if encrypt else None,
        secure=p.boolean("secure", True),
        skipverify=p.boolean("skipverify", False),
        v4auth=v4auth,
        chunksize=p.integer("chunksize", 10 * MiB, minimum=MIN_PART, maximum=MAX_PART),
        multipartcopychunksize=p.integer(
            "multipartcopychunksize", 32 * MiB, minimum=MIN_PART, maximum=MAX_PART
        ),
        multipartcopymaxconcurrency=p.integer(
            "multipartcopymaxconcurrency", 100, minimum=1, maximum=MAX_INT64
        ),
        multipartcopythresholdsize=p.integer(
            "multipartcopythresholdsize", 32 * MiB, minimum=0, maximum=MAX_PART
        ),
        multipartuploadmaxconcurrency=p.integer(
            "multipartuploadmaxconcurrency",
            DEFAULT_UPLOAD_CONCURRENCY,
            minimum=1,
            maximum=MAX_PARTS,
        ),
        rootdirectory=p.string("rootdirectory", "") or "",
        storageclass=_storage_class(p),
        objectacl=_object_acl(p),
        useragent=p.string("useragent"),
        usedualstack=p.boolean("usedualstack", False),
        accelerate=p.boolean("accelerate", False),
        usefipsendpoint=p.boolean("usefipsendpoint", False),
        loglevel=_log_level(p),
        redirectendpoint=_redirect_endpoint(p),
        accesskey=accesskey,
        secretkey=secretkey,
        sessiontoken=sessiontoken,
    )


def _endpoint(p: Parameters) -> str | None:
    raw = p.string("regionendpoint")
    if raw is None:
        return None
    text = raw.strip().rstrip("/")
    if "://" not in text:
        text = ("https://" if p.boolean("secure", True) else "http://") + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        p.fail("regionendpoint", "must be a URL such as https://minio.example:9000 or a host name")
    return text


def _region(p: Parameters, endpoint: str | None) -> str:
    region = p.string("region")
    if region is not None and not REGION_NAME.fullmatch(region):
        p.fail("region", f"{region!r} is not a region name (letters, digits, '-': us-east-1)")
    if endpoint is not None:
        return region or DEFAULT_CUSTOM_REGION
    if region is None:
        p.fail("region", "is required unless regionendpoint is set (for example us-east-1)")
    if region not in _known_regions():
        p.fail(
            "region",
            f"{region!r} is not a region the AWS SDK knows; use an AWS region such as"
            " us-east-1, or set regionendpoint for another S3 server",
        )
    return region


@functools.lru_cache(maxsize=1)
def _known_regions() -> frozenset[str]:
    """Every region in the AWS SDK's endpoint data, across partitions (read once)."""
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("s3", partition_name=partition))
    return frozenset(regions)


def _credentials(p: Parameters) -> tuple[str | None, str | None, str | None]:
    accesskey = p.string("accesskey")
    secretkey = p.string("secretkey")
    sessiontoken = p.string("sessiontoken")
    if (accesskey is None) != (secretkey is None):
        given, missing = "accesskey", "secretkey"
        if accesskey is None:
            given, missing = missing, given
        p.fail(
            missing,
            f"must be set together with {given} (or leave both empty to use the AWS SDK's"
            " default credential chain)",
        )
    if sessiontoken is not None and accesskey is None:
        p.fail("sessiontoken", "is only used together with accesskey and secretkey")
    return accesskey, secretkey, sessiontoken


def _storage_class(p: Parameters) -> str | None:
    value = p.raw("storageclass", "STANDARD")
    if not isinstance(value, str):
        p.fail("storageclass", f"must be a string, one of {', '.join(STORAGE_CLASSES)}")
    choice = p.choice("storageclass", "STANDARD", STORAGE_CLASSES)
    return None if choice == "NONE" else choice


def _object_acl(p: Parameters) -> str:
    value = p.raw("objectacl", "private")
    if not isinstance(value, str) or value not in OBJECT_ACLS:
        allowed = ", ".join(OBJECT_ACLS)
        p.fail("objectacl", f"must be one of {allowed} (case-sensitive), got {value!r}")
    return value


def _log_level(p: Parameters) -> str:
    value = p.raw("loglevel", "off")
    if value is False:
        return "off"
    if not isinstance(value, str):
        p.fail("loglevel", f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return p.choice("loglevel", "off", LOG_LEVELS)


def _redirect_endpoint(p: Parameters) -> str | None:
    raw = p.string("redirectendpoint")
    if raw is None:
        return None
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (raises ValueError for a malformed port)
    except ValueError:
        p.fail("redirectendpoint", f"unable to parse {raw!r} as a URL")
    if not parts.scheme:
        p.fail("redirectendpoint", "no scheme specified (use https://host or http://host)")
    if not parts.netloc:
        p.fail("redirectendpoint", "no host specified (use https://host)")
    if parts.path not in ("", "/"):
        p.fail("redirectendpoint", f"cannot contain a base path: {parts.path}")
    if parts.query:
        p.fail("redirectendpoint", "cannot contain query parameters")
    return f"{parts.scheme}://{parts.netloc}"
