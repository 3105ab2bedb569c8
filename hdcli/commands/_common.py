"""What the command modules share: the run's context, output, stdin numbers, bulk loops."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hdcli.errors import HdcliError, UsageError

if TYPE_CHECKING:
    from hdcli.context import Context


class State:
    config_path: Path | None = None
    profile: str | None = None
    actor: str | None = None
    _ctx: Context | None = None


STATE = State()


def context() -> Context:
    """The run's context (configuration loaded and store opened on first use)."""
    if STATE._ctx is None:
        from hdcli.config import Config
        from hdcli.context import Context

        config = Config.load(STATE.config_path, STATE.profile)
        STATE._ctx = Context(config, STATE.actor or os.environ.get("HDCLI_USER") or None)
    return STATE._ctx


FormatOpt = Annotated[
    str,
    typer.Option("--format", "-f", help="table, json, jsonl, csv or md", show_default=True),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="short for --format json")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="print only ticket numbers")]
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


def error_line(exc: BaseException) -> None:
    say(f"hdcli: error: {exc}")


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


def numbers_from(args: Sequence[str]) -> Iterator[str]:
    """Ticket numbers from arguments; ``-`` reads one per line from stdin (blank lines and
    ``#`` comments skipped; the first word of a line counts, so ``list`` output works too)."""
    for arg in args:
        if arg == "-":
            for line in sys.stdin:
                word = line.strip().split(None, 1)[0] if line.strip() else ""
                if word and not word.startswith("#"):
                    yield word
        else:
            yield arg


def for_each(
    numbers: Iterable[str],
    action: Callable[[str], Any],
    *,
    dry_run: bool,
    verb: str,
    quiet: bool = False,
) -> None:
    """Run ``action`` per number; report each; exit with the first failure's code at the end."""
    from hdcli.unit import DryRun

    first_error: HdcliError | None = None
    count = 0
    if dry_run:
        context().dry_run = True
    for number in numbers:
        count += 1
        try:
            action(number)
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
            say(f"{verb}: {number}")
    if count == 0:
        raise UsageError("no ticket number given (use - to read them from stdin)")
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
            say(f"hdcli: error: line {line}: {exc}")
        except (TypeError, KeyError) as exc:
            failed += 1
            say(f"hdcli: error: line {line}: missing or bad field {exc}")
    say(f"imported {done} {what}(s), {failed} failed")
    if failed:
        raise typer.Exit(4)
