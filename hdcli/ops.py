"""The operations the CLI and the server share: each is the workflow call in process, or the
same call as one HTTP request when ``storage.url`` is ``http(s)://`` (:mod:`hdcli.remote`).

Commands call these functions and never ask where the helpdesk is; the server's resources
(:mod:`hdcli.server`) call the same functions in process. Each returns JSON-ready data: a
ticket's ``number`` and ``status`` for a change, the shapes of :mod:`hdcli.views` for reads.
A command that uses the store directly is not available against a remote helpdesk (exit 2,
:func:`hdcli.backends.open_storage`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hdcli.context import Context
    from hdcli.mail.outbound import OutAttachment
    from hdcli.models import Row


def _done(ticket: Row) -> Row:
    return {"number": ticket["number"], "status": ticket["status"]}


def _post(ctx: Context, number: str, action: str, body: dict[str, Any]) -> Row | None:
    """The change as a request when the helpdesk is remote (None: run it here)."""
    remote = ctx.remote
    if remote is None:
        return None
    data: Row = remote.call("POST", f"/tickets/{remote.quote(number)}/{action}", body, ctx)
    return data


def open_ticket(ctx: Context, fields: dict[str, Any]) -> Row:
    """Open a ticket (the fields of :class:`hdcli.tickets.OpenRequest` that a caller gives);
    the ticket as ``show`` gives it without articles and time, and ``created``."""
    if ctx.remote is not None:
        data: Row = ctx.remote.call("POST", "/tickets", fields, ctx)
        return data
    from hdcli.errors import UsageError
    from hdcli.tickets import OpenRequest, open_ticket
    from hdcli.views import show

    allowed = ("contact", "subject", "body", "channel", "impact", "external_id", "notify")
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise UsageError(f"unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})")
    if not fields.get("contact") or not fields.get("subject"):
        raise UsageError("open needs a contact and a subject")
    for key in allowed:
        value = fields.get(key)
        if value is not None and not isinstance(value, bool if key == "notify" else str):
            raise UsageError(f"bad {key} {value!r}")
    opened = open_ticket(ctx, OpenRequest(**fields))
    data = show(ctx.store, opened.ticket["number"], history=False)
    data.pop("articles")
    data.pop("time_entries")
    data["created"] = opened.created
    return data


def assign(ctx: Context, number: str, to: str, start: bool = False) -> Row:
    if (done := _post(ctx, number, "assign", {"to": to, "start": start})) is not None:
        return done
    from hdcli.tickets import assign as run

    return _done(run(ctx, number, to, start_work=start))


def start(ctx: Context, number: str, override: bool = False, reason: str | None = None) -> Row:
    if (done := _post(ctx, number, "start", {"override": override, "reason": reason})) is not None:
        return done
    from hdcli.tickets import start as run

    return _done(run(ctx, number, override=override, reason=reason))


def reply(
    ctx: Context,
    number: str,
    body: str,
    minutes: int | None = None,
    wait: bool = True,
    attachments: Sequence[OutAttachment] = (),
    answer: str | None = None,
    force: bool = False,
) -> Row:
    payload: Row = {"body": body, "minutes": minutes, "wait": wait, "force": force}
    if answer is not None:
        payload["answer"] = answer
    if attachments:
        import base64

        payload["attachments"] = [
            {"name": a.filename, "type": a.content_type, "data": base64.b64encode(a.data).decode()}
            for a in attachments
        ]
    if (done := _post(ctx, number, "reply", payload)) is not None:
        return done
    from hdcli.tickets import reply as run

    return _done(
        run(
            ctx,
            number,
            body,
            minutes,
            wait=wait,
            attachments=attachments,
            answer=answer,
            force=force,
        )
    )


def note(
    ctx: Context, number: str, text: str, minutes: int | None = None, kind: str = "note"
) -> Row:
    payload = {"text": text, "minutes": minutes, "kind": kind}
    if (done := _post(ctx, number, "note", payload)) is not None:
        return done
    from hdcli.tickets import note as run

    return _done(run(ctx, number, text, minutes, kind=kind))


def log_time(
    ctx: Context,
    number: str,
    minutes: int,
    *,
    note: str = "",
    work_date: str | None = None,
    activity: str = "other",
    billable: bool = True,
    force: bool = False,
) -> Row:
    """Log time; ``work_date`` as ``YYYY-MM-DD`` (None: today)."""
    payload = {
        "minutes": minutes,
        "note": note,
        "date": work_date,
        "activity": activity,
        "billable": billable,
        "force": force,
    }
    if (done := _post(ctx, number, "log", payload)) is not None:
        return done
    from datetime import date

    from hdcli.errors import UsageError
    from hdcli.tickets import log_time as run

    day = None
    if work_date is not None:
        try:
            day = date.fromisoformat(work_date)
        except ValueError:
            raise UsageError(f"bad date {work_date!r} (YYYY-MM-DD)") from None
    run(
        ctx,
        number,
        minutes,
        note=note,
        work_date=day,
        activity=activity,
        billable=billable,
        force=force,
    )
    from hdcli.views import get_ticket

    return _done(get_ticket(ctx.store, number))


def close(ctx: Context, number: str, reason: str | None = None, notify: bool = True) -> Row:
    if (done := _post(ctx, number, "close", {"reason": reason, "notify": notify})) is not None:
        return done
    from hdcli.billing.servicereports import NO_TIME, skipped_on_close
    from hdcli.tickets import close as run

    ticket = run(ctx, number, reason, notify=notify)
    done = _done(ticket)
    if skipped_on_close(ctx.store, int(ticket["id"])):
        done["note"] = f"no service report sent: {NO_TIME}"
    return done


def reopen(ctx: Context, number: str, reason: str | None = None) -> Row:
    if (done := _post(ctx, number, "reopen", {"reason": reason})) is not None:
        return done
    from hdcli.tickets import reopen as run

    return _done(run(ctx, number, reason))


def show(ctx: Context, number: str, history: bool = True) -> Row:
    """The whole ticket (:func:`hdcli.views.show`); the read is in the access trail."""
    remote = ctx.remote
    if remote is not None:
        query = "" if history else "?history=false"
        data: Row = remote.call("GET", f"/tickets/{remote.quote(number)}{query}", None, ctx)
        return data
    from hdcli.trail import record_access
    from hdcli.views import show as load

    data = load(ctx.store, number, history=history)
    # the trail records what was read: after the read succeeded (an unknown number is none)
    record_access(ctx.store, ctx.actor, "show", ticket_number=number)
    return data


def _param(value: Any) -> str:
    """A query parameter: booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def list_tickets(ctx: Context, **filters: Any) -> list[Row]:
    """Tickets newest first (:func:`hdcli.views.list_tickets`): status, assignee, org, since,
    requester, preselected, priority, limit."""
    remote = ctx.remote
    if remote is not None:
        params = {k: _param(v) for k, v in filters.items() if v is not None}
        rows: list[Row] = remote.call("GET", "/tickets", None, ctx, params=params)
        return rows
    from hdcli.views import list_tickets as load

    return [dict(row) for row in load(ctx.store, **filters)]
