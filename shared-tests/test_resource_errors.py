"""Resource errors: disk full, file-size limit, read-only root, permission denied, missing bucket.

Each failure must be the contract's ``DriverError`` with one clear sentence
(naming the path, and why), and nothing committed or closed before it may be
damaged: the committed file reads back whole, the pending upload resumes at its
last ``close()`` with exactly its bytes, and no temp file is left behind.

The filesystem cases run the driver in a child process (``faults/resource_worker.py``):

- disk full: a 2 MiB tmpfs in a private mount namespace (``unshare -m``, as root);
- file-size limit: ``RLIMIT_FSIZE`` with ``SIGXFSZ`` ignored (works for any user);
- read-only root: the same tmpfs remounted read-only (as root);
- permission denied: the child runs as ``nobody`` (as root, where ``chmod`` does
  not stop writes); as another user, over a tree made read-only with ``chmod``.

Cases that need root or ``unshare`` skip with the reason when unavailable.
The cloud drivers face a bucket or container that does not exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from faults import figures
from faults.targets import Target, bind, open_target

import regstore

WORKER = Path(__file__).parent / "faults" / "resource_worker.py"
MiB = 1 << 20
OLD = ("/blob/data", 1, 100_000)
PENDING = ("/up/data", 2, 300_000)
HUGE = 4 * MiB


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def sha(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


def run_steps(command: list[str], **options: Any) -> list[dict[str, Any]]:
    """Run the worker (``command`` ends with its arguments); its outcomes, one per step."""
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, **options
    )
    assert done.returncode == 0, f"the worker failed: {done.stderr[-3000:]}"
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def worker(root: Path | str, steps: list[list[Any]], user: str | None = None) -> list[str]:
    return [sys.executable, str(WORKER), str(root), json.dumps(steps), *([user] if user else [])]


def one_sentence(outcome: dict[str, Any], path: str, *why: str) -> None:
    """A DriverError whose message is one line naming ``path`` and one of ``why``."""
    assert not outcome["ok"], f"{outcome['step']} succeeded where it cannot"
    message = outcome["message"]
    assert outcome["error"] == "DriverError", f"{outcome['step']}: {outcome['error']}: {message}"
    assert "\n" not in message, f"{outcome['step']}: more than one line: {message!r}"
    assert len(message) < 400, f"{outcome['step']}: not one clear sentence: {message!r}"
    assert path in message, f"{outcome['step']}: the message does not name {path}: {message!r}"
    assert any(word in message.lower() for word in why), (
        f"{outcome['step']}: the message does not say why ({' or '.join(why)}): {message!r}"
    )


def ok(outcome: dict[str, Any], value: object = None) -> None:
    assert outcome["ok"], f"{outcome['step']} failed: {outcome.get('message')}"
    if value is not None:
        assert outcome["value"] == value, f"{outcome['step']}: {outcome['value']!r}"


def can_mount() -> str | None:
    """None when a private tmpfs can be mounted here, else why not."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("unshare") is None:
        return "the unshare command (util-linux) is not installed"
    with tempfile.TemporaryDirectory() as probe:
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "tmpfs", probe],
            capture_output=True,
            check=False,
        )
    if done.returncode != 0:
        return f"cannot mount a tmpfs in a private namespace: {done.stderr.decode().strip()}"
    return None


def in_tmpfs(mount: Path, size: str, script: str) -> list[str]:
    """A shell ``script`` run in a private mount namespace with a tmpfs at ``mount``."""
    return [
        "unshare", "-m", "--propagation", "private", "sh", "-ec",
        f"mount -t tmpfs -o size={size} tmpfs {mount}\n{script}",
    ]  # fmt: skip


def shell(command: list[str]) -> str:
    return " ".join("'" + part.replace("'", "'\\''") + "'" for part in command)


