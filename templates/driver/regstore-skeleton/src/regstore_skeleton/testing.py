"""The skeleton driver's test backends, found through the ``regstore.testing`` entry point.

Only tests import this module (``regstore.testsuite.backends`` reads it). For a
backend on an emulator, name the emulator in ``emulators`` and the
``REGSTORE_TEST_*`` variables ``open`` reads in ``variables``, import the SDK
inside ``open``, make a fresh bucket there and remove it on exit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from regstore.objectstore import PRIVATE_AREA
from regstore.testsuite.backends import Store, TestBackend

from . import dictstore
from .config import NAME

__all__ = ["backends"]


@contextmanager
def _dict_store(env: Mapping[str, str], workdir: Path) -> Iterator[Store]:
    """A fresh bucket of the in-process store, dropped after the test."""
    bucket = f"test-{uuid.uuid4().hex}"

    def leftovers() -> list[str]:
        # What the driver keeps outside the path namespace: pending uploads' objects.
        opened = dictstore.open_bucket(bucket)
        return [key for key in opened.all_keys() if f"/{PRIVATE_AREA}/" in f"/{key}"]

    try:
        yield Store(NAME, {"bucket": bucket, "rootdirectory": "/registry"}, leftovers=leftovers)
    finally:
        dictstore.drop_bucket(bucket)


def backends() -> list[TestBackend]:
    """One backend: the in-process store, nothing to start."""
    return [
        TestBackend(
            name=NAME,
            title="Skeleton",
            driver=NAME,
            open=_dict_store,
            # Other processes do not see an in-process store (crash tests skip it);
            # a backend they do see keeps the default, True.
            shared=False,
            # Parameters the hostile-input suite may fuzz (never where the backend is).
            fuzzed_parameters=("rootdirectory",),
            # A backend with buckets that must exist names its parameter here
            # (bucket_parameter="bucket"): the missing-bucket suite then checks that
            # its errors name it. This store makes a bucket on first use.
        ),
    ]
