"""Which store a command talks to: a registry config, a driver and parameters, or the environment.

In order: ``--config FILE`` (with the ``REGISTRY_STORAGE*`` overrides the
registry would apply), ``--driver NAME``, the environment alone
(``REGISTRY_STORAGE`` and friends), and with nothing given the embedded
default: the filesystem driver under ``./.regstore-data`` (or
``$REGSTORE_DATA``). ``--param key=value`` sets a parameter on top of any of
them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config import StorageConfig, load_config
from ..driver import StorageDriver

__all__ = [
    "DEFAULT_DATA",
    "CliError",
    "Holder",
    "Session",
    "StoreChoice",
    "parse_params",
    "select_store",
]

#: Where the embedded default store keeps its files (``$REGSTORE_DATA`` overrides).
DEFAULT_DATA = ".regstore-data"


class CliError(Exception):
    """A problem the user can fix, said in one sentence; the command exits with status 1."""


@dataclasses.dataclass(frozen=True)
class StoreChoice:
    """How a store was chosen: the options as given on the command line."""

    config: str | None = None
    driver: str | None = None
    params: tuple[str, ...] = ()
    flag: str = ""  # the option prefix, "" or "to-", for messages


def parse_params(pairs: Sequence[str], flag: str = "--param") -> dict[str, Any]:
    """``key=value`` pairs as a parameters mapping; ``a.b=v`` makes nested mappings."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f"{flag} takes key=value, got {pair!r}")
        parts = key.split(".")
        if any(not part for part in parts):
            raise CliError(f"{flag} {key!r}: empty name part")
        target = params
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise CliError(f"{flag} {key!r}: {part!r} is given both as a value and a mapping")
            target = child
        target[parts[-1]] = value
    return params


def _uses_environment(environ: Mapping[str, str]) -> bool:
    return any(k == "REGISTRY_STORAGE" or k.startswith("REGISTRY_STORAGE_") for k in environ)


def select_store(
    choice: StoreChoice, environ: Mapping[str, str], *, allow_default: bool = True
) -> tuple[StorageConfig, str | None]:
    """The storage configuration ``choice`` names, and a note to print when it is the default."""
    flag = f"--{choice.flag}"
    if choice.config and choice.driver:
        raise CliError(f"give {flag}config or {flag}driver, not both")
    overrides = parse_params(choice.params, f"{flag}param")
    note = None
    if choice.config:
        config = load_config(choice.config, environ if not choice.flag else {})
    elif choice.driver:
        config = load_config({"storage": {choice.driver: {}}}, {}, name="command line")
    elif not choice.flag and _uses_environment(environ):
        config = load_config({}, environ, name="environment")
    elif allow_default:
        root = os.path.abspath(environ.get("REGSTORE_DATA") or DEFAULT_DATA)
        default = {"storage": {"filesystem": {"rootdirectory": root}}}
        config = load_config(default, {}, name="default store")
        note = (
            f"store: filesystem driver under {root} (the default; choose another with"
            " --config FILE, --driver NAME or REGISTRY_STORAGE)"
        )
    else:
        raise CliError(f"no store given: use {flag}config FILE or {flag}driver NAME")
    if overrides:
        parameters = {k: v for k, v in config.parameters.items() if k.lower() not in overrides}
        parameters.update(overrides)
        origins = dict(config.origins)
        for key in overrides:
            origins[f"storage.{config.driver}.{key}"] = f"{flag}param {key}"
        config = dataclasses.replace(config, parameters=parameters, origins=origins)
    return config, note


class Session:
    """The store choice of one command run; opens the driver on first use and closes it."""

    def __init__(
        self,
        choice: StoreChoice,
        environ: Mapping[str, str],
        *,
        debug: bool = False,
        notify: Callable[[str], None] = print,
    ) -> None:
        self.choice = choice
        self.environ = environ
        self.debug = debug
        self.notify = notify
        self._config: StorageConfig | None = None
        self._drivers: list[StorageDriver] = []

    def config(self) -> StorageConfig:
        """The selected store's configuration (loaded once; the default store says so)."""
        if self._config is None:
            self._config, note = select_store(self.choice, self.environ)
            if note:
                self.notify(note)
        return self._config

    def store(self, *, middleware: bool = True) -> StorageDriver:
        """A driver for the selected store, with its middleware unless told otherwise."""
        config = self.config()
        driver = config.create() if middleware else config.create_driver()
        self._drivers.append(driver)
        return driver

    def keep(self, driver: StorageDriver) -> StorageDriver:
        """Close ``driver`` with the session."""
        self._drivers.append(driver)
        return driver

    def close(self) -> None:
        """Close every driver this session opened."""
        while self._drivers:
            self._drivers.pop().close()


class Holder:
    """The click context object: the session the group's options fill in."""

    def __init__(self, environ: Mapping[str, str], notify: Callable[[str], None]) -> None:
        self.session = Session(StoreChoice(), environ, notify=notify)
