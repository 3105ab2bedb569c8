"""The ticket lifecycle: open, assign, start, reply, note, log, close, reopen.

The third layer of the workflow: it builds on :mod:`hdcli.unit` (the transaction, guards,
history, events) and :mod:`hdcli.articles` (articles and outbound mail) and never imports the
features above it. Approvals and billing hang on it through the hooks, as any plugin would:
``ticket_changing`` (the approval gate before work, the lock of approved time) and
``ticket_changed`` (the service report of a closed ticket).

:func:`transition` is the one way a ticket's status changes, whoever causes it (a command, a
mail, a closed-ticket policy, an approval): it checks the move against
:data:`hdcli.models.TRANSITIONS`, asks the guards, writes, records and announces.

Library code: no Typer, no printing. The read side is :mod:`hdcli.views`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from hdcli import customers
from hdcli.articles import add_article, add_inbound_mail, add_participant, send_mail
from hdcli.errors import ConfigError, NotFound, Refused, UsageError
from hdcli.models import (
    ACTIVITIES,
    ARTICLE_OF_CHANNEL,
    CHANNELS,
    IMPACTS,
    OPEN_STATUSES,
    PRIORITIES,
    TRANSITIONS,
    choice,
)
from hdcli.repo import articles as article_repo
from hdcli.repo import customers as customer_repo
from hdcli.repo import history as history_repo
from hdcli.repo import tickets as ticket_repo
from hdcli.repo import time_entries as time_repo
from hdcli.unit import announce, change, guard, record, require, set_status, touch
from hdcli.util import norm_email, now_iso, one_line
from hdcli.views import get_ticket

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.mail.outbound import OutAttachment
    from hdcli.mail.parse import ParsedMail
    from hdcli.models import Activity, Channel, Impact, Row, TicketStatus, WaitingFor

OPEN = OPEN_STATUSES


# -- status ---------------------------------------------------------------------------------------
def transition(
    ctx: Context,
    ticket: Row,
    status: TicketStatus,
    *,
    action: str,
    waiting_for: WaitingFor | None = None,
    event: str | None = None,
    history: str | None = None,
    **data: Any,
) -> None:
    """Move ``ticket`` to ``status``: the one way a ticket's status changes.

    ``action`` names the change for the guards (``ticket.reopen``, ``ticket.resume`` …): a
    move :data:`~hdcli.models.TRANSITIONS` does not allow is refused (exit 4), then
    ``guard_change`` and ``ticket_changing`` may veto it. Then the status is written (with
    ``waiting_for``, and ``closed_at`` kept right), the ``history`` action recorded and
    ``event`` announced, each with ``data``; without them the caller records and announces
    the change itself (it is part of a bigger one, e.g. a reply that waits for the customer).
    """
    current: TicketStatus = ticket["status"]
    if status != current and status not in TRANSITIONS[current]:
        raise Refused(
            f"ticket {ticket['number']} is {current}: it cannot become {status} "
            f"(allowed: {', '.join(TRANSITIONS[current]) or 'nothing'})"
        )
    guard(ctx, action, ticket, status=status, previous=current, **data)
    cols: dict[str, Any] = {"waiting_for": waiting_for if status == "waiting" else None}
    if status == "closed":
        cols["closed_at"] = now_iso()
    elif current == "closed":
        cols["closed_at"] = None
    set_status(ctx.store, ticket, status, **cols)
    if history:
        record(ctx, ticket, history, **data)
    if event:
        announce(ctx, event, ticket, **data)


def queue_status(ticket: Row) -> TicketStatus:
    """Where a ticket waits for work: its assignee's queue, else new."""
    return "assigned" if ticket["assignee_id"] is not None else "new"


def has_started(store: SqlStorage, ticket: Row) -> bool:
    """Whether work on ``ticket`` was ever started."""
    return history_repo.has_action(store, ticket["id"], "started")


def reopen_in_tx(ctx: Context, ticket: Row, reason: str | None) -> None:
    """Reopen a closed ticket inside the caller's transaction (guarded as ``ticket.reopen``)."""
    require(ticket, "reopen", ("closed",))
    transition(
        ctx,
        ticket,
        queue_status(ticket),
        action="ticket.reopen",
        history="reopened",
        event="ticket.reopened",
        reason=reason,
    )


def resume_in_tx(ctx: Context, ticket: Row, status: TicketStatus, reason: str) -> None:
    """A waiting ticket's wait is over (the customer answered, the approvals are decided):
    it goes to ``status`` (guarded as ``ticket.resume``). Nothing happens unless it waits."""
    if ticket["status"] == "waiting":
        transition(ctx, ticket, status, action="ticket.resume", reason=reason)