#: Steps that run out of space (or size) after an upload was closed; then what survived.
FULL_STEPS: list[list[Any]] = [
    ["put", *OLD],
    ["write", PENDING[0], False, PENDING[1], PENDING[2], "close"],
    ["put", "/big", 3, HUGE],
    ["put", OLD[0], 4, HUGE],
    ["write", PENDING[0], True, 5, HUGE, "close"],
    ["size", PENDING[0]],
    ["write", PENDING[0], True, 6, HUGE, "commit"],
    ["get", OLD[0]],
    ["list", "/"],
    ["hidden"],
    ["write", PENDING[0], True, 7, 1000, "commit"],
    ["get", PENDING[0]],
]


def check_full(outcomes: list[dict[str, Any]], *why: str) -> None:
    ok(outcomes[0])
    ok(outcomes[1], PENDING[2])
    one_sentence(outcomes[2], "/big", *why)
    one_sentence(outcomes[3], OLD[0], *why)
    one_sentence(outcomes[4], PENDING[0], *why)
    ok(outcomes[5], PENDING[2])  # the upload still resumes at its last close
    one_sentence(outcomes[6], PENDING[0], *why)
    ok(outcomes[7], sha(data(OLD[1], OLD[2])))  # the committed file is whole
    ok(outcomes[8], ["/blob"])  # nothing half-stored became visible
    assert all("~uploads/up~data~~" in name for name in outcomes[9]["value"]), (
        f"files left behind besides the pending upload: {outcomes[9]['value']}"
    )
    ok(outcomes[10])
    ok(outcomes[11], sha(data(PENDING[1], PENDING[2]), data(7, 1000)))


def test_disk_full(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    reason = can_mount()
    if reason:
        pytest.skip(reason)
    mount = tmp_path / "small"
    mount.mkdir()
    outcomes = run_steps(in_tmpfs(mount, "2m", shell(worker(mount / "root", FULL_STEPS))))
    check_full(outcomes, "full", "no space")
    figures.record(request, "resource-errors", target="filesystem", disk_full=len(outcomes))


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (MiB, MiB))


