"""Storage middleware: wrap a driver to change the URLs ``redirect_url`` gives clients.

Built in: ``redirect`` (a fixed base URL) and ``rewrite`` (scheme, host and path
prefix of the driver's URL); ``cloudfront`` ships with ``regstore[s3]``. Others
register through the ``regstore.middleware`` entry-point group. A
configuration's ``middleware: storage:`` list is applied with
``regstore.from_config``, or by hand::

    driver = apply_middleware(regstore.create("s3", params),
                              [("rewrite", {"host": "cdn.example.com"})])
"""

from __future__ import annotations

from .base import IncompatibleDriverError, RedirectsDisabled, StorageMiddleware
from .registry import (
    MIDDLEWARE_GROUP,
    InvalidMiddlewareError,
    MiddlewareFactory,
    apply_middleware,
    available_middleware,
    create_middleware,
    middleware_distributions,
    register_middleware,
)

__all__ = [
    "MIDDLEWARE_GROUP",
    "IncompatibleDriverError",
    "InvalidMiddlewareError",
    "MiddlewareFactory",
    "RedirectsDisabled",
    "StorageMiddleware",
    "apply_middleware",
    "available_middleware",
    "create_middleware",
    "middleware_distributions",
    "register_middleware",
]
