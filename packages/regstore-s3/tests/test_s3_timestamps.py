"""The client's timestamp parser: the same datetimes as botocore's own, for every S3 form."""

from __future__ import annotations

from datetime import timezone

import pytest
from botocore.utils import parse_timestamp

import regstore
from regstore_s3 import timestamps


@pytest.mark.parametrize(
    "text",
    [
        "2026-08-18T12:34:56.000Z",  # ListObjectsV2 (XML)
        "2026-08-18T12:34:56Z",
        "2026-08-18T12:34:56.123456Z",
        "2026-08-18T12:34:56.12Z",  # a fraction the standard library may refuse: botocore's
        "2026-08-18T12:34:56+02:00",
        "Tue, 18 Aug 2026 12:34:56 GMT",  # Last-Modified header (HEAD, GET)
        "Tue, 18 Aug 2026 12:34:56 -0000",
        "1787056496",
    ],
)
def test_same_datetime_as_botocore(text: str) -> None:
    parsed = timestamps.parse(text)
    assert parsed == parse_timestamp(text)
    assert parsed.utcoffset() is not None


def test_the_driver_client_uses_it() -> None:
    driver = regstore.create("s3", {"bucket": "registry", "region": "us-east-1"})
    client = driver.inner.client  # type: ignore[attr-defined]
    factory = client._endpoint._response_parser_factory
    parser = factory.create_parser("rest-xml")
    assert parser._timestamp_parser is timestamps.parse
    parsed = timestamps.parse("2026-08-18T12:34:56.000Z")
    assert parsed.astimezone(timezone.utc).isoformat() == "2026-08-18T12:34:56+00:00"
