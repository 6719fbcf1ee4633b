"""How the command writes: data on stdout, messages and progress bars on stderr."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["err_console", "human", "out_console", "timestamp", "transfer_progress"]

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human(size: int) -> str:
    """``1536`` → ``1.5 KiB``: sizes for people (exact bytes stay available elsewhere)."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def timestamp(moment: datetime) -> str:
    """A UTC time as ``2024-05-01 12:00:00Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


class _Speed(ProgressColumn):
    """Bytes per second in the same binary units as the sizes."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{human(int(speed))}/s" if speed else "?", style="progress.data.speed")


def transfer_progress(*extra: TextColumn) -> Progress:
    """A byte progress bar on stderr, drawn only when stderr is a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(binary_units=True),
        _Speed(),
        *extra,
        TimeRemainingColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
        transient=False,
    )
