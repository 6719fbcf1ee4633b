"""Secrets registered by a driver never reach a log handler through an SDK logger."""

from __future__ import annotations

import logging

import pytest

from regstore.redaction import REDACTED, redact, register_secrets


def test_registered_secret_is_scrubbed_from_sdk_records(caplog: pytest.LogCaptureFixture) -> None:
    register_secrets("s3cr3t-value/with+chars")
    with caplog.at_level(logging.DEBUG, logger="botocore.endpoint"):
        logging.getLogger("botocore.endpoint").debug(
            "Sending %s and %s", "s3cr3t-value/with+chars", "s3cr3t-value%2Fwith%2Bchars"
        )
    assert "s3cr3t" not in caplog.text
    assert caplog.text.count(REDACTED) == 2


def test_records_of_other_loggers_are_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    register_secrets("application-owned-text")
    with caplog.at_level(logging.DEBUG, logger="myapp"):
        logging.getLogger("myapp").debug("application-owned-text")
    assert "application-owned-text" in caplog.text


@pytest.mark.parametrize(
    ("text", "kept", "hidden"),
    [
        ("GET /c/b?sv=2026&sig=abc%2Bdef%3D&se=1 HTTP/1.1", "sv=2026", "abc%2Bdef"),
        ("{'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAX/2026'}", "{'", "AKIAX"),
        ("https://h/k?X-Amz-Signature=0f0f&X-Amz-Expires=60", "X-Amz-Expires=60", "0f0f"),
        ("AccountName=dev;AccountKey=Zm9vYmFy==;", "AccountName=dev", "Zm9vYmFy"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "END", "MIIE"),
    ],
)
def test_credential_patterns_are_redacted(text: str, kept: str, hidden: str) -> None:
    cleaned = redact(text)
    assert kept in cleaned
    assert hidden not in cleaned
