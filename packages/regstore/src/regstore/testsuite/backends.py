"""Test backends: where the tests of each driver run, declared by the package that ships it.

A distribution lists its test backends in a module of its own (``regstore_s3/testing.py``)
named in the ``regstore.testing`` entry point group; the entry point is a function that
returns ``TestBackend`` values. The conformance bindings, the cross-driver suites and the
script that starts the emulators all read these declarations, so a new driver package is
wired into the tests from its own folder. Only tests import the declaring modules: a
module names the SDK it needs inside its ``open`` function, never at import.

``python -m regstore.testsuite`` lists them, or the emulators they need.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "ENTRY_POINT_GROUP",
    "REQUIRE_VARIABLE",
    "Credentials",
    "FaultRoute",
    "Store",
    "TestBackend",
    "declared_backends",
    "emulator_variables",
    "find_backend",
    "needed_emulators",
]

ENTRY_POINT_GROUP = "regstore.testing"
#: Set to 1 (as ``scripts/test`` and CI do) to fail, not skip, when a backend is not running.
REQUIRE_VARIABLE = "REGSTORE_REQUIRE_ALL_BACKENDS"


def _nothing() -> list[str]:
    return []


@dataclass(frozen=True)
class Store:
    """One fresh, empty store a backend made for a test: its driver and what it keeps aside."""

    #: The driver name ``regstore.create`` takes.
    driver: str
    #: JSON-ready parameters (a crash test hands them to a child process).
    parameters: Mapping[str, Any]
    #: Environment variables the driver reads (set around ``create``).
    env: Mapping[str, str] = field(default_factory=dict)
    #: Backend objects kept outside the path namespace: pending uploads, temp files.
    leftovers: Callable[[], list[str]] = _nothing
    #: Strings that must never show in errors, reprs, logs or command output.
    secrets: tuple[str, ...] = ()
    #: The emulator's base URL as it appears in ``parameters`` and ``env`` ("" when local).
    endpoint: str = ""


@dataclass(frozen=True)
class Credentials:
    """Parameters that authenticate another way (or wrongly), and the secrets they carry."""

    parameters: Mapping[str, Any]
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultRoute:
    """How the fault-injecting proxy stands between the driver and the emulator."""

    #: The error-body format the SDK expects: ``s3``, ``azure``, ``gcs`` or ``plain``.
    dialect: str
    #: ``keep`` the client's Host header, or send the ``upstream`` one.
    host: str = "keep"
    #: Rewrite the emulator's own URLs in JSON answers to the proxy's.
    rewrite_json: bool = False
    #: Driver parameters that help on a faulty network (documented ones only).
    tuning: Mapping[str, Any] = field(default_factory=dict)
    #: Driver parameters that make a call give up within seconds when every request fails.
    give_up_soon: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TestBackend:
    """One place a driver's tests run: a driver on an emulator, or a local driver.

    ``open(env, workdir)`` makes a fresh empty store from the emulator's ``REGSTORE_TEST_*``
    variables (``env``, only those in ``variables``) and removes it on exit.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    #: A unique label, ``<driver>-<emulator>`` for cloud backends (``s3-moto``).
    name: str
    #: The suffix of the test classes bound to it (``S3Moto`` -> ``TestLoadS3Moto``).
    title: str
    #: The driver name ``regstore.create`` takes.
    driver: str
    open: Callable[[Mapping[str, str], Path], AbstractContextManager[Store]]
    #: Emulators to start first, by the names ``scripts/emulators.py`` uses.
    emulators: tuple[str, ...] = ()
    #: The ``REGSTORE_TEST_*`` variables ``open`` reads.
    variables: tuple[str, ...] = ()
    #: The smallest upload chunk that exercises the backend's multi-part path.
    part_size: int = 64 * 1024
    #: Whether another process sees the same store (no: the in-memory driver).
    shared: bool = True
    #: Modules a child process imports before it is timed (crash tests).
    preload: tuple[str, ...] = ()
    #: How faults are injected on its network (None: no network to break).
    faults: FaultRoute | None = None
    #: The parameter naming the bucket or container (None: there is none).
    bucket_parameter: str | None = None
    #: A numeric parameter, given a malformed value by the secrets tests.
    numeric_parameter: str | None = None
    #: Parameters that make a failing request give up quickly.
    fast_failure: Mapping[str, Any] = field(default_factory=dict)
    #: Parameters the hostile-input tests may fuzz: never those saying where the backend is.
    fuzzed_parameters: tuple[str, ...] = ()
    #: Conformance tests the backend cannot run: test name -> reason.
    unsupported: Mapping[str, str] = field(default_factory=dict)
    #: Known deviations of the emulator that suites allow for: name -> reason.
    #: ``torn_streams``: a reader may see a newer version; ``slow_unreachable``: the
    #: SDK retries an unreachable endpoint for minutes.
    quirks: Mapping[str, str] = field(default_factory=dict)
    #: Parameters with a wrong secret the emulator checks (None: it checks none).
    wrong_credentials: Callable[[Store], Credentials] | None = None
    #: Other ways to authenticate to the same store (an Azure SAS token, say).
    credential_variants: Callable[[Store], list[Credentials]] | None = None
    #: ``--param`` values for the ``regstore`` command (default: each parameter as text).
    cli_parameters: Callable[[Store, Path], dict[str, str]] | None = None
    #: The distribution that declared it (filled in by discovery).
    distribution: str = ""

    @property
    def local(self) -> bool:
        """Whether it runs without an emulator (fast: the suites run more examples)."""
        return not self.emulators

    def environment(self) -> dict[str, str]:
        """The variables ``open`` needs; skips (or fails, when required) if any is unset."""
        missing = [name for name in self.variables if not os.environ.get(name)]
        if missing:
            import pytest

            message = (
                f"backend {self.name} not running ({', '.join(missing)} unset); start it with:"
                " scripts/test, or .venv/bin/python scripts/emulators.py start"
                f" {' '.join(self.emulators)} && . .emulators/run/env.sh"
            )
            if os.environ.get(REQUIRE_VARIABLE) == "1":
                pytest.fail(message)
            pytest.skip(message)
        return {name: os.environ[name] for name in self.variables}

    @contextmanager
    def store(self, workdir: Path) -> Iterator[Store]:
        """A fresh empty store under ``workdir`` or on the emulator, removed afterwards."""
        with self.open(self.environment(), workdir) as opened:
            yield opened


