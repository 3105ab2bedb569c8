"""hdcli mail: the outbound queue (flush, queue, retry) and inbound mail (ingest, fetch)."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, out, say

app = typer.Typer(help="Mail: deliver the outbound queue, ingest and fetch inbound mail.",
                  no_args_is_help=True)


@app.command("flush")
def flush(limit: Annotated[int, typer.Option(help="at most this many mails")] = 1000) -> None:
    """Deliver queued mail that is due; temporary failures wait with backoff.

    Example (cron): * * * * * hdcli mail flush
    Exit 0 when nothing failed for good, 4 when a mail was refused permanently, 5 when
    the transport was unreachable (the mail stays queued).
    """
    from hdcli.mail.outbound import flush as do_flush

    result = do_flush(context(), limit=limit)
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
    from hdcli.output import render_rows

    store = context().store
    where, params = [], []
    if status:
        where.append("o.status = ?")
        params.append(status)
    elif not all_:
        where.append("o.status <> 'sent'")
    sql = ("SELECT o.id, o.status, o.kind, o.recipient, t.number AS ticket, o.subject, "
           "o.attempts, o.next_attempt_at, o.last_error, o.created_at FROM outbound o "
           "LEFT JOIN tickets t ON t.id = o.ticket_id")
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY o.id DESC LIMIT {int(limit)}"
    out(render_rows(store.query(sql, params), fmt_of(fmt, as_json)))


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


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="mail")
