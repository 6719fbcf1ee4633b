"""The robustness suites must fail deliberately broken drivers (``faults/broken.py``), test by test.

Each case runs some of the suites in a fresh pytest process with
``REGSTORE_BROKEN_DRIVER`` putting a broken driver in place of a target's own,
and requires the named tests to fail: a suite that passes a driver which
writes in place, forgets what ``close`` should keep, follows symlinks out of
its root, or lets any path through, proves nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from test_resource_errors import can_mount

HERE = Path(__file__).parent

CASES = {
    "put_content writes in place": (
        "filesystem=faults.broken:TornPutFilesystem",
        [
            "test_crash.py::TestCrashFilesystem::test_killed_put_content_leaves_one_whole_version",
            "test_resource_errors.py::test_file_size_limit",
            "test_resource_errors.py::test_disk_full",
            "test_load.py::TestLoadFilesystem::test_32_threads_of_mixed_operations",
        ],
    ),
    "close forgets the last write": (
        "filesystem=faults.broken:ForgetfulCloseFilesystem",
        [
            "test_crash.py::TestCrashFilesystem::test_killed_upload_leaves_old_or_new_and_resumes",
            "test_load.py::TestLoadFilesystem::test_32_threads_of_mixed_operations",
        ],
    ),
    "symlinks followed out of the root": (
        "filesystem=faults.broken:EscapingFilesystem",
        ["test_hostile_input.py::TestHostileFilesystem::test_symlinks_out_of_the_root_are_refused"],
    ),
    "no path check": (
        "inmemory=faults.broken:LaxPaths",
        ["test_hostile_input.py::TestHostileInMemory::test_any_path_is_used_or_refused_as_invalid"],
    ),
}


def outcomes(report: Path) -> dict[str, str]:
    """Test id (``file.py::Class::name``) -> passed, failed or skipped, from a JUnit report."""
    found = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        start = next(index for index, part in enumerate(parts) if part.startswith("test_"))
        module, classes = parts[start], parts[start + 1 :]
        test_id = "::".join([f"{module}.py", *classes, case.get("name", "")])
        kinds = {child.tag for child in case}
        found[test_id] = (
            "failed"
            if kinds & {"failure", "error"}
            else "skipped"
            if "skipped" in kinds
            else "passed"
        )
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_suites_fail_a_broken_driver(case: str, tmp_path: Path) -> None:
    broken, tests = CASES[case]
    report = tmp_path / "report.xml"
    env = {
        **os.environ,
        "REGSTORE_BROKEN_DRIVER": broken,
        "REGSTORE_CRASH_ROUNDS": "10",
        "REGSTORE_FUZZ_EXAMPLES": "60",
        "REGSTORE_LOAD_SECONDS": "2",
    }
    env.pop("REGSTORE_SOAK_SECONDS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         f"--junitxml={report}", *(str(HERE / test) for test in tests)],
        capture_output=True, text=True, cwd=HERE.parent, env=env, timeout=900, check=False,
    )  # fmt: skip
    results = outcomes(report)
    unproven = []
    for test in tests:
        result = results.get(test, "not run")
        if result == "skipped" and "disk_full" in test and can_mount():
            continue  # no tmpfs here: the file-size limit case proves the same
        if result != "failed":
            unproven.append(f"{test}: {result}")
    assert not unproven, (
        f"{case}: these tests did not fail:\n" + "\n".join(unproven) + (f"\n{done.stdout[-2000:]}")
    )
