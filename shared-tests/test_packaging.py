"""Packaging: lazy discovery, third-party drivers, name conflicts, install hints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import regstore
from regstore import factory
from regstore.drivers.inmemory import InMemoryDriver

SDK_MODULES = ("boto3", "botocore", "azure", "google", "s3transfer", "opentelemetry")


def _run(code: str, *, path: list[Path] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join(
            [*map(str, path), *filter(None, [env.get("PYTHONPATH")])]
        )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def _fake_distribution(site: Path, dist: str, module: str, entry_points: dict[str, str]) -> None:
    """Lay out an installed distribution as pip would: a package plus its dist-info."""
    package = site / module
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from regstore.drivers.inmemory import InMemoryDriver

            class ThirdPartyDriver(InMemoryDriver):
                @property
                def name(self):
                    return "thirdparty"
            """
        )
    )
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[regstore.drivers]\n{lines}")


def test_import_regstore_imports_no_cloud_sdk_nor_opentelemetry() -> None:
    # OpenTelemetry is imported only by a process that uses it (see regstore._base).
    result = _run(
        """
        import json, sys
        import regstore
        regstore.available_drivers()
        regstore.create("filesystem", {"rootdirectory": "/tmp/unused-regstore-root"})
        print(json.dumps(sorted(sys.modules)))
        """
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    sdks = [m for m in loaded if m.split(".")[0] in SDK_MODULES]
    assert sdks == []


def test_builtin_drivers_are_entry_points() -> None:
    names = {entry.name: entry for entry in factory.DRIVERS.entry_points()}
    assert names["inmemory"].value == "regstore.drivers.inmemory:InMemoryDriver"
    assert names["filesystem"].value == "regstore.drivers.filesystem:FilesystemDriver"
    assert {"filesystem", "inmemory"} <= set(regstore.available_drivers())


def test_third_party_driver_is_discovered_and_passes_the_suite(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "regstore_thirdparty",
        "regstore_thirdparty",
        {"thirdparty": "regstore_thirdparty:ThirdPartyDriver"},
    )
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_thirdparty.py").write_text(
        textwrap.dedent(
            """
            import pytest
            import regstore
            from regstore.testsuite import DriverSuite

            class TestThirdParty(DriverSuite):
                @pytest.fixture
                def driver(self):
                    return regstore.create("thirdparty")
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert int(summary.split(" passed")[0].split()[-1]) > 100
    assert "failed" not in summary


def test_two_distributions_claiming_one_name_is_an_error(tmp_path: Path) -> None:
    site = tmp_path / "site"
    target = {"clash": "regstore_thirdparty:ThirdPartyDriver"}
    _fake_distribution(site, "regstore_one", "regstore_thirdparty", target)
    _fake_distribution(site, "regstore_two", "regstore_thirdparty", target)
    result = _run(
        """
        import regstore
        try:
            regstore.create("clash")
        except regstore.InvalidStorageDriverError as error:
            print(error)
        """,
        path=[site],
    )
    assert result.returncode == 0, result.stderr
    assert "regstore_one 1.0" in result.stdout
    assert "regstore_two 1.0" in result.stdout
    assert "more than one installed distribution" in result.stdout


@pytest.mark.parametrize(
    ("name", "extra"), [("s3", "s3"), ("s3aws", "s3"), ("azure", "azure"), ("gcs", "gcs")]
)
def test_known_but_missing_driver_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, extra: str
) -> None:
    # Hide the installed cloud distributions, as on a core-only install.
    real = factory.DRIVERS.entry_points

    def hidden(n: str | None = None) -> list[object]:
        return [e for e in real(n) if e.name == "never"]

    monkeypatch.setattr(factory.DRIVERS, "entry_points", hidden)
    with pytest.raises(regstore.InvalidStorageDriverError) as caught:
        regstore.create(name)
    assert f'pip install "regstore[{extra}]"' in str(caught.value)


def test_unknown_driver_lists_the_installed_ones() -> None:
    with pytest.raises(regstore.InvalidStorageDriverError) as caught:
        regstore.create("nosuchdriver")
    assert isinstance(caught.value, LookupError)
    assert "nosuchdriver" in str(caught.value)
    assert "filesystem" in str(caught.value)
    assert "inmemory" in str(caught.value)


def test_register_twice_is_a_value_error() -> None:
    regstore.register("registered-once", InMemoryDriver)
    with pytest.raises(ValueError, match="already registered"):
        regstore.register("registered-once", InMemoryDriver)
    assert "registered-once" in regstore.available_drivers()
    assert regstore.create("registered-once").name == "inmemory"


def test_unknown_parameter_is_rejected() -> None:
    with pytest.raises(regstore.InvalidParameterError) as caught:
        regstore.create("inmemory", {"rootdirectroy": "/tmp/x"})
    assert caught.value.parameter == "rootdirectroy"
    assert caught.value.driver_name == "inmemory"
