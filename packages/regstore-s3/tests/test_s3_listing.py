"""Listing pages read in one pass give what botocore's parser gives; nothing else changes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.parsers import RestXMLParser
from s3_helpers import Backend

import regstore
from regstore_s3 import timestamps
from regstore_s3.listing import install_listing_reader, read_listing

NS = "http://s3.amazonaws.com/doc/2006-03-01/"

#: Every member of a ListObjectsV2 answer, entities and a member botocore does not know included.
FULL_PAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="{NS}">
  <Name>bucket</Name><Prefix>a &amp; b/</Prefix><Delimiter>/</Delimiter>
  <MaxKeys>3</MaxKeys><KeyCount>3</KeyCount><EncodingType>url</EncodingType>
  <ContinuationToken>token-1</ContinuationToken><NextContinuationToken>token-2</NextContinuationToken>
  <StartAfter></StartAfter><IsTruncated>true</IsTruncated>
  <Contents>
    <Key>a%20%26%20b/%3Cone%3E</Key><LastModified>2026-12-06T05:23:15.026Z</LastModified>
    <ETag>&quot;e347faddb0baad0e3194a98b0d8eadbe&quot;</ETag><Size>71</Size>
    <StorageClass>STANDARD</StorageClass><Type>Normal</Type>
    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumAlgorithm>SHA256</ChecksumAlgorithm>
    <ChecksumType>FULL_OBJECT</ChecksumType>
    <Owner><ID>owner-id</ID><DisplayName>Owner &lt;name&gt;</DisplayName></Owner>
    <RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress>
      <RestoreExpiryDate>2027-01-01T00:00:00.000Z</RestoreExpiryDate></RestoreStatus>
  </Contents>
  <Contents><Key>a%20%26%20b/two</Key><LastModified>2026-12-06T05:23:16Z</LastModified>
    <ETag></ETag><Size>0</Size></Contents>
  <CommonPrefixes><Prefix>a%20%26%20b/dir/</Prefix></CommonPrefixes>
  <CommonPrefixes><Prefix>a%20%26%20b/%E2%9C%93/</Prefix></CommonPrefixes>
</ListBucketResult>""".encode()

EMPTY_PAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="{NS}"><Name>bucket</Name><Prefix/><KeyCount>0</KeyCount>
<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>""".encode()


@pytest.fixture(scope="module")
def client() -> Any:
    """A client for the model and the event system only: it sends nothing."""
    made = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
    )
    assert install_listing_reader(made)
    return made


def _botocore_parse(client: Any, body: bytes) -> dict[str, Any]:
    shape = client.meta.service_model.operation_model("ListObjectsV2").output_shape
    parser = RestXMLParser(timestamp_parser=timestamps.parse)
    parsed = parser.parse({"status_code": 200, "headers": {}, "body": body}, shape)
    parsed.pop("ResponseMetadata", None)
    return dict(parsed)


def _emit(client: Any, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the client's own ``before-parse`` handlers make of a 200 answer with ``body``."""
    response = {"status_code": 200, "headers": {}, "body": body}
    customized: dict[str, Any] = {}
    client.meta.events.emit(
        "before-parse.s3.ListObjectsV2",
        operation_model=client.meta.service_model.operation_model("ListObjectsV2"),
        response_dict=response,
        customized_response_dict=customized,
    )
    return response, customized


@pytest.mark.parametrize("body", [FULL_PAGE, EMPTY_PAGE], ids=["every-member", "empty"])
def test_a_page_reads_as_botocore_reads_it(client: Any, body: bytes) -> None:
    response, parsed = _emit(client, body)
    assert parsed == _botocore_parse(client, body)
    assert response["body"] == b"", "botocore must not parse the page a second time"
    assert response["status_code"] == 200


@pytest.mark.parametrize(
    "body",
    [
        FULL_PAGE[: len(FULL_PAGE) // 2],
        b"<?xml version='1.0'?><Error><Code>InternalError</Code><Message>m</Message></Error>",
    ],
    ids=["cut-body", "error-with-200"],
)
def test_a_cut_or_error_page_is_retried_as_botocore_retries_it(client: Any, body: bytes) -> None:
    """botocore's own check still sees these and turns the 200 into a 500 its retries take."""
    response, parsed = _emit(client, body)
    assert parsed == {}
    assert response["body"] == body
    assert response["status_code"] == 500


def test_a_value_that_does_not_convert_is_left_to_botocore(client: Any) -> None:
    bad = FULL_PAGE.replace(b"<Size>71</Size>", b"<Size>seventy</Size>")
    response, parsed = _emit(client, bad)
    assert parsed == {}
    assert response["body"] == bad


def test_only_a_listing_document_is_read() -> None:
    other = b"<?xml version='1.0'?><ListAllMyBucketsResult/>"
    response = {"body": other}
    assert not read_listing(response, {}, {})
    assert response["body"] == other


def test_other_operations_keep_botocores_error_check(client: Any) -> None:
    """A CopyObject answer with an error and status 200 still becomes a 500 (then retried)."""
    body = b"<?xml version='1.0'?><Error><Code>InternalError</Code><Message>m</Message></Error>"
    response = {"status_code": 200, "headers": {}, "body": body}
    client.meta.events.emit(
        "before-parse.s3.CopyObject",
        operation_model=client.meta.service_model.operation_model("CopyObject"),
        response_dict=response,
        customized_response_dict={},
    )
    assert response["status_code"] == 500


#: Keys a registry path cannot name (the walk skips them) beside ones it can.
ODD_KEYS = ["a & b/<one>", "a & b/two", "a & b/dir/x", "a & b/\u2713/y", "a & b/plus+sign"]
PATH_KEYS = ["c", "valid/one", "valid/two/three"]
KEYS = ODD_KEYS + PATH_KEYS


def test_listings_from_the_server_match_a_plain_client(
    backend: Backend, driver: regstore.StorageDriver, root: str
) -> None:
    """The driver's client answers every kind of listing exactly as a stock boto3 client does."""
    for key in KEYS:
        backend.client.put_object(Bucket=backend.bucket, Key=f"{root}/{key}", Body=b"x" * len(key))
    ours: Any = regstore.unwrap(driver).client  # type: ignore[attr-defined]
    requests: list[dict[str, Any]] = [
        {"Prefix": f"{root}/"},
        {"Prefix": f"{root}/a & b/", "Delimiter": "/"},
        {"Prefix": f"{root}/", "StartAfter": f"{root}/a & b/dir/x"},
        {"Prefix": f"{root}/", "MaxKeys": 2},
        {"Prefix": f"{root}/nothing/"},
    ]
    for request in requests:
        token: str | None = None
        pages = 0
        while True:
            extra = {"ContinuationToken": token} if token else {}
            mine = ours.list_objects_v2(Bucket=backend.bucket, **request, **extra)
            theirs = backend.client.list_objects_v2(Bucket=backend.bucket, **request, **extra)
            mine.pop("ResponseMetadata")
            theirs.pop("ResponseMetadata")
            assert mine == theirs, request
            pages += 1
            token = mine.get("NextContinuationToken")
            if not mine["IsTruncated"]:
                break
        assert pages == (4 if request.get("MaxKeys") == 2 else 1)
    found = {info.path for info in driver.walk("/") if not info.is_dir}
    assert found == {"/" + key for key in PATH_KEYS}
