"""The hdcli command line: builds the Typer app and is the one error boundary.

Library code raises typed errors (:mod:`hdcli.errors`); only :func:`main` prints them, as one
line ``hdcli: error: …`` on stderr, and exits with their code. ``HDCLI_DEBUG=1`` shows the
traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from hdcli import __version__
from hdcli.commands import COMMANDS
from hdcli.commands._common import STATE

app = typer.Typer(
    name="hdcli",
    help="A helpdesk ticket system driven from the command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"hdcli {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="HDCLI_CONFIG", help="config file (default: user config dir)")] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", envvar="HDCLI_PROFILE", help="config profile, e.g. staging")] = None,
    actor: Annotated[str | None, typer.Option(
        "--as", envvar="HDCLI_USER", help="the acting agent's login (recorded in the history)")
    ] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="print the version")] = False,
) -> None:
    """A helpdesk ticket system driven from the command line.

    Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 not found, 4 refused by state or policy,
    5 backend unavailable, 75 transient failure (mail ingest).
    """
    STATE.config_path = config
    STATE.profile = profile
    STATE.actor = actor


def build() -> typer.Typer:
    for name in COMMANDS:
        importlib.import_module(f"hdcli.commands.{name}").register(app)
    from hdcli.plugins import hooks

    hooks.register_commands(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    import logging

    from hdcli.errors import EXIT_UNEXPECTED, HdcliError

    debug = os.environ.get("HDCLI_DEBUG", "") not in ("", "0")
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="hdcli: %(levelname)s: %(message)s")
    code = 0
    try:
        build()
        app(args=argv, prog_name="hdcli", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except HdcliError as exc:
        if debug:
            raise
        sys.stderr.write(f"hdcli: error: {exc}\n")
        code = exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("hdcli: error: interrupted\n")
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(f"hdcli: error: unexpected {type(exc).__name__}: {exc} "
                         "(HDCLI_DEBUG=1 shows the traceback)\n")
        code = EXIT_UNEXPECTED
    finally:
        if STATE._ctx is not None:
            try:
                STATE._ctx.close()
            except Exception:  # closing must not hide the real result
                pass
            STATE._ctx = None
    sys.exit(code)
