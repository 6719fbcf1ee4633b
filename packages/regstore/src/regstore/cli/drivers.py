"""``regstore drivers``: what is installed, from which distribution, and what is not."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from ..factory import KNOWN_EXTRAS, driver_distributions
from ..middleware import middleware_distributions
from ..middleware.registry import KNOWN_EXTRAS as MIDDLEWARE_EXTRAS
from .output import out_console

__all__ = ["COMMANDS"]


def _table(title: str, offered: dict[str, list[str]], extras: dict[str, str]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("distribution")
    table.add_column("version")
    for name, dists in offered.items():
        for dist in dists:
            package, _, version = dist.rpartition(" ")
            if not package:  # registered in-process
                package, version = dist, ""
            table.add_row(Text(name), Text(package), Text(version))
    for name, extra in sorted(extras.items()):
        if name not in offered:
            hint = Text(f'not installed: pip install "regstore[{extra}]"', style="dim")
            table.add_row(Text(name), hint, Text("-"))
    return table


@click.command()
def drivers() -> None:
    """List the installed storage drivers and middleware, with their distributions."""
    out_console.print(_table("storage drivers", driver_distributions(), KNOWN_EXTRAS))
    out_console.print(_table("storage middleware", middleware_distributions(), MIDDLEWARE_EXTRAS))


COMMANDS = [drivers]
