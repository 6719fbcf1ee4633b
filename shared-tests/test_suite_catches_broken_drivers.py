"""The conformance suite must fail drivers that break the contract, test by test."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent

BINDING = """
import sys
sys.path.insert(0, {here!r})
import pytest
import regstore
from regstore.testsuite import DriverSuite
import broken_drivers

class TestBroken(DriverSuite):
    @pytest.fixture
    def driver(self):
        return regstore.create("{name}")
"""


@pytest.mark.parametrize(
    ("broken", "must_fail"),
    [
        ("NonAtomicPut", ["test_put_content_is_atomic_under_concurrent_readers"]),
        (
            "VisiblePendingUpload",
            ["test_pending_upload_is_invisible", "test_pending_upload_does_not_replace_committed"],
        ),
        ("WrongWalkOrder", ["test_walk_order_and_infos", "test_walk_byte_order_example"]),
        ("PrefixDelete", ["test_delete_only_deletes_subpaths"]),
        ("DirectoryReader", ["test_reader_of_directory_is_not_found"]),
        ("FreshWriterResumes", ["test_append_false_replaces_the_pending_upload"]),
        (
            "PurgeEverything",
            ["test_purge_uploads_keeps_newer_uploads", "test_purge_uploads_only_at_or_below_path"],
        ),
    ],
)
def test_suite_fails_a_broken_driver(
    pytester: pytest.Pytester, broken: str, must_fail: list[str]
) -> None:
    import broken_drivers

    import regstore

    name = f"broken-{broken.lower()}-{id(pytester)}"
    regstore.register(name, getattr(broken_drivers, broken))
    pytester.makepyfile(BINDING.format(here=str(HERE), name=name))
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    reports = result.reprec.getreports("pytest_runtest_logreport")
    failed = {r.nodeid.split("::")[-1] for r in reports if r.failed}
    for test in must_fail:
        assert any(f.startswith(test) for f in failed), (
            f"{broken}: {test} passed; failures were {sorted(failed)}"
        )
    # The rest of the suite still runs on the broken driver (the harness works).
    assert outcomes.get("passed", 0) > 50