def wait_in_tx(ctx: Context, ticket: Row, waiting_for: WaitingFor) -> None:
    """The ticket waits for the customer or for an approval (guarded as ``ticket.wait``)."""
    transition(ctx, ticket, "waiting", action="ticket.wait", waiting_for=waiting_for)


def followup_in_tx(ctx: Context, ticket: Row, mail: ParsedMail, *, resume: bool = True) -> None:
    """A customer's mail joins an open ticket: kept as an article, its sender a participant;
    a ticket waiting for the customer goes back to work (``resume``)."""
    add_inbound_mail(ctx, ticket, mail)
    add_participant(ctx.store, int(ticket["id"]), mail.from_addr, "participant")
    if resume and ticket["status"] == "waiting" and ticket.get("waiting_for") != "approval":
        # The customer answered: work goes on (or waits for an agent again).
        status: TicketStatus = "in_progress" if ticket["assignee_id"] else "new"
        resume_in_tx(ctx, ticket, status, "the customer answered")
    else:
        touch(ctx.store, ticket)
    record(
        ctx,
        ticket,
        "mail_followup",
        sender=mail.from_addr,
        **({"skipped_attachments": mail.skipped_attachments} if mail.skipped_attachments else {}),
    )
    announce(ctx, "mail.followup", ticket, sender=mail.from_addr)


# -- open ----------------------------------------------------------------------------------------
@dataclass
class OpenRequest:
    """Everything a new ticket is made from (CLI, bulk file or inbound mail)."""

    contact: str
    subject: str
    body: str = ""
    channel: Channel | str = "email"
    impact: Impact | str = "single_user"
    priority: str = "normal"
    external_id: str | None = None
    notify: bool = True
    name: str = ""
    message_id: str | None = None
    cc: Sequence[str] = ()
    attachments: Sequence[tuple[str, str, bytes]] = ()
    body_html: str | None = None
    assignee: str | None = None
    linked_from: Row | None = None
    first_article: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        self.subject = _one_line(self.subject)
        if not self.subject:
            raise UsageError("a ticket needs a subject that describes the problem")
        choice(self.channel, CHANNELS, "channel")
        choice(self.impact, IMPACTS, "impact")
        choice(self.priority, PRIORITIES, "priority")
        if self.external_id is not None:
            self.external_id = _one_line(self.external_id) or None


def _one_line(text: str) -> str:
    """:func:`hdcli.util.one_line`, without its regular expression for the usual printable text
    (``isprintable`` is False for every control character): bulk open validates every row."""
    return text.strip() if text.isprintable() else one_line(text)


@dataclass
class Opened:
    ticket: Row
    created: bool


def _number_format(ctx: Context) -> Any:
    """The configured number format; ConfigError (never quarantined mail) when unknown."""
    from hdcli.numbers import number_format
    from hdcli.plugins import number_formats

    name = str(ctx.config.get("tickets.number_format"))
    known = number_formats.names()
    if name not in known:
        raise ConfigError(
            f"tickets.number_format: unknown {number_formats.kind} {name!r} "
            f"(known: {', '.join(known)})"
        )
    return number_format(name)


def _system_id(ctx: Context) -> str:
    sid = str(ctx.config.get("tickets.system_id"))
    if not (len(sid) == 2 and sid.isascii() and sid.isdigit()):
        raise ConfigError(f'tickets.system_id: expected two digits such as "10", not {sid!r}')
    return sid


def open_ticket(ctx: Context, req: OpenRequest) -> Opened:
    """Open one ticket (its own transaction); see :func:`open_in_tx`."""
    with change(ctx):
        opened = open_in_tx(ctx, req)
    return opened


@dataclass
class BulkState:
    """What the rows of one :func:`open_many` batch share inside its transaction: the contract
    gate's answers, the tickets of the batch's external ids and the batch's contacts (each read
    with one query for the whole batch), the number format. ``isolated`` False: the rows were
    checked beforehand and run without a savepoint each (an error undoes the whole batch)."""

    gate: dict[str, Any] = field(default_factory=dict)
    tickets: dict[str, Row | None] = field(default_factory=dict)
    contacts: dict[str, Row] | None = None
    numbering: tuple[Any, str] | None = None
    isolated: bool = True
    #: Numbers reserved for the tickets a checked batch creates, in order (one counter write).
    numbers: list[str] = field(default_factory=list)


