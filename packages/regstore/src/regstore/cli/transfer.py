"""``get`` and ``put``: one file between the store and the local disk, streamed, with progress."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO

import click

from ..driver import FileWriter
from .files import store_path
from .output import human, transfer_progress
from .session import CliError, Holder

__all__ = ["COMMANDS"]

CHUNK = 1 << 20


@click.command("get")
@click.argument("path")
@click.argument("file", required=False, type=click.Path(allow_dash=True))
@click.pass_obj
def get(holder: Holder, path: str, file: str | None) -> None:
    """Copy the file PATH to FILE (default: its name, in the current folder; - for stdout).

    The local file appears complete or not at all: it is written beside FILE
    and renamed into place at the end.
    """
    driver = holder.session.store()
    target = store_path(path)
    info = driver.stat(target)
    if info.is_dir:
        raise CliError(f"{target} is a directory: get copies one file (sync copies trees)")
    name = target.rsplit("/", 1)[-1]
    dest = file or name
    if dest == "-":
        _copy_out(driver.reader(target), sys.stdout.buffer, info.size, name)
        return
    if os.path.isdir(dest):
        dest = os.path.join(dest, name)
    partial = f"{dest}.part"
    try:
        with open(partial, "wb") as out:
            _copy_out(driver.reader(target), out, info.size, name)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    click.echo(f"get: {target} -> {dest} ({human(info.size)})", err=True)


def _copy_out(stream: IO[bytes], out: IO[bytes], size: int, name: str) -> None:
    with stream, transfer_progress() as progress:
        task = progress.add_task(name, total=size)
        while chunk := stream.read(CHUNK):
            out.write(chunk)
            progress.advance(task, len(chunk))


@click.command("put")
@click.option("--resume", is_flag=True, help="Continue the upload an interrupted put left at PATH.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("path")
@click.pass_obj
def put(holder: Holder, resume: bool, file: str, path: str) -> None:
    """Store FILE (- for stdin) at PATH, streamed; interrupted, it can be resumed with --resume.

    The content appears at PATH only once complete. An interrupted put
    (Ctrl-C, SIGTERM, a failure) leaves a pending upload that ``put --resume``
    continues, from any machine that uses the same store; it assumes the
    pending upload came from the same FILE.
    """
    driver = holder.session.store()
    target = store_path(path)
    if file == "-":
        if resume:
            raise CliError("--resume needs a file to read from, not standard input")
        source: IO[bytes] = sys.stdin.buffer
        total = None
    else:
        source = open(file, "rb")  # noqa: SIM115 - closed below, with the writer
        total = os.fstat(source.fileno()).st_size
    with source:
        writer = driver.writer(target, append=resume)
        start = writer.size
        if total is not None and start > total:
            writer.close()
            raise CliError(
                f"the pending upload of {target} holds {start} bytes, more than the {total} of"
                f" {file}: it is not an upload of this file; run put without --resume"
            )
        if start:
            source.seek(start)
        _upload(source, writer, total, target, file)
    resumed = f", resumed at byte {start}" if start else ""
    click.echo(f"put: {file} -> {target} ({human(writer.size)}{resumed})", err=True)


def _upload(
    source: IO[bytes], writer: FileWriter, total: int | None, target: str, file: str
) -> None:
    try:
        with transfer_progress() as progress:
            task = progress.add_task(target.rsplit("/", 1)[-1], total=total, completed=writer.size)
            while chunk := source.read(CHUNK):
                writer.write(chunk)
                progress.advance(task, len(chunk))
        writer.commit()
    except BaseException as exc:
        # Keep what was sent: ``put --resume`` continues from it.
        with contextlib.suppress(Exception):
            writer.close()
        if isinstance(exc, KeyboardInterrupt) and file != "-":
            click.echo(
                "put: interrupted; continue with:"
                f" regstore [store options] put --resume {file} {target}",
                err=True,
            )
        raise


COMMANDS = [get, put]
