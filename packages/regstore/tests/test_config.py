"""Registry configuration files and REGISTRY_STORAGE* variables become the right driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import regstore
from regstore import CheckedDriver, unwrap
from regstore.config import ConfigError, load_config
from regstore.drivers.filesystem import FilesystemDriver
from regstore.drivers.inmemory import InMemoryDriver

pytestmark = pytest.mark.usefixtures("clean_env")


# -- real-world files round-trip ---------------------------------------------------------


def test_filesystem_config_keeps_the_other_storage_sections(configs: Path) -> None:
    config = load_config(configs / "filesystem.yml", {})
    assert config.driver == "filesystem"
    assert config.parameters == {"rootdirectory": "/var/lib/registry", "maxthreads": 50}
    assert set(config.sections) == {"cache", "delete", "maintenance", "tag"}
    assert config.sections["maintenance"]["uploadpurging"]["age"] == "168h"
    assert config.redirect_disabled is False
    assert config.middleware == ()
    assert config.source == str(configs / "filesystem.yml")


def test_filesystem_config_creates_the_driver(configs: Path, tmp_path: Path) -> None:
    env = {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp_path / "registry")}
    driver = regstore.from_config(configs / "filesystem.yml", env)
    inner = unwrap(driver)
    assert isinstance(inner, FilesystemDriver)
    assert inner.rootdirectory == str(tmp_path / "registry")
    assert inner.concurrency_limit == 50
    driver.put_content("/docker/registry/v2/x", b"data")
    assert (tmp_path / "registry/docker/registry/v2/x").read_bytes() == b"data"


def test_s3_config_with_secrets_from_the_environment(configs: Path) -> None:
    env = {
        "REGISTRY_STORAGE_S3_ACCESSKEY": "AKIAEXAMPLE",
        "REGISTRY_STORAGE_S3_SECRETKEY": "0123",  # stays a string, never the number 83
        "REGISTRY_STORAGE_S3_CHUNKSIZE": "5242880",
        "REGISTRY_STORAGE_S3_REGIONENDPOINT": "http://127.0.0.1:9000",
        "REGISTRY_STORAGE_REDIRECT_DISABLE": "true",
        "UNRELATED": "x",
    }
    config = load_config(configs / "s3-env.yml", env)
    assert config.driver == "s3"
    assert config.parameters["accesskey"] == "AKIAEXAMPLE"
    assert config.parameters["secretkey"] == "0123"
    assert config.parameters["chunksize"] == "5242880"  # the file's 10485760, overridden
    assert config.parameters["bucket"] == "registry-prod"
    assert config.parameters["encrypt"] is True
    assert config.redirect_disabled is True
    assert config.origins["storage.s3.chunksize"] == "REGISTRY_STORAGE_S3_CHUNKSIZE"
    assert "0123" not in repr(config)
    assert "AKIAEXAMPLE" not in repr(config)


def test_s3_config_creates_the_s3_driver(configs: Path) -> None:
    pytest.importorskip("regstore_s3")
    env = {
        "REGISTRY_STORAGE_S3_ACCESSKEY": "AKIAEXAMPLE",
        "REGISTRY_STORAGE_S3_SECRETKEY": "example-secret",
        "REGISTRY_STORAGE_S3_CHUNKSIZE": "5242880",
    }
    driver = regstore.from_config(configs / "s3-env.yml", env)
    inner: Any = unwrap(driver)
    assert inner.name == "s3"
    assert inner.config.chunksize == 5 << 20
    assert inner.config.bucket == "registry-prod"
    assert inner.config.rootdirectory.strip("/") == "registry"
    assert "example-secret" not in repr(driver)
    driver.close()


def test_bad_s3_chunksize_names_file_key_and_range(configs: Path) -> None:
    pytest.importorskip("regstore_s3")
    with pytest.raises(ConfigError) as caught:
        regstore.from_config(configs / "bad-s3-chunksize.yml", {})
    message = str(caught.value)
    assert message.startswith(f"{configs / 'bad-s3-chunksize.yml'}: storage.s3.chunksize:")
    assert "5242880" in message
    assert caught.value.key == "storage.s3.chunksize"


def test_azure_config_and_underscore_keys_from_the_environment(configs: Path) -> None:
    env = {
        "REGISTRY_STORAGE_AZURE_MAX_RETRIES": "7",
        "REGISTRY_STORAGE_AZURE_CREDENTIALS_TYPE": "default_credentials",
    }
    config = load_config(configs / "azure.yml", env)
    assert config.driver == "azure"
    assert config.parameters["max_retries"] == "7"
    assert config.parameters["retry_delay"] == "100ms"
    assert config.parameters["credentials"] == {"type": "default_credentials"}
    assert "max" not in config.parameters
    assert set(config.sections) == {"cache"}


@pytest.mark.parametrize(
    ("package", "driver", "variable", "key"),
    [
        ("regstore_azure", "azure", "RETRY_DELAY", "retry_delay"),
        ("regstore_gcs", "gcs", "RETRY_DEADLINE", "retry_deadline"),
    ],
)
def test_known_underscore_key_absent_from_the_file(
    package: str, driver: str, variable: str, key: str
) -> None:
    pytest.importorskip(package)
    env = {"REGISTRY_STORAGE": driver, f"REGISTRY_STORAGE_{driver.upper()}_{variable}": "1s"}
    config = load_config({}, env)
    assert config.parameters == {key: "1s"}


def test_underscore_keys_come_from_the_driver_package(tmp_path: Path) -> None:
    """A third-party package declaring its keys gets them set whole; an undeclared one nests."""
    (tmp_path / "regstore_demo_keys.py").write_text('KEYS = ("bucket", "max_parts")\n')
    info = tmp_path / "regstore_demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: regstore_demo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[regstore.parameters]\ndemo = regstore_demo_keys:KEYS\n"
    )
    code = textwrap.dedent(
        """
        import json
        from regstore.config import load_config
        env = lambda name: {"REGISTRY_STORAGE": name, f"REGISTRY_STORAGE_{name}_MAX_PARTS": "3"}
        print(json.dumps([load_config({}, env(n)).parameters for n in ("demo", "OTHER")]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(result.stdout) == [{"max_parts": "3"}, {"max": {"parts": "3"}}]


def test_gcs_config(configs: Path) -> None:
    config = load_config(configs / "gcs.yml", {})
    assert config.driver == "gcs"
    assert config.parameters == {
        "bucket": "registry-bucket",
        "keyfile": "/etc/registry/gcs-key.json",
        "rootdirectory": "/registry",
        "chunksize": 5242880,
        "maxconcurrency": 50,
    }
    assert config.sections == {"maintenance": {"uploadpurging": {"enabled": False}}}


def test_redirect_disable_from_the_file(configs: Path) -> None:
    config = load_config(configs / "redirect-disabled.yml", {})
    assert config.redirect_disabled is True
    assert config.parameters == {"rootdirectory": "./data"}


# -- the environment, as the registry applies it -------------------------------------------


def test_registry_storage_replaces_the_whole_storage_section(configs: Path) -> None:
    env = {
        "REGISTRY_STORAGE": "s3",
        "REGISTRY_STORAGE_S3_BUCKET": "other",
        "REGISTRY_STORAGE_S3_REGION": "us-east-1",
    }
    config = load_config(configs / "filesystem.yml", env)
    assert config.driver == "s3"
    assert config.parameters == {"bucket": "other", "region": "us-east-1"}
    assert config.sections == {}  # REGISTRY_STORAGE replaced maintenance, delete... too


def test_environment_alone_configures_a_store(tmp_path: Path) -> None:
    env = {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp_path)}
    driver = regstore.from_config({}, env)
    assert isinstance(unwrap(driver), FilesystemDriver)


def test_environ_none_reads_os_environ(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", str(tmp_path / "from-env"))
    config = load_config({"storage": {"filesystem": {"rootdirectory": "/elsewhere"}}})
    assert config.parameters == {"rootdirectory": str(tmp_path / "from-env")}
    assert load_config({"storage": {"inmemory": None}}, {}).parameters == {}


def test_environment_key_matches_existing_keys_case_insensitively() -> None:
    document = {"storage": {"filesystem": {"RootDirectory": "/a", "maxthreads": 30}}}
    config = load_config(document, {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/b"})
    assert config.parameters == {"rootdirectory": "/b", "maxthreads": 30}


def test_environment_does_not_touch_the_callers_mapping() -> None:
    document = {"storage": {"filesystem": {"rootdirectory": "/a"}}}
    load_config(document, {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/b"})
    assert document == {"storage": {"filesystem": {"rootdirectory": "/a"}}}


def test_environment_adding_a_second_driver_is_an_error(configs: Path) -> None:
    env = {"REGISTRY_STORAGE_S3_BUCKET": "b"}
    with pytest.raises(ConfigError, match=r"names 2 storage drivers \(filesystem, s3\)"):
        load_config(configs / "filesystem.yml", env)


def test_bare_driver_name_as_storage() -> None:
    config = load_config({"storage": "inmemory"}, {})
    assert (config.driver, config.parameters) == ("inmemory", {})


def test_yaml_values_in_the_environment() -> None:
    env = {
        "REGISTRY_STORAGE": "gcs",
        "REGISTRY_STORAGE_GCS_CREDENTIALS": '{"type": "service_account", "client_id": "1"}',
    }
    config = load_config({}, env)
    assert config.parameters["credentials"] == {"type": "service_account", "client_id": "1"}


def test_bad_yaml_in_the_environment_names_the_variable_not_the_value() -> None:
    env = {"REGISTRY_STORAGE": "gcs", "REGISTRY_STORAGE_GCS_CREDENTIALS": "{secret: [x"}
    with pytest.raises(ConfigError) as caught:
        load_config({}, env)
    assert "REGISTRY_STORAGE_GCS_CREDENTIALS" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_error_names_the_variable_that_set_the_value() -> None:
    document = {"storage": {"filesystem": {"rootdirectory": "/tmp/unused"}}}
    with pytest.raises(ConfigError) as caught:
        regstore.from_config(document, {"REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS": "lots"})
    assert str(caught.value) == (
        "configuration: storage.filesystem.maxthreads (set by"
        " REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS): must be an integer, got 'lots'"
    )


# -- bad configurations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "fragment"),
    [
        ("bad-two-drivers.yml", "storage", "names 2 storage drivers (filesystem, s3); exactly one"),
        ("bad-maxthreads.yml", "storage.filesystem.maxthreads", "must be an integer, got 'many'"),
        (
            "bad-param-typo.yml",
            "storage.filesystem.rootdirectroy",
            "unknown parameter; filesystem accepts: maxthreads, rootdirectory",
        ),
        ("bad-redirect.yml", "storage.redirect.disable", "it must be true or false"),
        ("bad-middleware.yml", "middleware.storage[0].options.baseurl", "has no scheme"),
    ],
)
def test_bad_configuration_names_file_key_and_what_is_allowed(
    configs: Path, name: str, key: str, fragment: str
) -> None:
    path = configs / name
    with pytest.raises(ConfigError) as caught:
        regstore.from_config(path, {})
    assert caught.value.source == str(path)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{path}: {key}: ")
    assert fragment in str(caught.value)


def test_invalid_yaml_names_the_line(configs: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad-yaml.yml: is not valid YAML at line 5"):
        load_config(configs / "bad-yaml.yml", {})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file: No such file"):
        load_config(tmp_path / "nope.yml", {})


def test_no_storage_section() -> None:
    with pytest.raises(ConfigError, match="names no storage driver; add one key"):
        load_config({"version": 0.1}, {})


def test_unknown_driver_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        regstore.from_config({"storage": {"s4": {}}}, {})
    assert caught.value.key == "storage.s4"
    assert "available:" in str(caught.value)
    assert isinstance(caught.value.__cause__, regstore.InvalidStorageDriverError)


def test_middleware_index_must_not_skip_entries() -> None:
    env = {"REGISTRY_STORAGE": "inmemory", "REGISTRY_MIDDLEWARE_STORAGE_1_NAME": "redirect"}
    with pytest.raises(ConfigError, match=r"index 1 skips entries of middleware\.storage"):
        load_config({}, env)


def test_unknown_middleware_entry_key() -> None:
    document = {"storage": "inmemory", "middleware": {"storage": [{"name": "x", "opts": {}}]}}
    with pytest.raises(ConfigError, match=r"middleware.storage\[0\].opts: unknown key"):
        load_config(document, {})


# -- middleware lists -------------------------------------------------------------------


def test_middleware_list_applied_in_order_skipping_disabled(configs: Path) -> None:
    config = load_config(configs / "middleware.yml", {})
    assert [(m.name, m.disabled) for m in config.middleware] == [
        ("rewrite", False),
        ("redirect", True),
        ("redirect", False),
    ]
    driver = config.create()
    assert isinstance(driver, CheckedDriver)
    assert isinstance(unwrap(driver), InMemoryDriver)
    # The last entry is outermost: its URL wins.
    assert driver.redirect_url("/a/b") == "https://cdn.example.com/registry/a/b"
    assert driver.redirect_url("/a/b", method="PUT") is None


def test_middleware_from_the_environment() -> None:
    env = {
        "REGISTRY_STORAGE": "inmemory",
        "REGISTRY_MIDDLEWARE_STORAGE_0_NAME": "redirect",
        "REGISTRY_MIDDLEWARE_STORAGE_0_OPTIONS_BASEURL": "https://edge.example.com",
    }
    assert regstore.from_config({}, env).redirect_url("/x") == "https://edge.example.com/x"


def test_middleware_list_as_one_json_variable() -> None:
    env = {
        "REGISTRY_STORAGE": "inmemory",
        "REGISTRY_MIDDLEWARE_STORAGE": '[{"name": "redirect", "options": {"baseurl": "http://h"}}]',
    }
    assert regstore.from_config({}, env).redirect_url("/x") == "http://h/x"


def test_redirect_disable_wins_over_middleware() -> None:
    document = {
        "storage": {"inmemory": None, "redirect": {"disable": True}},
        "middleware": {"storage": [{"name": "redirect", "options": {"baseurl": "http://h"}}]},
    }
    assert regstore.from_config(document, {}).redirect_url("/x") is None


def test_unknown_middleware_names_the_entry() -> None:
    document = {"storage": "inmemory", "middleware": {"storage": [{"name": "cdn"}]}}
    with pytest.raises(ConfigError) as caught:
        regstore.from_config(document, {})
    assert caught.value.key == "middleware.storage[0].name"
    assert "no storage middleware registered with name 'cdn'" in str(caught.value)
    assert "redirect, rewrite" in str(caught.value)


# -- PyYAML is optional -------------------------------------------------------------------


def test_mapping_needs_no_yaml_but_a_path_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, configs: Path
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    assert load_config({"storage": "inmemory"}, {}).driver == "inmemory"
    env = {"REGISTRY_STORAGE": "gcs", "REGISTRY_STORAGE_GCS_CREDENTIALS": '{"type": "x"}'}
    assert load_config({}, env).parameters == {"credentials": {"type": "x"}}
    with pytest.raises(ImportError, match=r'pip install "regstore\[config\]"'):
        load_config(configs / "filesystem.yml", {})