def _requester(
    ctx: Context, key: str, gate_cache: dict[str, Any] | None, bulk: BulkState | None
) -> customers.Requester:
    """The contract gate for the normalised address ``key`` (Refused when it says no)."""
    cached: customers.Requester | None = gate_cache.get(key) if gate_cache is not None else None
    if cached is not None:
        return cached
    contacts = bulk.contacts if bulk is not None else None
    requester, reason = customers.find_requester(ctx.store, key, ctx.today(), contacts)
    if requester is None:
        raise Refused(f"{key}: {reason}; not opened")
    if gate_cache is not None:
        gate_cache[key] = requester
    return requester


def open_in_tx(
    ctx: Context,
    req: OpenRequest,
    gate_cache: dict[str, Any] | None = None,
    bulk: BulkState | None = None,
) -> Opened:
    """Open a ticket inside the caller's transaction.

    The requester must be a contact (or an address of a mail domain) of an organisation with a
    contract valid today; anyone else is refused and nothing of theirs is stored. With an
    ``external_id`` that exists, the existing ticket is returned (``created`` False).
    ``bulk``: the batch's shared reads (:class:`BulkState`), from :func:`open_many` only.
    """
    store = ctx.store
    req.validate()
    if bulk is not None and gate_cache is None:
        gate_cache = bulk.gate
    if req.external_id:
        if bulk is not None and req.external_id in bulk.tickets:
            existing = bulk.tickets[req.external_id]
        else:
            existing = ticket_repo.by_external_id(store, req.external_id)
        if existing is not None:
            return Opened(existing, False)
    key = norm_email(req.contact)
    requester = _requester(ctx, key, gate_cache, bulk)
    guard(ctx, "ticket.open", None, contact=key, subject=req.subject, channel=req.channel)
    contact = customers.ensure_contact(store, requester, req.name, ctx.actor)
    assignee_id = None
    if req.assignee:
        agent = customer_repo.active_agent(store, req.assignee)
        assignee_id = agent["id"] if agent else None
    now = now_iso()
    ticket: Row = {
        "number": None,
        "subject": req.subject,
        "org_id": requester.org["id"],
        "contract_id": requester.contract["id"],
        "requester_id": contact["id"],
        "channel": req.channel,
        "impact": req.impact,
        "priority": req.priority,
        "status": "new",
        "waiting_for": None,
        "assignee_id": None,
        "routed_to_id": assignee_id,
        "external_id": req.external_id,
        "linked_from_id": req.linked_from["id"] if req.linked_from else None,
        "billable_override": None,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
    }
    if bulk is None:
        fmt, sid = _number_format(ctx), _system_id(ctx)
    else:
        if bulk.numbering is None:
            bulk.numbering = (_number_format(ctx), _system_id(ctx))
        fmt, sid = bulk.numbering
    if bulk is not None and not bulk.isolated:
        # A checked batch: a unique violation (another writer's external id) aborts the
        # batch, which open_many runs again row by row.
        ticket["number"] = (
            bulk.numbers.pop() if bulk.numbers else fmt.allocate(store, 1, ctx.today(), sid)[0]
        )
        ticket["id"] = ticket_repo.insert(store, ticket)
    else:
        try:
            # Two processes may open one external id at once: both found nothing above, and
            # on PostgreSQL the later insert fails (SQLite's write lock rules that out). The
            # savepoint undoes its row and its number; the other's ticket is the answer.
            # (Without an external id there is no twin: an error is the caller's to undo.)
            with store.savepoint() if req.external_id else nullcontext():
                ticket["number"] = fmt.allocate(store, 1, ctx.today(), sid)[0]
                ticket["id"] = ticket_repo.insert(store, ticket)
        except store.IntegrityError as exc:
            twin = None
            if req.external_id and store.is_unique_violation(exc):
                twin = ticket_repo.by_external_id(store, req.external_id)
            if twin is None:
                raise
            return Opened(twin, False)
    if bulk is not None and req.external_id:
        bulk.tickets[req.external_id] = ticket  # a later row of the batch with this id
    if req.first_article:
        _first_article(ctx, ticket, req, key)
    add_participant(store, int(ticket["id"]), key, "requester")
    if req.linked_from:
        ticket_repo.link(store, ticket["id"], req.linked_from["id"], "follow_up_of")
    record(
        ctx,
        ticket,
        "opened",
        channel=req.channel,
        requester=key,
        impact=req.impact,
        **({"linked_from": req.linked_from["number"]} if req.linked_from else {}),
    )
    if req.notify:
        send_mail(
            ctx,
            ticket,
            "acknowledgement",
            automatic=True,
            reply_to_customer=req.message_id is not None,
            people=(contact, requester.org),
            # its first article is the only mail of the ticket: the thread needs no read
            thread=(req.message_id, [req.message_id])
            if req.message_id and req.first_article
            else None,
            old_number=req.linked_from["number"] if req.linked_from else None,
        )
    announce(ctx, "ticket.opened", ticket, requester=key, channel=req.channel)
    return Opened(ticket, True)


