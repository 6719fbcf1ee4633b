"""``regstore sync``: migrate a tree to another store, with progress and a summary."""

from __future__ import annotations

import os
import threading
from typing import Any

import click
from rich.progress import Progress, TaskID, TextColumn

from ..config import StorageConfig
from ..driver import FileInfo
from ..drivers.filesystem import DEFAULT_ROOT as DEFAULT_FILESYSTEM_ROOT
from ..paths import ROOT
from .files import store_path
from .output import err_console, human, transfer_progress
from .session import CliError, Holder, StoreChoice, select_store
from .syncer import DEFAULT_JOBS, MAX_STREAMS, GiveUp, Syncer, SyncEvents, SyncResult, Task

__all__ = ["COMMANDS"]

SHOWN_FAILURES = 10


class _Report(SyncEvents):
    """Progress bar with bytes and files; with ``verbose``, one line per file on stderr."""

    def __init__(self, progress: Progress, verbose: bool) -> None:
        self.progress = progress
        self.verbose = verbose
        self.task: TaskID = progress.add_task("sync", total=None, files="scanning")
        self.lock = threading.Lock()
        self.found_files = 0
        self.found_bytes = 0
        self.done = 0
        self.scanning = True

    def _say(self, text: str) -> None:
        if self.verbose:
            self.progress.console.print(text, markup=False, highlight=False)

    def _files(self) -> str:
        more = "+" if self.scanning else ""
        return f"{self.done}/{self.found_files}{more} files"

    def found(self, task: Task) -> None:
        with self.lock:
            self.found_files += 1
            self.found_bytes += task.size
            self.progress.update(self.task, total=self.found_bytes, files=self._files())

    def skipped(self, info: FileInfo) -> None:
        self._say(f"skip     {info.path} (same size at the destination)")

    def started(self, task: Task, offset: int) -> None:
        resume = f" from byte {offset}" if offset else ""
        self._say(f"copying  {task.path} ({task.size} bytes{resume})")

    def advanced(self, count: int) -> None:
        self.progress.advance(self.task, count)

    def finished(self, task: Task) -> None:
        with self.lock:
            self.done += 1
            self.progress.update(self.task, files=self._files())
        self._say(f"copied   {task.path}")

    def failed(self, task: Task, message: str) -> None:
        with self.lock:
            self.done += 1
            self.progress.update(self.task, files=self._files())
        self._say(f"FAILED   {task.path}: {message}")

    def scanned(self) -> None:
        with self.lock:
            self.scanning = False
            self.progress.update(self.task, total=self.found_bytes, files=self._files())


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def summary(result: SyncResult, dry_run: bool) -> str:
    """One line saying what happened."""
    if dry_run:
        return (
            f"sync (dry run): would copy {_count(result.planned, 'file')}"
            f" ({human(result.planned_bytes)}),"
            f" skip {result.skipped} already there ({human(result.skipped_bytes)})"
        )
    seconds = max(result.seconds, 1e-6)
    rate = human(int(result.copied_bytes / seconds))
    parts = [
        f"copied {_count(result.copied, 'file')} ({human(result.copied_bytes)})",
        f"skipped {result.skipped} already there ({human(result.skipped_bytes)})",
    ]
    if result.resumed:
        parts.append(
            f"resumed {_count(result.resumed, 'interrupted upload')}"
            f" ({human(result.resumed_bytes)} were already there)"
        )
    parts.append(f"{len(result.failures)} failed")
    speed = f", {rate}/s" if result.copied_bytes else ""
    return f"sync: {', '.join(parts)}; {result.seconds:.1f} s{speed}"


def _root(config: StorageConfig) -> tuple[str, dict[str, Any]]:
    """The rootdirectory (normalised) and every other parameter."""
    root = ""
    others: dict[str, Any] = {}
    for key, value in config.parameters.items():
        if key.lower() == "rootdirectory":
            root = str(value or "")
        else:
            others[key.lower()] = value
    if config.driver == "filesystem":
        root = os.path.abspath(root or DEFAULT_FILESYSTEM_ROOT)
    return root.strip("/"), others


def _overlap(origin: StorageConfig, target: StorageConfig) -> bool:
    """True when both name the same backend and one root lies inside the other."""
    if origin.driver != target.driver:
        return False
    (root_a, rest_a), (root_b, rest_b) = _root(origin), _root(target)
    if rest_a != rest_b:
        return False
    if not root_a or not root_b or root_a == root_b:
        return True
    return root_a.startswith(root_b + "/") or root_b.startswith(root_a + "/")


@click.command("sync")
@click.option("--to-config", metavar="FILE", help="The destination's registry configuration.")
@click.option("--to-driver", metavar="NAME", help="The destination's driver.")
@click.option(
    "--to-param", "to_params", metavar="KEY=VALUE", multiple=True, help="A destination parameter."
)
@click.option(
    "-j",
    "--jobs",
    default=DEFAULT_JOBS,
    show_default=True,
    type=click.IntRange(1, 64),
    help=f"Parallel copies (of them, at most {MAX_STREAMS} files over 1 MiB).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be copied; copy nothing.")
@click.option("-v", "--verbose", is_flag=True, help="One line per file on stderr.")
@click.argument("path", default=ROOT)
@click.pass_obj
@click.pass_context
def sync(
    ctx: click.Context,
    holder: Holder,
    to_config: str | None,
    to_driver: str | None,
    to_params: tuple[str, ...],
    jobs: int,
    dry_run: bool,
    verbose: bool,
    path: str,
) -> None:
    """Copy the tree at PATH (default /) to the same PATH in another store.

    Files already at the destination with the same size are skipped, so running
    the same command again after an interruption continues where it stopped
    (an interrupted large file resumes from its pending upload). Nothing at the
    source is changed; nothing at the destination is deleted. The destination
    is --to-config FILE (read as is: REGISTRY_STORAGE* variables apply to the
    source only) or --to-driver NAME, each with --to-param KEY=VALUE.
    """
    session = holder.session
    choice = StoreChoice(config=to_config, driver=to_driver, params=to_params, flag="to-")
    target, _ = select_store(choice, session.environ, allow_default=False)
    origin = session.config()
    if _overlap(origin, target):
        raise CliError(
            "the destination overlaps the source store (one rootdirectory holds the other):"
            " sync would write into the tree it reads; give another --to-config or --to-driver"
        )
    source = session.store(middleware=False)
    dest = session.keep(target.create_driver())
    progress = transfer_progress(TextColumn("{task.fields[files]}"))
    with progress:
        report = _Report(progress, verbose)
        syncer = Syncer(source, dest, store_path(path), jobs=jobs, dry_run=dry_run, events=report)
        try:
            result = syncer.run()
        except GiveUp as exc:
            raise CliError(str(exc)) from exc
    click.echo(summary(result, dry_run))
    for failed_path, message in result.failures[:SHOWN_FAILURES]:
        err_console.print(f"failed: {failed_path}: {message}", markup=False)
    if len(result.failures) > SHOWN_FAILURES:
        err_console.print(f"... and {len(result.failures) - SHOWN_FAILURES} more failures")
    if result.interrupted:
        click.echo("sync: interrupted; run the same command again to resume", err=True)
        ctx.exit(130)
    if result.failures:
        ctx.exit(1)


COMMANDS = [sync]
