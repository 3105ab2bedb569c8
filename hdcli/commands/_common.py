"""What the command modules share: the run's context, output, stdin numbers, bulk loops."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hdcli.errors import EXIT_USAGE, HdcliError, UsageError

if TYPE_CHECKING:
    from datetime import tzinfo

    from hdcli.context import Context


class State:
    config_path: Path | None = None
    profile: str | None = None
    actor: str | None = None
    #: ``--as`` is checked when the context is made (not for ``db`` and ``demo``, which run
    #: before a helpdesk with agents exists)
    check_actor = True
    json_errors = False  # the run asked for --format json|jsonl: errors as JSON too
    _ctx: Context | None = None


STATE = State()


def context() -> Context:
    """The run's context (configuration loaded, store opened on first use); ``--as`` must name
    an active agent of a local helpdesk (NotFound, exit 3), whatever the command; against a
    remote helpdesk the actor is the token's agent."""
    if STATE._ctx is None:
        from hdcli.config import Config
        from hdcli.context import Context

        config = Config.load(STATE.config_path, STATE.profile)
        # a store that does not exist is refused: only ``db upgrade`` and ``demo`` create one
        STATE._ctx = Context(
            config, STATE.actor, agent_required=STATE.actor is not None, create_store=False
        )
        if STATE.actor is not None and STATE.check_actor and STATE._ctx.remote is None:
            STATE._ctx.actor  # noqa: B018 (the check, once)
    return STATE._ctx


def run_zone() -> tzinfo:
    """The run's time zone (``billing.timezone``), for the times that tables show."""
    return context().tz


FormatOpt = Annotated[
    str,
    typer.Option("--format", "-f", help="table, json, jsonl, csv or md", show_default=True),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="short for --format json")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="print only ticket numbers")]
FieldsOpt = Annotated[
    str | None,
    typer.Option(
        "--fields",
        help="only these fields, comma-separated, e.g. number,status (json keys, table columns);"
        " an unknown one lists the valid ones",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="show what would change, change nothing")
]


def fmt_of(fmt: str, as_json: bool = False) -> str:
    from hdcli.output import FORMATS

    if as_json:
        return "json"
    if fmt not in FORMATS:
        raise UsageError(f"bad format {fmt!r} (allowed: {', '.join(FORMATS)})")
    return fmt


def out(text: str) -> None:
    """Data to stdout."""
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def say(text: str) -> None:
    """A message for humans, on stderr (control and format characters escaped visibly)."""
    from hdcli.output import visible

    sys.stderr.write(visible(text, keep="\n") + "\n")


def error_line(error: BaseException | str, code: int | None = None) -> None:
    """One error on stderr: ``hdcli: error: …`` (escaped for the terminal, one line), or in a
    run with ``--format json|jsonl`` the object ``{"error": "…", "code": N}``. ``code`` defaults
    to the error's exit code."""
    from hdcli.errors import EXIT_UNEXPECTED, error_text
    from hdcli.output import visible

    if code is None:
        code = getattr(error, "exit_code", EXIT_UNEXPECTED)
    text = error_text(str(error), code, STATE.json_errors)
    sys.stderr.write(text if STATE.json_errors else visible(text[:-1]) + "\n")


def read_text(value: str | None, file: str | None, what: str) -> str | None:
    """A body given as text, as a file or as ``-`` (stdin)."""
    if value is not None and file is not None:
        raise UsageError(f"give the {what} either as text or as a file, not both")
    if file is None:
        return value
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{file} is not UTF-8 text") from None


#: What ``hdcli list -q`` prints per line: one ticket number (every number format makes a
#: single word of letters, digits, ``.``, ``_`` or ``-``).
_NUMBER_LINE = r"[A-Za-z0-9][A-Za-z0-9._-]*"


def numbers_from(args: Sequence[str]) -> list[str]:
    """Ticket numbers from arguments; ``-`` reads stdin as ``hdcli list -q`` writes it: one
    number per line, blank lines ignored, nothing else.

    Stdin is read whole before anything is done, so a table piped by mistake (``hdcli list``
    without ``-q``) is refused (exit 2, naming the line) and no ticket is touched. An empty
    stdin gives no numbers: ``list -q | close -`` with nothing listed does nothing.
    """
    import re

    numbers: list[str] = []
    for arg in args:
        if arg != "-":
            numbers.append(arg)
            continue
        for line_no, line in enumerate(sys.stdin.read().splitlines(), start=1):
            word = line.strip()
            if not word:
                continue
            if not re.fullmatch(_NUMBER_LINE, word):
                shown = word if len(word) <= 40 else word[:40] + "…"
                raise UsageError(
                    f"stdin line {line_no} is not a ticket number ({shown!r}): "
                    "- reads one number per line, as `hdcli list -q` prints them"
                )
            numbers.append(word)
    return numbers


def for_each(
    numbers: Iterable[str],
    action: Callable[[str], Any],
    *,
    dry_run: bool,
    verb: str,
    quiet: bool = False,
) -> None:
    """Run ``action`` per number; report each; exit with the first failure's code at the end.

    No numbers (``-`` and an empty stdin) is no error: there was nothing to do."""
    from hdcli.unit import DryRun

    first_error: HdcliError | None = None
    if dry_run:
        context().dry_run = True
    for number in numbers:
        try:
            done = action(number)
        except DryRun:
            say(f"{number}: would be {verb}")
            continue
        except HdcliError as exc:
            error_line(exc)
            first_error = first_error or exc
            continue
        if quiet:
            out(number)
        else:
            note = done.get("note") if isinstance(done, dict) else None
            say(f"{verb}: {number}" + (f" ({note})" if note else ""))
    if first_error is not None:
        raise typer.Exit(first_error.exit_code)


def records_from(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of a CSV (header row) or JSONL file, ``-`` = stdin, with their line numbers."""
    import json

    fh = sys.stdin if path == "-" else None
    try:
        if fh is None:
            fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if path.lower().endswith(".csv"):
            import csv

            for line, rec in enumerate(csv.DictReader(fh), start=2):
                yield line, {k: v for k, v in rec.items() if k and v not in (None, "")}
        else:
            for line, text in enumerate(fh, start=1):
                if text.strip():
                    try:
                        rec = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise UsageError(f"{path}, line {line}: {exc}") from None
                    if not isinstance(rec, dict):
                        raise UsageError(f"{path}, line {line}: not a JSON object")
                    yield line, rec
    finally:
        if fh is not sys.stdin:
            fh.close()


def listing(values: Any) -> list[str]:
    """A list field of an import record: a JSON list or a ``;``/``,`` separated string."""
    if values in (None, ""):
        return []
    if isinstance(values, list):
        return [str(v) for v in values]
    return [v.strip() for v in str(values).replace(";", ",").split(",") if v.strip()]


def import_records(
    path: str, add: Callable[[dict[str, Any]], Any], what: str, dry_run: bool = False
) -> None:
    """Add one record per row; a bad row is reported and skipped; exit 4 if any failed."""
    done = failed = 0
    for line, rec in records_from(path):
        if dry_run:
            say(f"would import {what} from line {line}: {rec}")
            continue
        try:
            add(rec)
            done += 1
        except HdcliError as exc:
            failed += 1
            error_line(f"line {line}: {exc}", exc.exit_code)
        except (TypeError, KeyError) as exc:
            failed += 1
            error_line(f"line {line}: missing or bad field {exc}", EXIT_USAGE)
    say(f"imported {done} {what}(s), {failed} failed")
    if failed:
        raise typer.Exit(4)
