"""The ``regstore`` command on the filesystem driver: store selection, every command, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import regstore

if TYPE_CHECKING:  # the conftest module is not importable by name when run with others
    from conftest import Ran, Store

Cli = Callable[..., "Ran"]
BASE = "/docker/registry/v2"


@pytest.fixture
def fs(make_store: Callable[..., Store]) -> Store:
    return make_store("filesystem")


@pytest.fixture
def filled(fs: Store, registry_tree: Callable[..., dict[str, bytes]]) -> dict[str, bytes]:
    with fs.open() as driver:
        return registry_tree(driver)


# -- choosing the store ----------------------------------------------------------------------


def test_default_store_is_said_on_stderr(
    cli: Cli, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.chdir(tmp_path)
    ran = cli("ls", "/")
    assert ran.code == 0
    assert f"filesystem driver under {tmp_path / '.regstore-data'}" in ran.err
    assert "the default" in ran.err


def test_regstore_data_moves_the_default_store(
    cli: Cli, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "h.txt").write_bytes(b"hello")
    clean_env.setenv("REGSTORE_DATA", str(tmp_path / "data"))
    assert cli("put", tmp_path / "h.txt", "/x/h").code == 0
    assert (tmp_path / "data/x/h").read_bytes() == b"hello"


def test_config_file(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    ran = cli("--config", fs.config, "ls", f"{BASE}/repositories")
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == [f"{BASE}/repositories/team{i}/" for i in range(3)]
    assert ran.err == ""  # a chosen store is not announced


def test_driver_and_params(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    root = fs.parameters["rootdirectory"]
    ran = cli("--driver", "filesystem", "--param", f"rootdirectory={root}", "ls", BASE)
    assert ran.out.splitlines() == [f"{BASE}/blobs/", f"{BASE}/repositories/"]


def test_environment_alone(
    cli: Cli, clean_env: pytest.MonkeyPatch, fs: Store, filled: dict[str, bytes]
) -> None:
    clean_env.setenv("REGISTRY_STORAGE", "filesystem")
    clean_env.setenv("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", fs.parameters["rootdirectory"])
    ran = cli("ls", BASE)
    assert ran.out.splitlines() == [f"{BASE}/blobs/", f"{BASE}/repositories/"]
    assert ran.err == ""


def test_environment_overrides_the_config_file_like_the_registry(
    cli: Cli, clean_env: pytest.MonkeyPatch, configs: Path, fs: Store, filled: dict[str, bytes]
) -> None:
    root = fs.parameters["rootdirectory"]
    clean_env.setenv("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", root)
    ran = cli("--config", configs / "filesystem.yml", "ls", BASE)
    assert ran.out.splitlines() == [f"{BASE}/blobs/", f"{BASE}/repositories/"]


def test_param_overrides_the_config_file(cli: Cli, configs: Path, fs: Store) -> None:
    root = fs.parameters["rootdirectory"]
    ran = cli("--config", configs / "filesystem.yml", "--param", f"rootdirectory={root}", "ls")
    assert (ran.code, ran.out) == (0, "")


# -- errors: one sentence, no traceback ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--driver", "nosuch", "ls"], "storage driver not registered: 'nosuch'"),
        (
            ["--driver", "filesystem", "--param", "maxthreads=lots", "ls"],
            "command line: storage.filesystem.maxthreads (set by --param maxthreads):"
            " must be an integer, got 'lots'",
        ),
        (["--driver", "filesystem", "--param", "oops", "ls"], "--param takes key=value"),
        (["--config", "/nonexistent/config.yml", "ls"], "cannot read the file"),
        (["--config", "x.yml", "--driver", "inmemory", "ls"], "give --config or --driver"),
        (["--driver", "inmemory", "ls", "/missing"], "inmemory: path not found: /missing"),
        (["--driver", "inmemory", "ls", "relative/path"], "invalid path: 'relative/path'"),
        (["--driver", "inmemory", "cat", "/missing"], "inmemory: path not found: /missing"),
    ],
)
def test_errors_are_one_sentence(cli: Cli, args: list[str], message: str) -> None:
    ran = cli(*args)
    assert ran.code == 1
    assert message in ran.err
    assert "Traceback" not in ran.err
    assert len(ran.err.strip().splitlines()) == 1


def test_bad_config_file_names_file_and_key(cli: Cli, configs: Path) -> None:
    ran = cli("--config", configs / "bad-param-typo.yml", "ls")
    assert ran.code == 1
    assert ran.err.strip() == (
        f"regstore: error: {configs / 'bad-param-typo.yml'}: storage.filesystem.rootdirectroy:"
        " unknown parameter; filesystem accepts: maxthreads, rootdirectory"
    )


def test_debug_shows_the_traceback(cli: Cli) -> None:
    ran = cli("--debug", "--driver", "inmemory", "stat", "/missing")
    assert ran.code == 1
    assert "Traceback (most recent call last)" in ran.err
    assert "PathNotFoundError" in ran.err


def test_usage_error_exits_2(cli: Cli) -> None:
    ran = cli("ls", "-z")
    assert ran.code == 2
    assert "No such option '-z'" in ran.err


def test_missing_cli_extra_names_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "click.py"
    blocker.write_text("raise ImportError('no click here', name='click')\n")
    result = subprocess.run(
        [sys.executable, "-m", "regstore.cli", "ls"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1
    assert 'pip install "regstore[cli]"' in result.stderr
    assert "Traceback" not in result.stderr


# -- drivers -----------------------------------------------------------------------------


def test_drivers_lists_drivers_and_middleware_with_distributions(cli: Cli) -> None:
    ran = cli("drivers")
    assert ran.code == 0
    rows = {line.split("│")[1].strip(): line for line in ran.out.splitlines() if "│" in line}
    assert "regstore" in rows["filesystem"]
    assert regstore.__version__ in rows["filesystem"]
    assert "regstore" in rows["redirect"]
    assert "rewrite" in rows
    assert "storage drivers" in ran.out
    assert "storage middleware" in ran.out


# -- reading ---------------------------------------------------------------------------------


def test_ls_long_and_recursive(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    repo = f"{BASE}/repositories/team0/app"
    ran = cli("--config", fs.config, "ls", "-R", repo)
    expected = sorted(p for p in filled if p.startswith(repo + "/"))
    listed = [line for line in ran.out.splitlines() if not line.endswith("/")]
    assert listed == expected
    assert f"{repo}/_manifests/" in ran.out.splitlines()

    ran = cli("--config", fs.config, "ls", "-l", "-R", repo)
    for line in ran.out.splitlines():
        fields = line.split()
        if fields[-1].endswith("/"):
            assert fields[:2] == ["-", "-"]
        else:
            assert int(fields[0]) == len(filled[fields[-1]])


def test_ls_of_a_file_and_of_root(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    path = next(iter(filled))
    assert cli("--config", fs.config, "ls", path).out.strip() == path
    assert cli("--config", fs.config, "ls").out.strip() == "/docker/"
    assert cli("--config", fs.config, "ls", "/docker/").out.strip() == "/docker/registry/"


def test_stat(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    path, data = next(iter(filled.items()))
    ran = cli("--config", fs.config, "stat", path)
    assert f"path:     {path}" in ran.out
    assert "type:     file" in ran.out
    assert f"size:     {len(data)} " in ran.out
    assert "modified: 20" in ran.out
    ran = cli("--config", fs.config, "stat", BASE)
    assert "type:     directory" in ran.out


def test_du(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    ran = cli("--config", fs.config, "du", "-d", "1", BASE)
    lines = {line.split()[-1]: line.split() for line in ran.out.splitlines()}
    total = sum(map(len, filled.values()))
    assert int(lines[BASE][0]) == total
    assert int(lines[BASE][3]) == len(filled)
    blobs = {p: d for p, d in filled.items() if p.startswith(f"{BASE}/blobs/")}
    assert int(lines[f"{BASE}/blobs"][0]) == sum(map(len, blobs.values()))
    assert int(lines[f"{BASE}/blobs"][3]) == len(blobs)


def test_cat_writes_the_exact_bytes(cli: Cli, fs: Store) -> None:
    data = bytes(range(256)) * 50
    with fs.open() as driver:
        driver.put_content("/bin/data", data)
    ran = cli("--config", fs.config, "cat", "/bin/data")
    assert (ran.code, ran.raw) == (0, data)


def test_get_to_a_file_and_a_folder(
    cli: Cli, fs: Store, filled: dict[str, bytes], tmp_path: Path
) -> None:
    path = max(filled, key=lambda p: len(filled[p]))
    ran = cli("--config", fs.config, "get", path, tmp_path / "copy")
    assert ran.code == 0, ran.err
    assert (tmp_path / "copy").read_bytes() == filled[path]
    folder = tmp_path / "folder"
    folder.mkdir()
    assert cli("--config", fs.config, "get", path, folder).code == 0
    assert (folder / "data").read_bytes() == filled[path]
    assert not list(folder.glob("*.part"))


def test_get_of_a_directory_says_use_sync(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    ran = cli("--config", fs.config, "get", BASE)
    assert ran.code == 1
    assert "is a directory: get copies one file (sync copies trees)" in ran.err


# -- writing ---------------------------------------------------------------------------------


def test_put_streams_a_file(cli: Cli, fs: Store, tmp_path: Path) -> None:
    source = tmp_path / "layer.tar"
    source.write_bytes(os.urandom(3 << 20))
    ran = cli("--config", fs.config, "put", source, "/uploads/layer")
    assert ran.code == 0, ran.err
    assert "put: " in ran.err
    with fs.open() as driver:
        assert driver.get_content("/uploads/layer") == source.read_bytes()


def test_put_resume_continues_a_pending_upload(cli: Cli, fs: Store, tmp_path: Path) -> None:
    data = os.urandom(2 << 20)
    source = tmp_path / "layer.tar"
    source.write_bytes(data)
    with fs.open() as driver, driver.writer("/uploads/layer") as writer:
        writer.write(data[:700_000])  # an interrupted put left this, closed
    ran = cli("--config", fs.config, "put", "--resume", source, "/uploads/layer")
    assert ran.code == 0, ran.err
    assert "resumed at byte 700000" in ran.err
    with fs.open() as driver:
        assert driver.get_content("/uploads/layer") == data


def test_put_resume_refuses_a_longer_pending_upload(cli: Cli, fs: Store, tmp_path: Path) -> None:
    source = tmp_path / "small"
    source.write_bytes(b"abc")
    with fs.open() as driver, driver.writer("/u") as writer:
        writer.write(b"abcdef")
    ran = cli("--config", fs.config, "put", "--resume", source, "/u")
    assert ran.code == 1
    assert "holds 6 bytes, more than the 3" in ran.err
    with fs.open() as driver:  # the pending upload is still there to inspect or cancel
        with driver.writer("/u", append=True) as writer:
            assert writer.size == 6
        driver.delete("/u")


def test_put_interrupted_then_resumed(fs: Store, tmp_path: Path) -> None:
    """SIGTERM stops ``put`` with a resumable upload; ``put --resume`` finishes it."""
    data = os.urandom(4 << 20)
    source = tmp_path / "big"
    source.write_bytes(data)
    command = [sys.executable, "-m", "regstore.cli", "--config", str(fs.config)]
    # A FIFO feeds the first MiB and then stalls, so the signal lands mid-upload.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [*command, "put", str(fifo), "/big"], stderr=subprocess.PIPE, text=True
    )
    # The filesystem driver keeps the pending upload of /big in <root>/~uploads/big~~data.
    pending = Path(fs.parameters["rootdirectory"], "~uploads")
    with open(fifo, "wb") as pipe:
        pipe.write(data[: 1 << 20])
        pipe.flush()
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size >= 1 << 20 for p in pending.rglob("*") if p.is_file()):
            assert time.monotonic() < deadline, "the first MiB never reached the store"
            time.sleep(0.02)
        # The bytes are in the file the moment the write returns, a moment before the
        # writer counts them: signal once put is back to waiting on the FIFO.
        while not _waits_on_a_pipe(process.pid):
            assert time.monotonic() < deadline, "put never went back to reading"
            time.sleep(0.02)
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "continue with: regstore [store options] put --resume" in err
    resumed = subprocess.run(
        [*command, "put", "--resume", str(source), "/big"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed at byte 1048576" in resumed.stderr
    with fs.open() as driver:
        assert driver.get_content("/big") == data


def test_rm_needs_r_for_a_directory(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    repo = f"{BASE}/repositories/team1"
    ran = cli("--config", fs.config, "rm", repo)
    assert ran.code == 1
    assert "is a directory: use rm -r" in ran.err
    assert cli("--config", fs.config, "rm", "-r", repo).code == 0
    ran = cli("--config", fs.config, "ls", f"{BASE}/repositories")
    assert ran.out.splitlines() == [f"{BASE}/repositories/team0/", f"{BASE}/repositories/team2/"]
    link = next(p for p in filled if p.startswith(f"{BASE}/repositories/team0/") and "tags" in p)
    assert cli("--config", fs.config, "rm", link).code == 0
    assert cli("--config", fs.config, "stat", link).code == 1


def test_rm_refuses_the_root(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    ran = cli("--config", fs.config, "rm", "-r", "/")
    assert ran.code == 1
    assert "refusing to remove /" in ran.err


def test_mv(cli: Cli, fs: Store, filled: dict[str, bytes]) -> None:
    source, data = next(iter(filled.items()))
    assert cli("--config", fs.config, "mv", source, "/moved/data").code == 0
    with fs.open() as driver:
        assert driver.get_content("/moved/data") == data
    assert cli("--config", fs.config, "stat", source).code == 1


# -- url -----------------------------------------------------------------------------------


def test_url_without_redirects_says_why(cli: Cli, fs: Store, configs: Path) -> None:
    with fs.open() as driver:
        driver.put_content("/a", b"x")
    ran = cli("--config", fs.config, "url", "/a")
    assert ran.code == 1
    assert "the filesystem driver gives no redirect URLs" in ran.err
    ran = cli("--config", configs / "redirect-disabled.yml", "url", "/a")
    assert "redirects are disabled by the configuration (storage.redirect.disable)" in ran.err


def test_url_through_configured_middleware(
    cli: Cli, tmp_path: Path, serve_directory: Callable[[Path], str]
) -> None:
    root = tmp_path / "served"
    base = serve_directory(root)
    config = tmp_path / "config.yml"
    config.write_text(
        f"""
