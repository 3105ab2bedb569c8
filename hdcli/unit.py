"""The unit of work: one change of the helpdesk, from its checks to what follows its commit.

The bottom layer of the workflow. Every change (a command, a mail, a policy, a plugin) runs
inside :func:`change`: one transaction holding the change itself, its history records
(:func:`record`, :func:`history`), the mail it causes (queued in the outbound table by
:mod:`hdcli.articles`) and what features add to it in the same transaction (the
``ticket_changed`` hook, e.g. the service report of a closed ticket). After the commit
:func:`finish` delivers the queued mail and announces the events to the ``ticket_event`` hook.

Before a change is written, :func:`guard` asks the plugins: ``guard_change`` (a veto from the
change's description alone) and ``ticket_changing`` (inside the transaction, with the ticket
and the context: the approval gate before work, the lock of approved time). :func:`set_status`
is the only writer of a ticket's status; :func:`hdcli.tickets.transition` is the one function
that calls it.

Imports only :mod:`hdcli.errors`, :mod:`hdcli.util` and the repositories of the history and
the tickets at its top; the plugin manager and the event types are imported when a plugin
listens.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hdcli.errors import Refused
from hdcli.repo import history as history_repo
from hdcli.repo import tickets as ticket_repo
from hdcli.util import logger, now_iso

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.models import Row, TicketStatus


class DryRun(Exception):
    """A change checked and rolled back (``--dry-run``)."""


@contextmanager
def change(ctx: Context) -> Iterator[SqlStorage]:
    """A write transaction; after its commit, queued mail is delivered and events announced.

    With ``ctx.dry_run`` everything is checked and done, then rolled back: :class:`DryRun` is
    raised instead of committing, and no mail or event leaves. Nested inside another
    transaction it joins it (the outer one commits and finishes).
    """
    outer = ctx.store.in_transaction
    mark = len(ctx.after_commit)
    try:
        with ctx.store.transaction() as store:
            yield store
            if ctx.dry_run and not outer:
                raise DryRun
    except BaseException:
        if not outer:
            del ctx.after_commit[mark:]  # mail and events of the rolled-back change
        raise
    if not outer:
        finish(ctx)


def finish(ctx: Context) -> None:
    """Deliver mail queued by the committed change and announce its events.

    Neither can fail the change: a mail that cannot be delivered stays queued for
    ``hdcli mail flush``; a failing plugin is logged.
    """
    pending, ctx.after_commit = ctx.after_commit, []
    mail_ids = [item[1] for item in pending if item[0] == "mail"]
    if mail_ids and ctx.config.get("mail.outbound.send_now"):
        from hdcli.mail.outbound import flush

        try:
            result = flush(ctx, mail_ids)
            for qid, reason in result.deferred:
                logger("hdcli.unit").warning("mail %s stays queued: %s", qid, reason)
            for qid, reason in result.failed:
                logger("hdcli.unit").warning("mail %s failed: %s", qid, reason)
        except Exception as exc:  # never fail a committed change because mail is down
            logger("hdcli.unit").warning("mail stays queued: %s", exc)
    events = [item[1] for item in pending if item[0] == "event"]
    if events:
        from hdcli.plugins import hooks

        for event in events:
            hooks.ticket_event(event, ctx.config)


def hooked(name: str) -> bool:
    """Whether some loaded plugin implements hook ``name`` (plugins are loaded first)."""
    from hdcli.plugins import load_plugins, pm

    load_plugins()
    return bool(getattr(pm.hook, name).get_hookimpls())


def guard(ctx: Context, action: str, ticket: Row | None, **data: Any) -> None:
    """Ask the plugins whether the change ``action`` of ``ticket`` may happen.

    ``guard_change`` sees the change alone; ``ticket_changing`` runs inside the transaction
    with the ticket row (None while a ticket is being opened) and the context. A veto raises
    Refused (exit 4) naming the action and the reason; nothing of the change is written.
    """
    pure, inner = hooked("guard_change"), hooked("ticket_changing")
    if not (pure or inner):
        return  # nobody to ask: no Change to build
    from hdcli.events import Change
    from hdcli.plugins import hooks

    number = str(ticket["number"]) if ticket is not None else None
    described = Change(action, number, ctx.actor, data)
    reason = hooks.guard_change(described) if pure else None
    if not reason and inner:
        reason = hooks.ticket_changing(described, ticket, ctx)
    if reason:
        raise Refused(f"{action} refused: {reason}")


def announce(ctx: Context, event: str, ticket: Row, **data: Any) -> None:
    """Tell the plugins that ``event`` happened to ``ticket``.

    ``ticket_changed`` implementations run now, inside the transaction (what they write
    commits or rolls back with the change); ``ticket_event`` gets the event after the commit.
    """
    inner, after = hooked("ticket_changed"), hooked("ticket_event")
    if not (inner or after):
        return
    from hdcli.events import TicketEvent
    from hdcli.plugins import hooks

    happened = TicketEvent(
        event,
        str(ticket["number"]),
        str(ticket["subject"]),
        str(ticket["status"]),
        ctx.actor,
        now_iso(),
        data,
    )
    if inner:
        hooks.ticket_changed(happened, ticket, ctx)
    if after:
        ctx.after_commit.append(("event", happened))


def history(
    store: SqlStorage,
    actor: str,
    entity: str,
    key: str,
    action: str,
    detail: Mapping[str, Any] | None = None,
    ticket_id: int | None = None,
) -> None:
    """Record who did what, when (every change calls this inside its transaction)."""
    history_repo.add(
        store,
        actor=actor,
        entity=entity,
        key=key,
        action=action,
        detail=detail,
        ticket_id=ticket_id,
        at=now_iso(),
    )


def record(ctx: Context, ticket: Row, action: str, **detail: Any) -> None:
    """A history event of ``ticket`` by the acting user."""
    history(
        ctx.store,
        ctx.actor,
        "ticket",
        str(ticket["number"]),
        action,
        detail,
        ticket_id=int(ticket["id"]),
    )


def require(ticket: Row, action: str, allowed: Sequence[str], hint: str = "") -> None:
    """Refuse (exit 4) ``action`` unless the ticket's status is one of ``allowed``."""
    if ticket["status"] not in allowed:
        raise Refused(
            f"ticket {ticket['number']} is {ticket['status']}: {action} is allowed only when it "
            f"is {' or '.join(allowed)}{hint}"
        )


def set_status(store: SqlStorage, ticket: Row, status: TicketStatus, **cols: Any) -> None:
    """Write a ticket's status (and other columns); ``ticket`` is updated to match.

    Only :func:`hdcli.tickets.transition` calls this: it checks and guards the move first.
    """
    now = now_iso()
    ticket_repo.update(store, ticket["id"], {"status": status, "updated_at": now, **cols})
    ticket.update(status=status, updated_at=now, **cols)


def touch(store: SqlStorage, ticket: Row, **cols: Any) -> None:
    """Mark a ticket as changed now (and write other columns), its status unchanged."""
    now = now_iso()
    ticket_repo.update(store, ticket["id"], {"updated_at": now, **cols})
    ticket.update(updated_at=now, **cols)
