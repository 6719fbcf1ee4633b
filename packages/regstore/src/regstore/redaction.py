"""Keep credentials out of log records, including the cloud SDKs' own DEBUG logs.

botocore logs request headers (``Authorization: ... Credential=AKIA...``) and
urllib3 logs request lines with SAS signatures at DEBUG. A driver registers its
secrets with ``register_secrets``; every log record from an SDK logger then has
those values, and any signature, credential or key pattern, replaced by
``[redacted]`` before a handler sees it. The hook is a log-record factory, so it
covers loggers created later too, and costs nothing for disabled levels.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import quote

__all__ = ["REDACTED", "SDK_LOGGERS", "redact", "register_secrets"]

REDACTED = "[redacted]"

#: Loggers whose records are scrubbed: the SDKs and the HTTP stacks below them.
SDK_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "requests",
    "azure",
    "google",
    "regstore",
)

_PATTERNS = [
    # Query parameters and header fields that carry signatures or credentials.
    re.compile(
        r"(?i)((?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token"
        r"|x-goog-signature|x-goog-credential|credential|accountkey|sharedaccesssignature"
        r"|client_secret|access_token|refresh_token)[\"']?\s*[=:]\s*[\"']?)([^&\s,;\"'<>]+)"
    ),
    # HTTP Authorization headers (SigV4, SharedKey, Bearer).
    re.compile(r"(?i)(['\"]?authorization['\"]?\s*[:=]\s*b?['\"]?)([^'\"\r\n]+)"),
    re.compile(r"(?s)(-----BEGIN [A-Z ]*PRIVATE KEY-----)(.*?)(?=-----END)"),
]

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """``text`` with every registered secret and credential pattern replaced."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def register_secrets(*values: str | None) -> None:
    """Scrub these values (and their URL-encoded forms) from SDK log records from now on."""
    global _installed
    with _lock:
        for value in values:
            if value and len(value) >= 4:
                _secrets.add(value)
                _secrets.add(quote(value, safe=""))
        if not _installed:
            _install()
            _installed = True


def _install() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith(SDK_LOGGERS):
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is the logging module's to report
                return record
            cleaned = redact(message)
            if cleaned != message:
                record.msg = cleaned
                record.args = None
        return record

    logging.setLogRecordFactory(factory)