def _first_article(ctx: Context, ticket: Row, req: OpenRequest, key: str) -> None:
    """The request's text as the new ticket's first article."""
    store = ctx.store
    add_article(
        store,
        ticket,
        kind=ARTICLE_OF_CHANNEL[req.channel],
        direction="in",
        sender=key,
        cc=", ".join(req.cc),
        subject=req.subject,
        body=req.body,
        body_html=req.body_html,
        message_id=req.message_id,
        created_by=ctx.actor,
        attachments=req.attachments,
    )


@dataclass
class BulkResult:
    line: int
    number: str | None
    created: bool
    error: str | None


#: Requests per transaction in :func:`open_many`: big enough that commits vanish, small enough
#: that a batch holds the write lock for well under a second.
BULK_BATCH = 500


def open_many(
    ctx: Context,
    requests: Iterable[tuple[int, OpenRequest | Exception]],
    batch: int = BULK_BATCH,
) -> Iterator[BulkResult]:
    """Open many tickets through :func:`open_in_tx`, one transaction per ``batch`` requests.

    Every row gets exactly what one ``hdcli open`` gives: the contract gate, the plugins'
    guards, an ``external_id`` that exists (in the store or earlier in the input) returns that
    ticket (``created`` False), the acknowledgement under the same rules. A refused row is
    undone alone and does not stop the rest. An item that is an exception (a row that could
    not be read) comes back as that row's error.
    Yields one result per input item, in input order, each batch after its commit.

    A batch reads the tickets of its external ids and its contacts with one query each, and
    checks every row (its fields and the contract gate) before writing. A batch whose rows all
    pass runs without a savepoint per row; a batch with a row that fails, there or later (a
    plugin's veto), runs (again) with a savepoint per row, so only that row is undone.
    """
    chunk: list[tuple[int, OpenRequest | Exception]] = []
    for item in requests:
        chunk.append(item)
        if len(chunk) >= batch:
            yield from _open_batch(ctx, chunk)
            chunk = []
    if chunk:
        yield from _open_batch(ctx, chunk)


class _RowFailed(Exception):
    """A row of a checked batch failed after all: run the batch row by row."""


def _prepare(ctx: Context, reqs: list[OpenRequest], isolated: bool) -> BulkState:
    """The batch's shared reads; with ``isolated`` False, raises _RowFailed unless every
    row passes its checks (fields, contract gate)."""
    store = ctx.store
    bulk = BulkState(isolated=isolated)
    xids: list[str] = []
    keys: list[str] = []
    for req in reqs:
        try:
            req.validate()
        except (UsageError, NotFound):
            if not isolated:
                raise _RowFailed from None
            continue
        if req.external_id:
            xids.append(req.external_id)
        keys.append(norm_email(req.contact))
    if xids:
        found = ticket_repo.by_external_ids(store, xids)
        bulk.tickets = {x: found.get(x) for x in xids}
    bulk.contacts = customer_repo.contacts_by_email(store, keys)
    if not isolated:
        new = 0
        seen: set[str] = set()
        for req in reqs:
            if req.external_id:
                if bulk.tickets.get(req.external_id) is not None or req.external_id in seen:
                    continue  # the existing ticket is the answer, whoever asks
                seen.add(req.external_id)
            try:
                _requester(ctx, norm_email(req.contact), bulk.gate, bulk)
            except Refused:
                raise _RowFailed from None
            new += 1
        if new:
            fmt, sid = bulk.numbering = (_number_format(ctx), _system_id(ctx))
            bulk.numbers = fmt.allocate(store, new, ctx.today(), sid)[::-1]  # pop() takes the next
    return bulk


def _writes_of(store: SqlStorage, isolated: bool) -> AbstractContextManager[Any]:
    """A checked batch sends its history and participant rows with one ``executemany`` each
    (:meth:`~hdcli.backends.base.SqlStorage.deferred_writes`); row by row, each row's go with
    it."""
    return nullcontext() if isolated else store.deferred_writes()


