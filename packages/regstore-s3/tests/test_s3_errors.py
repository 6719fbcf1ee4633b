"""Errors: S3 codes become regstore errors that say what to fix, never showing a secret."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from s3_helpers import Backend, wipe

import regstore
from regstore.errors import DriverError, StorageDriverError
from testenv import unique_name


def rgw_only(backend: Backend) -> None:
    if backend.name == "moto":
        pytest.skip("moto accepts any credentials: it checks no signature (emulators.md)")


def failure(call: Callable[[], object]) -> DriverError:
    with pytest.raises(DriverError) as caught:
        call()
    return caught.value


def test_a_missing_bucket_is_named(backend: Backend) -> None:
    bucket = unique_name("missing")
    driver = regstore.create("s3", backend.parameters(bucket=bucket))
    calls: list[Callable[[], object]] = [
        lambda: driver.get_content("/x"),
        lambda: driver.put_content("/x", b"x"),
        lambda: driver.stat("/x"),
        lambda: driver.list("/"),
        lambda: list(driver.walk("/")),
        lambda: driver.writer("/x"),
        lambda: driver.reader("/x"),
        lambda: driver.delete("/x"),
    ]
    for call in calls:
        message = str(failure(call))
        assert f"bucket {bucket!r} does not exist" in message, message
        assert message.startswith("s3: ")


@pytest.fixture
def locked_bucket(backend: Backend) -> Iterator[tuple[str, str]]:
    """A bucket whose policy denies reads, writes and deletes of ``/locked*`` (to everyone)."""
    bucket = unique_name("locked")
    backend.client.create_bucket(Bucket=bucket)
    backend.client.put_object(Bucket=bucket, Key="root/locked", Body=b"x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/root/locked*"],
            }
        ],
    }
    backend.client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    yield bucket, "root"
    backend.client.delete_bucket_policy(Bucket=bucket)
    wipe(backend.client, bucket, "")
    backend.client.delete_bucket(Bucket=bucket)


def test_access_denied_names_the_missing_permission(
    backend: Backend, locked_bucket: tuple[str, str]
) -> None:
    bucket, root = locked_bucket
    driver = regstore.create("s3", backend.parameters(bucket=bucket, rootdirectory=root))
    expected = {
        "GetObject of /locked": (lambda: driver.get_content("/locked"), "s3:GetObject"),
        "PutObject of /locked": (lambda: driver.put_content("/locked", b"y"), "s3:PutObject"),
    }
    if backend.name != "moto":  # moto 5.2.5 applies the policy to GET but not to HEAD
        expected["HeadObject of /locked"] = (lambda: driver.stat("/locked"), "s3:GetObject")
    for doing, (call, permission) in expected.items():
        message = str(failure(call))
        assert message == (
            f"s3: {doing} failed: access denied; the credentials need {permission}"
            f" on bucket {bucket!r}"
        )


def test_delete_reports_each_key_it_could_not_delete(
    backend: Backend, locked_bucket: tuple[str, str]
) -> None:
    bucket, root = locked_bucket
    driver = regstore.create("s3", backend.parameters(bucket=bucket, rootdirectory=root))
    message = str(failure(lambda: driver.delete("/locked")))
    assert message.startswith("s3: delete of /locked: 1 object(s) could not be deleted: /locked")
    assert "AccessDenied" in message


def test_keys_refused_in_every_batch_are_reported_together(backend: Backend) -> None:
    bucket = unique_name("locked")
    backend.client.create_bucket(Bucket=bucket)
    try:
        keys = [f"root/tree/{i:04d}" for i in range(1003)]  # two DeleteObjects batches
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda key: backend.client.put_object(Bucket=bucket, Key=key), keys))
        refused = [f"arn:aws:s3:::{bucket}/{key}" for key in (keys[1], keys[1001])]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:DeleteObject",
                    "Resource": refused,
                }
            ],
        }
        backend.client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        driver = regstore.create("s3", backend.parameters(bucket=bucket, rootdirectory="root"))
        message = str(failure(lambda: driver.delete("/tree")))
        assert message.startswith("s3: delete of /tree: 2 object(s) could not be deleted: ")
        assert "/tree/0001 (AccessDenied" in message
        assert "/tree/1001 (AccessDenied" in message
        left = backend.client.list_objects_v2(Bucket=bucket, Prefix="root/")
        assert [item["Key"] for item in left.get("Contents", ())] == [keys[1], keys[1001]]
    finally:
        with contextlib.suppress(Exception):
            backend.client.delete_bucket_policy(Bucket=bucket)
        wipe(backend.client, bucket, "")
        backend.client.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"secretkey": "not-the-secret-at-all"}, "the request signature does not match"),
        ({"accesskey": "AKIDUNKNOWN"}, "the server does not know the access key"),
    ],
)
def test_wrong_credentials_say_so_without_the_secret(
    backend: Backend, root: str, change: dict[str, str], says: str
) -> None:
    rgw_only(backend)
    parameters = backend.parameters(rootdirectory=root, **change)
    driver = regstore.create("s3", parameters)
    for call in (lambda: driver.get_content("/x"), lambda: driver.stat("/x")):
        error = failure(call)
        assert says in str(error)
        assert "accesskey, secretkey and sessiontoken parameters" in str(error)
        for text in (str(error), repr(error), str(error.__cause__), repr(driver)):
            assert parameters["secretkey"] not in text


@pytest.fixture
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_ambient_credentials")
def test_no_credentials_anywhere(backend: Backend, root: str) -> None:
    parameters = {k: v for k, v in backend.parameters(rootdirectory=root).items() if "key" not in k}
    driver = regstore.create("s3", parameters)
    message = str(failure(lambda: driver.get_content("/x")))
    assert message.startswith("s3: no usable AWS credentials")
    assert "default credential chain" in message


@pytest.mark.usefixtures("no_ambient_credentials")
def test_the_sdk_default_credential_chain_is_used(
    backend: Backend, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rgw_only(backend)  # radosgw checks the signature, so the right keys must have been found
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", backend.connection["accesskey"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", backend.connection["secretkey"])
    parameters = {k: v for k, v in backend.parameters(rootdirectory=root).items() if "key" not in k}
    with regstore.create("s3", parameters) as driver:
        driver.put_content("/from-env", b"signed with the environment's keys")
        assert driver.get_content("/from-env") == b"signed with the environment's keys"


def test_loglevel_logs_requests_but_no_credentials(
    backend: Backend, parameters: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="regstore_s3")
    with regstore.create("s3", {**parameters, "loglevel": "debugwithhttpbody"}) as driver:
        driver.put_content("/logged", b"body bytes never logged")
        with contextlib.suppress(StorageDriverError):
            driver.get_content("/missing")
    text = caplog.text
    assert "S3 PutObject" in text
    assert "HTTP 404 NoSuchKey" in text
    for secret in (parameters["secretkey"], "Authorization", "Signature", "body bytes"):
        assert secret not in text
