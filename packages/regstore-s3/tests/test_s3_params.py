"""Parameters: the distribution registry's keys, defaults, ranges and string forms.

Building a driver makes no request, so these tests need no backend.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import regstore
from regstore.errors import InvalidParameterError
from regstore_s3 import S3Driver
from regstore_s3.writer import PARTS_IN_FLIGHT

MiB = 1 << 20
GiB = 1 << 30
AWS = {"bucket": "registry", "region": "us-east-1"}
CUSTOM = {"bucket": "registry", "regionendpoint": "http://127.0.0.1:9000"}
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLE-SESSION-TOKEN"


def build(**parameters: Any) -> S3Driver:
    driver = regstore.create("s3", parameters)
    inner = getattr(driver, "inner", driver)
    assert isinstance(inner, S3Driver)
    return inner


def test_defaults_are_the_registry_defaults() -> None:
    config = build(**AWS).config
    assert config.chunksize == 10 * MiB
    assert config.multipartcopychunksize == 32 * MiB
    assert config.multipartcopymaxconcurrency == 100
    assert config.multipartcopythresholdsize == 32 * MiB
    assert config.multipartuploadmaxconcurrency == PARTS_IN_FLIGHT == 10
    assert config.storageclass == "STANDARD"
    assert config.objectacl == "private"
    assert (config.secure, config.v4auth, config.skipverify) == (True, True, False)
    assert (config.encrypt, config.forcepathstyle, config.loglevel) == (False, False, "off")
    assert config.rootdirectory == ""
    assert config.endpoint is None


def test_strings_from_environment_variables_are_accepted() -> None:
    config = build(
        **CUSTOM,
        chunksize="5242880",
        multipartcopychunksize="0x1000000",
        multipartcopymaxconcurrency="7",
        multipartcopythresholdsize="0",
        multipartuploadmaxconcurrency="8",
        encrypt="true",
        secure="false",
        forcepathstyle="0",
        skipverify="TRUE",
        v4auth="1",
        usedualstack="false",
    ).config
    assert config.chunksize == 5 * MiB
    assert config.multipartcopychunksize == 16 * MiB
    assert config.multipartcopymaxconcurrency == 7
    assert config.multipartcopythresholdsize == 0
    assert config.multipartuploadmaxconcurrency == 8
    assert (config.encrypt, config.secure, config.forcepathstyle) == (True, False, False)
    assert (config.skipverify, config.v4auth, config.usedualstack) == (True, True, False)


def test_regionendpoint_defaults_to_path_style_and_a_region() -> None:
    driver = build(**CUSTOM)
    assert driver.config.forcepathstyle is True
    assert driver.config.region == "us-east-1"
    assert driver.client.meta.config.s3["addressing_style"] == "path"
    assert driver.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert build(**AWS).client.meta.config.s3["addressing_style"] == "auto"
    assert build(**CUSTOM, forcepathstyle=False).config.forcepathstyle is False


def test_regionendpoint_without_scheme_follows_secure() -> None:
    assert build(bucket="b", regionendpoint="minio:9000").client.meta.endpoint_url == (
        "https://minio:9000"
    )
    insecure = build(bucket="b", regionendpoint="minio:9000", secure=False)
    assert insecure.client.meta.endpoint_url == "http://minio:9000"


def test_sdk_retries_and_connection_pool() -> None:
    config = build(**AWS).client.meta.config
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] >= 3
    assert config.max_pool_connections >= PARTS_IN_FLIGHT
    wide = build(**AWS, multipartcopymaxconcurrency=64).client.meta.config
    assert wide.max_pool_connections >= 64
    # Every part a writer keeps in flight has a connection, however many that is.
    parts = build(**AWS, multipartuploadmaxconcurrency=300).client.meta.config
    assert parts.max_pool_connections >= 300


def test_useragent_is_appended() -> None:
    config = build(**AWS, useragent="distribution/3.0 go1.23").client.meta.config
    assert "distribution/3.0 go1.23" in config.user_agent_extra


@pytest.mark.parametrize(
    ("encrypt", "keyid", "expected"),
    [
        (False, None, {}),
        (False, "key-1", {}),  # keyid is sent only with encrypt (Go sends it regardless)
        (True, None, {"ServerSideEncryption": "AES256"}),
        (True, "key-1", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1"}),
    ],
)
def test_encryption_arguments(encrypt: bool, keyid: str | None, expected: dict[str, str]) -> None:
    extra = {"keyid": keyid} if keyid else {}
    arguments = build(**AWS, encrypt=encrypt, **extra).config.write_arguments()
    sse = {k: v for k, v in arguments.items() if k in ("ServerSideEncryption", "SSEKMSKeyId")}
    assert sse == expected
    assert arguments["ACL"] == "private"
    assert arguments["ContentType"] == "application/octet-stream"


def test_storage_class_is_case_insensitive_and_none_omits_it() -> None:
    assert build(**AWS, storageclass="standard_ia").config.storageclass == "STANDARD_IA"
    assert build(**AWS, storageclass="None").config.storageclass is None
    assert "StorageClass" not in build(**AWS, storageclass="NONE").config.write_arguments()


def test_loglevel_false_is_off() -> None:
    assert build(**AWS, loglevel=False).config.loglevel == "off"
    assert build(**AWS, loglevel="DebugWithRequestRetries").config.loglevel == (
        "debugwithrequestretries"
    )


def test_redirectendpoint_keeps_scheme_and_host() -> None:
    config = build(**AWS, redirectendpoint="https://cdn.example:8443/").config
    assert config.redirectendpoint == "https://cdn.example:8443"


def test_any_region_with_a_custom_endpoint() -> None:
    assert build(**CUSTOM, region="garage-1").config.region == "garage-1"


@pytest.mark.parametrize(
    ("parameters", "key", "says"),
    [
        ({"region": "us-east-1"}, "bucket", "required"),
        ({"bucket": "b"}, "region", "required unless regionendpoint"),
        ({"bucket": "b", "region": "mars-north-1"}, "region", "not a region"),
        ({**AWS, "chunk_size": 1}, "chunk_size", "unknown parameter"),
        ({**AWS, "chunksize": 5 * MiB - 1}, "chunksize", "5242880 (5 MiB) to 5368709120 (5 GiB)"),
        ({**AWS, "chunksize": 5 * GiB + 1}, "chunksize", "at most 5368709120 (5 GiB)"),
        ({**AWS, "chunksize": "ten"}, "chunksize", "must be an integer"),
        ({**AWS, "multipartcopychunksize": MiB}, "multipartcopychunksize", "at least"),
        ({**AWS, "multipartcopymaxconcurrency": 0}, "multipartcopymaxconcurrency", "at least 1"),
        ({**AWS, "multipartcopythresholdsize": -1}, "multipartcopythresholdsize", "at least 0"),
        (
            {**AWS, "multipartuploadmaxconcurrency": 0},
            "multipartuploadmaxconcurrency",
            "must be at least 1 (allowed: 1 to 10000), got 0",
        ),
        (
            {**AWS, "multipartuploadmaxconcurrency": 10_001},
            "multipartuploadmaxconcurrency",
            "must be at most 10000",
        ),
        (
            {**AWS, "multipartuploadmaxconcurrency": "many"},
            "multipartuploadmaxconcurrency",
            "must be an integer, got 'many'",
        ),
        (
            {**AWS, "multipartcopythresholdsize": 5 * GiB + 1},
            "multipartcopythresholdsize",
            "at most",
        ),
        ({**AWS, "encrypt": "maybe"}, "encrypt", "boolean"),
        ({**AWS, "secure": 2}, "secure", "boolean"),
        ({**AWS, "storageclass": "GLACIER"}, "storageclass", "GLACIER_IR"),
        ({**AWS, "storageclass": 1}, "storageclass", "must be a string"),
        ({**AWS, "objectacl": "Private"}, "objectacl", "case-sensitive"),
        ({**AWS, "loglevel": "verbose"}, "loglevel", "debugwithrequesterrors"),
        ({**AWS, "loglevel": True}, "loglevel", "must be one of"),
        ({**AWS, "redirectendpoint": "cdn.example"}, "redirectendpoint", "no scheme"),
        ({**AWS, "redirectendpoint": "https://"}, "redirectendpoint", "no host"),
        ({**AWS, "redirectendpoint": "https://cdn/base"}, "redirectendpoint", "base path: /base"),
        ({**AWS, "redirectendpoint": "https://cdn/?a=1"}, "redirectendpoint", "query"),
        ({**AWS, "redirectendpoint": "https://cdn:port"}, "redirectendpoint", "unable to parse"),
        ({**AWS, "v4auth": False}, "v4auth", "only allowed with a regionendpoint"),
        (
            {**CUSTOM, "regionendpoint": "https://s3.amazonaws.com", "v4auth": "false"},
            "v4auth",
            "Amazon S3 accepts only v4",
        ),
        ({**AWS, "accesskey": "AKIDEXAMPLE"}, "secretkey", "together with accesskey"),
        ({**AWS, "secretkey": SECRET}, "accesskey", "together with secretkey"),
        ({**AWS, "sessiontoken": TOKEN}, "sessiontoken", "only used together"),
        ({**CUSTOM, "regionendpoint": "ftp://host"}, "regionendpoint", "must be a URL"),
    ],
)
def test_invalid_parameters(parameters: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        regstore.create("s3", parameters)
    assert caught.value.parameter == key
    assert caught.value.driver_name == "s3"
    assert says in str(caught.value)
    assert SECRET not in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_s3aws_is_the_same_driver_under_its_own_name() -> None:
    driver = regstore.create("s3aws", AWS)
    assert driver.name == "s3aws"
    assert isinstance(getattr(driver, "inner", None), S3Driver)
    assert regstore.create("s3", AWS).name == "s3"
    with pytest.raises(InvalidParameterError, match=r"^s3aws: parameter 'chunksize'"):
        regstore.create("s3aws", {**AWS, "chunksize": 1})


def test_secrets_never_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    driver = regstore.create(
        "s3",
        {
            **CUSTOM,
            "accesskey": "AKIDEXAMPLE",
            "secretkey": SECRET,
            "sessiontoken": TOKEN,
            "loglevel": "debugwithsigning",
        },
    )
    inner = getattr(driver, "inner", driver)
    assert isinstance(inner, S3Driver)
    for text in (repr(driver), repr(inner), repr(inner.config), caplog.text):
        assert SECRET not in text
        assert TOKEN not in text
    assert repr(driver) == (
        "S3Driver(bucket='registry', region='us-east-1', endpoint='http://127.0.0.1:9000')"
    )
