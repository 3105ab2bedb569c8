"""hdcli mail quarantine (list, show, retry, drop, purge) and hdcli mail attention."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hdcli.commands._common import (
    DryRunOpt,
    FormatOpt,
    JsonOpt,
    context,
    error_line,
    fmt_of,
    out,
    say,
)

app = typer.Typer(
    help="Mail hdcli could not process, kept with its bytes and the reason for a human.\n\n"
    "Example: hdcli mail quarantine list --json",
    no_args_is_help=True,
)

Ids = Annotated[list[str], typer.Argument(help="quarantine ids, or - to read them from stdin")]


@app.command("list")
def list_(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """List quarantined messages, newest first: id, when, source, reason, size, digest and
    whether the content is still kept (never the content itself).

    Example: hdcli mail quarantine list --format jsonl
    """
    from hdcli.mail.quarantine import LIST_COLUMNS
    from hdcli.ops import quarantine_list
    from hdcli.output import render_rows

    out(render_rows(quarantine_list(context()), fmt_of(fmt, as_json), LIST_COLUMNS))


@app.command("show")
def show(
    qid: Annotated[int, typer.Argument(help="quarantine id")],
    raw: Annotated[bool, typer.Option("--raw", help="write the original bytes")] = False,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="with --raw: into this file (mode 0600)")
    ] = None,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Show a quarantined message's reason and headers (escaped: no control characters reach
    the terminal); --raw writes its original bytes to stdout or -o FILE.

    Exit 3 for an unknown id, 4 with --raw once retention removed the bytes.

    Example: hdcli mail quarantine show 3 --raw -o message.eml
    """
    from hdcli.ops import quarantine_raw, quarantine_show

    if raw or output:
        data = quarantine_raw(context(), qid)
        if output:
            _write_private(output, data)
            say(f"wrote {len(data)} bytes to {output}")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return
    shown = quarantine_show(context(), qid)
    fmt = fmt_of(fmt, as_json)
    if fmt in ("json", "jsonl"):
        from hdcli.output import render_record

        out(render_record(shown, fmt))
        return
    lines = [
        f"Quarantined message {shown['id']} ({shown['when']}, {shown['size']} bytes)",
        f"  source:  {shown['source'] or '-'}",
        f"  reason:  {shown['reason']}",
        f"  digest:  {shown['digest']}",
        f"  content: {shown['content']}",
    ]
    if shown["headers"]:
        lines.append("")
        lines += [f"{h['name']}: {h['value']}" for h in shown["headers"]]
    out("\n".join(lines))


def _write_private(path: str, data: bytes) -> None:
    from hdcli.errors import UsageError
    from hdcli.util import write_private

    try:
        write_private(path, data)  # an existing file keeps no wider mode
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


@app.command("retry")
def retry(
    ids: Ids,
    billing: Annotated[
        bool | None,
        typer.Option(
            "--billing/--no-billing", help="mail of the billing mailbox (default: its source's)"
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Run quarantined messages through ingest again (after a fix or a new version).

    One result per id (id, outcome, ticket, message_id, reason); a message that is no longer
    quarantined leaves the quarantine. Exit 3 when an id is unknown, 4 when its content was
    removed by retention (the other ids are still tried).

    Example: hdcli mail quarantine list | hdcli mail quarantine retry - --dry-run
    """
    from hdcli.errors import HdcliError
    from hdcli.mail.quarantine import RETRY_COLUMNS, parse_ids
    from hdcli.ops import quarantine_retry
    from hdcli.output import render_rows

    ctx = context()
    rows, failed, count = [], 0, 0
    for qid in parse_ids(ids, sys.stdin):
        count += 1
        try:
            rows.append(quarantine_retry(ctx, qid, billing=billing, dry_run=dry_run))
        except HdcliError as exc:
            error_line(exc)
            failed = failed or exc.exit_code
    _some(count)
    if dry_run:
        say(f"dry run: nothing changed ({len(rows)} message(s) tried)")
    out(render_rows(rows, fmt_of(fmt, as_json), RETRY_COLUMNS))
    if failed:
        raise typer.Exit(failed)


@app.command("drop")
def drop(ids: Ids, dry_run: DryRunOpt = False) -> None:
    """Remove quarantined messages; their digest and reason stay in the inbound log (so the
    same message coming again is a duplicate). Exit 3 when an id is unknown.

    Example: hdcli mail quarantine drop 3 4 --dry-run
    """
    from hdcli.errors import HdcliError
    from hdcli.mail.quarantine import parse_ids
    from hdcli.ops import quarantine_drop

    ctx = context()
    failed = count = 0
    for qid in parse_ids(ids, sys.stdin):
        count += 1
        try:
            row = quarantine_drop(ctx, qid, dry_run=dry_run)
        except HdcliError as exc:
            error_line(exc)
            failed = failed or exc.exit_code
            continue
        say(f"{qid}: {'would be dropped' if dry_run else 'dropped'} ({row['reason']})")
    _some(count)
    if failed:
        raise typer.Exit(failed)


def _some(count: int) -> None:
    from hdcli.errors import UsageError

    if count == 0:
        raise UsageError("no quarantine id given (- reads them from stdin)")


@app.command("purge")
def purge(
    days: Annotated[
        int | None, typer.Option(help="older than this many days (default mail.quarantine_days)")
    ] = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Remove the bytes of messages quarantined longer than the retention; their reason,
    digest and size stay. `mail fetch` and `mail flush` do this once a day by themselves.

    Example: hdcli mail quarantine purge --days 7 --dry-run
    """
    from hdcli.mail.quarantine import purge as do_purge

    ids = do_purge(context(), days, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    say(f"{verb} the content of {len(ids)} message(s)" + (f": {ids}" if ids else ""))


def attention(
    since: Annotated[
        str | None, typer.Option(help="on or after: YYYY-MM-DD, 01.12.2026, gestern, letzte Woche")
    ] = None,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """List mail outcomes that need a human, newest first: quarantined messages, unclear
    answers to approvals and service reports, suppressed acknowledgements, attachments not
    kept for their size (when, outcome, ticket, reason, quarantine id).

    Example: hdcli mail attention --since 2026-12-01 --json
    """
    from hdcli.mail.quarantine import ATTENTION_COLUMNS
    from hdcli.mail.quarantine import attention as rows_of
    from hdcli.output import render_rows

    if since:
        from hdcli.durations import parse_date

        since = parse_date(since, context().today()).isoformat()
    out(render_rows(rows_of(context().store, since), fmt_of(fmt, as_json), ATTENTION_COLUMNS))


def purge_if_due() -> None:
    """The daily retention run of ``mail fetch`` and ``mail flush``: never fails the run."""
    from hdcli.errors import HdcliError
    from hdcli.mail.quarantine import purge_if_due as due

    try:
        ids = due(context())
    except HdcliError as exc:
        say(f"hdcli: warning: quarantine retention not applied: {exc}")
        return
    if ids:
        say(f"quarantine: removed the content of {len(ids)} message(s) past retention")


def register(mail: typer.Typer) -> None:
    mail.add_typer(app, name="quarantine")
    mail.command("attention")(attention)
