"""Approvals of work (Freigabe): the contract's gate before work starts or before a change.

A contract's approval policy decides what needs an approver's yes:

- ``none``: nothing;
- ``before_work``: ``start`` is refused until a ``before_work`` approval of the ticket is granted
  (or overridden with a reason, recorded in the history);
- ``changes``: work may start, but an *important change* (access rights, say) is recorded with
  ``hdcli approval apply`` only once a ``change`` approval of the ticket is granted; applying it
  uses that approval up, so the next important change needs its own.

Only a contact with the role ``approver`` of the ticket's organisation can decide. Decisions
come by phone or fax (staff record them with ``hdcli approval grant|deny``) or by mail (a reply
that starts with a clear yes or no, see :func:`decision_word`).

Approval rows: ``kind`` is ``before_work`` or ``change``; ``status`` is ``pending``, ``granted``,
``denied``, ``overridden`` or ``applied`` (a granted change that was carried out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hdcli.articles import add_article, send_mail
from hdcli.errors import NotFound, Refused, UsageError
from hdcli.mail.answers import decision_word
from hdcli.models import APPROVAL_KINDS as KINDS
from hdcli.models import VIAS
from hdcli.repo import approvals as approval_repo
from hdcli.repo import customers as customer_repo
from hdcli.tickets import (
    OPEN,
    followup_in_tx,
    has_started,
    queue_status,
    resume_in_tx,
    wait_in_tx,
)
from hdcli.unit import announce, guard, record, require, touch
from hdcli.unit import change as transaction
from hdcli.util import norm_email, now_iso
from hdcli.views import get_ticket

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.events import Handled
    from hdcli.mail.parse import ParsedMail
    from hdcli.models import Row, TicketStatus

DECISIONS = ("granted", "denied")


def approvers(store: SqlStorage, org_id: int) -> list[Row]:
    """The contacts with the role ``approver`` of an organisation, by address."""
    return customer_repo.with_role(store, org_id, "approver")


def _names(rows: list[Row]) -> str:
    return (
        ", ".join(f"{a['name']} <{a['email']}>" for a in rows)
        or "none on record (add a contact with --role approver)"
    )


def policy(store: SqlStorage, ticket: Row) -> str:
    """The approval policy of the ticket's contract (``none`` without a contract)."""
    approval = customer_repo.contract_value(store, ticket["contract_id"], "approval")
    return "none" if approval is None else str(approval)


def _granted(store: SqlStorage, ticket_id: int, kind: str) -> Row | None:
    return approval_repo.granted(store, ticket_id, kind)


def default_kind(store: SqlStorage, ticket: Row) -> str:
    """``before_work`` while a before-work contract's ticket lacks it, else ``change``."""
    if policy(store, ticket) == "before_work" and not _granted(
        store, int(ticket["id"]), "before_work"
    ):
        return "before_work"
    return "change"


def check_start(
    ctx: Context, ticket: Row, *, override: bool = False, reason: str | None = None
) -> None:
    """Refuse to start a ticket whose contract demands approval before work, until an approver
    approved it; ``override`` with a reason lets it start and is recorded."""

    store = ctx.store
    if policy(store, ticket) != "before_work":
        return
    if _granted(store, int(ticket["id"]), "before_work"):
        return
    if override:
        if not reason or not reason.strip():
            raise UsageError("--override needs --reason")
        record(ctx, ticket, "approval_overridden", reason=reason)
        return
    raise Refused(
        f"ticket {ticket['number']} needs approval before work starts; approvers: "
        f"{_names(approvers(store, ticket['org_id']))}; "
        f"`hdcli approval request {ticket['number']}` asks them"
    )


def check_change(
    ctx: Context, ticket: Row, *, override: bool = False, reason: str | None = None
) -> Row | None:
    """Gate an important change on a ticket of a ``changes`` contract.

    Returns the granted ``change`` approval it may use (None when the policy asks for none or
    ``override`` with a reason was given, which is recorded). Raises Refused (exit 4) naming the
    approvers otherwise.
    """

    store = ctx.store
    if policy(store, ticket) != "changes":
        return None
    granted = approval_repo.unused_change(store, ticket["id"])
    if granted:
        return granted
    if override:
        if not reason or not reason.strip():
            raise UsageError("--override needs --reason")
        record(ctx, ticket, "approval_overridden", kind="change", reason=reason)
        return None
    hint = (
        "a request is pending"
        if approval_repo.change_pending(store, ticket["id"])
        else f"`hdcli approval request {ticket['number']} --change TEXT` asks them"
    )
    raise Refused(
        f"ticket {ticket['number']}: an important change needs approval first; approvers: "
        f"{_names(approvers(store, ticket['org_id']))}; {hint}"
    )


