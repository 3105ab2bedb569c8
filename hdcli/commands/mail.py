"""hdcli mail: the outbound queue (flush, queue, retry) and inbound mail (ingest, fetch); the
quarantine and ``attention`` are in :mod:`hdcli.commands.mail_quarantine`."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, error_line, fmt_of, out, say

if TYPE_CHECKING:
    from hdcli.context import Context
    from hdcli.mail.ingest import IngestResult

FIELDS = ("source", "message_id", "outcome", "ticket", "reason")

app = typer.Typer(
    help="Mail: deliver the outbound queue, ingest and fetch inbound mail, work the quarantine."
    "\n\n"
    "Example: hdcli mail queue --status failed",
    no_args_is_help=True,
)


@app.command("flush")
def flush(limit: Annotated[int, typer.Option(help="at most this many mails")] = 1000) -> None:
    """Deliver queued mail that is due; temporary failures wait with backoff.

    Once a day it also removes the bytes of quarantined mail past `mail.quarantine_days`.

    Example (cron): * * * * * hdcli mail flush
    Exit 0 when nothing failed for good, 4 when a mail was refused permanently, 5 when
    the transport was unreachable (the mail stays queued).
    """
    from hdcli.commands.mail_quarantine import purge_if_due
    from hdcli.mail.outbound import flush as do_flush

    result = do_flush(context(), limit=limit)
    purge_if_due()
    say(f"sent {len(result.sent)}, deferred {len(result.deferred)}, failed {len(result.failed)}")
    for qid, reason in result.deferred:
        say(f"deferred {qid}: {reason}")
    for qid, reason in result.failed:
        say(f"failed {qid}: {reason}")
    if result.failed:
        raise typer.Exit(4)
    if result.deferred:
        raise typer.Exit(5)


@app.command("queue")
def queue(
    status: Annotated[str | None, typer.Option(help="queued, sending, sent or failed")] = None,
    all_: Annotated[bool, typer.Option("--all", help="include sent mail")] = False,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Show what waits in the outbound queue or failed, and why.

    Example: hdcli mail queue --status failed --json
    """
    from hdcli.ops import mail_queue  # here, or the remote helpdesk
    from hdcli.output import render_rows

    rows = mail_queue(context(), status=status, everything=all_, limit=limit)
    out(render_rows(rows, fmt_of(fmt, as_json)))


@app.command("retry")
def retry(
    ids: Annotated[list[int] | None, typer.Argument(help="queue ids")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="every failed mail")] = False,
) -> None:
    """Put failed mail back in the queue, due now (then `hdcli mail flush`).

    Example: hdcli mail retry --all-failed && hdcli mail flush
    """
    from hdcli.errors import UsageError
    from hdcli.mail.outbound import retry as do_retry

    if not ids and not all_failed:
        raise UsageError("give queue ids or --all-failed")
    n = do_retry(context(), None if all_failed else ids)
    say(f"requeued {n} mail(s)")