@lru_cache(maxsize=1)
def _discover() -> tuple[TestBackend, ...]:
    """Every declaration, loaded once.

    One that fails to load is an error where every backend is required, else a warning,
    so a package broken mid-change does not stop the other packages' tests.
    """
    import warnings
    from dataclasses import replace
    from importlib import metadata

    found: dict[str, TestBackend] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist.name if entry.dist is not None else entry.value
        try:
            declared = list(entry.load()())
        except Exception as error:
            message = f"the test backends of {dist} ({entry.value}) did not load: {error!r}"
            if os.environ.get(REQUIRE_VARIABLE) == "1":
                raise RuntimeError(message) from error
            warnings.warn(message, stacklevel=2)
            continue
        for backend in declared:
            if not isinstance(backend, TestBackend):
                raise TypeError(f"{entry.value} declared {backend!r}, not a TestBackend")
            if backend.name in found and found[backend.name].distribution != dist:
                raise ValueError(
                    f"test backend {backend.name!r} is declared by both"
                    f" {found[backend.name].distribution} and {dist}"
                )
            found[backend.name] = replace(backend, distribution=dist)
    return tuple(found.values())


def declared_backends() -> list[TestBackend]:
    """Every test backend the installed distributions declare, local ones first."""
    return sorted(_discover(), key=lambda backend: (not backend.local, backend.name))


def find_backend(name: str) -> TestBackend:
    """The declared backend called ``name``; a KeyError lists the declared ones."""
    for backend in _discover():
        if backend.name == name:
            return backend
    known = ", ".join(backend.name for backend in declared_backends()) or "none"
    raise KeyError(f"no test backend {name!r} is declared (declared: {known})")


def needed_emulators() -> list[str]:
    """The emulators the installed backends need, each once, in declaration order."""
    return list(dict.fromkeys(emu for backend in declared_backends() for emu in backend.emulators))


def emulator_variables() -> dict[str, tuple[str, ...]]:
    """Each emulator's ``REGSTORE_TEST_*`` variables, as the backends on it read them."""
    variables: dict[str, dict[str, None]] = {}
    for backend in declared_backends():
        for emulator in backend.emulators:
            variables.setdefault(emulator, {}).update(dict.fromkeys(backend.variables))
    return {emulator: tuple(names) for emulator, names in variables.items()}