# -- requests and decisions -------------------------------------------------------------------
def request(ctx: Context, number: str, change: str, kind: str | None = None) -> Row:
    """Ask every approver of the ticket's organisation (one mail each, the number in the
    subject); the ticket waits for the approval. Returns the approval row."""

    if not change.strip():
        raise UsageError("an approval request needs --change TEXT: what is to be approved")
    if kind is not None and kind not in KINDS:
        raise UsageError(f"bad kind {kind!r} (allowed: {', '.join(KINDS)})")
    with transaction(ctx):
        return request_in_tx(ctx, number, change, kind)


def request_in_tx(ctx: Context, number: str, change: str, kind: str | None = None) -> Row:

    store = ctx.store
    ticket = get_ticket(store, number)
    require(ticket, "approval request", OPEN, " (use `hdcli reopen` first)")
    who = approvers(store, ticket["org_id"])
    if not who:
        raise Refused(
            f"ticket {number}: the organisation has no approver on record "
            "(add a contact with --role approver)"
        )
    kind = kind or default_kind(store, ticket)
    guard(ctx, "approval.request", ticket, kind=kind, change=change)
    approval_id = approval_repo.insert(
        store,
        {
            "ticket_id": ticket["id"],
            "kind": kind,
            "change_text": change,
            "status": "pending",
            "requested_by": ctx.actor,
            "requested_at": now_iso(),
        },
    )
    ids = []
    for person in who:
        mid = send_mail(
            ctx,
            ticket,
            "approval_request",
            to_name=person["name"],
            to_addr=person["email"],
            automatic=False,
            approver={"name": person["name"], "email": person["email"]},
            change=change,
        )
        if mid:
            ids.append(mid)
    approval_repo.set_request_ids(store, approval_id, " ".join(ids))
    wait_in_tx(ctx, ticket, "approval")
    record(
        ctx,
        ticket,
        "approval_requested",
        approval=approval_id,
        kind=kind,
        change=change,
        to=[p["email"] for p in who],
    )
    announce(ctx, "ticket.approval_requested", ticket, kind=kind)
    row = approval_repo.by_id(store, approval_id)
    assert row is not None
    return row


def decide(
    ctx: Context,
    number: str,
    decision: str,
    by: str,
    via: str,
    note: str | None = None,
    kind: str | None = None,
    approval_id: int | None = None,
) -> Row:
    """Record an approver's decision (``granted`` or ``denied``) on the ticket's pending
    approval (the given one, else the oldest pending of ``kind``); without a pending request one
    is recorded on the spot (a decision by phone needs no mail first). Returns the approval row.

    Refused (exit 4) unless ``by`` is an approver of the ticket's organisation.
    """

    if decision not in DECISIONS:
        raise UsageError(f"bad decision {decision!r}")
    if via not in VIAS:
        raise UsageError(f"bad --via {via!r} (allowed: {', '.join(VIAS)})")
    if kind is not None and kind not in KINDS:
        raise UsageError(f"bad kind {kind!r} (allowed: {', '.join(KINDS)})")
    with transaction(ctx) as store:
        ticket = get_ticket(store, number)
        if ticket["status"] == "closed":
            raise Refused(f"ticket {number} is closed: reopen it before deciding an approval")
        if approval_id is not None:
            row = approval_repo.of_ticket(store, ticket["id"], approval_id)
            if row is None:
                raise NotFound(f"ticket {number} has no approval {approval_id}")
            if row["status"] != "pending":
                raise Refused(f"approval {approval_id} is already {row['status']}")
        else:
            row = _pending(store, int(ticket["id"]), kind)
        return decide_in_tx(ctx, ticket, row, decision, by, via, note, kind)


def _pending(store: SqlStorage, ticket_id: int, kind: str | None = None) -> Row | None:
    return approval_repo.pending(store, ticket_id, kind)


def decide_in_tx(
    ctx: Context,
    ticket: Row,
    row: Row | None,
    decision: str,
    by: str,
    via: str,
    note: str | None = None,
    kind: str | None = None,
) -> Row:
    """Record the decision inside the caller's transaction (see :func:`decide`)."""

    store = ctx.store
    who = approvers(store, ticket["org_id"])
    address = norm_email(by)
    person = next((p for p in who if p["email"].lower() == address), None)
    if person is None:
        raise Refused(
            f"{by} is not an approver of this ticket's organisation; who can approve: {_names(who)}"
        )
    guard(ctx, f"approval.{decision}", ticket, by=address, via=via)
    now = now_iso()
    if row is None:
        approval_id = approval_repo.insert(
            store,
            {
                "ticket_id": ticket["id"],
                "kind": kind or default_kind(store, ticket),
                "change_text": note or "",
                "status": "pending",
                "requested_by": ctx.actor,
                "requested_at": now,
            },
        )
    else:
        approval_id = int(row["id"])
    approval_repo.decide(
        store, approval_id, status=decision, by=address, via=via, note=note, at=now
    )
    decided = approval_repo.by_id(store, approval_id)
    assert decided is not None
    record(
        ctx,
        ticket,
        f"approval_{decision}",
        approval=approval_id,
        kind=decided["kind"],
        by=address,
        via=via,
        note=note,
    )
    if (
        ticket["status"] == "waiting"
        and ticket["waiting_for"] == "approval"
        and _pending(store, int(ticket["id"])) is None
    ):
        resume_in_tx(ctx, ticket, _resumed_status(store, ticket), "approvals decided")
    announce(ctx, f"ticket.approval_{decision}", ticket, by=address, via=via, kind=decided["kind"])
    return decided


