"""Parameters: the registry's gcs keys, their rules, and keys kept secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

import regstore
from regstore import unwrap
from regstore_gcs import GCSDriver
from regstore_gcs.client import retry_policy
from testenv import unique_name

MiB = 1 << 20


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """An emulator address nothing listens on: building a driver contacts nobody."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")


def create(**parameters: Any) -> GCSDriver:
    driver = unwrap(regstore.create("gcs", parameters))
    assert isinstance(driver, GCSDriver)
    return driver


def rejected(parameter: str, **parameters: Any) -> str:
    with pytest.raises(regstore.InvalidParameterError) as caught:
        regstore.create("gcs", parameters)
    assert caught.value.parameter == parameter
    assert str(caught.value).startswith("gcs: ")
    return str(caught.value)


def test_defaults() -> None:
    driver = create(bucket="registry")
    assert driver.config.bucket == "registry"
    assert driver.config.rootdirectory == ""
    assert driver.config.chunksize == 16 * MiB
    assert driver.concurrency_limit == 50
    assert driver.redirect_url("/a") is None  # no key to sign with
    assert repr(driver) == "GCSDriver(bucket='registry', rootdirectory='')"


def test_bucket_is_required() -> None:
    assert "required" in rejected("bucket")
    assert "required" in rejected("bucket", bucket="")


def test_unknown_key_names_the_accepted_ones() -> None:
    message = rejected("chunk_size", bucket="b", chunk_size=MiB)
    assert "chunksize" in message
    assert "maxconcurrency" in message


def test_rootdirectory_slashes_are_trimmed() -> None:
    assert create(bucket="b", rootdirectory="/registry/v2/").config.rootdirectory == "registry/v2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(256 * 1024, 256 * 1024), ("524288", 512 * 1024), (32 * MiB, 32 * MiB), ("0x100000", MiB)],
)
def test_chunksize_accepted(value: object, expected: int) -> None:
    assert create(bucket="b", chunksize=value).config.chunksize == expected


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (256 * 1024 - 1, "at least 262144"),
        (0, "at least"),
        (-5, "at least"),
        (256 * 1024 + 1, "multiple of 262144"),
        (5 * MiB + 1024, "multiple of 262144"),
        ("ten", "integer"),
        (1.5, "integer"),
        (True, "integer"),
    ],
)
def test_chunksize_rejected(value: object, rule: str) -> None:
    assert rule in rejected("chunksize", bucket="b", chunksize=value)


@pytest.mark.parametrize(("value", "expected"), [(None, 50), (100, 100), ("30", 30), (10, 25)])
def test_maxconcurrency_bounds_the_wrapper(value: object, expected: int) -> None:
    """The registry raises values below 25 to 25; the wrapper enforces the limit."""
    checked = regstore.create("gcs", {"bucket": "b", "maxconcurrency": value})
    assert unwrap(checked).concurrency_limit == expected


def test_maxconcurrency_rejects_non_integers() -> None:
    assert "integer" in rejected("maxconcurrency", bucket="b", maxconcurrency="many")


def test_useragent_is_accepted() -> None:
    assert create(bucket="b", useragent="registry/3.0").config.useragent == "registry/3.0"


# -- service-account keys ---------------------------------------------------------------


def write_key(tmp_path: Path, content: object) -> str:
    path = tmp_path / "key.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_keyfile_enables_signed_urls(tmp_path: Path, service_account: dict[str, str]) -> None:
    driver = create(bucket="b", keyfile=write_key(tmp_path, service_account))
    url = driver.redirect_url("/a/b")
    assert url is not None
    assert "X-Goog-Algorithm=GOOG4-RSA-SHA256" in url


def test_credentials_mapping_or_json_text(service_account: dict[str, str]) -> None:
    assert create(bucket="b", credentials=service_account).redirect_url("/a") is not None
    as_text = create(bucket="b", credentials=json.dumps(service_account))
    assert as_text.redirect_url("/a") is not None


def test_keyfile_missing(tmp_path: Path) -> None:
    message = rejected("keyfile", bucket="b", keyfile=str(tmp_path / "nope.json"))
    assert "nope.json" in message


