"""The conformance suite bound to the store ``regstore check`` describes in ``REGSTORE_CHECK_SPEC``.

Not a test module of the project: ``regstore check`` runs it with pytest in a
child process, with the driver's name and parameters (rootdirectory set to a
fresh scratch prefix) as JSON in the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from ..driver import StorageDriver
from ..factory import create
from ..testsuite import DriverSuite
from ._check_protocol import SPEC_VARIABLE


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(os.environ[SPEC_VARIABLE])
    return spec


class TestStore(DriverSuite):
    """The whole suite over the scratch prefix."""

    @pytest.fixture
    def driver(self) -> Iterator[StorageDriver]:
        spec = _spec()
        with create(spec["driver"], spec["parameters"]) as driver:
            yield driver

    @pytest.fixture
    def second_driver(self) -> Iterator[StorageDriver]:
        spec = _spec()
        with create(spec["driver"], spec["parameters"]) as driver:
            yield driver
