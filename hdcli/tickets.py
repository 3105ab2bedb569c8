"""The ticket lifecycle: open, assign, start, reply, note, log, close, reopen, show, list.

Library code: no Typer, no printing. Each change runs in one transaction together with its
history events and the mail it causes (queued in the outbound table); after the commit,
:func:`finish` delivers the queued mail and announces the events to plugins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from hdcli import customers
from hdcli.errors import NotFound, Refused, UsageError
from hdcli.events import Change, TicketEvent
from hdcli.util import norm_email, now_iso, one_line

if TYPE_CHECKING:
    from hdcli.backends.base import Row, SqlStorage
    from hdcli.context import Context
    from hdcli.mail.outbound import OutAttachment

log = logging.getLogger("hdcli.tickets")

STATUSES = ("new", "assigned", "in_progress", "waiting", "closed")
CHANNELS = ("email", "phone", "fax", "web")
IMPACTS = ("single_user", "several_users", "everyone")
ACTIVITIES = ("remote", "onsite", "phone", "other")
OPEN = ("new", "assigned", "in_progress", "waiting")
ARTICLE_KIND = {"email": "mail", "phone": "phone", "fax": "fax", "web": "web"}


# -- plumbing ------------------------------------------------------------------------------------
@contextmanager
def change(ctx: Context) -> Iterator[SqlStorage]:
    """A write transaction; after its commit, queued mail is delivered and events announced."""
    with ctx.store.transaction() as store:
        yield store
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
                log.warning("mail %s stays queued: %s", qid, reason)
            for qid, reason in result.failed:
                log.warning("mail %s failed: %s", qid, reason)
        except Exception as exc:  # never fail a committed change because mail is down
            log.warning("mail stays queued: %s", exc)
    events = [item[1] for item in pending if item[0] == "event"]
    if events:
        from hdcli.plugins import hooks

        for event in events:
            hooks.ticket_event(event, ctx.config)


def guard(ctx: Context, action: str, number: str | None, **data: Any) -> None:
    """Ask plugins whether the change may happen; a veto raises Refused (exit 4)."""
    from hdcli.plugins import hooks

    reason = hooks.guard_change(Change(action, number, ctx.actor, data))
    if reason:
        raise Refused(f"{action} refused: {reason}")


def announce(ctx: Context, event: str, ticket: Row, **data: Any) -> None:
    ctx.after_commit.append(
        (
            "event",
            TicketEvent(
                event,
                ticket["number"],
                ticket["subject"],
                ticket["status"],
                ctx.actor,
                now_iso(),
                data,
            ),
        )
    )


def record(ctx: Context, ticket: Row, action: str, **detail: Any) -> None:
    customers.history(
        ctx.store,
        ctx.actor,
        "ticket",
        ticket["number"],
        action,
        detail,
        ticket_id=int(ticket["id"]),
    )


def get_ticket(store: SqlStorage, number: str) -> Row:
    number = number.strip()
    row = store.query_one("SELECT * FROM tickets WHERE number = ?", (number,))
    if row is None:
        raise NotFound(f"no ticket {number} (see `hdcli list`)")
    return row


def require(ticket: Row, action: str, allowed: Sequence[str], hint: str = "") -> None:
    if ticket["status"] not in allowed:
        raise Refused(
            f"ticket {ticket['number']} is {ticket['status']}: {action} is allowed only when it "
            f"is {' or '.join(allowed)}{hint}"
        )


def set_status(store: SqlStorage, ticket: Row, status: str, **cols: Any) -> None:
    now = now_iso()
    sets = ", ".join(f"{c} = ?" for c in cols)
    sql = f"UPDATE tickets SET status = ?, updated_at = ?{', ' + sets if sets else ''} WHERE id = ?"
    store.execute(sql, (status, now, *cols.values(), ticket["id"]))
    ticket.update(status=status, updated_at=now, **cols)


def template_context(ctx: Context, ticket: Row, **extra: Any) -> dict[str, Any]:
    from hdcli.numbers import subject_tag

    hook = str(ctx.config.get("tickets.subject_hook"))
    requester = (
        ctx.store.query_one(
            "SELECT name, email FROM contacts WHERE id = ?", (ticket["requester_id"],)
        )
        or {}
    )
    org = (
        ctx.store.query_one(
            "SELECT name, language FROM organisations WHERE id = ?", (ticket["org_id"],)
        )
        or {}
    )
    billing = str(ctx.config.get("mail.billing_address") or ctx.config.get("mail.from_address"))
    return {
        "ticket": {
            "number": ticket["number"],
            "subject": ticket["subject"],
            "tag": subject_tag(hook, ticket["number"]),
            "impact": ticket["impact"],
            "status": ticket["status"],
        },
        "requester": {"name": requester.get("name", ""), "email": requester.get("email", "")},
        "org": {"name": org.get("name", "")},
        "language": org.get("language", "de"),
        "helpdesk": {
            "name": str(ctx.config.get("mail.from_name")),
            "address": str(ctx.config.get("mail.from_address")),
            "billing_address": billing,
            "fax": str(ctx.config.get("mail.fax_number")),
        },
        **extra,
    }


def send_mail(
    ctx: Context,
    ticket: Row,
    template: str,
    *,
    to_name: str | None = None,
    to_addr: str | None = None,
    automatic: bool = True,
    reply_to_customer: bool = False,
    attachments: Iterable[OutAttachment] = (),
    article: bool = True,
    **extra: Any,
) -> str | None:
    """Render ``template`` for ``ticket`` and queue it (to the requester unless told otherwise).

    Records an outbound article (so replies thread by In-Reply-To). Returns the Message-ID,
    or None when the daily cap of automatic mails suppressed it.
    """
    from hdcli.mail.outbound import queue
    from hdcli.templates import render

    tctx = template_context(ctx, ticket, **extra)
    to_addr = to_addr or tctx["requester"]["email"]
    to_name = tctx["requester"]["name"] if to_name is None else to_name
    subject, body = render(ctx.config, template, tctx["language"], tctx)
    in_reply_to, refs = thread_headers(ctx.store, ticket) if reply_to_customer else (None, [])
    queued = queue(
        ctx,
        kind=template,
        ticket_id=int(ticket["id"]),
        ticket_number=ticket["number"],
        to_name=to_name,
        to_addr=to_addr,
        subject=subject,
        body=body,
        automatic=automatic,
        in_reply_to=in_reply_to,
        references=refs,
        attachments=attachments,
        # only automatic answers to inbound mail count against the daily cap
        capped=automatic
        and (template == "closed_notice" or (template == "acknowledgement" and bool(in_reply_to))),
    )
    if queued is None:
        record(
            ctx,
            ticket,
            "mail_suppressed",
            template=template,
            to=to_addr,
            reason="daily limit of automatic mails reached",
        )
        return None
    if article:
        add_article(
            ctx.store,
            ticket,
            kind="mail",
            direction="out",
            sender=str(ctx.config.get("mail.from_address")),
            recipients=to_addr,
            subject=subject,
            body=body,
            message_id=queued.message_id,
            in_reply_to=in_reply_to,
            refs=" ".join(refs),
            created_by=ctx.actor,
            attachments=[(a.filename, a.content_type, a.data) for a in attachments],
        )
    return queued.message_id


def thread_headers(store: SqlStorage, ticket: Row) -> tuple[str | None, list[str]]:
    """In-Reply-To (the customer's last mail) and References (the ticket's mails) for a reply."""
    rows = store.query(
        "SELECT message_id, direction FROM articles WHERE ticket_id = ? AND message_id IS NOT NULL "
        "ORDER BY id",
        (ticket["id"],),
    )
    refs = [r["message_id"] for r in rows]
    inbound = [r["message_id"] for r in rows if r["direction"] == "in"]
    return (inbound[-1] if inbound else (refs[-1] if refs else None)), refs


def add_article(
    store: SqlStorage,
    ticket: Row,
    *,
    kind: str,
    direction: str,
    sender: str = "",
    recipients: str = "",
    cc: str = "",
    subject: str = "",
    body: str = "",
    body_html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    refs: str | None = None,
    created_by: str = "",
    attachments: Iterable[tuple[str, str, bytes]] = (),
) -> int:
    article_id = store.insert(
        "articles",
        {
            "ticket_id": ticket["id"],
            "kind": kind,
            "direction": direction,
            "sender": sender,
            "recipients": recipients,
            "cc": cc,
            "subject": subject,
            "body": body,
            "body_html": body_html,
            "message_id": message_id,
            "in_reply_to": in_reply_to,
            "refs": refs,
            "created_by": created_by,
            "created_at": now_iso(),
        },
    )
    atts = [(article_id, name, ctype, len(data), data) for name, ctype, data in attachments]
    if atts:
        store.executemany(
            "INSERT INTO attachments (article_id, filename, content_type, size, content) "
            "VALUES (?, ?, ?, ?, ?)",
            atts,
        )
    return article_id


def add_participant(store: SqlStorage, ticket_id: int, email: str, role: str) -> None:
    store.execute(
        "INSERT INTO ticket_participants (ticket_id, email, role) VALUES (?, ?, ?) "
        "ON CONFLICT (ticket_id, email) DO NOTHING",
        (ticket_id, norm_email(email), role),
    )


# -- open ----------------------------------------------------------------------------------------
@dataclass
class OpenRequest:
    """Everything a new ticket is made from (CLI, bulk file or inbound mail)."""

    contact: str
    subject: str
    body: str = ""
    channel: str = "email"
    impact: str = "single_user"
    external_id: str | None = None
    notify: bool = True
    name: str = ""
    message_id: str | None = None
    cc: Sequence[str] = ()
    attachments: Sequence[tuple[str, str, bytes]] = ()
    body_html: str | None = None
    assignee: str | None = None
    linked_from: Row | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        self.subject = one_line(self.subject)
        if not self.subject:
            raise UsageError("a ticket needs a subject that describes the problem")
        if self.channel not in CHANNELS:
            raise UsageError(f"bad channel {self.channel!r} (allowed: {', '.join(CHANNELS)})")
        if self.impact not in IMPACTS:
            raise UsageError(f"bad impact {self.impact!r} (allowed: {', '.join(IMPACTS)})")
        if self.external_id is not None:
            self.external_id = one_line(self.external_id) or None


@dataclass
class Opened:
    ticket: Row
    created: bool


def _number_format(ctx: Context) -> Any:
    from hdcli.numbers import number_format

    return number_format(str(ctx.config.get("tickets.number_format")))


def _system_id(ctx: Context) -> str:
    sid = str(ctx.config.get("tickets.system_id"))
    if not (sid.isdigit() and len(sid) == 2):
        raise UsageError(f"tickets.system_id must be two digits, not {sid!r}")
    return sid


def open_ticket(ctx: Context, req: OpenRequest) -> Opened:
    """Open one ticket (its own transaction); see :func:`open_in_tx`."""
    with change(ctx):
        opened = open_in_tx(ctx, req)
    return opened


def open_in_tx(
    ctx: Context,
    req: OpenRequest,
    numbers: list[str] | None = None,
    gate_cache: dict[str, Any] | None = None,
) -> Opened:
    """Open a ticket inside the caller's transaction.

    The requester must be a contact (or an address of a mail domain) of an organisation with a
    contract valid today; anyone else is refused and nothing of theirs is stored. With an
    ``external_id`` that exists, the existing ticket is returned (``created`` False).
    """
    store = ctx.store
    req.validate()
    if req.external_id:
        existing = store.query_one(
            "SELECT * FROM tickets WHERE external_id = ?", (req.external_id,)
        )
        if existing is not None:
            return Opened(existing, False)
    key = norm_email(req.contact)
    cached = gate_cache.get(key) if gate_cache is not None else None
    if cached is None:
        requester, reason = customers.find_requester(store, key, ctx.today())
        if requester is None:
            raise Refused(f"{key}: {reason}; not opened")
        if gate_cache is not None:
            gate_cache[key] = requester
    else:
        requester = cached
    guard(ctx, "ticket.open", None, contact=key, subject=req.subject, channel=req.channel)
    contact = customers.ensure_contact(store, requester, req.name, ctx.actor)
    number = (
        numbers.pop()
        if numbers
        else _number_format(ctx).allocate(store, 1, ctx.today(), _system_id(ctx))[0]
    )
    assignee_id = None
    if req.assignee:
        agent = store.query_one(
            "SELECT id FROM agents WHERE login = ? AND active = 1", (req.assignee,)
        )
        assignee_id = agent["id"] if agent else None
    now = now_iso()
    ticket: Row = {
        "number": number,
        "subject": req.subject,
        "org_id": requester.org["id"],
        "contract_id": requester.contract["id"],
        "requester_id": contact["id"],
        "channel": req.channel,
        "impact": req.impact,
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
    ticket["id"] = store.insert("tickets", ticket)
    add_article(
        store,
        ticket,
        kind=ARTICLE_KIND[req.channel],
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
    add_participant(store, int(ticket["id"]), key, "requester")
    if req.linked_from:
        store.execute(
            "INSERT INTO ticket_links (ticket_id, other_id, kind) VALUES (?, ?, ?)",
            (ticket["id"], req.linked_from["id"], "follow_up_of"),
        )
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
            old_number=req.linked_from["number"] if req.linked_from else None,
        )
    announce(ctx, "ticket.opened", ticket, requester=key, channel=req.channel)
    return Opened(ticket, True)


@dataclass
class BulkResult:
    line: int
    number: str | None
    created: bool
    error: str | None


def open_many(
    ctx: Context, requests: Iterable[tuple[int, OpenRequest | Exception]], batch: int = 500
) -> Iterator[BulkResult]:
    """Open many tickets, one transaction per batch; a refused row does not stop the rest.

    Numbers are reserved in blocks; the results come back in input order.
    """
    store = ctx.store
    chunk: list[tuple[int, OpenRequest | Exception]] = []
    gate_cache: dict[str, Any] = {}
    fmt = _number_format(ctx)
    sid = _system_id(ctx)

    def run(items: list[tuple[int, OpenRequest | Exception]]) -> list[BulkResult]:
        out: list[BulkResult] = []
        wanted = sum(1 for _, r in items if isinstance(r, OpenRequest))
        with change(ctx):
            numbers = fmt.allocate(store, wanted, ctx.today(), sid) if wanted else []
            numbers.reverse()
            for line, req in items:
                if isinstance(req, Exception):
                    out.append(BulkResult(line, None, False, str(req)))
                    continue
                try:
                    with store.transaction():  # joins the batch transaction
                        opened = open_in_tx(ctx, req, numbers, gate_cache)
                    out.append(BulkResult(line, opened.ticket["number"], opened.created, None))
                except (Refused, UsageError, NotFound) as exc:
                    out.append(BulkResult(line, None, False, str(exc)))
        return out

    for item in requests:
        chunk.append(item)
        if len(chunk) >= batch:
            yield from run(chunk)
            chunk = []
    if chunk:
        yield from run(chunk)


# -- work ----------------------------------------------------------------------------------------
def _agent_of_actor(store: SqlStorage, actor: str) -> Row | None:
    return store.query_one("SELECT * FROM agents WHERE login = ? AND active = 1", (actor,))


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
        guard(ctx, "ticket.assign", number, assignee=login)
        status = ticket["status"] if ticket["status"] in ("in_progress", "waiting") else "assigned"
        set_status(store, ticket, status, assignee_id=agent["id"])
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
            agent = store.query_one("SELECT * FROM agents WHERE id = ?", (ticket["assignee_id"],))
        else:
            agent = _agent_of_actor(store, ctx.actor)
            if agent is None:
                raise Refused(
                    f"ticket {number} has no assignee: `hdcli assign {number} --to LOGIN "
                    "--start`, or start it as an agent (--as LOGIN)"
                )
            set_status(store, ticket, ticket["status"], assignee_id=agent["id"])
            record(ctx, ticket, "assigned", assignee=agent["login"])
        assert agent is not None
        _start(ctx, ticket, agent, override, reason)
    return ticket


def _start(ctx: Context, ticket: Row, agent: Row, override: bool, reason: str | None) -> None:
    from hdcli.approvals import check_start

    store = ctx.store
    require(
        ticket,
        "start",
        ("new", "assigned", "waiting"),
        " (use `hdcli reopen` first)" if ticket["status"] == "closed" else "",
    )
    check_start(ctx, ticket, override=override, reason=reason)
    guard(ctx, "ticket.start", ticket["number"], agent=agent["login"])
    first_start = not store.query_one(
        "SELECT 1 AS x FROM history WHERE ticket_id = ? AND action = 'started' LIMIT 1",
        (ticket["id"],),
    )
    set_status(store, ticket, "in_progress", waiting_for=None)
    record(ctx, ticket, "started", agent=agent["login"])
    if first_start:
        send_mail(
            ctx,
            ticket,
            "started",
            automatic=True,
            agent={"name": agent["name"], "login": agent["login"]},
        )
    announce(ctx, "ticket.started", ticket, agent=agent["login"])


def _time_entry(
    ctx: Context,
    ticket: Row,
    minutes: int,
    *,
    note: str = "",
    work_date: date | None = None,
    activity: str = "other",
    billable: bool = True,
    force: bool = False,
) -> int:
    from hdcli.approvals import check_time_change

    store = ctx.store
    if minutes <= 0:
        raise UsageError("a time entry needs a positive duration")
    if activity not in ACTIVITIES:
        raise UsageError(f"bad activity {activity!r} (allowed: {', '.join(ACTIVITIES)})")
    check_time_change(ctx, ticket, force=force)
    agent = _agent_of_actor(store, ctx.actor)
    if agent is None and ticket["assignee_id"] is not None:
        agent = store.query_one("SELECT * FROM agents WHERE id = ?", (ticket["assignee_id"],))
    entry_id = store.insert(
        "time_entries",
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
    ctx: Context, number: str, body: str, minutes: int | None = None, wait: bool = True
) -> Row:
    if not body.strip():
        raise UsageError("a reply needs a text (-m or --body-file)")
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "reply", OPEN, " (use `hdcli reopen` first)")
        guard(ctx, "ticket.reply", number, body=body)
        agent = _agent_of_actor(store, ctx.actor) or (
            store.query_one("SELECT * FROM agents WHERE id = ?", (ticket["assignee_id"],))
            if ticket["assignee_id"]
            else None
        )
        send_mail(
            ctx,
            ticket,
            "reply",
            automatic=False,
            reply_to_customer=True,
            body=body,
            agent={
                "name": agent["name"] if agent else str(ctx.config.get("mail.from_name")),
                "login": agent["login"] if agent else "",
            },
        )
        if minutes:
            _time_entry(ctx, ticket, minutes, note="reply")
        if wait:
            set_status(store, ticket, "waiting", waiting_for="customer")
        else:
            set_status(store, ticket, ticket["status"])
        record(ctx, ticket, "replied", minutes=minutes)
        announce(ctx, "ticket.replied", ticket)
    return ticket


def note(
    ctx: Context, number: str, text: str, minutes: int | None = None, kind: str = "note"
) -> Row:
    if not text.strip():
        raise UsageError("a note needs a text (-m)")
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "note", OPEN, " (use `hdcli reopen` first)")
        guard(ctx, "ticket.note", number, text=text)
        add_article(
            store,
            ticket,
            kind=kind,
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
            )
        set_status(store, ticket, ticket["status"])
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
        guard(ctx, "ticket.log", number, minutes=minutes, activity=activity)
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
        set_status(store, ticket, ticket["status"])
        announce(ctx, "ticket.time_logged", ticket, minutes=minutes, billable=billable)
    return ticket


def close(ctx: Context, number: str, reason: str | None = None, notify: bool = True) -> Row:
    from hdcli.billing import create_service_report

    with change(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "close", OPEN, "")
        guard(ctx, "ticket.close", number, reason=reason)
        set_status(store, ticket, "closed", closed_at=now_iso(), waiting_for=None)
        record(ctx, ticket, "closed", reason=reason)
        create_service_report(ctx, ticket, notify=notify)
        announce(ctx, "ticket.closed", ticket, reason=reason)
    return ticket


def reopen(ctx: Context, number: str, reason: str | None = None) -> Row:
    with change(ctx) as store:
        ticket = get_ticket(store, number)
        require(ticket, "reopen", ("closed",))
        guard(ctx, "ticket.reopen", number, reason=reason)
        status = "assigned" if ticket["assignee_id"] else "new"
        set_status(store, ticket, status, closed_at=None)
        record(ctx, ticket, "reopened", reason=reason)
        announce(ctx, "ticket.reopened", ticket, reason=reason)
    return ticket


# -- read ----------------------------------------------------------------------------------------
LIST_SQL = (
    "SELECT t.number, t.status, t.subject, o.name AS organisation, c.email AS requester, "
    "a.login AS assignee, t.channel, t.impact, t.created_at, t.updated_at "
    "FROM tickets t JOIN organisations o ON o.id = t.org_id "
    "JOIN contacts c ON c.id = t.requester_id LEFT JOIN agents a ON a.id = t.assignee_id"
)


def list_tickets(
    store: SqlStorage,
    *,
    status: str | None = None,
    assignee: str | None = None,
    org: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> list[Row]:
    where: list[str] = []
    params: list[Any] = []
    if status:
        if status not in (*STATUSES, "open"):
            raise UsageError(f"bad status {status!r} (allowed: open, {', '.join(STATUSES)})")
        if status == "open":
            where.append("t.status <> 'closed'")
        else:
            where.append("t.status = ?")
            params.append(status)
    if assignee:
        if assignee == "none":
            where.append("t.assignee_id IS NULL")
        else:
            where.append("t.assignee_id = ?")
            params.append(customers.get_agent(store, assignee)["id"])
    if org:
        where.append("t.org_id = ?")
        params.append(customers.get_org(store, org)["id"])
    if since:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            raise UsageError(f"bad date {since!r} (use YYYY-MM-DD)") from None
        where.append("t.created_at >= ?")
        params.append(day.isoformat())
    sql = LIST_SQL + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY t.created_at DESC, t.id DESC"
    if limit is not None:
        if limit < 0:
            raise UsageError("--limit cannot be negative")
        sql += f" LIMIT {int(limit)}"
    return store.query(sql, params)


def show(store: SqlStorage, number: str, history: bool = True) -> Row:
    """The whole ticket as one JSON-ready dict."""
    t = get_ticket(store, number)
    org = store.query_one("SELECT name FROM organisations WHERE id = ?", (t["org_id"],))
    contract = store.query_one("SELECT number FROM contracts WHERE id = ?", (t["contract_id"],))
    req = store.query_one("SELECT name, email FROM contacts WHERE id = ?", (t["requester_id"],))
    assignee = store.query_one("SELECT login, name FROM agents WHERE id = ?", (t["assignee_id"],))
    routed = store.query_one("SELECT login FROM agents WHERE id = ?", (t["routed_to_id"],))
    articles = store.query(
        "SELECT id, kind, direction, sender, recipients, cc, subject, body, message_id, "
        "in_reply_to, created_by, created_at FROM articles WHERE ticket_id = ? ORDER BY id",
        (t["id"],),
    )
    atts: dict[int, list[Row]] = {}
    for a in store.query(
        "SELECT x.article_id, x.id, x.filename, x.content_type, x.size FROM attachments x "
        "JOIN articles a ON a.id = x.article_id WHERE a.ticket_id = ? ORDER BY x.id",
        (t["id"],),
    ):
        atts.setdefault(int(a.pop("article_id")), []).append(a)
    for art in articles:
        art["attachments"] = atts.get(int(art.pop("id")), [])
    entries = store.query(
        "SELECT e.id, a.login AS agent, e.minutes, e.work_date AS date, e.activity, e.note, "
        "e.billable FROM time_entries e LEFT JOIN agents a ON a.id = e.agent_id "
        "WHERE e.ticket_id = ? ORDER BY e.work_date, e.id",
        (t["id"],),
    )
    for e in entries:
        e["billable"] = bool(e["billable"])
    links = store.query(
        "SELECT l.kind, t2.number FROM ticket_links l JOIN tickets t2 ON t2.id = l.other_id "
        "WHERE l.ticket_id = ? UNION ALL SELECT 'followed_by' AS kind, t3.number FROM "
        "ticket_links l2 JOIN tickets t3 ON t3.id = l2.ticket_id WHERE l2.other_id = ?",
        (t["id"], t["id"]),
    )
    out: Row = {
        "number": t["number"],
        "subject": t["subject"],
        "status": t["status"],
        "waiting_for": t["waiting_for"],
        "channel": t["channel"],
        "impact": t["impact"],
        "organisation": org["name"] if org else None,
        "contract": contract["number"] if contract else None,
        "requester": req["email"] if req else None,
        "requester_name": req["name"] if req else None,
        "assignee": assignee["login"] if assignee else None,
        "preselected": routed["login"] if routed else None,
        "external_id": t["external_id"],
        "created_at": t["created_at"],
        "updated_at": t["updated_at"],
        "closed_at": t["closed_at"],
        "total_minutes": sum(int(e["minutes"]) for e in entries),
        "links": links,
        "articles": articles,
        "time_entries": entries,
    }
    if history:
        hist = store.query(
            "SELECT created_at, actor, action, detail FROM history WHERE ticket_id = ? ORDER BY id",
            (t["id"],),
        )
        import json

        for h in hist:
            h["detail"] = json.loads(h["detail"])
        out["history"] = hist
    return out
