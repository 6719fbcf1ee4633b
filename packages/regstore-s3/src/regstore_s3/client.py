"""The boto3 client the driver talks through, configured from ``S3Config``.

Retries come from botocore's standard retry mode; timestamps are parsed by
``timestamps.parse`` (a listing carries one per key) and listing pages by
``listing`` in one pass; the connection pool holds
at least one connection per part a writer keeps in flight, and one per part of
a parallel copy up to a bound. Without ``accesskey`` and ``secretkey`` the AWS
SDK's default credential chain applies.

Integrity of uploaded bytes: botocore signs the SHA-256 of every body sent
over plain HTTP with SigV4, and the server recomputes it (AWS and radosgw
both refuse a body that does not match), so there a CRC32 of the same bytes
adds CPU and no protection: it is only sent where the body is not signed
(HTTPS, where botocore puts it in a trailer instead of hashing the body, and
SigV2). Operations that require a checksum (DeleteObjects) always get one.
"""

from __future__ import annotations

from typing import Any, cast

import boto3
import botocore.session
from botocore.config import Config

from . import timestamps
from .config import S3Config
from .listing import install_listing_reader
from .logs import install_request_logging

__all__ = ["MAX_ATTEMPTS", "build_client", "pool_size", "signs_payload"]

#: Attempts per request, first try included (botocore standard retry mode).
MAX_ATTEMPTS = 5
#: Bodies below this go out without ``Expect: 100-continue`` (as the AWS SDK for Go does).
EXPECT_CONTINUE_FROM = 2 << 20
#: Bounds of the HTTP connection pool shared by every thread of one driver (a
#: copy's concurrency counts up to ``MAX_POOL``; a writer's always counts whole).
MIN_POOL = 32
MAX_POOL = 128


def pool_size(config: S3Config) -> int:
    """Connections to keep: parts of several writers in flight, or one wide copy.

    Never fewer than one writer's parts in flight, so its part uploads never
    wait for a connection or open one that the pool then throws away.
    """
    copy = min(config.multipartcopymaxconcurrency, MAX_POOL)
    return max(MIN_POOL, config.multipartuploadmaxconcurrency, copy)


def signs_payload(config: S3Config, endpoint: str | None) -> bool:
    """True when botocore signs the SHA-256 of every request body: SigV4 over plain HTTP."""
    url = endpoint or config.endpoint
    plain = url.startswith("http://") if url else not config.secure
    return plain and config.v4auth


def build_client(config: S3Config, endpoint: str | None = None) -> Any:
    """A boto3 S3 client for ``config``; ``endpoint`` replaces ``regionendpoint`` (presigning)."""
    signed = signs_payload(config, endpoint)
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=timestamps.parse
    )
    session = boto3.session.Session(
        botocore_session=core,
        aws_access_key_id=config.accesskey,
        aws_secret_access_key=config.secretkey,
        aws_session_token=config.sessiontoken,
        region_name=config.region,
    )
    botocore_config = Config(
        region_name=config.region,
        signature_version="s3v4" if config.v4auth else "s3",
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        s3=cast(
            Any,
            {
                "addressing_style": "path" if config.forcepathstyle else "auto",
                "use_dualstack_endpoint": config.usedualstack,
                "use_accelerate_endpoint": config.accelerate,
            },
        ),
        use_fips_endpoint=config.usefipsendpoint,
        max_pool_connections=pool_size(config),
        user_agent_extra=config.useragent,
        # A signed body is already checked end to end by its SHA-256 (see above).
        request_checksum_calculation="when_required" if signed else "when_supported",
    )
    client = session.client(
        "s3",
        endpoint_url=endpoint or config.endpoint,
        use_ssl=config.secure,
        verify=not config.skipverify,
        config=botocore_config,
    )
    install_request_logging(client, config.loglevel)
    install_listing_reader(client)
    client.meta.events.register("before-send.s3.PutObject", _send_small_bodies_at_once)
    return client


def _send_small_bodies_at_once(request: Any, **kwargs: Any) -> None:
    """Drop ``Expect: 100-continue`` from a put of a small body.

    botocore asks every ``PutObject`` to wait for the server's go-ahead before
    the body is sent: one more round trip per object, which for a registry's
    link files and manifests costs more than sending the body a refusal would
    waste.
    """
    if "Expect" not in request.headers:
        return
    try:
        length = int(request.headers.get("Content-Length", ""))
    except ValueError:
        return  # length unknown (a stream): keep waiting for the go-ahead
    if length < EXPECT_CONTINUE_FROM:
        del request.headers["Expect"]
