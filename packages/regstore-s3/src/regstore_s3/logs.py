"""Request logging for the ``loglevel`` parameter, without credentials or bodies.

Any level other than ``off`` logs one DEBUG line per S3 request and answer on
the ``regstore_s3`` logger: the operation, the key, the HTTP status and the
number of retries. Headers, signatures and bodies are never logged, so the
Go levels that add them (``debugwithsigning``, ``debugwithhttpbody``, ...) log
the same lines as ``debug``.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LOGGER", "install_request_logging"]

LOGGER = logging.getLogger("regstore_s3")


def install_request_logging(client: Any, level: str) -> None:
    """Log the requests ``client`` makes when ``level`` is not ``off``."""
    if level == "off":
        return
    if LOGGER.level == logging.NOTSET:
        LOGGER.setLevel(logging.DEBUG)
    events = client.meta.events
    events.register("before-parameter-build.s3", _remember_key)
    events.register("after-call.s3", _log_answer)
    events.register("after-call-error.s3", _log_failure)


def _remember_key(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["regstore_key"] = params.get("Key") or params.get("Prefix") or ""


def _log_answer(model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    meta = parsed.get("ResponseMetadata", {})
    code = parsed.get("Error", {}).get("Code")
    LOGGER.debug(
        "S3 %s %r: HTTP %s%s, %s retries",
        model.name,
        context.get("regstore_key", ""),
        meta.get("HTTPStatusCode", "?"),
        f" {code}" if code else "",
        meta.get("RetryAttempts", 0),
    )


def _log_failure(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
    LOGGER.debug(
        "S3 request %r failed: %s", context.get("regstore_key", ""), type(exception).__name__
    )