def _open_batch(ctx: Context, items: list[tuple[int, OpenRequest | Exception]]) -> list[BulkResult]:
    """One batch in one transaction: first without savepoints, then, if a row failed or a
    unique violation (another writer created the same external id meanwhile, on backends that
    do not serialise writers) came between, again with a savepoint per row (a unique violation
    there retries it once more)."""
    reqs = [item for _, item in items if not isinstance(item, Exception)]
    for attempt, isolated in enumerate((False, True, True)):
        results: list[BulkResult] = []
        try:
            with change(ctx) as store, _writes_of(store, isolated):
                bulk = _prepare(ctx, reqs, isolated)
                for line, item in items:
                    if isinstance(item, Exception):
                        results.append(BulkResult(line, None, False, str(item)))
                        continue
                    if not isolated:
                        try:
                            opened = open_in_tx(ctx, item, bulk=bulk)
                        except (Refused, UsageError, NotFound):
                            raise _RowFailed from None
                    else:
                        try:
                            with store.savepoint():
                                opened = open_in_tx(ctx, item, bulk=bulk)
                        except (Refused, UsageError, NotFound) as exc:
                            bulk.gate.clear()  # what the undone row read may be gone with it
                            bulk.contacts = None
                            if item.external_id:
                                bulk.tickets.pop(item.external_id, None)
                            results.append(BulkResult(line, None, False, str(exc)))
                            continue
                    results.append(
                        BulkResult(line, str(opened.ticket["number"]), opened.created, None)
                    )
                if bulk.numbers:
                    raise _RowFailed  # fewer tickets than checked for: no number is left unused
            return results
        except _RowFailed:
            continue
        except Exception as exc:
            if attempt == 2 or not ctx.store.is_unique_violation(exc):
                raise
    raise AssertionError("unreachable")


# -- work ----------------------------------------------------------------------------------------
def _agent_of_actor(store: SqlStorage, actor: str) -> Row | None:
    return customer_repo.active_agent(store, actor)


def assign(
    ctx: Context,
    number: str,
    login: str,
    start_work: bool = False,
    override: bool = False,
    reason: str | None = None,
) -> Row:
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "assign", OPEN, " (use `hdcli reopen` first)")
        agent = customers.get_agent(store, login)
        if not agent["active"]:
            raise Refused(f"agent {login} is inactive")
        if ticket["status"] == "new":
            transition(ctx, ticket, "assigned", action="ticket.assign", assignee=login)
        else:
            guard(ctx, "ticket.assign", ticket, assignee=login)
        touch(store, ticket, assignee_id=agent["id"])
        record(ctx, ticket, "assigned", assignee=login)
        announce(ctx, "ticket.assigned", ticket, assignee=login)
        if start_work:
            _start(ctx, ticket, agent, override, reason)
    return ticket


def start(ctx: Context, number: str, override: bool = False, reason: str | None = None) -> Row:
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        agent = None
        if ticket["assignee_id"] is not None:
            agent = customer_repo.agent(store, ticket["assignee_id"])
        else:
            agent = _agent_of_actor(store, ctx.actor)
            if agent is None:
                raise Refused(
                    f"ticket {number} has no assignee: `hdcli assign {number} --to LOGIN "
                    "--start`, or start it as an agent (--as LOGIN)"
                )
            touch(store, ticket, assignee_id=agent["id"])
            record(ctx, ticket, "assigned", assignee=agent["login"])
        assert agent is not None
        _start(ctx, ticket, agent, override, reason)
    return ticket


def _start(ctx: Context, ticket: Row, agent: Row, override: bool, reason: str | None) -> None:
    """Start work: guarded as ``ticket.start`` with ``override`` and ``reason`` in its data
    (the approval gate of the contract reads them)."""
    require(
        ticket,
        "start",
        ("new", "assigned", "waiting"),
        " (use `hdcli reopen` first)" if ticket["status"] == "closed" else "",
    )
    if override and not (reason or "").strip():
        raise UsageError("--override needs --reason")
    first_start = not has_started(ctx.store, ticket)
    transition(
        ctx,
        ticket,
        "in_progress",
        action="ticket.start",
        agent=agent["login"],
        override=override,
        reason=reason,
    )
    record(ctx, ticket, "started", agent=agent["login"])
    if first_start:
        send_mail(
            ctx,
            ticket,
            "started",
            automatic=True,
            reply_to_customer=True,
            agent={"name": agent["name"], "login": agent["login"]},
        )
    announce(ctx, "ticket.started", ticket, agent=agent["login"])


def check_entry_minutes(ctx: Context, minutes: int, *, force: bool = False) -> None:
    """The one check of a single time entry's length (``log``, ``reply --time``, ``note
    --time``, ``time edit``): positive, and at most ``time.max_entry`` unless ``force``."""
    from hdcli.durations import format_minutes, parse_duration

    if minutes <= 0:
        raise UsageError("a time entry needs a positive duration")
    limit = parse_duration(str(ctx.config.get("time.max_entry")))
    if minutes > limit and not force:
        raise Refused(
            f"a single time entry of {format_minutes(minutes)} is more than time.max_entry "
            f"({format_minutes(limit)}): split it, or give --force if it is right"
        )


