"""``regstore check``: the shipped conformance suite on the configured store, in a scratch prefix.

The driver under test is the configured one with ``rootdirectory`` set to
``<configured rootdirectory>/regstore-check-<random>``, so every test stays
inside that prefix. The suite runs with pytest in a child process (its
outcomes come back as JSON lines); the prefix is removed afterwards, whatever
happened.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .._base import unwrap
from ..config import ConfigError, StorageConfig
from ..driver import FileInfo, StorageDriver
from ..errors import PathNotFoundError
from ._check_protocol import MARKER, SPEC_VARIABLE
from .output import err_console, out_console
from .session import CliError, Holder

__all__ = ["COMMANDS"]

GROUPS = {
    "ContentTests": "content",
    "ReaderTests": "readers",
    "WriterTests": "writers",
    "StatListTests": "stat and list",
    "MoveDeleteTests": "move and delete",
    "WalkTests": "walk",
    "RedirectTests": "redirect URLs",
}


@dataclass
class Outcome:
    """One test's result across its setup, call and teardown."""

    name: str
    group: str
    outcome: str = "passed"
    message: str = ""


@dataclass
class Results:
    """Every test's outcome, in run order."""

    tests: dict[str, Outcome] = field(default_factory=dict)
    collected: int = -1
    groups: dict[str, str] = field(default_factory=dict)

    def record(self, event: dict[str, Any]) -> None:
        """Fold one reported phase into the test's outcome."""
        nodeid = event["nodeid"]
        name = nodeid.rsplit("::", 1)[-1]
        group = GROUPS.get(self.groups.get(nodeid, ""), self.groups.get(nodeid, "") or "other")
        test = self.tests.setdefault(nodeid, Outcome(name, group))
        outcome, when = event["outcome"], event["when"]
        if outcome == "failed":
            phase = "" if when == "call" else f"in {when}: "
            if test.outcome != "failed":
                test.outcome, test.message = "failed", phase + event["message"]
        elif outcome == "skipped" and test.outcome == "passed":
            test.outcome, test.message = "skipped", event["message"]

    def count(self, outcome: str, group: str | None = None) -> int:
        """How many tests (of ``group``) ended with ``outcome``."""
        return sum(
            1
            for test in self.tests.values()
            if test.outcome == outcome and (group is None or test.group == group)
        )


def _configured_root(config: StorageConfig) -> str:
    for key, value in config.parameters.items():
        if key.lower() == "rootdirectory" and value is not None:
            return str(value)
    probe = config.create_driver()
    try:
        root = getattr(unwrap(probe), "rootdirectory", "")
    finally:
        probe.close()
    return root if isinstance(root, str) else ""


def _scratch_driver(config: StorageConfig, root: str) -> StorageDriver:
    try:
        return config.create_driver(rootdirectory=root)
    except ConfigError as exc:
        if exc.key.split(" ")[0].endswith(".rootdirectory"):
            raise CliError(
                f"check runs the suite inside a scratch prefix set through the rootdirectory"
                f" parameter, which the {config.driver} driver does not take"
            ) from exc
        raise


def _always(info: FileInfo) -> bool:
    return True


def _remove_scratch(scratch: StorageDriver, parent: StorageDriver, name: str) -> str | None:
    """Remove everything below the scratch prefix, then the prefix; a warning if it remains."""
    with contextlib.suppress(PathNotFoundError):
        for info in list(scratch.walk("/", prune=_always)):
            with contextlib.suppress(PathNotFoundError):
                scratch.delete(info.path)
    with contextlib.suppress(PathNotFoundError):
        parent.delete("/" + name)
    try:
        parent.stat("/" + name)
    except PathNotFoundError:
        return None
    return f"the scratch prefix {name} could not be removed completely: remove it by hand"


def _pytest_command(work: str, slow: bool, keyword: str | None) -> list[str]:
    spec = importlib.util.find_spec("regstore.cli._check_suite")
    if spec is None or spec.origin is None:
        raise CliError("the conformance suite module regstore.cli._check_suite is missing")
    ini = Path(work, "pytest.ini")
    ini.write_text("[pytest]\nmarkers =\n    slow: large streams\n", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "pytest",
        spec.origin,
        "-p",
        "regstore.cli._check_plugin",
        "-p",
        "no:terminal",
        "-p",
        "no:cacheprovider",
        "-c",
        str(ini),
        "--rootdir",
        work,
        "--confcutdir",
        os.path.dirname(spec.origin),
    ]
    if not slow:
        command += ["-m", "not slow"]
    if keyword:
        command += ["-k", keyword]
    return command


