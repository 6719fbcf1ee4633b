"""The command group, its store options, and how errors reach the user: one sentence."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType

import click

from .. import __version__
from ..config import ConfigError
from ..errors import InvalidParameterError, InvalidStorageDriverError, StorageDriverError
from ..middleware import IncompatibleDriverError, InvalidMiddlewareError
from .session import CliError, Holder, StoreChoice

__all__ = ["cli", "run"]

#: Errors a user causes and can fix: said in one sentence.
EXPECTED = (
    CliError,
    ConfigError,
    StorageDriverError,
    InvalidParameterError,
    InvalidStorageDriverError,
    InvalidMiddlewareError,
    IncompatibleDriverError,
    OSError,
    ImportError,
)

#: Every command and the module of this package that defines it. A module is imported
#: when one of its commands is asked for, so a command pays only for its own imports
#: (``gc`` and ``verify`` load the registry walker, ``check`` its test plumbing).
COMMAND_MODULES = {
    "drivers": "drivers",
    **dict.fromkeys(("ls", "stat", "du", "cat", "rm", "mv", "url"), "files"),
    **dict.fromkeys(("get", "put"), "transfer"),
    "sync": "sync",
    "check": "check",
    **dict.fromkeys(("catalog", "tags", "gc", "verify", "uploads", "purge-uploads"), "maintenance"),
}


class LazyGroup(click.Group):
    """A command group that imports a command's module when the command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            for command in importlib.import_module(f"{__package__}.{module}").COMMANDS:
                self.add_command(command)
        return super().get_command(ctx, cmd_name)


STORE_HELP = """Store: --config FILE (a registry config.yml, REGISTRY_STORAGE* variables
applied), --driver NAME with --param key=value, or REGISTRY_STORAGE* alone;
with none, the filesystem driver under ./.regstore-data ($REGSTORE_DATA)."""


@click.group(
    cls=LazyGroup,
    help=f"Browse, copy, migrate and check a container registry's storage.\n\n{STORE_HELP}",
    context_settings={"help_option_names": ["--help"], "max_content_width": 100},
)
@click.option("--config", "config", metavar="FILE", help="A registry configuration file.")
@click.option("--driver", "driver", metavar="NAME", help="A storage driver, e.g. s3, gcs.")
@click.option(
    "--param",
    "params",
    metavar="KEY=VALUE",
    multiple=True,
    help="A driver parameter (repeatable; a.b=v for nested keys).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option(
    "--trace",
    is_flag=True,
    help="Print a span for every storage call on stderr (needs opentelemetry-sdk).",
)
@click.version_option(__version__, prog_name="regstore")
@click.pass_context
def cli(
    ctx: click.Context,
    config: str | None,
    driver: str | None,
    params: tuple[str, ...],
    debug: bool,
    trace: bool,
) -> None:
    if trace:
        from .tracing import console_tracing

        ctx.call_on_close(console_tracing())
    session = ctx.find_object(Holder).session  # type: ignore[union-attr]
    session.choice = StoreChoice(config=config, driver=driver, params=params)
    session.debug = debug
    ctx.call_on_close(session.close)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so uploads are closed (resumable), not lost.
    raise KeyboardInterrupt


def _say(message: str) -> None:
    click.echo(f"regstore: error: {message}", err=True)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command; turn every error into one sentence and an exit status."""
    holder = Holder(os.environ, notify=lambda text: click.echo(text, err=True))
    args = list(sys.argv[1:] if argv is None else argv)
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        # Outside standalone mode, click returns the status of ``ctx.exit(n)``.
        status = cli.main(args, prog_name="regstore", standalone_mode=False, obj=holder)
        return status if isinstance(status, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("regstore: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as other tools do.
        _quiet_stdout()
        return 0
    except EXPECTED as exc:
        if holder.session.debug:
            traceback.print_exc()
        _say(_sentence(exc))
        return 1
    except Exception as exc:
        if holder.session.debug:
            traceback.print_exc()
        _say(
            f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback,"
            " and please report it)"
        )
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, StorageDriverError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return str(exc)


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
