"""Articles and outbound mail of a ticket: what was written, by whom, and the thread it makes.

The second layer of the workflow, above :mod:`hdcli.unit`: an article is a ticket's mail in or
out, phone or fax note, or internal note (with its attachments); participants are the
addresses that take part in a ticket; :func:`send_mail` renders a template for a ticket and
queues the mail in the outbound table inside the change's transaction, recording it as an
outbound article so that answers thread by In-Reply-To. Outbound mail goes only to its one
recipient (never reply-all); the daily cap of automatic answers to inbound mail is applied
here, for every caller alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hdcli.repo import articles as article_repo
from hdcli.repo import customers as customer_repo
from hdcli.repo import tickets as ticket_repo
from hdcli.unit import record
from hdcli.util import norm_email, now_iso

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.mail.outbound import OutAttachment
    from hdcli.mail.parse import ParsedMail
    from hdcli.models import ArticleKind, Direction, Row


def template_context(
    ctx: Context, ticket: Row, *, people: tuple[Row, Row] | None = None, **extra: Any
) -> dict[str, Any]:
    """What a mail template of ``ticket`` sees. ``people``: the ticket's requester and
    organisation rows when the caller has them (a ticket being opened); read otherwise."""
    from hdcli.numbers import subject_tag

    hook = str(ctx.config.get("tickets.subject_hook"))
    if people is not None:
        requester, org = people
    else:
        requester = customer_repo.contact(ctx.store, ticket["requester_id"]) or {}
        org = customer_repo.org(ctx.store, ticket["org_id"]) or {}
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
    answers: str | None = None,
    people: tuple[Row, Row] | None = None,
    thread: tuple[str | None, list[str]] | None = None,
    **extra: Any,
) -> str | None:
    """Render ``template`` for ``ticket`` and queue it (to the requester unless told otherwise).

    ``reply_to_customer`` threads it into the ticket's mail (In-Reply-To the customer's last
    mail, References the ticket's mails, see :func:`thread_headers`); ``answers`` is the
    Message-ID of a mail it answers that is not kept on the ticket (In-Reply-To that one,
    References the ticket's mails and it). Records an outbound article (so replies thread by
    In-Reply-To). Returns the Message-ID, or None when the daily cap suppressed it.
    ``people``: see :func:`template_context`; ``thread``: In-Reply-To and References when the
    caller knows them (the acknowledgement of a ticket whose only mail is the one it answers).
    """
    from hdcli.mail.outbound import queue
    from hdcli.templates import render

    tctx = template_context(ctx, ticket, people=people, **extra)
    to_addr = to_addr or tctx["requester"]["email"]
    to_name = tctx["requester"]["name"] if to_name is None else to_name
    subject, body = render(ctx.config, template, tctx["language"], tctx)
    if thread is not None:
        in_reply_to, refs = thread
    else:
        in_reply_to, refs = (
            thread_headers(ctx.store, ticket) if reply_to_customer or answers else (None, [])
        )
    if answers:
        in_reply_to, refs = answers, [*(r for r in refs if r != answers), answers]
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
    """In-Reply-To (the customer's last mail) and References (the ticket's mails) for a reply.

    An approver's answer to an approval request is no customer's mail: In-Reply-To skips it
    (and the request itself) unless nothing else is there."""
    from hdcli.repo import outbound as outbound_repo

    rows = article_repo.thread(store, ticket["id"])
    refs = [r["message_id"] for r in rows]
    sent = [r["message_id"] for r in rows if r["direction"] == "out"]
    approval = set(outbound_repo.subjects(store, ticket["id"], sent, "approval_request"))
    answers = {
        r["message_id"] for r in rows if r["direction"] == "in" and r["in_reply_to"] in approval
    }
    customer = [
        r["message_id"] for r in rows if r["direction"] == "in" and r["message_id"] not in answers
    ]
    others = [m for m in refs if m not in approval and m not in answers]
    for choice in (customer, others, refs):
        if choice:
            return choice[-1], refs
    return None, refs


def add_article(
    store: SqlStorage,
    ticket: Row,
    *,
    kind: ArticleKind,
    direction: Direction,
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
    """Keep an article of ``ticket`` with its ``(filename, content type, bytes)``
    attachments; returns its id."""
    article_id = article_repo.insert(
        store,
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
    article_repo.add_attachments(store, article_id, attachments)
    from hdcli.search import refresh

    refresh(store, [int(ticket["id"])])  # in the same transaction as the article
    return article_id


def add_participant(store: SqlStorage, ticket_id: int, email: str, role: str) -> None:
    """Make ``email`` a participant of the ticket (one that is already keeps its role)."""
    ticket_repo.add_participant(store, ticket_id, norm_email(email), role)


def may_write(store: SqlStorage, ticket: Row, sender: str) -> bool:
    """Whether ``sender`` takes part in ``ticket`` or belongs to the ticket's organisation:
    only then does a mail of theirs join the ticket."""
    if not sender:
        return False
    return ticket_repo.writer_known(store, ticket["id"], ticket["org_id"], sender)


def inbound_attachments(mail: ParsedMail) -> list[tuple[str, str, bytes]]:
    """``(filename, content type, bytes)`` of a parsed mail's kept attachments."""
    return [(a.filename, a.content_type, a.data) for a in mail.attachments]


def add_inbound_mail(
    ctx: Context,
    ticket: Row,
    mail: ParsedMail,
    *,
    kind: ArticleKind = "mail",
    attachments: Iterable[tuple[str, str, bytes]] | None = None,
    created_by: str | None = None,
) -> int:
    """Keep an inbound mail as an article of ``ticket`` (its attachments unless given)."""
    return add_article(
        ctx.store,
        ticket,
        kind=kind,
        direction="in",
        sender=mail.from_addr,
        recipients=", ".join(mail.to),
        cc=", ".join(mail.cc),
        subject=mail.subject,
        body=mail.body_text,
        body_html=mail.body_html,
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to[0] if mail.in_reply_to else None,
        refs=" ".join(mail.references) or None,
        created_by=ctx.actor if created_by is None else created_by,
        attachments=inbound_attachments(mail) if attachments is None else attachments,
    )