def _time_entry(
    ctx: Context,
    ticket: Row,
    minutes: int,
    *,
    note: str = "",
    work_date: date | None = None,
    activity: Activity | str = "other",
    billable: bool = True,
    force: bool = False,
) -> int:
    """Record time worked on ``ticket``, guarded as ``ticket.log`` (with ``force`` in its data:
    the lock of time whose service report is approved reads it)."""
    store = ctx.store
    check_entry_minutes(ctx, minutes, force=force)
    choice(activity, ACTIVITIES, "activity")
    guard(ctx, "ticket.log", ticket, minutes=minutes, activity=activity, force=force)
    agent = _agent_of_actor(store, ctx.actor)
    if agent is None and ticket["assignee_id"] is not None:
        agent = customer_repo.agent(store, ticket["assignee_id"])
    entry_id = time_repo.insert(
        store,
        {
            "ticket_id": ticket["id"],
            "agent_id": agent["id"] if agent else None,
            "work_date": (work_date or ctx.today()).isoformat(),
            "minutes": minutes,
            "activity": activity,
            "note": note,
            "billable": int(billable),
            "created_at": now_iso(),
        },
    )
    record(
        ctx,
        ticket,
        "time_logged",
        minutes=minutes,
        activity=activity,
        billable=billable,
        agent=agent["login"] if agent else None,
    )
    return entry_id


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
    """Mail ``body`` (with ``attachments``, kept on the article too) to the requester; with
    ``answer`` the canned answer of that name, rendered for the ticket in its organisation's
    language, comes first. Refused (exit 4) when the attachments together exceed
    ``mail.max_outbound_attachments_size``."""
    if not body.strip() and not answer:
        raise UsageError("a reply needs a text (-m, --body-file or --answer)")
    cap = int(ctx.config.get("mail.max_outbound_attachments_size"))
    total = sum(len(a.data) for a in attachments)
    if total > cap:
        raise Refused(
            f"attachments of {total} bytes exceed mail.max_outbound_attachments_size ({cap})"
        )
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "reply", OPEN, " (use `hdcli reopen` first)")
        guard(ctx, "ticket.reply", ticket, body=body)
        agent = _agent_of_actor(store, ctx.actor) or (
            customer_repo.agent(store, ticket["assignee_id"]) if ticket["assignee_id"] else None
        )
        sender = {
            "name": agent["name"] if agent else str(ctx.config.get("mail.from_name")),
            "login": agent["login"] if agent else "",
        }
        if answer:
            from hdcli.articles import template_context
            from hdcli.templates import render_answer

            tctx = template_context(ctx, ticket, agent=sender)
            canned = render_answer(ctx.config, answer, tctx["language"], tctx).strip("\n")
            body = canned + ("\n\n" + body if body.strip() else "")
        from hdcli.templates import signature

        signed = signature(ctx.config, sender["login"])
        if signed:
            body = body.rstrip("\n") + "\n\n-- \n" + signed + "\n"
        send_mail(
            ctx,
            ticket,
            "reply",
            automatic=False,
            reply_to_customer=True,
            attachments=tuple(attachments),
            body=body,
            agent=sender,
        )
        if minutes:
            # the entry says what was done: the reply's first line, in its own words
            first = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
            _time_entry(ctx, ticket, minutes, note=one_line(first)[:200], force=force)
        if wait:
            wait_in_tx(ctx, ticket, "customer")
        else:
            touch(store, ticket)
        record(ctx, ticket, "replied", minutes=minutes)
        announce(ctx, "ticket.replied", ticket)
    return ticket


def note(
    ctx: Context,
    number: str,
    text: str,
    minutes: int | None = None,
    kind: str = "note",
    *,
    force: bool = False,
) -> Row:
    """An internal or phone note, with ``minutes`` of time (above ``time.max_entry`` only with
    ``force``)."""
    if not text.strip():
        raise UsageError("a note needs a text (-m)")
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        if minutes:  # time on a closed ticket needs a reopen; an internal note does not
            require(ticket, "note --time", OPEN, " (use `hdcli reopen` first)")
        guard(ctx, "ticket.note", ticket, text=text)
        add_article(
            store,
            ticket,
            kind="phone" if kind == "phone" else "note",
            direction="internal",
            sender=ctx.actor,
            body=text,
            created_by=ctx.actor,
        )
        if minutes:
            _time_entry(
                ctx,
                ticket,
                minutes,
                note=text[:200],
                activity="phone" if kind == "phone" else "other",
                force=force,
            )
        touch(store, ticket)
        record(ctx, ticket, "noted", kind=kind, minutes=minutes)
        announce(ctx, "ticket.noted", ticket, kind=kind)
    return ticket