@app.command("ingest")
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="message files, Maildirs, folders of .eml/.box files, or - for stdin"),
    ] = None,
    source: Annotated[str | None, typer.Option(help="label for the results (stdin)")] = None,
    billing: Annotated[bool, typer.Option(help="mail of the billing mailbox")] = False,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Ingest inbound mail: new tickets, follow-ups, duplicates, ignored, rejected, quarantined.

    One result per message (source, message_id, outcome, ticket, reason). As an MTA pipe
    (stdin): exit 0 when the message was handled in any way, 75 on a transient failure (store
    locked or unreachable) or a configuration that cannot work, so that the MTA tries again
    later.

    Example: hdcli mail ingest ~/Maildir --format jsonl

    Example (Postfix pipe): hdcli mail ingest -
    """
    names = paths or ["-"]
    if names != ["-"]:
        _ingest(names, source, billing, fmt_of(fmt, as_json))
        return
    try:
        _ingest(names, source, billing, fmt_of(fmt, as_json))
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        # The last resort of the MTA pipe: a crash of hdcli is no reason to bounce the mail
        # (any exit but 0 and 75 is a bounce to Postfix); the MTA keeps it and tries again.
        import os

        from hdcli.errors import HdcliError
        from hdcli.util import one_line

        if os.environ.get("HDCLI_DEBUG", "") not in ("", "0"):
            import traceback

            traceback.print_exc()
        _drain_stdin()
        if isinstance(exc, HdcliError):
            error_line(f"{one_line(str(exc))}; try again later", 75)
        else:
            error_line(
                f"unexpected {type(exc).__name__}: {one_line(str(exc))}; "
                "try again later (HDCLI_DEBUG=1 shows the traceback)",
                75,
            )
        raise typer.Exit(75) from None


def _drain_stdin() -> None:
    """Take the rest of the message, so that the MTA sees our answer, not a broken pipe."""
    import contextlib

    with contextlib.suppress(Exception):
        if not sys.stdin.isatty():
            sys.stdin.buffer.read()


def _ingest(names: list[str], source: str | None, billing: bool, fmt: str) -> None:
    from hdcli.errors import BackendUnavailable, ConfigError, HdcliError, TransientError
    from hdcli.mail.ingest import read_messages
    from hdcli.output import print_results
    from hdcli.unit import finish

    try:
        ctx = context()
    except ConfigError as exc:
        if names != ["-"]:
            raise
        # A pipe: the MTA keeps the message and retries once the configuration is fixed.
        _drain_stdin()
        error_line(f"{exc}; try again later", 75)
        raise typer.Exit(75) from None
    messages = read_messages(names, sys.stdin.buffer)
    if source is not None:
        messages = ((source, raw) for _, raw in messages)
    try:
        print_results((r.as_dict() for r in _ingest_stream(ctx, messages, billing)), fmt, FIELDS)
    except HdcliError as exc:
        # For an MTA pipe every failure of the setup (not of the message: that is quarantined)
        # means "try again later", so that no mail bounces while an admin fixes it.
        transient = isinstance(exc, BackendUnavailable | TransientError) or names == ["-"]
        finish(ctx)
        if not transient:
            raise
        error_line(f"{exc}; try again later", 75)
        raise typer.Exit(75) from None


def _ingest_stream(
    ctx: Context, messages: Iterable[tuple[str, bytes]], billing: bool
) -> Iterator[IngestResult]:
    from hdcli.mail.ingest import ingest_many, ingest_one

    if not billing:
        yield from ingest_many(ctx, messages)
        return
    for label, raw in messages:
        yield ingest_one(ctx, raw, label, billing=True)


@app.command("fetch")
def fetch(
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="only this [mail.sources.NAME]")
    ] = None,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Fetch mail from the configured sources (IMAP, Maildir) and ingest it.

    A message is moved or flagged at its source only after its result is committed; a run
    killed at any point and started again loses nothing and duplicates nothing. A second run
    while one is busy skips the busy sources. Exit 75 when a source or the store is
    unreachable (try again at the next run). Once a day it also removes the bytes of
    quarantined mail past `mail.quarantine_days`.

    Example (cron): * * * * * hdcli mail fetch --format jsonl >> /var/log/hdcli-fetch.log
    """
    from hdcli.commands.mail_quarantine import purge_if_due
    from hdcli.errors import BackendUnavailable, TransientError
    from hdcli.mail.fetch import fetch as do_fetch
    from hdcli.output import print_results

    fmt = fmt_of(fmt, as_json)
    tty = sys.stderr.isatty()
    count = 0

    def results() -> Iterator[dict[str, object]]:
        nonlocal count
        for result in do_fetch(context(), source, notice=say):
            yield result.as_dict()
            count += 1
            if tty:
                sys.stderr.write(f"\rfetched {count} message(s) from {result.source}")
                sys.stderr.flush()

    try:
        print_results(results(), fmt, FIELDS)
    except (BackendUnavailable, TransientError) as exc:
        if tty:
            sys.stderr.write("\n")
        error_line(f"{exc}; try again later", 75)
        raise typer.Exit(75) from None
    if tty and count:
        sys.stderr.write("\n")
    purge_if_due()


def register(root: typer.Typer) -> None:
    from hdcli.commands.mail_quarantine import register as register_quarantine

    register_quarantine(app)
    root.add_typer(app, name="mail")