def test_keyfile_not_json_does_not_echo_the_file(tmp_path: Path) -> None:
    secret = "-----BEGIN PRIVATE KEY-----\nTOPSECRET\n"
    message = rejected("keyfile", bucket="b", keyfile=write_key(tmp_path, secret))
    assert "not a JSON service-account key" in message
    assert "TOPSECRET" not in message


def test_keyfile_of_another_kind(tmp_path: Path) -> None:
    user = {"type": "authorized_user", "client_id": "x", "refresh_token": "y"}
    message = rejected("keyfile", bucket="b", keyfile=write_key(tmp_path, user))
    assert "service_account" in message


def test_key_without_private_key(service_account: dict[str, str]) -> None:
    partial = {k: v for k, v in service_account.items() if k != "private_key"}
    assert "private_key" in rejected("credentials", bucket="b", credentials=partial)


def test_malformed_private_key_is_not_quoted(service_account: dict[str, str]) -> None:
    broken = dict(service_account, private_key="-----BEGIN PRIVATE KEY-----\nSECRETBITS\n")
    with pytest.raises(regstore.InvalidParameterError) as caught:
        regstore.create("gcs", {"bucket": "b", "credentials": broken})
    assert caught.value.parameter == "credentials"
    assert "PEM-encoded RSA private key" in str(caught.value)
    assert "SECRETBITS" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    "value", [["a", "b"], 42, "not json", {"client_email": 5, "private_key": "x"}]
)
def test_credentials_must_be_a_mapping_of_strings(value: object) -> None:
    rejected("credentials", bucket="b", credentials=value)


def test_keyfile_and_credentials_together(tmp_path: Path, service_account: dict[str, str]) -> None:
    message = rejected(
        "credentials",
        bucket="b",
        keyfile=write_key(tmp_path, service_account),
        credentials=service_account,
    )
    assert "not both" in message


def test_private_key_stays_out_of_reprs_and_logs(
    service_account: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    fakegcs_url: str,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fakegcs_url)
    caplog.set_level(logging.DEBUG)
    checked = regstore.create("gcs", {"bucket": unique_name("nb"), "credentials": service_account})
    driver = unwrap(checked)
    assert isinstance(driver, GCSDriver)
    key_body = service_account["private_key"].splitlines()[1]
    url = driver.redirect_url("/a/b")
    with pytest.raises(regstore.StorageDriverError) as caught:
        checked.get_content("/a/b")  # no such bucket
    for text in (repr(checked), repr(driver), repr(driver.config), str(caught.value), url):
        assert "PRIVATE KEY" not in str(text)
        assert key_body not in str(text)
    assert key_body not in caplog.text
    assert "PRIVATE KEY" not in caplog.text


def test_retry_defaults_are_googles() -> None:
    """Without the retry keys the SDK's own policy applies: 120 s deadline, 1 s first wait."""
    config = create(bucket="b").config
    assert (config.retry_deadline, config.retry_delay) == (120.0, 1.0)


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30.0), ("1m30s", 90.0), ("250ms", 0.25), ("2h", 7200.0)]
)
def test_retry_durations_accepted(value: str, seconds: float) -> None:
    config = create(bucket="b", retry_deadline=value, retry_delay=value).config
    assert (config.retry_deadline, config.retry_delay) == (seconds, seconds)


@pytest.mark.parametrize("key", ["retry_deadline", "retry_delay"])
@pytest.mark.parametrize("value", ["30", 30, "0s", "-1s", "soon", True])
def test_retry_durations_rejected(key: str, value: object) -> None:
    message = rejected(key, bucket="b", **{key: value})
    assert "duration" in message


def test_retry_settings_reach_the_sdk_policy() -> None:
    policy = retry_policy(create(bucket="b", retry_deadline="5s", retry_delay="20ms").config)
    assert (policy.timeout, policy._initial, policy._maximum) == (5.0, 0.02, 60.0)
    slow = retry_policy(create(bucket="b", retry_delay="2m").config)
    assert (slow._initial, slow._maximum) == (120.0, 120.0)