def log_time(
    ctx: Context,
    number: str,
    minutes: int,
    *,
    note: str = "",
    work_date: date | None = None,
    activity: str = "other",
    billable: bool = True,
    force: bool = False,
) -> Row:
    """Record time worked; time of a ticket whose service report is approved needs ``force``."""
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "log", OPEN, " (use `hdcli reopen` first)")
        _time_entry(
            ctx,
            ticket,
            minutes,
            note=note,
            work_date=work_date,
            activity=activity,
            billable=billable,
            force=force,
        )
        touch(store, ticket)
        announce(ctx, "ticket.time_logged", ticket, minutes=minutes, billable=billable)
    return ticket


@dataclass
class Edit:
    """What ``hdcli edit`` changes (None: unchanged)."""

    subject: str | None = None
    impact: str | None = None
    requester: str | None = None
    contract: str | None = None
    priority: str | None = None


def edit(
    ctx: Context, number: str, fields: Edit, *, force: bool = False, reason: str | None = None
) -> Row:
    """Correct a ticket's subject, impact, requester (a contact of its organisation), contract
    (of its organisation) or priority, recorded as old → new. A contract change is guarded as
    ``ticket.edit`` with ``contract`` in its data (the billing feature refuses it once the
    service report is approved, unless ``force``; ``force`` needs a ``reason``)."""
    if force and not (reason or "").strip():
        raise UsageError("--force needs --reason (it is recorded in the history)")
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        names = ticket_repo.names(store, ticket["id"]) or {}
        cols: dict[str, Any] = {}
        changes: dict[str, list[Any]] = {}
        if fields.subject is not None:
            subject = _one_line(fields.subject)
            if not subject:
                raise UsageError("a ticket needs a subject that describes the problem")
            if subject != ticket["subject"]:
                cols["subject"] = subject
                changes["subject"] = [ticket["subject"], subject]
        for name, allowed in (("impact", IMPACTS), ("priority", PRIORITIES)):
            value = getattr(fields, name)
            if value is not None:
                choice(value, allowed, name)
                if value != ticket[name]:
                    cols[name] = value
                    changes[name] = [ticket[name], value]
        if fields.requester is not None:
            email = norm_email(fields.requester)
            contact = customer_repo.contact_by_email(store, email)
            if contact is None or contact["org_id"] != ticket["org_id"]:
                raise Refused(
                    f"{email} is not a contact of the ticket's organisation "
                    f"{names.get('org')} (see `hdcli contact list`)"
                )
            if contact["id"] != ticket["requester_id"]:
                cols["requester_id"] = contact["id"]
                changes["requester"] = [names.get("req_email"), email]
        if fields.contract is not None:
            contract = customer_repo.contract_by_number(store, fields.contract.strip())
            if contract is None or contract["org_id"] != ticket["org_id"]:
                raise Refused(
                    f"{fields.contract.strip()} is not a contract of the ticket's organisation "
                    f"{names.get('org')} (see `hdcli contract list`)"
                )
            if contract["id"] != ticket["contract_id"]:
                cols["contract_id"] = contract["id"]
                changes["contract"] = [names.get("contract"), contract["number"]]
        if not changes:
            return ticket
        data: dict[str, Any] = {k: v[1] for k, v in changes.items()}
        guard(ctx, "ticket.edit", ticket, force=force, reason=reason, **data)
        if "requester" in changes:
            add_participant(store, int(ticket["id"]), changes["requester"][1], "requester")
        touch(store, ticket, **cols)
        if "subject" in changes or "requester" in changes:
            _reindex(store, ticket)
        extra = {"forced": True, "reason": reason} if force else {}
        record(ctx, ticket, "edited", changes=changes, **extra)
        announce(ctx, "ticket.edited", ticket, **data)
    return ticket


def _reindex(store: SqlStorage, *tickets: Row) -> None:
    """The search index follows a change of the tickets' text (in the change's transaction)."""
    from hdcli.search import refresh

    refresh(store, [int(t["id"]) for t in tickets])


#: ``hdcli link A B --kind K`` as stored on A: B relates to A, is A's parent, A duplicates B.
LINK_KINDS = {"relates": "relates_to", "parent": "parent", "duplicate": "duplicate_of"}