def _events(process: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(MARKER):
            event: dict[str, Any] = json.loads(line[len(MARKER) :])
            yield event


def _run_suite(
    spec: dict[str, Any], slow: bool, keyword: str | None, results: Results
) -> tuple[int, str]:
    """Run pytest over the suite; returns its exit status and the tail of its stderr."""
    with tempfile.TemporaryDirectory(prefix="regstore-check-") as work:
        env = {
            **os.environ,
            SPEC_VARIABLE: json.dumps(spec, default=str),
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        errors_path = Path(work, "stderr.txt")
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[test]}", style="dim"),
            console=err_console,
            disable=not err_console.is_terminal,
        )
        with errors_path.open("w", encoding="utf-8") as errors, progress:
            task = progress.add_task("check", total=None, test="collecting")
            process = subprocess.Popen(
                _pytest_command(work, slow, keyword),
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                cwd=work,
                env=env,
            )
            try:
                for event in _events(process):
                    kind = event["event"]
                    if kind == "collected":
                        results.collected = event["count"]
                        results.groups = event["groups"]
                        progress.update(task, total=event["count"])
                    elif kind == "report":
                        results.record(event)
                    elif kind == "finished":
                        name = event["nodeid"].rsplit("::", 1)[-1]
                        progress.update(task, advance=1, test=name)
                status = process.wait()
            except BaseException:
                process.terminate()
                process.wait()
                raise
        tail = errors_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return status, tail[-1] if tail else ""


def _tables(results: Results, title: str) -> list[Table]:
    summary = Table(title=title, title_justify="left")
    summary.add_column("group")
    for column in ("passed", "failed", "skipped"):
        summary.add_column(column, justify="right")
    order = list(GROUPS.values())
    found = dict.fromkeys(test.group for test in results.tests.values())
    groups = sorted(found, key=lambda g: order.index(g) if g in order else len(order))
    for group in groups:
        failed = results.count("failed", group)
        summary.add_row(
            Text(group),
            str(results.count("passed", group)),
            Text(str(failed), style="bold red" if failed else ""),
            str(results.count("skipped", group)),
        )
    summary.add_section()
    summary.add_row(
        Text("total", style="bold"),
        str(results.count("passed")),
        str(results.count("failed")),
        str(results.count("skipped")),
    )
    tables = [summary]
    for outcome, title in (("failed", "failures"), ("skipped", "skipped tests")):
        rows = [test for test in results.tests.values() if test.outcome == outcome]
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        table.add_column("test")
        table.add_column("reason" if outcome == "skipped" else "error")
        for test in rows:
            table.add_row(Text(test.name), Text(test.message))
        tables.append(table)
    return tables


@click.command("check")
@click.option(
    "--slow", is_flag=True, help="Also the large-stream tests ($REGSTORE_SUITE_LARGE_SIZE)."
)
@click.option(
    "-k", "keyword", metavar="EXPR", help="Only the tests matching a pytest -k expression."
)
@click.pass_obj
@click.pass_context
def check(ctx: click.Context, holder: Holder, slow: bool, keyword: str | None) -> None:
    """Run the conformance suite against the store, inside a scratch prefix it then removes.

    Every test works below <rootdirectory>/regstore-check-<random>; nothing
    outside it is read or changed. Exits 1 when any test fails.
    """
    session = holder.session
    config = session.config()
    name = f"regstore-check-{uuid.uuid4().hex[:12]}"
    base = _configured_root(config)
    root = f"{base.rstrip('/')}/{name}" if base else name
    scratch = session.keep(_scratch_driver(config, root))
    parent = session.keep(config.create_driver())
    parameters = {k: v for k, v in config.parameters.items() if k.lower() != "rootdirectory"}
    spec = {"driver": config.driver, "parameters": {**parameters, "rootdirectory": root}}
    err_console.print(
        f"check: the conformance suite on the {config.driver} driver, inside {root}", markup=False
    )
    results = Results()
    started = time.monotonic()
    try:
        status, tail = _run_suite(spec, slow, keyword, results)
    finally:
        warning = _remove_scratch(scratch, parent, name)
    seconds = time.monotonic() - started
    if warning:
        err_console.print(f"check: warning: {warning}", markup=False)
    if status == 5 or (status == 0 and not results.tests):
        raise CliError(f"no conformance test matched -k {keyword!r}" if keyword else "no test ran")
    if status not in (0, 1) or results.collected < 0:
        raise CliError(f"the conformance suite could not run (pytest exit status {status}): {tail}")
    for table in _tables(results, f"conformance of the {config.driver} driver"):
        out_console.print(table)
    failed = results.count("failed")
    click.echo(
        f"check: {results.count('passed')} passed, {failed} failed,"
        f" {results.count('skipped')} skipped in {seconds:.1f} s; {root} removed"
    )
    if failed or status != 0:
        ctx.exit(1)


COMMANDS = [check]