def _resumed_status(store: SqlStorage, ticket: Row) -> TicketStatus:
    """Where a ticket goes when it stops waiting for approval: back to work if work had
    started, else to its assignee's queue (or new)."""
    return "in_progress" if has_started(store, ticket) else queue_status(ticket)


def apply_change(
    ctx: Context, number: str, text: str, *, override: bool = False, reason: str | None = None
) -> Row:
    """Record an important change carried out on a ticket (an internal note).

    Under a ``changes`` contract it needs a granted ``change`` approval, which it uses up
    (status ``applied``), or ``override`` with a reason (recorded). Returns the ticket.
    """

    if not text.strip():
        raise UsageError("say what was changed (-m TEXT)")
    with transaction(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "an important change", OPEN, " (use `hdcli reopen` first)")
        approval = check_change(ctx, ticket, override=override, reason=reason)
        guard(ctx, "approval.apply", ticket, text=text)
        add_article(
            store,
            ticket,
            kind="note",
            direction="internal",
            sender=ctx.actor,
            body=text,
            created_by=ctx.actor,
        )
        if approval is not None:
            approval_repo.mark_applied(store, approval["id"])
        touch(store, ticket)
        record(
            ctx,
            ticket,
            "important_change",
            text=text,
            approval=approval["id"] if approval else None,
            approved_by=approval["decided_by"] if approval else None,
        )
        announce(ctx, "ticket.important_change", ticket)
    return ticket


LIST_COLUMNS = (
    "id",
    "ticket",
    "organisation",
    "kind",
    "status",
    "change",
    "requested_by",
    "requested_at",
    "decided_by",
    "via",
    "note",
    "decided_at",
)


def list_approvals(
    store: SqlStorage, *, pending: bool = False, number: str | None = None
) -> list[Row]:
    """Approvals, newest first (the columns of :data:`LIST_COLUMNS`); ``pending`` only those
    awaiting a decision, ``number`` only the ticket's."""
    return approval_repo.listing(store, pending=pending, number=number.strip() if number else None)


def on_followup(ctx: Context, ticket: Row | None, mail: ParsedMail) -> Handled | None:
    """An approver's answer by mail (the ``handle_inbound_mail`` of the approvals plugin).

    When the sender is an approver of the open ticket's organisation and an approval of the
    ticket is pending, the mail joins the ticket as a follow-up (a ticket waiting for approval
    keeps waiting until the decision says otherwise). A body that starts with a clear yes or no
    records the decision (via mail); any other answer is recorded as
    ``approval_answer_unclear`` and its result's reason says that a human must decide.
    Anything else returns None and changes nothing: the core's rules apply.
    """
    from hdcli.events import Handled

    if ticket is None or ticket["status"] == "closed":
        return None
    store = ctx.store
    sender = norm_email(mail.from_addr or "")
    if not any(p["email"].lower() == sender for p in approvers(store, ticket["org_id"])):
        return None
    row = _pending(store, int(ticket["id"]))
    if row is None:
        return None
    answer = decision_word(mail.body_text or "")
    if answer is None:
        # A hedged answer ("yes, but …", a question): it joins the ticket as any follow-up
        # does, and a human reads it and decides.
        followup_in_tx(ctx, ticket, mail)
        record(ctx, ticket, "approval_answer_unclear", approval=row["id"], sender=sender)
        return Handled(
            "followup",
            ticket,
            f"approval {row['id']} pending: the approver's answer is not a clear yes or no "
            f"(decide with `hdcli approval grant|deny {ticket['number']}`)",
        )
    first = next((ln.strip() for ln in str(mail.body_text).splitlines() if ln.strip()), "")
    followup_in_tx(ctx, ticket, mail, resume=False)
    decide_in_tx(
        ctx,
        ticket,
        row,
        "granted" if answer else "denied",
        sender,
        "mail",
        note=first[:200] or None,
    )
    return Handled("followup", ticket, "approval decision")