def link(ctx: Context, number: str, other: str, kind: str = "relates") -> Row:
    """Link ticket ``number`` to ``other`` (both guarded as ``ticket.link``; the billing
    feature refuses it while a service report of either is approved); recorded on both."""
    choice(kind, tuple(LINK_KINDS), "link kind")
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        target = get_ticket(store, other)
        if ticket["id"] == target["id"]:
            raise UsageError("a ticket cannot be linked to itself")
        if ticket_repo.linked(store, ticket["id"], target["id"]):
            raise Refused(f"tickets {ticket['number']} and {target['number']} are linked already")
        for one, peer in ((ticket, target), (target, ticket)):
            guard(ctx, "ticket.link", one, other=peer["number"], kind=kind)
        ticket_repo.link(store, ticket["id"], target["id"], LINK_KINDS[kind])
        record(ctx, ticket, "linked", other=target["number"], kind=kind)
        record(ctx, target, "linked", other=ticket["number"], kind=kind, side="target")
        announce(ctx, "ticket.linked", ticket, other=target["number"], kind=kind)
    return ticket


def merge(ctx: Context, number: str, into: str) -> Row:
    """Merge ticket ``number`` into ``into``: its articles, time entries and participants move
    to ``into``; it is closed as merged (no service report: it has no time left) with a
    pointer that mail naming its number follows. Both must be open tickets of one
    organisation; both are guarded as ``ticket.merge`` (the billing feature refuses it while a
    service report of either is approved). Returns the target."""
    with change(ctx) as store:
        source = get_ticket(store, number)
        target = get_ticket(store, into)
        if source["id"] == target["id"]:
            raise UsageError("a ticket cannot be merged into itself")
        for one in (source, target):
            require(one, "merge", OPEN, " (use `hdcli reopen` first)")
        if source["org_id"] != target["org_id"]:
            raise Refused(
                f"tickets {source['number']} and {target['number']} belong to different "
                "organisations: they cannot be merged"
            )
        guard(ctx, "ticket.merge", target, source=source["number"], into=target["number"])
        transition(ctx, source, "closed", action="ticket.merge", into=target["number"])
        article_repo.move(store, int(source["id"]), int(target["id"]))
        time_repo.move(store, int(source["id"]), int(target["id"]))
        ticket_repo.move_participants(store, int(source["id"]), int(target["id"]))
        touch(store, source, merged_into_id=target["id"])
        touch(store, target)
        _reindex(store, source, target)
        record(ctx, source, "merged", into=target["number"])
        record(ctx, target, "merged_in", source=source["number"])
        announce(ctx, "ticket.merged", source, into=target["number"])
    return target


def split(ctx: Context, number: str, article_ids: Sequence[int], subject: str | None = None) -> Row:
    """A new ticket (same organisation, contract, requester, channel and impact) for some of
    ``number``'s articles, which move to it: a mail that mixed two problems. Guarded as
    ``ticket.split`` (the billing feature refuses it while the service report is approved);
    recorded on both. Returns the new ticket."""
    ids = list(dict.fromkeys(int(i) for i in article_ids))
    if not ids:
        raise UsageError("name the articles to split off (--article ID, see `hdcli show --json`)")
    with change(ctx) as store:
        source = get_ticket(store, number)
        require(source, "split", OPEN, " (use `hdcli reopen` first)")
        own = article_repo.ids_of(store, int(source["id"]))
        foreign = [i for i in ids if i not in own]
        if foreign:
            raise NotFound(
                f"ticket {source['number']} has no article {', '.join(map(str, foreign))}"
            )
        if len(ids) == len(own):
            raise Refused("splitting off every article leaves nothing behind: keep the ticket")
        guard(ctx, "ticket.split", source, articles=ids)
        requester = customer_repo.contact(store, source["requester_id"])
        assert requester is not None
        opened = open_in_tx(
            ctx,
            OpenRequest(
                str(requester["email"]),
                subject if subject is not None else str(source["subject"]),
                channel=source["channel"],
                impact=source["impact"],
                notify=False,
                first_article=False,
            ),
        )
        new = opened.ticket
        touch(store, new, contract_id=source["contract_id"])
        article_repo.move_ids(store, ids, int(new["id"]))
        touch(store, source)
        _reindex(store, source, new)
        record(ctx, source, "split", into=new["number"], articles=ids)
        record(ctx, new, "split_from", source=source["number"], articles=ids)
        announce(ctx, "ticket.split", source, into=new["number"])
    return new


def close(ctx: Context, number: str, reason: str | None = None, notify: bool = True) -> Row:
    """Close a ticket; the ``ticket.closed`` event carries ``notify`` (whether the service
    report is mailed: the billing feature makes the report inside the same transaction)."""
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "close", OPEN, "")
        transition(ctx, ticket, "closed", action="ticket.close", reason=reason)
        record(ctx, ticket, "closed", reason=reason)
        announce(ctx, "ticket.closed", ticket, reason=reason, notify=notify)
    return ticket


def reopen(ctx: Context, number: str, reason: str | None = None) -> Row:
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        reopen_in_tx(ctx, ticket, reason)
    return ticket
