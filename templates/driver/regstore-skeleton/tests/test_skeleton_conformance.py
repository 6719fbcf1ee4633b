"""The conformance suite against the skeleton driver, on the backends ``testing.py`` declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import regstore
from regstore.driver import StorageDriver
from regstore.testsuite.backends import Store
from regstore.testsuite.binding import BackendSuite


class TestSkeleton(BackendSuite):
    backend = "skeleton"

    # Only because the in-process store is declared shared=False: two instances in
    # this process do share a bucket. A backend other processes see drops this.
    @pytest.fixture
    def second_driver(self, store: Store, parameters: dict[str, Any]) -> Iterator[StorageDriver]:
        with regstore.create(store.driver, parameters) as driver:
            yield driver
