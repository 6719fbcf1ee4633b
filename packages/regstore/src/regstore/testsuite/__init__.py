"""The conformance suite: the contract in executable form, for every driver.

Bind a driver with a few lines::

    import pytest
    import regstore
    from regstore.testsuite import DriverSuite

    class TestMyDriver(DriverSuite):
        @pytest.fixture
        def driver(self):
            return regstore.create("mydriver", {"bucket": "test"})

The ``driver`` fixture returns a driver over an empty store. Optional fixtures:
``second_driver`` (another instance over the same store: enables the
resume-from-another-replica tests) and ``leftovers`` (a callable listing backend
objects kept outside the path namespace; must be empty after each test). A
class attribute ``unsupported = {"test_name": "reason"}`` skips tests a backend
cannot run, by name and with the reason. Large streams are marked ``slow`` and
sized by ``REGSTORE_SUITE_LARGE_SIZE`` (bytes; 32 MiB by default, 5 GiB as in
the Go suite).
"""

from __future__ import annotations

from .content import ContentTests
from .digests import DigestTests
from .streams import ReaderTests, WriterTests
from .tree import MoveDeleteTests, RedirectTests, StatListTests, WalkTests
from .uploads import UploadLifecycleTests

__all__ = ["DriverSuite"]


class DriverSuite(
    ContentTests,
    ReaderTests,
    WriterTests,
    StatListTests,
    MoveDeleteTests,
    WalkTests,
    RedirectTests,
    UploadLifecycleTests,
    DigestTests,
):
    """Every conformance test; subclass it and provide the ``driver`` fixture."""
