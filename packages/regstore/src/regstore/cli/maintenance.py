"""Registry maintenance: catalog, tags, gc, verify, uploads, purge-uploads.

They read the registry's v2 layout (``/docker/registry/v2``) through the
configured driver. Results go to stdout (``--json`` for programs), problems
and progress to stderr; a run that found something wrong exits with status 1.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..driver import StorageDriver
from ..errors import UnsupportedMethodError
from ..params import parse_duration
from ..paths import ROOT, is_below
from ..registry import DEFAULT_ROOT, RegistryStore
from ..registry.gc import GCReport, collect
from ..registry.uploads import purge_registry_uploads
from ..registry.verify import verify as verify_store
from .files import store_path
from .output import err_console, human, timestamp
from .session import CliError, Holder

__all__ = ["COMMANDS", "parse_age"]

RESTART_NOTE = (
    "restart the registry (or flush its redis blob descriptor cache): its cache still"
    " answers for the deleted blobs"
)

_DAYS = re.compile(r"(\d+(?:\.\d*)?)d(.*)")


def parse_age(text: str, option: str) -> timedelta:
    """A registry (Go) duration such as ``168h``, ``30m``, ``1h30m``, plus days (``7d``)."""
    value = text.strip()
    seconds = 0.0
    try:
        match = _DAYS.fullmatch(value)
        if match:
            seconds = float(match.group(1)) * 86400
            value = match.group(2)
        if value:
            seconds += parse_duration(value)
    except ValueError:
        message = f"{text!r} is not a duration such as 168h, 30m, 1h30m or 7d"
        raise click.BadParameter(message, param_hint=option) from None
    if seconds < 0:
        raise click.BadParameter("must not be negative", param_hint=option)
    return timedelta(seconds=seconds)


@contextlib.contextmanager
def _progress(title: str) -> Iterator[Any]:
    """A one-line activity display on stderr (only on a terminal); yields the callback."""
    display = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
        transient=True,
    )
    task = display.add_task(title)
    labels = {
        "scan": "repositories: {} entries",
        "mark": "manifests: {} read",
        "sweep": "blobs: {} entries",
        "delete": "blobs: {} deleted",
        "links": "links: {} checked",
        "blobs": "blobs: {} hashed",
    }

    def report(stage: str, count: int) -> None:
        label = labels.get(stage, stage + ": {}").format(count)
        display.update(task, description=f"{title} {label}")

    with display:
        yield report


def _emit_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@click.command("catalog")
@click.option("--json", "as_json", is_flag=True, help="A JSON list.")
@click.pass_obj
def catalog(holder: Holder, as_json: bool) -> None:
    """List the repositories, as the registry's /v2/_catalog would."""
    names = RegistryStore(holder.session.store()).repositories()
    if as_json:
        _emit_json({"repositories": list(names)})
        return
    for name in names:
        click.echo(name)


@click.command("tags")
@click.option("--json", "as_json", is_flag=True, help="A JSON list.")
@click.argument("repo")
@click.pass_obj
def tags(holder: Holder, as_json: bool, repo: str) -> None:
    """List the tags of REPO, sorted."""
    names = RegistryStore(holder.session.store()).tags(repo)
    if as_json:
        _emit_json({"name": repo, "tags": names})
        return
    for name in names:
        click.echo(name)


