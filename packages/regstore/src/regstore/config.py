"""Read a distribution registry configuration: its storage driver, parameters and middleware.

A registry's ``config.yml`` and its ``REGISTRY_STORAGE*`` environment variables
are taken as the registry takes them:

- exactly one key of ``storage:`` names the driver; ``maintenance``, ``cache``,
  ``delete``, ``redirect`` and ``tag`` are kept, never mistaken for one;
- ``storage: redirect: disable: true`` turns redirects off;
- ``middleware: storage:`` is a list of ``{name, options, disabled}`` applied in order;
- environment variables are applied in name order on top of the file:
  ``REGISTRY_STORAGE=s3`` replaces the whole ``storage:`` section with an
  empty ``s3:``, ``REGISTRY_STORAGE_S3_BUCKET=b`` sets ``storage.s3.bucket``,
  ``REGISTRY_MIDDLEWARE_STORAGE_0_NAME=redirect`` sets the first middleware's name.
  Each ``_`` separates a level, matched case-insensitively against existing
  keys; a new key is lowercased.

Where this differs from the registry, on purpose:

- values from the environment stay strings (drivers accept ``"true"`` and
  ``"10485760"``), so a secret such as ``0123`` is never read as a number; a
  value that starts with ``{`` or ``[`` is parsed as YAML (or JSON);
- keys with an underscore (``max_retries``, ``retry_delay``) can be set from
  the environment when the file already has them, or when the driver's package
  declares them in the ``regstore.parameters`` entry-point group (the registry
  cannot set them at all);
- a middleware entry with ``disabled: true`` is skipped (the registry ignores
  the flag for storage middleware).

Every problem is a ``ConfigError`` naming the file, the key path
(``storage.s3.chunksize``), the variable that set it, and what is allowed.
YAML files need PyYAML (``pip install "regstore[config]"``); mappings do not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._base import CheckedDriver
from .driver import StorageDriver
from .errors import InvalidParameterError, InvalidStorageDriverError
from .factory import available_drivers, create

__all__ = [
    "NON_DRIVER_KEYS",
    "PARAMETERS_GROUP",
    "ConfigError",
    "MiddlewareEntry",
    "StorageConfig",
    "declared_parameters",
    "from_config",
    "load_config",
]

#: Keys of ``storage:`` that configure the registry rather than name a driver.
NON_DRIVER_KEYS = ("maintenance", "cache", "delete", "redirect", "tag")

#: Entry points naming each driver's parameter keys (a sequence of strings), by driver name:
#: an environment variable sets a key with an underscore whole when the driver declares it.
PARAMETERS_GROUP = "regstore.parameters"

_MIDDLEWARE_KEYS = ("name", "options", "disabled")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class ConfigError(ValueError):
    """A configuration that cannot be used: names the source, the key path and what is allowed."""

    def __init__(self, source: str, key: str, message: str) -> None:
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")
        self.source = source
        self.key = key
        self.message = message

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class MiddlewareEntry:
    """One ``middleware: storage:`` entry, at ``index`` in the list."""

    name: str
    options: dict[str, Any] = field(repr=False)
    disabled: bool = False
    index: int = 0


@dataclass(frozen=True)
class StorageConfig:
    """The storage part of a registry configuration, environment overrides applied.

    ``parameters`` (kept out of ``repr``: it may hold secrets) go to the
    driver as they are; ``sections`` holds ``maintenance``, ``cache``,
    ``delete``, ``redirect`` and ``tag`` as given; ``origins`` maps a key
    path to the environment variable that set it.
    """

    source: str
    driver: str
    parameters: dict[str, Any] = field(repr=False)
    sections: dict[str, Any] = field(default_factory=dict)
    redirect_disabled: bool = False
    middleware: tuple[MiddlewareEntry, ...] = ()
    origins: dict[str, str] = field(default_factory=dict, repr=False)

    def error(self, key: str, message: str) -> ConfigError:
        """A ``ConfigError`` for ``key``, naming the environment variable that set it."""
        return _error(self.source, self.origins, key, message)

    def create_driver(self, **overrides: Any) -> StorageDriver:
        """The configured driver alone, without middleware; ``overrides`` replace parameters."""
        parameters = {**self.parameters, **overrides}
        prefix = f"storage.{self.driver}"
        try:
            return create(self.driver, parameters)
        except InvalidParameterError as exc:
            raise self.error(f"{prefix}.{exc.parameter}", exc.message) from exc
        except InvalidStorageDriverError as exc:
            raise self.error(prefix, str(exc)) from exc

    def create(self) -> StorageDriver:
        """The configured driver with its middleware applied, as a registry would use it."""
        from .middleware import RedirectsDisabled, create_middleware

        driver = self.create_driver()
        wrapped = driver
        try:
            for entry in self.middleware:
                if entry.disabled:
                    continue
                key = f"middleware.storage[{entry.index}]"
                try:
                    wrapped = create_middleware(entry.name, wrapped, entry.options)
                except InvalidParameterError as exc:
                    raise self.error(f"{key}.options.{exc.parameter}", exc.message) from exc
                except LookupError as exc:
                    raise self.error(f"{key}.name", str(exc)) from exc
                except ValueError as exc:
                    raise self.error(key, str(exc)) from exc
            if self.redirect_disabled:
                wrapped = RedirectsDisabled(wrapped)
        except BaseException:
            driver.close()
            raise
        return wrapped if wrapped is driver else CheckedDriver(wrapped)


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    name: str | None = None,
) -> StorageConfig:
    """Read a registry configuration (a YAML file's path, or the parsed mapping).

    ``environ`` supplies the ``REGISTRY_*`` overrides; None means ``os.environ``,
    as the registry reads them; pass ``{}`` to ignore the environment.
    ``name`` is how errors call a mapping (default ``"configuration"``).
    """
    if isinstance(source, Mapping):
        name = name or "configuration"
        document = _plain(source)
    elif isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        document = _read_yaml(name)
    else:
        raise TypeError(f"a configuration is a file path or a mapping, not {type(source).__name__}")
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(name, "", "must be a mapping with a storage: section")
    origins: dict[str, str] = {}
    _apply_environment(document, os.environ if environ is None else environ, name, origins)
    return _storage_config(document, name, origins)


def from_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> StorageDriver:
    """A ready driver, middleware applied, from a registry configuration file or mapping."""
    return load_config(source, environ).create()


def _error(source: str, origins: Mapping[str, str], key: str, message: str) -> ConfigError:
    origin = origins.get(key)
    return ConfigError(source, f"{key} (set by {origin})" if origin else key, message)


# -- reading ------------------------------------------------------------------------


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise ImportError(
            'reading a YAML configuration file needs PyYAML: pip install "regstore[config]"'
            ' (or "regstore[cli]")'
        ) from None
    return yaml


def _read_yaml(path: str) -> Any:
    yaml = _yaml()
    try:
        with open(path, encoding="utf-8") as file:
            return yaml.safe_load(file)
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read the file: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise ConfigError(path, "", f"is not valid YAML{where}: {problem}") from exc


def _plain(value: Any) -> Any:
    """A copy made of dicts and lists, so overrides never touch the caller's mapping."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# -- environment overrides ------------------------------------------------------------


def _apply_environment(
    document: dict[str, Any], environ: Mapping[str, str], source: str, origins: dict[str, str]
) -> None:
    # Name order, as the registry: REGISTRY_STORAGE comes before REGISTRY_STORAGE_S3_*.
    for variable in sorted(environ):
        parts = variable.split("_")
        if parts[0] != "REGISTRY" or len(parts) < 2:
            continue
        top = parts[1]
        if top not in ("STORAGE", "MIDDLEWARE"):
            continue
        if any(not part for part in parts[1:]):
            raise ConfigError(source, variable, "environment variable names have no empty parts")
        value = _env_value(environ[variable], variable, source)
        key = top.lower()
        if len(parts) == 2:
            document[key] = _storage_value(value) if top == "STORAGE" else value
            origins[key] = variable
            continue
        container = document.get(key)
        if top == "STORAGE":
            container = _storage_value(container)
        elif container is None:
            container = {}
        if not isinstance(container, dict):
            raise ConfigError(source, key, f"must be a mapping to apply {variable}")
        document[key] = container
        _overwrite(container, parts[2:], value, variable, source, key, origins)


def _storage_value(value: Any) -> Any:
    """``storage: s3`` (a bare name) is ``storage: {s3: {}}``, as the registry reads it."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {value: {}}
    return value


def _env_value(text: str, variable: str, source: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return None
    if stripped[0] not in "{[":
        return text
    try:
        return _yaml().safe_load(stripped)
    except ImportError:
        try:
            import json  # only for JSON-valued variables; keeps ``import regstore`` lean

            return json.loads(stripped)
        except ValueError as exc:
            raise ConfigError(
                source,
                variable,
                f"is not valid JSON ({exc}); install PyYAML for YAML values:"
                ' pip install "regstore[config]"',
            ) from exc
    except Exception as exc:
        # Only the problem and its place: the value itself may be a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise ConfigError(source, variable, f"is not valid YAML{where}: {problem}") from exc


def _overwrite(
    container: dict[str, Any] | list[Any],
    path: Sequence[str],
    value: Any,
    variable: str,
    source: str,
    where: str,
    origins: dict[str, str],
) -> None:
    """Set ``value`` at ``path`` below ``container`` the way the registry's parser does."""
    if isinstance(container, list):
        head = path[0]
        if not head.isdigit():
            raise ConfigError(source, variable, f"{head!r} is not a list index for {where}")
        index = int(head)
        if index > len(container):
            raise ConfigError(
                source, variable, f"index {index} skips entries of {where} ({len(container)} long)"
            )
        if len(path) == 1:
            raise ConfigError(
                source,
                variable,
                f"sets {where}[{index}] whole; set its fields, e.g. {variable}_NAME",
            )
        if index == len(container):
            container.append({})
        child = container[index]
        label = f"{where}[{index}]"
        if not isinstance(child, (dict, list)):
            raise ConfigError(source, variable, f"{label} is not a mapping")
        _overwrite(child, path[1:], value, variable, source, label, origins)
        return

    key, rest = _match_key(container, path, where)
    if not rest:
        key = key.lower()  # the registry stores a variable's key lowercased
    label = f"{where}.{key}"
    if not rest:
        for existing in [k for k in container if isinstance(k, str) and k.upper() == key.upper()]:
            del container[existing]
        container[key] = value
        origins[label] = variable
        return
    child = container.get(key)
    if child is None:
        child = [] if rest[0].isdigit() else {}
        container[key] = child
    if not isinstance(child, (dict, list)):
        raise ConfigError(
            source, variable, f"{label} is a {type(child).__name__}, not a mapping, in the file"
        )
    _overwrite(child, rest, value, variable, source, label, origins)


def _match_key(
    container: dict[str, Any], path: Sequence[str], where: str
) -> tuple[str, Sequence[str]]:
    """The key ``path`` names in ``container`` (an existing key matched case-insensitively)."""
    # A key with underscores, present already or known for the driver, takes several parts.
    driver = where.split(".")[1] if where.startswith("storage.") and where.count(".") == 1 else ""
    known = [k for k in container if isinstance(k, str)]
    if driver and len(path) > 1:
        known += [key for key in declared_parameters(driver) if "_" in key]
    for size in range(len(path), 1, -1):
        joined = "_".join(path[:size])
        for candidate in known:
            if candidate.upper() == joined.upper():
                return candidate, path[size:]
    for candidate in known:
        if candidate.upper() == path[0].upper() and candidate in container:
            return candidate, path[1:]
    return path[0].lower(), path[1:]


def declared_parameters(driver: str) -> tuple[str, ...]:
    """The parameter keys the package of ``driver`` declares; none when it declares nothing.

    Loading the declaration imports the driver's package, so it is asked only when a
    variable below ``storage.<driver>`` has several parts.
    """
    from importlib import metadata

    for entry in metadata.entry_points(group=PARAMETERS_GROUP, name=driver):
        keys = entry.load()
        if isinstance(keys, str) or not isinstance(keys, (tuple, list, frozenset, set)):
            raise TypeError(
                f"the {PARAMETERS_GROUP} entry point {entry.value!r} for {driver!r}"
                f" is not a sequence of parameter keys: {type(keys).__name__}"
            )
        return tuple(str(key) for key in keys)
    return ()


# -- validation -----------------------------------------------------------------------


def _storage_config(
    document: dict[str, Any], source: str, origins: dict[str, str]
) -> StorageConfig:
    storage = _storage_value(document.get("storage"))
    if not isinstance(storage, dict):
        raise ConfigError(source, "storage", "must be a mapping with one storage driver key")
    drivers = [key for key in storage if key not in NON_DRIVER_KEYS]
    allowed = f"one of {', '.join(available_drivers())}"
    if not drivers:
        raise ConfigError(
            source,
            "storage",
            f"names no storage driver; add one key for the driver ({allowed})"
            " or set REGISTRY_STORAGE",
        )
    if len(drivers) > 1:
        raise ConfigError(
            source,
            "storage",
            f"names {len(drivers)} storage drivers ({', '.join(map(str, drivers))}); exactly one"
            f" is allowed besides {', '.join(NON_DRIVER_KEYS)}",
        )
    driver = drivers[0]
    if not isinstance(driver, str) or not driver:
        raise ConfigError(source, "storage", f"a driver name is a non-empty string, not {driver!r}")
    parameters = storage[driver]
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ConfigError(
            source,
            f"storage.{driver}",
            f"must be a mapping of the driver's parameters, got {type(parameters).__name__}",
        )
    for key in parameters:
        if not isinstance(key, str):
            raise ConfigError(source, f"storage.{driver}", f"parameter names are strings: {key!r}")
    report = _Report(source, origins)
    return StorageConfig(
        source=source,
        driver=driver,
        parameters=parameters,
        sections={key: storage[key] for key in NON_DRIVER_KEYS if key in storage},
        redirect_disabled=_redirect_disabled(report, storage),
        middleware=_middleware(report, document.get("middleware")),
        origins=origins,
    )


@dataclass(frozen=True)
class _Report:
    source: str
    origins: dict[str, str]

    def error(self, key: str, message: str) -> ConfigError:
        return _error(self.source, self.origins, key, message)


def _flag(config: _Report, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise config.error(key, f"must be true or false, got {value!r}")


def _redirect_disabled(config: _Report, storage: dict[str, Any]) -> bool:
    if "redirect" not in storage:
        return False
    block = storage["redirect"]
    if not isinstance(block, dict) or "disable" not in block:
        raise config.error(
            "storage.redirect.disable",
            "is required when a redirect: section is present; it must be true or false",
        )
    unknown = [key for key in block if key != "disable"]
    if unknown:
        raise config.error(f"storage.redirect.{unknown[0]}", "unknown key; allowed: disable")
    return _flag(config, "storage.redirect.disable", block["disable"])


def _middleware(config: _Report, section: Any) -> tuple[MiddlewareEntry, ...]:
    if section is None:
        return ()
    if not isinstance(section, dict):
        raise config.error("middleware", "must be a mapping (registry, repository, storage)")
    entries = section.get("storage")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise config.error("middleware.storage", "must be a list of {name, options} entries")
    found: list[MiddlewareEntry] = []
    for index, entry in enumerate(entries):
        key = f"middleware.storage[{index}]"
        if not isinstance(entry, dict):
            raise config.error(key, "must be a mapping with name and options")
        for field_name in entry:
            if field_name not in _MIDDLEWARE_KEYS:
                raise config.error(
                    f"{key}.{field_name}", f"unknown key; allowed: {', '.join(_MIDDLEWARE_KEYS)}"
                )
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise config.error(f"{key}.name", "is required: the middleware's name, e.g. cloudfront")
        options = entry.get("options")
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise config.error(f"{key}.options", "must be a mapping of the middleware's options")
        disabled = entry.get("disabled")
        found.append(
            MiddlewareEntry(
                name=name,
                options=options,
                disabled=False if disabled is None else _flag(config, f"{key}.disabled", disabled),
                index=index,
            )
        )
    return tuple(found)
