"""Commands that look at and rearrange files in the store: ls, stat, du, cat, rm, mv, url."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator

import click

from ..driver import FileInfo, StorageDriver
from ..errors import PathNotFoundError
from ..paths import ROOT
from .output import human, timestamp
from .session import CliError, Holder

__all__ = ["COMMANDS", "listing", "store_path"]

READ_BLOCK = 1 << 20


def store_path(text: str) -> str:
    """A path as the store knows it; a trailing ``/`` (``/docker/``) is dropped."""
    stripped = text.rstrip("/")
    return stripped or ROOT


def _always(info: FileInfo) -> bool:
    return True


def listing(driver: StorageDriver, path: str, *, recursive: bool) -> Iterator[FileInfo]:
    """The entries below ``path`` (direct children unless ``recursive``); a file lists itself."""
    entries = driver.walk(path, prune=None if recursive else _always)
    try:
        first = next(entries)
    except StopIteration:
        return
    except PathNotFoundError:
        info = driver.stat(path)  # a file lists itself; a missing path raises
        if info.is_dir:
            return
        yield info
        return
    yield first
    yield from entries


def _line(info: FileInfo, long: bool, readable: bool) -> str:
    name = info.path + "/" if info.is_dir else info.path
    if not long:
        return name
    if info.is_dir:
        return f"{'-':>12}  {'-':<20}  {name}"
    size = human(info.size) if readable else str(info.size)
    return f"{size:>12}  {timestamp(info.mod_time):<20}  {name}"


@click.command("ls")
@click.option("-l", "long", is_flag=True, help="Sizes and modification times.")
@click.option("-R", "recursive", is_flag=True, help="Everything below, not just the children.")
@click.option("-h", "readable", is_flag=True, help="Sizes in KiB, MiB, GiB.")
@click.argument("path", default=ROOT)
@click.pass_obj
def ls(holder: Holder, long: bool, recursive: bool, readable: bool, path: str) -> None:
    """List PATH (default /): directories end in /."""
    driver = holder.session.store()
    for info in listing(driver, store_path(path), recursive=recursive):
        click.echo(_line(info, long, readable))


@click.command("stat")
@click.argument("path")
@click.pass_obj
def stat(holder: Holder, path: str) -> None:
    """Show whether PATH is a file or a directory, its size and modification time."""
    info = holder.session.store().stat(store_path(path))
    click.echo(f"path:     {info.path}")
    click.echo(f"type:     {'directory' if info.is_dir else 'file'}")
    if not info.is_dir:
        click.echo(f"size:     {info.size} ({human(info.size)})")
        click.echo(f"modified: {timestamp(info.mod_time)}")


@click.command("du")
@click.option(
    "-d", "--depth", default=0, show_default=True, help="Also total each directory this deep."
)
@click.argument("path", default=ROOT)
@click.pass_obj
def du(holder: Holder, depth: int, path: str) -> None:
    """Total size and file count of everything below PATH."""
    if depth < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--depth")
    top = store_path(path)
    base = "" if top == ROOT else top
    totals: dict[str, list[int]] = {top: [0, 0]}
    order = [top]
    for info in listing(holder.session.store(), top, recursive=True):
        if info.is_dir:
            if info.path.count("/") - base.count("/") <= depth:
                totals[info.path] = [0, 0]
                order.append(info.path)
            continue
        parts = info.path[len(base) :].split("/")[1:-1]
        for level in range(min(depth, len(parts)) + 1):
            key = base + "".join("/" + part for part in parts[:level]) if level else top
            totals[key][0] += info.size
            totals[key][1] += 1
    for key in [*sorted(order[1:], key=lambda k: k + "/"), top]:
        size, files = totals[key]
        noun = "file" if files == 1 else "files"
        click.echo(f"{size:>14}  {human(size):>10}  {files:>8} {noun:<5}  {key}")


@click.command("cat")
@click.argument("path")
@click.pass_obj
def cat(holder: Holder, path: str) -> None:
    """Write the content of PATH to standard output."""
    with holder.session.store().reader(store_path(path)) as stream:
        out = sys.stdout.buffer
        shutil.copyfileobj(stream, out, READ_BLOCK)
        out.flush()


@click.command("rm")
@click.option("-r", "recursive", is_flag=True, help="Remove a directory and everything below it.")
@click.argument("path")
@click.pass_obj
def rm(holder: Holder, recursive: bool, path: str) -> None:
    """Remove the file PATH (with -r, a directory tree) and its pending uploads."""
    driver = holder.session.store()
    target = store_path(path)
    if target == ROOT:
        raise CliError("refusing to remove /: remove its children one by one")
    try:
        info = driver.stat(target)
    except PathNotFoundError:
        info = None  # maybe only pending uploads: delete says whether it found any
    if info is not None and info.is_dir and not recursive:
        raise CliError(f"{target} is a directory: use rm -r to remove it and everything below")
    driver.delete(target)


@click.command("mv")
@click.argument("source")
@click.argument("dest")
@click.pass_obj
def mv(holder: Holder, source: str, dest: str) -> None:
    """Move the file SOURCE to DEST, replacing DEST."""
    holder.session.store().move(store_path(source), store_path(dest))


@click.command("url")
@click.argument("path")
@click.option(
    "--method",
    type=click.Choice(["GET", "HEAD"], case_sensitive=False),
    default="GET",
    show_default=True,
)
@click.option("--expires", default=1200, show_default=True, help="Validity in seconds.")
@click.option("--client-ip", metavar="IP", help="The client's address, for middleware.")
@click.pass_obj
def url(holder: Holder, path: str, method: str, expires: int, client_ip: str | None) -> None:
    """Print the URL a registry would redirect a client to for PATH."""
    if expires <= 0:
        raise click.BadParameter("must be a positive number of seconds", param_hint="--expires")
    session = holder.session
    driver = session.store()
    link = driver.redirect_url(
        store_path(path), method=method.upper(), expires_in=expires, client_ip=client_ip
    )
    if not link:
        config = session.config()
        if config.redirect_disabled:
            raise CliError("redirects are disabled by the configuration (storage.redirect.disable)")
        raise CliError(f"the {driver.name} driver gives no redirect URLs; clients get the content")
    click.echo(link)


COMMANDS = [ls, stat, du, cat, rm, mv, url]
