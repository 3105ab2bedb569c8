"""The ticket lifecycle: open, assign, start, reply, note, log, close, reopen, show, list.

Library code: no Typer, no printing. Each change runs in one transaction together with its
history events and the mail it causes (queued in the outbound table); after the commit,
:func:`finish` delivers the queued mail and announces the events to plugins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from hdcli import customers
from hdcli.errors import NotFound, Refused, UsageError
from hdcli.util import norm_email, now_iso, one_line

# The read side lives in hdcli.views (``list``/``show`` must not import this module); these
# names stay importable from here for the workflow code.
from hdcli.views import LIST_SQL as LIST_SQL
from hdcli.views import STATUSES as STATUSES
from hdcli.views import get_ticket as get_ticket
from hdcli.views import list_tickets as list_tickets
from hdcli.views import show as show

if TYPE_CHECKING:
    from logging import Logger

    from hdcli.backends.base import Row, SqlStorage
    from hdcli.context import Context
    from hdcli.mail.outbound import OutAttachment


def _log() -> Logger:
    import logging  # only when there is something to say

    return logging.getLogger("hdcli.tickets")


CHANNELS = ("email", "phone", "fax", "web")
IMPACTS = ("single_user", "several_users", "everyone")
ACTIVITIES = ("remote", "onsite", "phone", "other")
OPEN = ("new", "assigned", "in_progress", "waiting")
ARTICLE_KIND = {"email": "mail", "phone": "phone", "fax": "fax", "web": "web"}


# -- plumbing ------------------------------------------------------------------------------------
@contextmanager
def change(ctx: Context) -> Iterator[SqlStorage]:
    """A write transaction; after its commit, queued mail is delivered and events announced.

    With ``ctx.dry_run`` everything is checked and done, then rolled back: :class:`DryRun` is
    raised instead of committing, and no mail or event leaves.
    """
    with ctx.store.transaction() as store:
        yield store
        if ctx.dry_run:
            ctx.after_commit = []
            raise DryRun
    finish(ctx)


class DryRun(Exception):
    """A change checked and rolled back (``--dry-run``)."""


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
                _log().warning("mail %s stays queued: %s", qid, reason)
            for qid, reason in result.failed:
                _log().warning("mail %s failed: %s", qid, reason)
        except Exception as exc:  # never fail a committed change because mail is down
            _log().warning("mail stays queued: %s", exc)
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


def guard(ctx: Context, action: str, number: str | None, **data: Any) -> None:
    """Ask plugins whether the change may happen; a veto raises Refused (exit 4)."""
    if not hooked("guard_change"):
        return  # nobody to ask: no Change to build
    from hdcli.events import Change
    from hdcli.plugins import hooks

    reason = hooks.guard_change(Change(action, number, ctx.actor, data))
    if reason:
        raise Refused(f"{action} refused: {reason}")


def announce(ctx: Context, event: str, ticket: Row, **data: Any) -> None:
    """Queue ``event`` for the plugins' ``ticket_event`` after the commit (if any listens)."""
    if not hooked("ticket_event"):
        return
    from hdcli.events import TicketEvent

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
    reply_to: str | None = None,
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
        reply_to=reply_to,
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
        self.subject = _one_line(self.subject)
        if not self.subject:
            raise UsageError("a ticket needs a subject that describes the problem")
        if self.channel not in CHANNELS:
            raise UsageError(f"bad channel {self.channel!r} (allowed: {', '.join(CHANNELS)})")
        if self.impact not in IMPACTS:
            raise UsageError(f"bad impact {self.impact!r} (allowed: {', '.join(IMPACTS)})")
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


#: Requests per transaction in :func:`open_many`: big enough that commits and per-statement
#: overhead vanish, small enough that a batch's rows stay a few megabytes.
BULK_BATCH = 2000
_IN = 500  # values per ``IN (…)`` list: far below every backend's parameter limit


def open_many(
    ctx: Context,
    requests: Iterable[tuple[int, OpenRequest | Exception]],
    batch: int = BULK_BATCH,
) -> Iterator[BulkResult]:
    """Open many tickets, one transaction per batch; a refused row does not stop the rest.

    Yields one result per input item, in input order, each batch after its commit (and after
    :func:`finish` delivered its mail when ``mail.outbound.send_now``). An item that is an
    exception (a row that could not be read) comes back as that row's error. Every row gets
    what :func:`open_in_tx` gives one ticket: the contract gate, the ``guard_change`` veto, an
    ``external_id`` that exists (in the store or earlier in the input) returns that ticket
    (``created`` False), the inbound article, the requester as participant, the ``opened``
    history event, the acknowledgement (or ``mail_suppressed`` at the daily cap) and the
    ``ticket.opened`` event. Numbers are reserved in blocks, so they ascend in input order.
    """
    bulk = _BulkOpen(ctx)
    chunk: list[tuple[int, OpenRequest | Exception]] = []
    for item in requests:
        chunk.append(item)
        if len(chunk) >= batch:
            yield from bulk.run(chunk)
            chunk = []
    if chunk:
        yield from bulk.run(chunk)