version: 0.1
storage:
  filesystem:
    rootdirectory: {root}
middleware:
  storage:
    - name: redirect
      options:
        baseurl: {base}/
""",
        encoding="utf-8",
    )
    with regstore.from_config(config, {}) as driver:
        driver.put_content("/blobs/x", b"served")
    ran = cli("--config", config, "url", "/blobs/x", "--method", "HEAD", "--expires", "60")
    assert ran.code == 0, ran.err
    assert ran.out.strip() == f"{base}/blobs/x"
    with urllib.request.urlopen(ran.out.strip(), timeout=30) as response:
        assert response.read() == b"served"


# -- sync on the filesystem (cloud backends: test_cli_cloud.py) --------------------------------


def test_sync_copies_skips_and_never_changes_the_source(
    cli: Cli,
    make_store: Callable[..., Store],
    registry_tree: Callable[..., dict[str, bytes]],
    read_tree: Callable[..., dict[str, bytes]],
) -> None:
    source, dest = make_store("filesystem", "source"), make_store("filesystem", "dest")
    with source.open() as driver:
        files = registry_tree(driver, big=3 << 20)
    before = _snapshot(Path(source.parameters["rootdirectory"]))
    ran = cli("--config", source.config, "sync", "--to-config", dest.config)
    assert ran.code == 0, ran.err
    assert f"copied {len(files)} files" in ran.out
    assert "skipped 0 already there" in ran.out
    with dest.open() as driver:
        assert read_tree(driver) == files
        driver.put_content(f"{BASE}/extra", b"only at the destination")
        first = next(iter(files))
        driver.put_content(first, b"different size")
    ran = cli("--config", source.config, "sync", "--to-config", dest.config, BASE)
    assert ran.code == 0, ran.err
    assert "copied 1 file (" in ran.out
    assert f"skipped {len(files) - 1} already there" in ran.out
    with dest.open() as driver:
        assert driver.get_content(first) == files[first]
        assert driver.get_content(f"{BASE}/extra") == b"only at the destination"
    assert _snapshot(Path(source.parameters["rootdirectory"])) == before


def test_sync_dry_run_copies_nothing(
    cli: Cli, make_store: Callable[..., Store], registry_tree: Callable[..., dict[str, bytes]]
) -> None:
    source, dest = make_store("filesystem", "source"), make_store("filesystem", "dest")
    with source.open() as driver:
        files = registry_tree(driver)
    ran = cli("--config", source.config, "sync", "--dry-run", "--to-config", dest.config)
    assert ran.code == 0
    assert f"would copy {len(files)} files" in ran.out
    assert not Path(dest.parameters["rootdirectory"]).exists()


def test_sync_to_driver_and_params(
    cli: Cli, make_store: Callable[..., Store], tmp_path: Path, read_tree: Any
) -> None:
    source = make_store("filesystem", "source")
    with source.open() as driver:
        driver.put_content("/one/file", b"1")
    dest_root = tmp_path / "by-params"
    ran = cli(
        "--config",
        source.config,
        "sync",
        "--to-driver",
        "filesystem",
        "--to-param",
        f"rootdirectory={dest_root}",
        "/one",
    )
    assert ran.code == 0, ran.err
    assert (dest_root / "one/file").read_bytes() == b"1"


def test_sync_needs_a_destination_other_than_the_source(cli: Cli, fs: Store) -> None:
    ran = cli("--config", fs.config, "sync")
    assert ran.code == 1
    assert "no store given: use --to-config FILE or --to-driver NAME" in ran.err
    ran = cli("--config", fs.config, "sync", "--to-config", fs.config)
    assert ran.code == 1
    assert "the destination overlaps the source store" in ran.err
    inside = f"rootdirectory={fs.parameters['rootdirectory']}/copy"
    ran = cli("--config", fs.config, "sync", "--to-driver", "filesystem", "--to-param", inside)
    assert ran.code == 1
    assert "sync would write into the tree it reads" in ran.err
    beside = f"rootdirectory={fs.parameters['rootdirectory']}-copy"  # a sibling, not inside
    ran = cli("--config", fs.config, "sync", "--to-driver", "filesystem", "--to-param", beside)
    assert (ran.code, ran.err) == (0, "")  # an empty source: nothing to copy
    assert "copied 0 files" in ran.out


def test_sync_of_a_missing_path(cli: Cli, make_store: Callable[..., Store]) -> None:
    source, dest = make_store("filesystem", "source"), make_store("filesystem", "dest")
    ran = cli("--config", source.config, "sync", "--to-config", dest.config, "/nothing")
    assert ran.code == 1
    assert "path not found: /nothing" in ran.err


def _waits_on_a_pipe(pid: int) -> bool:
    """True when the main thread of ``pid`` sleeps in a pipe read (Linux ``wchan``).

    Where the kernel does not tell (no ``/proc``, or ``wchan`` reads ``0``), True.
    """
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return True
    return wchan in ("", "0") or "pipe_read" in wchan


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root``: size, modification time and content."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            st = path.stat()
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, path.read_bytes())
    return found


# -- commands load their own modules -----------------------------------------------------------


def test_every_command_is_listed_and_found_where_the_table_says() -> None:
    import importlib

    from regstore.cli.app import COMMAND_MODULES, cli

    defined = {
        command.name: module
        for module in set(COMMAND_MODULES.values())
        for command in importlib.import_module(f"regstore.cli.{module}").COMMANDS
    }
    assert defined == COMMAND_MODULES  # no command missing from the table, none misplaced
    ctx = cli.make_context("regstore", ["--help"], resilient_parsing=True)
    assert cli.list_commands(ctx) == sorted(COMMAND_MODULES)
    for name in COMMAND_MODULES:
        found = cli.get_command(ctx, name)
        assert found is not None
        assert found.name == name


def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from regstore.cli.app import run\n"
        f"status = run(['--driver', 'filesystem', '--param', 'rootdirectory={tmp_path}', 'ls'])\n"
        "print(status, sorted(m for m in sys.modules if m.startswith('regstore.cli.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    status, _, modules = done.stdout.strip().partition(" ")
    assert status == "0"
    # ``ls`` needs neither gc's registry walker nor check's test plumbing.
    assert "regstore.cli.files" in modules
    assert "regstore.cli.maintenance" not in modules
    assert "regstore.cli.check" not in modules