def test_file_size_limit(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    outcomes = run_steps(worker(tmp_path / "root", FULL_STEPS), preexec_fn=_limit_file_size)
    check_full(outcomes, "size limit", "too large", "larger")
    figures.record(request, "resource-errors", target="filesystem", file_size_limit=len(outcomes))


SETUP: list[list[Any]] = [
    ["put", *OLD],
    ["write", PENDING[0], False, PENDING[1], PENDING[2], "close"],
]
#: Every write refused, every read served.
LOCKED_STEPS: list[list[Any]] = [
    ["get", OLD[0]],
    ["list", "/"],
    ["put", OLD[0], 4, 1000],
    ["put", "/new/file", 4, 1000],
    ["write", PENDING[0], True, 5, 1000, "close"],
    ["write", "/other/data", False, 5, 1000, "close"],
    ["delete", "/blob"],
    ["move", OLD[0], "/moved"],
    ["get", OLD[0]],
]
AFTER: list[list[Any]] = [["get", OLD[0]], ["size", PENDING[0]], ["list", "/"], ["hidden"]]


def check_locked(outcomes: list[dict[str, Any]], *why: str) -> None:
    ok(outcomes[0], sha(data(OLD[1], OLD[2])))
    ok(outcomes[1], ["/blob"])
    for outcome, path in zip(
        outcomes[2:8],
        [OLD[0], "/new/file", PENDING[0], "/other/data", "/blob", OLD[0]],
        strict=True,
    ):
        one_sentence(outcome, path, *why)
    ok(outcomes[8], sha(data(OLD[1], OLD[2])))


def check_after(outcomes: list[dict[str, Any]]) -> None:
    ok(outcomes[0], sha(data(OLD[1], OLD[2])))
    ok(outcomes[1], PENDING[2])
    ok(outcomes[2], ["/blob"])
    assert all("~uploads/up~data~~" in name for name in outcomes[3]["value"]), outcomes[3]


def test_read_only_root(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    reason = can_mount()
    if reason:
        pytest.skip(reason)
    mount = tmp_path / "small"
    mount.mkdir()
    root = mount / "root"
    script = "\n".join(
        [
            shell(worker(root, SETUP)),
            f"mount -o remount,ro {mount}",
            shell(worker(root, LOCKED_STEPS)),
            f"mount -o remount,rw {mount}",
            shell(worker(root, AFTER)),
        ]
    )
    outcomes = run_steps(in_tmpfs(mount, "8m", script))
    assert all(outcome["ok"] for outcome in outcomes[:2]), outcomes[:2]
    check_locked(outcomes[2 : 2 + len(LOCKED_STEPS)], "read-only")
    check_after(outcomes[2 + len(LOCKED_STEPS) :])
    figures.record(request, "resource-errors", target="filesystem", read_only=len(outcomes))


@pytest.fixture
def open_tree() -> Iterator[Path]:
    """A directory any user may enter (pytest's own temp folders are private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="regstore-denied-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_permission_denied(request: pytest.FixtureRequest, open_tree: Path) -> None:
    root = open_tree / "root"
    run_steps(worker(root, SETUP))
    user: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root, and there is no user 'nobody' to drop to")
        user = "nobody"
        os.chmod(root, 0o755)  # readable by all, writable by root only
    else:
        for directory, _, files in os.walk(root):
            os.chmod(directory, 0o555)
            for name in files:
                os.chmod(os.path.join(directory, name), 0o444)
    try:
        outcomes = run_steps(worker(root, LOCKED_STEPS, user))
    finally:
        for directory, _, _ in os.walk(root):
            os.chmod(directory, 0o755)
    check_locked(outcomes, "permission denied", "not writable")
    check_after(run_steps(worker(root, AFTER)))
    figures.record(request, "resource-errors", target="filesystem", denied=len(outcomes))


class MissingBucketTests:
    """A bucket or container that does not exist: a clear DriverError from every method."""

    label: ClassVar[str]

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    def test_missing_bucket_is_one_clear_sentence(
        self, request: pytest.FixtureRequest, target: Target
    ) -> None:
        key = target.declared.bucket_parameter
        assert key is not None
        name = "nosuchbucket" + os.urandom(4).hex()
        driver = target.create(**{key: name, **target.declared.fast_failure})

        def write() -> None:
            writer = driver.writer("/up/data")
            writer.write(b"x" * 1000)
            writer.close()

        calls: dict[str, Callable[[], object]] = {
            "get_content": lambda: driver.get_content("/a/b"),
            "put_content": lambda: driver.put_content("/a/b", b"x"),
            "reader": lambda: driver.reader("/a/b").read(),
            "writer": write,
            "stat": lambda: driver.stat("/a/b"),
            "stat root": lambda: driver.stat("/"),
            "list root": lambda: driver.list("/"),
            "walk root": lambda: list(driver.walk("/")),
            "move": lambda: driver.move("/a/b", "/a/c"),
            "delete": lambda: driver.delete("/a"),
        }
        wrong = []
        for label, call in calls.items():
            try:
                call()
            except regstore.DriverError as error:
                text = str(error)
                if name not in text or "\n" in text or len(text) > 400:
                    wrong.append(f"{label}: unclear: {text!r}")
            except Exception as error:
                wrong.append(f"{label}: {error!r} (not a DriverError naming the bucket)")
            else:
                wrong.append(f"{label}: succeeded on a bucket that does not exist")
        driver.close()
        figures.record(
            request, "resource-errors", target=self.label, missing_bucket=len(calls),
            unclear=len(wrong),
        )  # fmt: skip
        assert not wrong, "\n".join(wrong)


MISSING_BUCKET = bind(
    MissingBucketTests,
    "TestMissingBucket",
    globals(),
    lambda backend: backend.bucket_parameter is not None,
)
