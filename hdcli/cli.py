"""The hdcli command line: builds the Typer app and is the one error boundary.

Library code raises typed errors (:mod:`hdcli.errors`); only :func:`run` (behind the console
script's :func:`main`) prints them, as one line ``hdcli: error: …`` on stderr, and returns
their code. ``HDCLI_DEBUG=1`` shows the
traceback instead.

Start-up cost is a feature (hdcli runs on every cron tick and MTA delivery), so this module
imports nothing heavy at its top: ``hdcli --version`` is answered before Typer is imported, and
:func:`run` imports and registers only the module of the command being run. :func:`build`
still builds the whole app (every command and the plugins' commands), for help and for tests.
"""

# No ``from __future__ import annotations`` here: the root callback is defined inside
# _make_app() with Typer imported locally, and Typer reads its annotations as objects.

import contextlib
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from hdcli import __version__
from hdcli.commands import COMMANDS

if TYPE_CHECKING:
    import typer

#: Root options that take a value (``--config FILE`` or ``--config=FILE``).
ROOT_VALUE_OPTIONS = ("--config", "--profile", "--as")

_app: "typer.Typer | None" = None
_registered: set[str] = set()
_plugins_registered = False


def _make_app() -> "typer.Typer":
    from pathlib import Path
    from typing import Annotated

    import typer

    from hdcli import output
    from hdcli.commands._common import STATE, run_zone

    app = typer.Typer(
        name="hdcli",
        help="A helpdesk ticket system driven from the command line.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        # --install-completion / --show-completion: two options on the root, about 0.1 ms
        # to build; shell detection and the completion itself run only when asked for
        add_completion=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def _version(value: bool) -> None:
        if value:
            sys.stdout.write(f"hdcli {__version__}\n")
            raise typer.Exit()

    @app.callback()
    def root(
        click_ctx: typer.Context,
        config: Annotated[
            Path | None,
            typer.Option(
                "--config", envvar="HDCLI_CONFIG", help="config file (default: user config dir)"
            ),
        ] = None,
        profile: Annotated[
            str | None,
            typer.Option("--profile", envvar="HDCLI_PROFILE", help="config profile, e.g. staging"),
        ] = None,
        actor: Annotated[
            str | None,
            typer.Option(
                "--as",
                help="the acting agent's login, an active agent (recorded in the history)",
            ),
        ] = None,
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
        ] = False,
    ) -> None:
        """A helpdesk ticket system driven from the command line.

        Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 not found, 4 refused by state or policy,
        5 backend unavailable, 75 transient failure (mail ingest).
        """
        STATE.config_path = config
        STATE.profile = profile
        STATE.actor = actor
        STATE.check_actor = click_ctx.invoked_subcommand not in ("db", "demo")
        output.time_zone = run_zone  # tables show moments in billing.timezone

    return app


def _get_app() -> "typer.Typer":
    global _app
    if _app is None:
        _app = _make_app()
    return _app


def __getattr__(name: str) -> Any:
    # ``hdcli.cli.app`` stays available (built on first access, without its commands).
    if name == "app":
        return _get_app()
    raise AttributeError(f"module 'hdcli.cli' has no attribute {name!r}")


def _register(names: tuple[str, ...]) -> "typer.Typer":
    """Register the built-in command modules ``names`` (each at most once) on the app."""
    app = _get_app()
    for name in names:
        if name not in _registered:
            importlib.import_module(f"hdcli.commands.{name}").register(app)
            _registered.add(name)
    return app


def build() -> "typer.Typer":
    """The whole app: every built-in command and the commands of plugins."""
    global _plugins_registered
    app = _register(COMMANDS)
    if not _plugins_registered:
        _plugins_registered = True
        from hdcli.plugins import hooks

        hooks.register_commands(app)
    return app


def _report(message: str, code: int) -> None:
    """An error as one line on stderr (JSON in a ``--format json|jsonl`` run), through the one
    error printer, :func:`hdcli.commands._common.error_line`."""
    from hdcli.commands._common import error_line

    error_line(message, code)


def _invoke(app: "typer.Typer", args: list[str]) -> int:
    """Run ``args`` on ``app`` and return the exit code; Click's own usage errors are printed
    here (as JSON too in a ``--format json|jsonl`` run) with their exit code (2)."""
    import typer

    from hdcli.commands._common import STATE

    try:
        result = app(args=args, prog_name="hdcli", standalone_mode=False)
    except typer.TyperException as exc:  # Click's usage errors: bad option, missing argument
        if mta_pipe(args) and not _interactive():
            # The pipe's command line is the MTA's configuration: any exit but 0 and 75 bounces
            # the customer's mail, so a wrong option keeps it queued until the alias is fixed.
            from hdcli.commands.mail import _drain_stdin

            _drain_stdin()
            _report(f"{exc.format_message()} (the MTA pipe's command line); try again later", 75)
            return 75
        show = getattr(exc, "show", None)
        if STATE.json_errors or not callable(show):
            _report(exc.format_message(), exc.exit_code)
        else:
            show()  # usage line, hint and message, as Click's standalone mode writes them
        return exc.exit_code
    except typer.Abort:
        _report("aborted", EXIT_ABORTED)
        return EXIT_ABORTED
    # without standalone mode Typer returns the code of an Exit, else the command's result
    return result if isinstance(result, int) else 0