def _gc_json(report: GCReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "swept": report.swept,
        "marked": report.marked,
        "blobs_deleted": report.blobs_deleted,
        "bytes_freed": report.bytes_freed,
        "manifests_deleted": [
            {"repository": repo, "digest": digest} for repo, digest in report.manifests_deleted
        ],
        "layer_links_deleted": [
            {"repository": repo, "digest": digest} for repo, digest in report.layer_links_deleted
        ],
        "blobs_kept_fresh": report.blobs_kept_fresh,
        "manifests_kept_fresh": report.manifests_kept_fresh,
        "seconds": round(report.seconds, 3),
        "problems": report.problems,
        "warnings": report.warnings,
    }


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option(
    "--delete-untagged",
    "-m",
    is_flag=True,
    help="Also delete manifests no tag points to (children of a tagged index are kept).",
)
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Keep blobs and manifests written more recently than this (0 = the registry's own gc).",
)
@click.option(
    "--delete-layer-links",
    is_flag=True,
    help="Also remove _layers links to blobs that are gone (registry 3.x does; 2.8 does not).",
)
@click.option("--workers", default=16, show_default=True, help="Concurrent backend calls.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON on stdout.")
@click.pass_context
def gc(
    ctx: click.Context,
    dry_run: bool,
    delete_untagged: bool,
    grace: str,
    delete_layer_links: bool,
    workers: int,
    as_json: bool,
) -> None:
    """Delete blobs no manifest references, as the registry's garbage-collect does.

    Run it with the registry stopped or read-only; --grace protects pushes in
    flight, but not every race (see docs/cli.md).
    """
    if workers < 1:
        raise click.BadParameter("must be 1 or more", param_hint="--workers")
    holder: Holder = ctx.obj
    driver = holder.session.store()
    age = parse_age(grace, "--grace")
    with _progress("gc") as progress:
        report = collect(
            driver,
            delete_untagged=delete_untagged,
            dry_run=dry_run,
            grace=age,
            workers=workers,
            progress=progress,
            delete_layer_links=delete_layer_links,
        )
    for warning in report.warnings:
        click.echo(f"gc: warning: {warning}", err=True)
    for problem in report.problems:
        click.echo(f"gc: problem: {problem}", err=True)
    if as_json:
        _emit_json(_gc_json(report))
    else:
        _gc_text(report)
    if report.swept and (report.blobs_deleted or report.manifests_deleted):
        click.echo(f"gc: {RESTART_NOTE}", err=True)
    if report.problems:
        if not report.swept and not dry_run:
            click.echo(
                "gc: nothing deleted: fix these problems first (regstore verify lists them)",
                err=True,
            )
        ctx.exit(1)


def _gc_text(report: GCReport) -> None:
    verb = "would delete" if report.dry_run else "deleted"
    for repo, digest in report.manifests_deleted:
        click.echo(f"{verb} manifest {repo}@{digest}")
    for digest in report.blobs_deleted:
        click.echo(f"{verb} blob {digest}")
    for repo, digest in report.layer_links_deleted:
        click.echo(f"{verb} layer link {repo}@{digest}")
    kept = ""
    if report.blobs_kept_fresh or report.manifests_kept_fresh:
        kept = (
            f"; kept as too recent: {report.blobs_kept_fresh} blobs,"
            f" {report.manifests_kept_fresh} manifests"
        )
    outcome = "to delete" if report.dry_run else "deleted"
    freed = "to free" if report.dry_run else "freed"
    click.echo(
        f"{report.marked} blobs marked; {len(report.blobs_deleted)} blobs and"
        f" {len(report.manifests_deleted)} manifests {outcome}, {human(report.bytes_freed)}"
        f" {freed}{kept}; {report.seconds:.2f}s"
    )


@click.command("verify")
@click.option("--quick", is_flag=True, help="Check existence and sizes; do not hash contents.")
@click.option(
    "--layer-links",
    is_flag=True,
    help="Also report _layers links whose blob is gone (what gc leaves by default).",
)
@click.option("--workers", default=16, show_default=True, help="Concurrent backend calls.")
@click.option("--json", "as_json", is_flag=True, help="The problems as JSON on stdout.")
@click.argument("repos", nargs=-1, metavar="[REPO]...")
@click.pass_context
def verify(
    ctx: click.Context,
    quick: bool,
    layer_links: bool,
    workers: int,
    as_json: bool,
    repos: tuple[str, ...],
) -> None:
    """Check that every blob matches its digest, every link resolves, every manifest parses.

    With REPOs, only those repositories and the blobs they reference.
    """
    if workers < 1:
        raise click.BadParameter("must be 1 or more", param_hint="--workers")
    holder: Holder = ctx.obj
    driver = holder.session.store()
    with _progress("verify") as progress:
        problems = verify_store(
            driver,
            repos or None,
            quick=quick,
            workers=workers,
            progress=progress,
            layer_links=layer_links,
        )
    if as_json:
        _emit_json(
            {
                "ok": not problems,
                "problems": [
                    {"kind": p.kind, "digest": p.digest, "path": p.path, "message": p.message}
                    for p in problems
                ],
            }
        )
    else:
        for problem in problems:
            click.echo(str(problem))
        noun = "problem" if len(problems) == 1 else "problems"
        click.echo(f"verify: {len(problems)} {noun} found", err=True)
    if problems:
        ctx.exit(1)


