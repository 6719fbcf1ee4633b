"""The driver template: as a fork gets it, it passes the whole conformance suite.

``scripts/new-driver`` copies ``templates/driver/regstore-skeleton``; a driver
generated out of the repository and installed from wheels must pass every test
of the suite with no skip, and its driver module must stay short enough to read.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

# scripts/new-driver and scripts/versions.py read TOML with the standard library's reader.
tomllib = pytest.importorskip("tomllib", reason="the scripts need Python 3.11 or later")

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "templates" / "driver" / "regstore-skeleton"
NEW_DRIVER = REPO / "scripts" / "new-driver"
#: The issue's bound on a generated driver module.
MAX_DRIVER_LINES = 250


def _run(
    command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=timeout
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what points Python at the workspace's packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def suite_size(tmp_path_factory: pytest.TempPathFactory) -> int:
    """How many tests the conformance suite has, collected from a bare binding."""
    folder = tmp_path_factory.mktemp("suite-size")
    (folder / "test_size.py").write_text(
        "from regstore.testsuite import DriverSuite\n\n\nclass TestSize(DriverSuite):\n    pass\n"
    )
    result = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only"],
        cwd=folder,
        env=_clean_env(),
    )
    count = sum(1 for line in result.stdout.splitlines() if "::" in line)
    assert count > 100, result.stdout[-2000:]
    return count


def _outcomes(report: Path) -> dict[str, int]:
    """Passed, skipped and failed counts from a JUnit XML report."""
    suite = ElementTree.parse(report).getroot()
    if suite.tag == "testsuites":
        suite = suite[0]
    total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    return {"passed": total - skipped - failed, "skipped": skipped, "failed": failed}


def _fake_install(template: Path, site: Path) -> None:
    """Make the template's entry points visible, as installing it would, with no install."""
    project = tomllib.loads((template / "pyproject.toml").read_text())["project"]
    info = site / "regstore_skeleton-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: 0\n")
    groups = "".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
        for group, points in project["entry-points"].items()
    )
    (info / "entry_points.txt").write_text(groups)


def test_template_in_the_repository_passes_the_whole_suite(tmp_path: Path, suite_size: int) -> None:
    site = tmp_path / "site"
    _fake_install(TEMPLATE, site)
    report = tmp_path / "report.xml"
    _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            str(TEMPLATE / "tests"),
        ],
        cwd=tmp_path,
        env=_clean_env(PYTHONPATH=os.pathsep.join([str(site), str(TEMPLATE / "src")])),
    )
    assert _outcomes(report) == {"passed": suite_size, "skipped": 0, "failed": 0}


@pytest.mark.slow
def test_generated_driver_installed_from_wheels_passes_the_whole_suite(
    tmp_path: Path, suite_size: int
) -> None:
    # A fork: the package generated into an empty folder outside the repository.
    outside = tmp_path / "fork"
    outside.mkdir()
    package = outside / "regstore-acme"
    _run([sys.executable, str(NEW_DRIVER), "acme", "--dest", str(package)], cwd=outside)
    driver_module = package / "src" / "regstore_acme" / "driver.py"
    assert len(driver_module.read_text().splitlines()) < MAX_DRIVER_LINES

    # Wheels of the core and of the generated package, built with the workspace's hatchling.
    wheels = tmp_path / "wheels"
    _run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"),
            *("--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels)),
            *(str(REPO / "packages" / "regstore"), str(package)),
        ],
        cwd=tmp_path,
        env=_clean_env(),
    )
    built = sorted(wheels.glob("*.whl"))
    assert [wheel.name.split("-")[0] for wheel in built] == ["regstore", "regstore_acme"]

    # A fresh venv with only those wheels and pytest.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=_clean_env())
    python = str(venv / "bin" / "python")
    _run(
        [
            *(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *map(str, built),
            "pytest",
        ],
        cwd=tmp_path,
        env=_clean_env(),
    )
    where = _run(
        [
            python,
            "-c",
            textwrap.dedent(
                """
                import regstore, regstore_acme
                print(regstore.create("acme", {"bucket": "b"}).name)
                print(regstore.__file__)
                print(regstore_acme.__file__)
                """
            ),
        ],
        cwd=outside,
        env=_clean_env(),
    ).stdout.split()
    assert where[0] == "acme"
    assert all(str(venv) in path and "site-packages" in path for path in where[1:])

    report = tmp_path / "report.xml"
    _run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", "tests"],
        cwd=package,
        env=_clean_env(),
    )
    assert _outcomes(report) == {"passed": suite_size, "skipped": 0, "failed": 0}