#: What Click's standalone mode exits with after an abort (end of input at a prompt).
EXIT_ABORTED = 1


def _interactive() -> bool:
    """Whether standard input is a terminal (a person typing, never an MTA)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


#: options of ``mail ingest`` that take a value
_INGEST_VALUE_OPTIONS = ("--source", "--format")


def mta_pipe(args: list[str]) -> bool:
    """Whether ``args`` run ``mail ingest`` on standard input (``-`` or no path): the MTA pipe."""
    for i in range(len(args) - 1):
        if args[i] == "mail" and args[i + 1] == "ingest":
            rest = args[i + 2 :]
            break
    else:
        return False
    paths = []
    skip = False
    for arg in rest:
        if skip:
            skip = False
        elif arg in _INGEST_VALUE_OPTIONS:
            skip = True
        elif arg == "-" or not arg.startswith("-"):
            paths.append(arg)
    return paths in ([], ["-"])


def wants_json(args: list[str]) -> bool:
    """Whether the command line asks for ``--format json|jsonl`` (or ``--json``): then its
    errors are JSON objects on stderr too."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--json":
            return True
        if arg in ("--format", "-f"):
            value = args[i + 1] if i + 1 < len(args) else ""
        elif arg.startswith("--format="):
            value = arg.partition("=")[2]
        elif arg.startswith("-f") and not arg.startswith("--"):
            value = arg[2:]
        else:
            continue
        if value in ("json", "jsonl"):
            return True
    return False


def invoked_command(args: list[str]) -> str | None:
    """The built-in command that ``args`` run, or None when the whole app is needed.

    None for help (``-h``/``--help`` before the command), a root ``--version``, no command, an
    unknown option and any name that is not a built-in command (a plugin's, or a typo that
    Typer has to report against the full list).
    """
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ROOT_VALUE_OPTIONS:
            i += 2
            continue
        if arg.partition("=")[0] in ROOT_VALUE_OPTIONS:
            i += 1
            continue
        if arg.startswith("-"):
            return None
        return arg if arg in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the command line and exit with its code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run one command line (``sys.argv[1:]`` when None) and return its exit code.

    Data goes to ``sys.stdout``, messages and log lines to ``sys.stderr`` as they are at the
    time of the call. With ``HDCLI_DEBUG=1`` an error is raised instead of printed. A process
    that runs several command lines calls :func:`reset` between them.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:
        # The most frequent probe of scripts and packagers: no Typer, no plugins.
        sys.stdout.write(f"hdcli {__version__}\n")
        sys.stdout.flush()
        return 0

    from hdcli.errors import EXIT_UNEXPECTED, HdcliError
    from hdcli.util import RunLog

    debug = os.environ.get("HDCLI_DEBUG", "") not in ("", "0")
    run_log = RunLog(sys.stderr, debug)
    code = 0
    state = None
    try:
        from hdcli.commands._common import STATE, error_line

        state = STATE
        STATE.json_errors = wants_json(args)
        name = invoked_command(args)
        app = _register((name,)) if name is not None else build()
        code = _invoke(app, args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except HdcliError as exc:
        if debug:
            raise
        error_line(exc)
        code = exc.exit_code
    except KeyboardInterrupt:
        _report("interrupted", 130)
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:
        if debug:
            raise
        _report(
            f"unexpected {type(exc).__name__}: {exc} (HDCLI_DEBUG=1 shows the traceback)",
            EXIT_UNEXPECTED,
        )
        code = EXIT_UNEXPECTED
    finally:
        if state is not None:
            if state._ctx is not None:
                with contextlib.suppress(Exception):  # closing must not hide the real result
                    state._ctx.close()
                state._ctx = None
            state.json_errors = False
            from hdcli import output

            output.time_zone = None
        run_log.close()
    return code


def reset() -> None:
    """Forget what earlier runs left in this process: the app and its registered commands,
    the root options, the loaded plugins and the template caches.

    For a process that runs several command lines (the tests run hdcli in process): the next
    :func:`run` starts as a fresh process would, seeing the environment of its own call.
    """
    global _app, _plugins_registered
    from hdcli import output, plugins, templates
    from hdcli.commands._common import STATE

    _app = None
    _registered.clear()
    _plugins_registered = False
    if STATE._ctx is not None:
        with contextlib.suppress(Exception):
            STATE._ctx.close()
    STATE._ctx = None
    STATE.config_path = STATE.profile = STATE.actor = None
    STATE.json_errors = False
    output.time_zone = None
    plugins.reset()
    templates.reset()
