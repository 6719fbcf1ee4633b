"""Hostile input: property-based tests over paths, offsets, read sizes and parameters.

For every driver (inmemory, filesystem, and each cloud driver on its emulator):

- any path to any method: a path breaking the rules raises ``InvalidPathError``
  and nothing else; a valid one succeeds, or raises ``PathNotFoundError`` or a
  one-line ``DriverError`` (say, a name too long for the backend);
- any offset: negative or not an integer raises ``InvalidOffsetError``; any
  other reads exactly the committed bytes from there (none past the end);
- any read size, up to ``sys.maxsize``, returns the rest, never a ``MemoryError``;
- any parameters mapping: the driver is built and works, or the factory raises
  ``InvalidParameterError``; built in a child process under an address-space
  cap and a time limit, so a huge size that allocates without bound fails the
  test instead of the machine.

On the filesystem, nothing is ever created outside the root, and a symlink
inside the root that leads outside it is refused by every method.

The drivers come from the test backends the installed packages declare
(``regstore.testsuite.backends``), including which parameters may be fuzzed.

By default every run draws the same examples (hypothesis derandomized: a fixed
seed per test), so a run fails only when the code changed, never by the luck of
the draw. The wide search draws new examples every run, ten times as many.

Environment:

- ``REGSTORE_FUZZ_WIDE=1``: the wide, random search (the nightly or a manual run).
- ``REGSTORE_FUZZ_EXAMPLES``: examples per property on the local drivers
  (default 200, wide 2000); cloud drivers get an eighth of it (at least 10);
  the parameter probes (one child process each) a fifth of that (at least 10).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import string
import sys
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import pytest
from faults import crash_worker, figures
from faults.crashing import Crasher
from faults.targets import FILESYSTEM, Target, bind, open_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regstore
from regstore.testsuite.backends import find_backend

#: The wide search: new random examples every run (default: the same fixed ones).
WIDE = os.environ.get("REGSTORE_FUZZ_WIDE") == "1"
EXAMPLES = int(os.environ.get("REGSTORE_FUZZ_EXAMPLES") or ("2000" if WIDE else "200"))
CLOUD_EXAMPLES = max(10, EXAMPLES // 8)
#: Seconds a parameter probe may take before it counts as hung.
PROBE_SECONDS = 60.0
#: A hung probe writes its threads' stacks this many seconds before it is killed.
STACKS_BEFORE_KILL = 5.0

VALID_PATH = re.compile(r"(/[A-Za-z0-9._-]+)+")


def valid_path(path: object, *, root_ok: bool) -> bool:
    """The contract's path rule, written out independently of ``regstore.paths``."""
    if not isinstance(path, str):
        return False
    if path == "/":
        return root_ok
    if VALID_PATH.fullmatch(path) is None:
        return False
    return all(part not in (".", "..") for part in path.split("/")[1:])


# -- strategies ----------------------------------------------------------------