def _plain(req: OpenRequest) -> bool:
    """Whether ``req`` has only what a bulk file gives (the rest goes through open_in_tx)."""
    return not (
        req.linked_from
        or req.assignee
        or req.attachments
        or req.message_id
        or req.cc
        or req.body_html is not None
    )


class _BulkOpen:
    """The state of one :func:`open_many` run: the gate per address, the hooks that exist."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.fmt = _number_format(ctx)
        self.sid = _system_id(ctx)
        self.actor = ctx.actor
        # address -> Requester, or the reason it is refused; a run sees one state of the
        # customers (as a single transaction would)
        self.gate: dict[str, Any] = {}
        # Building a Change or a TicketEvent per row is wasted when no plugin listens.
        self.guarded = hooked("guard_change")
        self.announced = hooked("ticket_event")
        self.warned: set[str] = set()
        self.details: dict[tuple[str, str, str], str] = {}  # the "opened" history details

    def run(self, items: list[tuple[int, OpenRequest | Exception]]) -> list[BulkResult]:
        """One batch in one transaction. A unique violation (another writer created the same
        external id meanwhile, on backends that do not serialise writers) retries it once."""
        mark = len(self.ctx.after_commit)
        for attempt in (1, 2):
            try:
                with change(self.ctx):
                    return self._batch(items)
            except Exception as exc:
                del self.ctx.after_commit[mark:]
                self.gate.clear()  # contacts created in the rolled-back batch are gone
                if attempt == 2 or not self.store.is_unique_violation(exc):
                    raise
        raise AssertionError("unreachable")

    def _batch(self, items: list[tuple[int, OpenRequest | Exception]]) -> list[BulkResult]:
        ctx, store = self.ctx, self.store
        self.today = ctx.today()
        self.now = now_iso()
        self.sent_today: dict[str, int] = {}
        results: list[BulkResult] = []
        reqs: list[OpenRequest | None] = []
        for line, item in items:
            if isinstance(item, Exception):
                results.append(BulkResult(line, None, False, str(item)))
                reqs.append(None)
                continue
            try:
                item.validate()
            except UsageError as exc:
                results.append(BulkResult(line, None, False, str(exc)))
                reqs.append(None)
                continue
            results.append(BulkResult(line, None, False, None))
            reqs.append(item)
        existing = self._existing({r.external_id for r in reqs if r is not None and r.external_id})
        claimed: dict[str, int] = {}  # external id -> index of the row that creates it
        plain: list[tuple[int, OpenRequest, str, Any, Row]] = []
        for i, req in enumerate(reqs):
            if req is None:
                continue
            res = results[i]
            ext = req.external_id
            if ext and ext in existing:
                res.number = existing[ext]
                continue
            if ext and ext in claimed:
                res.number = None  # filled in below, once the first row has its number
                continue
            if not _plain(req):
                self._insert(plain, results)
                plain = []
                try:
                    with store.transaction():  # joins the batch transaction
                        opened = open_in_tx(ctx, req, None, self._gate_cache())
                except (Refused, UsageError, NotFound) as exc:
                    res.error = str(exc)
                    continue
                res.number, res.created = opened.ticket["number"], opened.created
                if ext:
                    claimed[ext] = i
                continue
            key = norm_email(req.contact)
            try:
                requester = self._requester(key)
                if self.guarded:
                    guard(
                        ctx,
                        "ticket.open",
                        None,
                        contact=key,
                        subject=req.subject,
                        channel=req.channel,
                    )
            except Refused as exc:
                res.error = str(exc)
                continue
            contact = customers.ensure_contact(store, requester, req.name, self.actor)
            if ext:
                claimed[ext] = i
            plain.append((i, req, key, requester, contact))
        self._insert(plain, results)
        for i, req in enumerate(reqs):
            if req is not None and req.external_id and results[i].number is None:
                first = claimed.get(req.external_id)
                if first is not None and first != i and results[i].error is None:
                    results[i].number = results[first].number
        return results

    def _gate_cache(self) -> dict[str, Any]:
        return {k: v for k, v in self.gate.items() if not isinstance(v, str)}

    def _requester(self, key: str) -> Any:
        found = self.gate.get(key)
        if found is None:
            requester, reason = customers.find_requester(self.store, key, self.today)
            found = requester if requester is not None else reason
            self.gate[key] = found
        if isinstance(found, str):
            raise Refused(f"{key}: {found}; not opened")
        return found

    def _existing(self, ids: set[str]) -> dict[str, str]:
        """external id -> number of the tickets that have one of ``ids``."""
        found: dict[str, str] = {}
        todo = sorted(ids)
        for start in range(0, len(todo), _IN):
            part = todo[start : start + _IN]
            for row in self.store.query(
                f"SELECT external_id, number FROM tickets WHERE external_id IN "
                f"({','.join('?' * len(part))})",
                part,
            ):
                found[row["external_id"]] = row["number"]
        return found

    def _insert(
        self, rows: list[tuple[int, OpenRequest, str, Any, Row]], results: list[BulkResult]
    ) -> None:
        """Create the tickets of ``rows`` with one statement per table."""
        if not rows:
            return
        ctx, store, now, actor = self.ctx, self.store, self.now, self.actor
        numbers = self.fmt.allocate(store, len(rows), self.today, self.sid)
        values = [
            (
                number,
                req.subject,
                requester.org["id"],
                requester.contract["id"],
                contact["id"],
                req.channel,
                req.impact,
                req.external_id,
                now,
                now,
            )
            for number, (_, req, _, requester, contact) in zip(numbers, rows, strict=True)
        ]
        columns = (
            "number, subject, org_id, contract_id, requester_id, channel, impact, status, "
            "external_id, created_at, updated_at"
        )
        marks = "?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?"
        if store.dialect == "sqlite":
            # The batch holds SQLite's write lock (BEGIN IMMEDIATE) since its first write, so
            # no other writer takes ids meanwhile: give the ids instead of reading them back.
            top = store.query_one("SELECT max(id) AS m FROM tickets")
            first = int(top["m"] or 0) + 1 if top else 1
            ids = {v[0]: first + k for k, v in enumerate(values)}
            store.executemany(
                f"INSERT INTO tickets (id, {columns}) VALUES (?, {marks})",
                [(first + k, *v) for k, v in enumerate(values)],
            )
        else:
            store.executemany(f"INSERT INTO tickets ({columns}) VALUES ({marks})", values)
            ids = self._ids("tickets", "number", numbers)
        tickets: list[Row] = []
        for number, (i, req, _key, _requester, contact) in zip(numbers, rows, strict=True):
            results[i].number, results[i].created = number, True
            tickets.append(
                {
                    "id": ids[number],
                    "number": number,
                    "subject": req.subject,
                    "status": "new",
                    "impact": req.impact,
                    "requester_id": contact["id"],
                }
            )
        store.executemany(
            "INSERT INTO articles (ticket_id, kind, direction, sender, subject, body, "
            "created_by, created_at) VALUES (?, ?, 'in', ?, ?, ?, ?, ?)",
            [
                (t["id"], ARTICLE_KIND[req.channel], key, req.subject, req.body, actor, now)
                for t, (_, req, key, _, _) in zip(tickets, rows, strict=True)
            ],
        )
        store.executemany(
            "INSERT INTO ticket_participants (ticket_id, email, role) VALUES (?, ?, 'requester') "
            "ON CONFLICT (ticket_id, email) DO NOTHING",
            [(t["id"], key) for t, (_, _, key, _, _) in zip(tickets, rows, strict=True)],
        )
        import json

        history: list[tuple[Any, ...]] = []
        acks: list[tuple[Row, OpenRequest, Any]] = []
        details = self.details
        for t, (_, req, key, requester, _) in zip(tickets, rows, strict=True):
            detail = details.get((req.channel, key, req.impact))
            if detail is None:  # a few requesters file most rows: encode each once
                detail = json.dumps(
                    {"channel": req.channel, "requester": key, "impact": req.impact},
                    ensure_ascii=False,
                )
                details[(req.channel, key, req.impact)] = detail
            history.append((t["id"], t["number"], "opened", detail))
            if req.notify:
                acks.append((t, req, requester))
        if acks:
            history.extend(self._acknowledge(acks))
        store.executemany(
            "INSERT INTO history (ticket_id, entity, entity_key, actor, action, detail, "
            "created_at) VALUES (?, 'ticket', ?, ?, ?, ?, ?)",
            # ordered by ticket id, then as they happened: show() lists history by id
            [
                (tid, num, actor, action, detail, now)
                for tid, num, action, detail in sorted(history, key=lambda h: h[0])
            ],
        )
        if self.announced:
            from hdcli.events import TicketEvent

            ctx.after_commit.extend(
                (
                    "event",
                    TicketEvent(
                        "ticket.opened",
                        t["number"],
                        t["subject"],
                        "new",
                        actor,
                        now,
                        {"requester": key, "channel": req.channel},
                    ),
                )
                for t, (_, req, key, _, _) in zip(tickets, rows, strict=True)
            )

    def _ids(self, table: str, column: str, keys: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for start in range(0, len(keys), _IN):
            part = keys[start : start + _IN]
            for row in self.store.query(
                f"SELECT id, {column} AS k FROM {table} WHERE {column} IN "
                f"({','.join('?' * len(part))})",
                part,
            ):
                out[row["k"]] = int(row["id"])
        return out

    def _acknowledge(self, acks: list[tuple[Row, OpenRequest, Any]]) -> list[tuple[Any, ...]]:
        """Queue the acknowledgements of new tickets (as :func:`send_mail` does for one);
        returns the history rows of those the daily cap of automatic mails suppressed."""
        import json

        from hdcli.mail.outbound import compose
        from hdcli.numbers import subject_tag
        from hdcli.templates import render

        ctx, store, config, now = self.ctx, self.store, self.ctx.config, self.now
        hook = str(config.get("tickets.subject_hook"))
        sender = str(config.get("mail.from_address"))
        limit = int(config.get("mail.auto_reply_limit"))
        helpdesk = {
            "name": str(config.get("mail.from_name")),
            "address": sender,
            "billing_address": str(config.get("mail.billing_address") or sender),
            "fax": str(config.get("mail.fax_number")),
        }
        since = _day_before(now)
        suppressed: list[tuple[Any, ...]] = []
        queued: list[tuple[Any, ...]] = []
        articles: list[tuple[Any, ...]] = []
        for ticket, _req, requester in acks:
            contact, org = requester.contact, requester.org
            to_addr = one_line(str(contact.get("email") or "")).lower()
            to_name = str(contact.get("name") or "")
            sent = self.sent_today.get(to_addr)
            if sent is None:
                row = store.query_one(
                    "SELECT count(*) AS n FROM outbound WHERE recipient = ? AND automatic = 1 "
                    "AND created_at >= ?",
                    (to_addr, since),
                )
                sent = int(row["n"]) if row else 0
            if sent >= limit:
                self.sent_today[to_addr] = sent
                if to_addr not in self.warned:
                    self.warned.add(to_addr)
                    _log().warning("automatic mails to %s suppressed: daily limit reached", to_addr)
                detail = {
                    "template": "acknowledgement",
                    "to": to_addr,
                    "reason": "daily limit of automatic mails reached",
                }
                suppressed.append(
                    (
                        ticket["id"],
                        ticket["number"],
                        "mail_suppressed",
                        json.dumps(detail, ensure_ascii=False),
                    )
                )
                continue
            self.sent_today[to_addr] = sent + 1
            tctx = {
                "ticket": {
                    "number": ticket["number"],
                    "subject": ticket["subject"],
                    "tag": subject_tag(hook, ticket["number"]),
                    "impact": ticket["impact"],
                    "status": ticket["status"],
                },
                "requester": {"name": to_name, "email": str(contact.get("email") or "")},
                "org": {"name": org.get("name", "")},
                "language": org.get("language", "de"),
                "helpdesk": helpdesk,
                "old_number": None,
            }
            subject, body = render(config, "acknowledgement", tctx["language"], tctx)
            message_id, raw = compose(
                ctx,
                kind="acknowledgement",
                to_name=to_name,
                to_addr=to_addr,
                subject=subject,
                body=body,
                automatic=True,
                ticket_number=ticket["number"],
            )
            queued.append(
                (ticket["id"], sender, to_addr, one_line(subject), message_id, raw, now, now)
            )
            articles.append(
                (ticket["id"], sender, to_addr, subject, body, message_id, self.actor, now)
            )
        if queued:
            store.executemany(
                "INSERT INTO outbound (ticket_id, kind, automatic, sender, recipient, subject, "
                "message_id, raw, status, attempts, next_attempt_at, created_at) "
                "VALUES (?, 'acknowledgement', 1, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
                queued,
            )
            store.executemany(
                "INSERT INTO articles (ticket_id, kind, direction, sender, recipients, subject, "
                "body, message_id, refs, created_by, created_at) "
                "VALUES (?, 'mail', 'out', ?, ?, ?, ?, ?, '', ?, ?)",
                articles,
            )
            if config.get("mail.outbound.send_now"):  # finish() delivers them after the commit
                ids = self._ids("outbound", "message_id", [q[4] for q in queued])
                ctx.after_commit.extend(("mail", ids[q[4]]) for q in queued)
        return suppressed


def _day_before(now: str) -> str:
    """``now`` (ISO UTC) minus one day: the window of the daily cap of automatic mails."""
    from datetime import UTC, datetime, timedelta

    then = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - timedelta(days=1)
    return then.strftime("%Y-%m-%dT%H:%M:%SZ")


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
