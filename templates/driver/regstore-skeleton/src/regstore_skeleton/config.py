"""The skeleton driver's parameters: read and checked once, before anything is opened.

Add your backend's keys to ``KNOWN_KEYS`` and ``SkeletonConfig`` and read them
in ``parse`` with the ``Parameters`` readers (``string``, ``integer``,
``boolean``, ``duration``, ``choice``): they accept the registry's text forms
and raise ``InvalidParameterError`` naming the key and what is allowed. Keep
secrets out of ``repr`` (``field(repr=False)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from regstore.params import Parameters

__all__ = ["KNOWN_KEYS", "NAME", "SkeletonConfig", "parse"]

#: The driver name ``regstore.create`` takes (the ``regstore.drivers`` entry point).
NAME = "skeleton"

#: Every parameter the driver accepts; any other key is an ``InvalidParameterError``.
KNOWN_KEYS = ("bucket", "rootdirectory")


@dataclass(frozen=True)
class SkeletonConfig:
    """Validated parameters."""

    #: The store's name: two drivers with the same bucket see the same objects.
    bucket: str
    #: The key prefix of every path (``KeyLayout`` checks it).
    rootdirectory: str = ""


def parse(parameters: Mapping[str, Any] | None) -> SkeletonConfig:
    """Read and check every parameter; a bad one raises ``InvalidParameterError``."""
    params = Parameters(NAME, parameters, known=KNOWN_KEYS)
    bucket = params.string("bucket", required=True)
    assert bucket is not None  # required=True raises instead of returning None
    # Check your backend's naming rules for buckets here, with params.fail(key, message).
    rootdirectory = params.string("rootdirectory", "") or ""
    return SkeletonConfig(bucket=bucket, rootdirectory=rootdirectory)