NAME = string.ascii_letters + string.digits + "._-"
component = st.text(NAME, min_size=1, max_size=10)
NASTY = [".", "..", "...", "", "~", "~uploads", "~regstore", "a b", "a\x00b", "\\", "..\\.."]
NASTY += ["%2e%2e", "\u00fc", "\n", "*", "?", "#", ":", "a\u200bb", "\ud800", "a" * 300]
nasty_component = st.one_of(st.sampled_from(NASTY), st.text(max_size=10))
valid_paths = st.builds(
    lambda parts: "/" + "/".join(parts),
    st.lists(component.filter(lambda name: name not in (".", "..")), min_size=1, max_size=6),
)
string_paths = st.builds(
    lambda parts, lead, trail: ("/" if lead else "") + "/".join(parts) + ("/" if trail else ""),
    st.lists(st.one_of(component, component, nasty_component), max_size=6),
    st.booleans(),
    st.booleans(),
)
paths = st.one_of(
    valid_paths,
    string_paths,
    st.sampled_from(["/", "", "//", "/./", "/../x", "/x/../../y", "/" + "/d" * 200]),
    st.sampled_from([None, b"/a", 1, 1.5, PurePosixPath("/a"), ["/a"], ("/a",)]),
)
offsets = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 99, 100, 101, -1, sys.maxsize, 2**63, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=4),
    st.none(),
)
read_sizes = st.one_of(
    st.integers(-sys.maxsize - 1, sys.maxsize),
    st.sampled_from([None, -1, 0, 1, 2**31, 2**40, 2**62, sys.maxsize]),
)
junk_values = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from(
        [0, -1, 1, 25, 2**31, 2**40, 2**63, 256 * 1024, 5 << 20, 5 << 30, (5 << 30) + 1]
    ),
    st.text(max_size=12),
    st.sampled_from(["", " ", "0x10", "1e9", "10MiB", "-5", "9" * 5000, "true", "NaN", "\x00"]),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def fuzz_settings(examples: int) -> settings:
    """Hypothesis settings for one property: derandomized unless the wide search is asked for."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not WIDE,
        suppress_health_check=list(HealthCheck),
    )


def _read(stream: Any, size: int | None, call: str) -> bytes:
    """``stream.read(size)``; a size below -1 may be refused as a file object does."""
    try:
        data: bytes = stream.read(size)
    except ValueError:
        if size is not None and size < -1:
            return b""  # io's own rule for buffered files: -1 or more
        raise
    except (MemoryError, OverflowError) as error:
        pytest.fail(f"{call}, then read({size}) raised {error!r}: a size must not be allocated")
    return data


def _one_line(error: BaseException) -> bool:
    text = str(error)
    return "\n" not in text and "Traceback" not in text and len(text) < 1000


# -- the calls ----------------------------------------------------------------


def _path_calls(driver: regstore.StorageDriver, path: Any) -> dict[str, Callable[[], object]]:
    """Every method, with ``path`` in each path argument; True: the root is valid there."""
    other = "/fuzz/other"

    def write_then_cancel() -> None:
        writer = driver.writer(path)
        writer.write(b"x")
        writer.cancel()

    def read_all() -> bytes:
        with driver.reader(path) as stream:
            return stream.read()

    return {
        "get_content": lambda: driver.get_content(path),
        "put_content": lambda: driver.put_content(path, b"fuzz"),
        "reader": read_all,
        "writer": write_then_cancel,
        "stat": lambda: driver.stat(path),
        "list": lambda: driver.list(path),
        "walk": lambda: list(driver.walk(path)),
        "move source": lambda: driver.move(path, other),
        "move dest": lambda: driver.move(other, path),
        "delete": lambda: driver.delete(path),
        "redirect_url": lambda: driver.redirect_url(path),
    }


ROOT_OK = {"stat", "list", "walk"}
CALLS = sorted(
    {"get_content", "put_content", "reader", "writer", "stat", "list", "walk", "delete"}
    | {"move source", "move dest", "redirect_url"}
)


def _reset(driver: regstore.StorageDriver, baseline: dict[str, bytes]) -> None:
    """Back to exactly ``baseline``: delete whatever an example left, restore the rest."""
    for top in driver.list("/"):
        driver.delete(top)
    for name, data in baseline.items():
        driver.put_content(name, data)


def _snapshot(directory: Path, skip: Path) -> dict[str, str]:
    """Every entry under ``directory`` but ``skip``: its kind and content digest."""
    seen: dict[str, str] = {}
    for entry in sorted(directory.rglob("*")):
        if entry == skip or skip in entry.parents:
            continue
        if entry.is_symlink():
            seen[str(entry)] = "link:" + os.readlink(entry)
        elif entry.is_file():
            seen[str(entry)] = hashlib.sha256(entry.read_bytes()).hexdigest()
        else:
            seen[str(entry)] = "dir"
    return seen


# -- the tests -------------------------------------------------------------------


class HostileInputTests:
    """Every property against one target (a class per target spreads them over workers)."""

    label: ClassVar[str]

    @property
    def examples(self) -> int:
        return EXAMPLES if find_backend(self.label).local else CLOUD_EXAMPLES

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        with open_target(self.label, tmp_path) as opened:
            yield opened

    @pytest.fixture
    def driver(self, target: Target) -> Iterator[regstore.StorageDriver]:
        with target.create() as driver:
            yield driver

    def test_any_path_is_used_or_refused_as_invalid(
        self,
        request: pytest.FixtureRequest,
        driver: regstore.StorageDriver,
        target: Target,
        tmp_path: Path,
    ) -> None:
        baseline = {"/fuzz/other": b"other", "/fuzz/dir/file": b"file"}
        _reset(driver, baseline)
        root = Path(target.parameters.get("rootdirectory", tmp_path / "none"))
        outside = _snapshot(tmp_path, root)
        tried = {"examples": 0, "invalid": 0, "valid": 0}

        @fuzz_settings(self.examples)
        @given(path=paths, call=st.sampled_from(CALLS))
        def check(path: Any, call: str) -> None:
            tried["examples"] += 1
            ok = valid_path(path, root_ok=call in ROOT_OK)
            tried["valid" if ok else "invalid"] += 1
            error: regstore.StorageDriverError | None = None
            try:
                _path_calls(driver, path)[call]()
            except regstore.StorageDriverError as raised:
                error = raised  # anything else fails the example as it is
            finally:
                _reset(driver, baseline)
            if not ok:
                assert isinstance(error, regstore.InvalidPathError), (
                    f"{call}({path!r}) gave {error!r}, not InvalidPathError"
                )
                assert str(error).startswith(f"{driver.name}: ")
            elif error is not None:
                assert isinstance(error, (regstore.PathNotFoundError, regstore.DriverError)), (
                    f"{call}({path!r}) refused a valid path: {error!r}"
                )
                assert _one_line(error), f"{call}({path!r}): unclear message {error}"
            if target.label == FILESYSTEM:
                assert _snapshot(tmp_path, root) == outside, (
                    f"{call}({path!r}) changed something outside the root"
                )

        try:
            check()
        finally:
            figures.record(request, "fuzz-paths", target=self.label, **tried)

    def test_any_offset_and_read_size(
        self, request: pytest.FixtureRequest, driver: regstore.StorageDriver
    ) -> None:
        content = crash_worker.content(3, 100)
        driver.put_content("/fuzz/file", content)
        tried = {"examples": 0}

        @fuzz_settings(self.examples)
        @given(offset=offsets, size=read_sizes, missing=st.booleans())
        def check(offset: Any, size: int | None, missing: bool) -> None:
            tried["examples"] += 1
            path = "/fuzz/missing" if missing else "/fuzz/file"
            good = isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0
            call = f"reader({path}, {offset!r})"
            try:
                stream = driver.reader(path, offset)
            except (regstore.InvalidOffsetError, regstore.PathNotFoundError) as raised:
                error: regstore.StorageDriverError = raised
            else:
                assert good, f"{call} accepted a bad offset"
                assert not missing, f"{call} opened a missing file"
                with stream:
                    data = _read(stream, size, call)
                    rest = stream.read()
                assert data + rest == content[offset:], f"{call}, then read({size})"
                return
            if not good:
                assert isinstance(error, regstore.InvalidOffsetError), f"{call} gave {error!r}"
                assert (error.offset, error.path) == (offset, path)
            else:
                assert isinstance(error, regstore.PathNotFoundError), f"{call} gave {error!r}"
                assert missing, f"{call}: the file is there"

        try:
            check()
        finally:
            figures.record(request, "fuzz-offsets", target=self.label, **tried)
            driver.delete("/fuzz")

    def test_any_parameters_build_a_working_driver_or_are_refused(
        self, request: pytest.FixtureRequest, target: Target, tmp_path: Path
    ) -> None:
        crasher = Crasher()
        stacks = tmp_path / "probe-stacks.txt"
        keys = target.declared.fuzzed_parameters
        tried = {"examples": 0, "refused": 0, "worked": 0, "driver_errors": 0}

        @fuzz_settings(max(10, self.examples // 5))
        @given(
            changes=st.dictionaries(st.sampled_from(keys), junk_values, max_size=3)
            if keys
            else st.just({}),
            unknown=st.one_of(st.none(), st.text(min_size=1, max_size=8)),
        )
        def check(changes: dict[str, Any], unknown: str | None) -> None:
            tried["examples"] += 1
            parameters = {**target.parameters, **changes}
            if unknown is not None:
                parameters[unknown] = "x"
            spec = {**target.spec(), "parameters": parameters}
            task = {"stacks": str(stacks), "stacks_after": PROBE_SECONDS - STACKS_BEFORE_KILL}
            outcome = crasher.run(spec, task, PROBE_SECONDS, entry=crash_worker.probe)
            assert not outcome.killed, (
                f"building and using a driver with {changes} hung; its threads"
                f" {STACKS_BEFORE_KILL:.0f} s before the kill:\n{stacks.read_text()}"
            )
            result = next(m for m in outcome.messages if m[0] not in ("ready", "done"))
            if result[0] == "invalid":
                tried["refused"] += 1
                assert result[1] in (*changes, unknown), result
                return
            assert unknown is None or unknown.lower() in target.parameters, (
                f"the unknown parameter {unknown!r} was accepted"
            )
            if result[0] == "driver-error":
                tried["driver_errors"] += 1
                assert "\n" not in result[2], result
                return
            assert result == ("ok",), f"parameters {changes}: {result}"
            tried["worked"] += 1

        try:
            check()
        finally:
            figures.record(request, "fuzz-parameters", target=self.label, **tried)


class TestHostileFilesystem(HostileInputTests):
    label = FILESYSTEM

    #: Symlinks inside the root: name -> (target, leads outside the root).
    LINKS: ClassVar[dict[str, tuple[str, bool]]] = {
        "out-dir": ("{outside}", True),
        "out-rel": ("../outside", True),
        "out-file": ("{outside}/secret", True),
        "out-up": ("..", True),
        "real/up": ("../..", True),
        "in-link": ("real", False),
    }

    def _build(self, root: Path, outside: Path) -> None:
        """The outside tree, and a root with symlinks out of it (and one that stays inside)."""
        for tree in (root, outside):
            if tree.exists():
                shutil.rmtree(tree)
        (outside / "dir").mkdir(parents=True)
        (outside / "secret").write_bytes(b"outside secret")
        (outside / "dir" / "inner").write_bytes(b"outside inner")
        (root / "real").mkdir(parents=True)
        (root / "real" / "file").write_bytes(b"inside")
        for name, (link, _) in self.LINKS.items():
            (root / name).symlink_to(link.format(outside=outside))

    def test_symlinks_out_of_the_root_are_refused(
        self,
        request: pytest.FixtureRequest,
        driver: regstore.StorageDriver,
        target: Target,
        tmp_path: Path,
    ) -> None:
        root = Path(target.parameters["rootdirectory"])
        outside = tmp_path / "outside"
        escapes = [name for name, (_, out) in self.LINKS.items() if out]
        self._build(root, outside)
        before = _snapshot(tmp_path, root)
        tried = {"examples": 0, "refused": 0}

        @fuzz_settings(self.examples)
        @given(
            link=st.sampled_from([*escapes, "in-link"]),
            rest=st.lists(st.sampled_from(["secret", "dir", "inner", "x", "file"]), max_size=2),
            call=st.sampled_from(CALLS),
        )
        def check(link: str, rest: list[str], call: str) -> None:
            tried["examples"] += 1
            self._build(root, outside)
            path = "/" + "/".join([link, *rest])
            try:
                result = _path_calls(driver, path)[call]()
            except (regstore.DriverError, regstore.PathNotFoundError):
                tried["refused"] += 1
            else:
                served = result is not None or call != "redirect_url"  # None: nothing to serve
                assert link not in escapes or not served, (
                    f"{call}({path!r}) went through a symlink out of the root: {result!r}"
                )
            assert _snapshot(tmp_path, root) == before, f"{call}({path!r}) changed the outside"
            shown = [info.path for info in driver.walk("/")]
            leaked = [
                p for p in shown if any(p == f"/{e}" or p.startswith(f"/{e}/") for e in escapes)
            ]
            assert not leaked, f"walk shows what lies outside the root: {leaked}"
            assert "/real/file" in shown or call in ("delete", "move source", "put_content")

        try:
            check()
        finally:
            figures.record(request, "fuzz-symlinks", target=self.label, **tried)

    def test_a_symlink_loop_does_not_break_the_walk(
        self, driver: regstore.StorageDriver, target: Target
    ) -> None:
        root = Path(target.parameters["rootdirectory"])
        (root / "real").mkdir(parents=True)
        (root / "real" / "file").write_bytes(b"inside")
        (root / "loop").symlink_to("loop")
        assert [info.path for info in driver.walk("/")] == ["/real", "/real/file"]
        assert driver.list("/") == ["/real"]

    def test_upload_area_linked_outside_is_refused(
        self, driver: regstore.StorageDriver, target: Target, tmp_path: Path
    ) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        root = Path(target.parameters["rootdirectory"])
        root.mkdir(parents=True)
        (root / "~uploads").symlink_to(outside)
        with pytest.raises(regstore.DriverError, match="symbolic link"):
            driver.writer("/upload/data")
        with pytest.raises(regstore.DriverError, match="symbolic link"):
            driver.delete("/upload")
        assert list(outside.iterdir()) == []


HOSTILE = bind(HostileInputTests, "TestHostile", globals())