@click.command("uploads")
@click.option("--json", "as_json", is_flag=True, help="A JSON list.")
@click.argument("path", default=ROOT)
@click.pass_obj
def uploads(holder: Holder, as_json: bool, path: str) -> None:
    """List the driver's pending uploads at or below PATH: path, size, age."""
    driver = holder.session.store()
    now = datetime.now(timezone.utc)
    try:
        pending = sorted(driver.pending_uploads(store_path(path)), key=lambda u: u.path)
    except UnsupportedMethodError:
        raise CliError(f"the {driver.name} driver cannot list its pending uploads") from None
    if as_json:
        _emit_json(
            [{"path": u.path, "size": u.size, "modified": u.modified.isoformat()} for u in pending]
        )
        return
    for upload in pending:
        age = _age(now - upload.modified)
        click.echo(f"{upload.size:>12}  {timestamp(upload.modified)}  {age:>8}  {upload.path}")


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400}d{seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    return f"{seconds // 60}m{seconds % 60}s"


def _driver_purge(
    driver: StorageDriver, before: datetime, path: str, dry_run: bool
) -> list[str] | None:
    """The driver's own stale uploads purged (or, dry, found); None when it cannot list them."""
    try:
        if dry_run:
            return sorted(u.path for u in driver.pending_uploads(path) if u.modified < before)
        return driver.purge_uploads(before, path)
    except UnsupportedMethodError:
        return None


@click.command("purge-uploads")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="DURATION",
    help="Age to purge from, e.g. 168h (the registry's default), 30m, 7d.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be purged; purge nothing.")
@click.option("--json", "as_json", is_flag=True, help="The purged paths as JSON on stdout.")
@click.argument("path", default=ROOT)
@click.pass_obj
def purge_uploads(holder: Holder, older_than: str, dry_run: bool, as_json: bool, path: str) -> None:
    """Purge stale uploads below PATH: the driver's own and the registry's _uploads/<uuid>.

    A driver upload's age counts from its last close; a registry upload's from
    its startedat file, as the registry's purger does (none or unreadable: kept).
    """
    age = parse_age(older_than, "--older-than")
    target = store_path(path)
    driver = holder.session.store()
    before = datetime.now(timezone.utc) - age
    own = _driver_purge(driver, before, target, dry_run)
    registry: list[str] = []
    if target == DEFAULT_ROOT or is_below(DEFAULT_ROOT, target):
        registry = purge_registry_uploads(driver, before, dry_run)
    elif is_below(target, DEFAULT_ROOT):
        registry = [
            p
            for p in purge_registry_uploads(driver, before, dry_run=True)
            if p == target or is_below(p, target)
        ]
        if not dry_run:
            for upload in registry:
                driver.delete(upload)
    if as_json:
        _emit_json({"dry_run": dry_run, "driver_uploads": own, "registry_uploads": registry})
        return
    verb = "would purge" if dry_run else "purged"
    total = "to purge" if dry_run else "purged"
    if own is None:
        click.echo(
            f"purge-uploads: note: the {driver.name} driver cannot list its pending uploads;"
            " only the registry's _uploads were purged",
            err=True,
        )
    for upload in own or []:
        click.echo(f"{verb} driver upload {upload}")
    for upload in registry:
        click.echo(f"{verb} registry upload {upload}")
    click.echo(
        f"{len(own or [])} driver uploads and {len(registry)} registry uploads {total}"
        f" (older than {older_than})"
    )


COMMANDS = [catalog, tags, gc, verify, uploads, purge_uploads]
