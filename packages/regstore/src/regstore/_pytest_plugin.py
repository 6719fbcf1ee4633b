"""pytest plugin: rewrite the conformance suite's asserts so a failure shows what differed.

Registered through the ``pytest11`` entry point; it must not import the suite
itself, or the rewrite would come too late. It also declares the suite's
``slow`` marker, so a driver package's tests run under ``--strict-markers``
without declaring it themselves.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("regstore.testsuite")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``slow`` marker the suite puts on its large-stream tests."""
    config.addinivalue_line(
        "markers", "slow: the suite's large streams (REGSTORE_SUITE_LARGE_SIZE bytes)"
    )
