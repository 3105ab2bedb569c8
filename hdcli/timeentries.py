"""Corrections of time entries: list, edit and remove what ``hdcli log`` recorded.

Above :mod:`hdcli.tickets` (whose :func:`~hdcli.tickets.check_entry_minutes` is the one check
of an entry's length) and beside it in the lifecycle: every correction runs in
:func:`hdcli.unit.change`, is guarded as ``time.edit`` or ``time.remove`` (the billing feature
locks the time of a ticket whose service report is approved unless ``force``), recorded in the
ticket's history (old → new) and announced as ``ticket.time_changed`` (the billing feature
refreshes the figures of the ticket's service report in the same transaction).

Library code: no Typer, no printing.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from hdcli.errors import NotFound, UsageError
from hdcli.models import ACTIVITIES, choice
from hdcli.repo import time_entries as time_repo
from hdcli.tickets import check_entry_minutes
from hdcli.unit import announce, change, guard, record, touch
from hdcli.views import get_ticket

if TYPE_CHECKING:
    from hdcli.context import Context
    from hdcli.models import Row


def entries(ctx: Context, number: str) -> list[Row]:
    """The ticket's time entries by work date: ``id``, ``date``, ``minutes``, ``duration``,
    ``activity``, ``charge`` (bool), ``note``, ``agent``."""
    from hdcli.durations import format_minutes

    ticket = get_ticket(ctx.store, number)
    return [
        {
            "id": e["id"],
            "date": e["date"],
            "minutes": int(e["minutes"]),
            "duration": format_minutes(int(e["minutes"])),
            "activity": e["activity"],
            "charge": bool(e["billable"]),
            "note": e["note"],
            "agent": e["agent"],
        }
        for e in time_repo.of_ticket(ctx.store, int(ticket["id"]))
    ]


def _entry(ctx: Context, entry_id: int) -> Row:
    row = time_repo.get(ctx.store, entry_id)
    if row is None:
        raise NotFound(f"no time entry {entry_id} (see `hdcli time list NUMBER`)")
    return row


def _forced(force: bool, reason: str | None) -> dict[str, Any]:
    if force and not (reason or "").strip():
        raise UsageError("--force needs --reason (it is recorded in the history)")
    return {"forced": True, "reason": reason} if force else {}


def edit_entry(
    ctx: Context,
    entry_id: int,
    *,
    minutes: int | None = None,
    note: str | None = None,
    work_date: date | None = None,
    activity: str | None = None,
    billable: bool | None = None,
    force: bool = False,
    reason: str | None = None,
) -> Row:
    """Correct a time entry; returns its ticket. Nothing to change is a usage error."""
    forced = _forced(force, reason)
    with change(ctx) as store:
        entry = _entry(ctx, entry_id)
        ticket = get_ticket(store, str(entry["number"]))
        new: dict[str, Any] = {}
        if minutes is not None:
            check_entry_minutes(ctx, minutes, force=force)
            new["minutes"] = minutes
        if note is not None:
            new["note"] = note
        if work_date is not None:
            new["date"] = work_date.isoformat()
        if activity is not None:
            choice(activity, ACTIVITIES, "activity")
            new["activity"] = activity
        if billable is not None:
            new["billable"] = int(billable)
        changes = {k: [entry[k], v] for k, v in new.items() if entry[k] != v}
        if not new:
            raise UsageError(
                "nothing to change (give --duration, --note, --date, --activity "
                "or --charge/--no-charge)"
            )
        if not changes:
            return ticket
        guard(ctx, "time.edit", ticket, entry=entry_id, force=force, reason=reason, **new)
        time_repo.update(
            store, entry_id, {("work_date" if k == "date" else k): v for k, v in new.items()}
        )
        touch(store, ticket)
        record(ctx, ticket, "time_edited", entry=entry_id, changes=changes, **forced)
        announce(ctx, "ticket.time_changed", ticket, entry=entry_id)
    return ticket


def remove_entry(
    ctx: Context, entry_id: int, *, force: bool = False, reason: str | None = None
) -> Row:
    """Remove a time entry; returns its ticket."""
    forced = _forced(force, reason)
    with change(ctx) as store:
        entry = _entry(ctx, entry_id)
        ticket = get_ticket(store, str(entry["number"]))
        guard(ctx, "time.remove", ticket, entry=entry_id, force=force, reason=reason)
        time_repo.delete(store, entry_id)
        touch(store, ticket)
        record(
            ctx,
            ticket,
            "time_removed",
            entry=entry_id,
            minutes=int(entry["minutes"]),
            date=entry["date"],
            activity=entry["activity"],
            agent=entry["agent"],
            **forced,
        )
        announce(ctx, "ticket.time_changed", ticket, entry=entry_id)
    return ticket
