"""Outbound mail: compose, queue in the same transaction as the change, deliver with retries.

Every mail is first written to the ``outbound`` table inside the transaction of the change that
caused it; delivery happens after the commit (right away when ``mail.outbound.send_now``, and
by ``hdcli mail flush``). A temporary failure keeps the mail queued with exponential backoff;
a permanent one marks it failed with the server's answer. Mail goes to one recipient only:
never reply-all, never to an inbound mail's CC.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hdcli.errors import Refused, UsageError
from hdcli.util import now_iso, one_line

if TYPE_CHECKING:
    from hdcli.context import Context

log = logging.getLogger("hdcli.mail")

STALE_CLAIM = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True)
class OutAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Queued:
    id: int
    message_id: str


def _policy() -> Any:
    from email import policy

    return policy.default.clone(max_line_length=998)


def make_message_id(domain: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"<{stamp}.{secrets.token_hex(8)}@{one_line(domain) or 'localhost'}>"


def compose(
    ctx: Context,
    *,
    kind: str,
    to_name: str,
    to_addr: str,
    subject: str,
    body: str,
    automatic: bool,
    ticket_number: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Iterable[OutAttachment] = (),
) -> tuple[str, bytes]:
    """Build the message; returns (Message-ID, raw bytes). Headers never carry CR/LF."""
    from email.message import EmailMessage
    from email.utils import format_datetime, formataddr

    from hdcli.plugins import hooks

    config = ctx.config
    # Long subjects stay on one line (up to RFC 5322's 998) instead of being folded oddly.
    msg = EmailMessage(policy=_policy())
    msg["From"] = formataddr(
        (
            one_line(str(config.get("mail.from_name"))),
            one_line(str(config.get("mail.from_address"))),
        )
    )
    msg["To"] = formataddr((one_line(to_name), one_line(to_addr)))
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(datetime.now(UTC))
    message_id = make_message_id(config.mail_domain)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = one_line(in_reply_to)
    refs = [one_line(r) for r in references if r]
    if refs:
        msg["References"] = " ".join(refs[-10:])
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg[str(config.get("mail.loop_header"))] = one_line(str(config.get("mail.from_address")))
    if ticket_number:
        msg["X-hdcli-Ticket"] = ticket_number
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    for att in attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(
            att.data, maintype=maintype, subtype=subtype or "octet-stream", filename=att.filename
        )
    hooks.prepare_outbound(
        msg, {"kind": kind, "ticket": ticket_number, "config": config, "automatic": automatic}
    )
    for name, value in msg.items():
        if "\r" in str(value) or "\n" in str(value).replace("\n ", "").replace("\n\t", ""):
            raise Refused(f"outbound header {name} contains a line break")
    return message_id, msg.as_bytes()


def auto_limit_reached(ctx: Context, recipient: str) -> bool:
    """True when ``recipient`` already got ``mail.auto_reply_limit`` automatic mails today."""
    limit = int(ctx.config.get("mail.auto_reply_limit"))
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = ctx.store.query_one(
        "SELECT count(*) AS n FROM outbound WHERE recipient = ? AND automatic = 1 "
        "AND created_at >= ?",
        (recipient, since),
    )
    return bool(row and int(row["n"]) >= limit)


def queue(
    ctx: Context,
    *,
    kind: str,
    ticket_id: int | None,
    ticket_number: str | None,
    to_name: str,
    to_addr: str,
    subject: str,
    body: str,
    automatic: bool,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Iterable[OutAttachment] = (),
) -> Queued | None:
    """Queue one mail in the current transaction; returns its queue id and Message-ID (None
    when the daily cap of automatic mails to this address suppressed it)."""
    store = ctx.store
    to_addr = one_line(to_addr).lower()
    if automatic and auto_limit_reached(ctx, to_addr):
        log.warning("automatic mail to %s suppressed: daily limit reached", to_addr)
        return None
    message_id, raw = compose(
        ctx,
        kind=kind,
        to_name=to_name,
        to_addr=to_addr,
        subject=subject,
        body=body,
        automatic=automatic,
        ticket_number=ticket_number,
        in_reply_to=in_reply_to,
        references=references,
        attachments=attachments,
    )
    now = now_iso()
    qid = store.insert(
        "outbound",
        {
            "ticket_id": ticket_id,
            "kind": kind,
            "automatic": int(automatic),
            "sender": str(ctx.config.get("mail.from_address")),
            "recipient": to_addr,
            "subject": one_line(subject),
            "message_id": message_id,
            "raw": raw,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    ctx.after_commit.append(("mail", qid))
    return Queued(qid, message_id)


# -- delivery ---------------------------------------------------------------------------------
def make_transport(config: Any) -> Any:
    from hdcli.config import resolve_secret
    from hdcli.plugins import transports

    name = str(config.get("mail.outbound.transport"))
    settings = config.table("mail.outbound")
    if name in ("maildir", "file"):
        settings["path"] = str(config.outbox_path)
    if settings.get("password_env") or settings.get("password_cmd") or settings.get("password"):
        settings["password"] = resolve_secret(settings)
    if not settings.get("port"):
        settings["port"] = {"ssl": 465, "starttls": 587}.get(str(settings.get("security")), 25)
    cls = transports.get(name)
    return cls(settings)


@dataclass
class FlushResult:
    sent: list[int] = field(default_factory=list)
    deferred: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def _backoff(config: Any, attempts: int) -> str:
    base = int(config.get("mail.outbound.retry_base"))
    delay = min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    return (datetime.now(UTC) + delay).strftime("%Y-%m-%dT%H:%M:%SZ")


def flush(ctx: Context, ids: Sequence[int] | None = None, limit: int = 1000) -> FlushResult:
    """Deliver due mail (or just ``ids``). Each mail is claimed first, so two runs at once never
    send the same mail; a claim left by a killed run is released after ten minutes."""
    from hdcli.mail.transports import PermanentSendError, SendError

    store = ctx.store
    config = ctx.config
    result = FlushResult()
    token = secrets.token_hex(8)
    now = now_iso()
    stale = (datetime.now(UTC) - STALE_CLAIM).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.transaction():
        store.execute(
            "UPDATE outbound SET status = 'queued', claimed_by = NULL "
            "WHERE status = 'sending' AND claimed_at < ?",
            (stale,),
        )
        if ids is not None:
            if not ids:
                return result
            marks = ",".join("?" * len(ids))
            store.execute(
                f"UPDATE outbound SET status = 'sending', claimed_by = ?, claimed_at = ? "
                f"WHERE status = 'queued' AND id IN ({marks})",
                (token, now, *ids),
            )
        else:
            store.execute(
                "UPDATE outbound SET status = 'sending', claimed_by = ?, claimed_at = ? "
                "WHERE id IN (SELECT id FROM outbound WHERE status = 'queued' "
                "AND next_attempt_at <= ? ORDER BY id LIMIT ?)",
                (token, now, now, limit),
            )
    claimed = store.query(
        "SELECT id, sender, recipient, raw, attempts FROM outbound WHERE claimed_by = ? "
        "AND status = 'sending' ORDER BY id",
        (token,),
    )
    if not claimed:
        return result
    transport = None
    down: str | None = None
    try:
        transport = make_transport(config)
        for row in claimed:
            qid = int(row["id"])
            if down is not None:
                _release(ctx, qid, row, down, count_attempt=False)
                result.deferred.append((qid, down))
                continue
            try:
                transport.send(row["sender"], [row["recipient"]], bytes(row["raw"]))
            except PermanentSendError as exc:
                _finish(ctx, qid, "failed", str(exc))
                result.failed.append((qid, str(exc)))
            except SendError as exc:
                down = str(exc)
                _release(ctx, qid, row, down, count_attempt=True)
                result.deferred.append((qid, down))
            else:
                _finish(ctx, qid, "sent", None)
                result.sent.append(qid)
    except UsageError as exc:  # bad transport settings: keep everything queued
        for row in claimed:
            if int(row["id"]) not in result.sent:
                _release(ctx, int(row["id"]), row, str(exc), count_attempt=False)
                result.deferred.append((int(row["id"]), str(exc)))
        raise
    finally:
        if transport is not None:
            try:
                transport.close()
            except Exception as exc:  # closing a dead connection must not lose the results
                log.debug("closing the transport failed: %s", exc)
    return result


def _finish(ctx: Context, qid: int, status: str, error: str | None) -> None:
    with ctx.store.transaction():
        ctx.store.execute(
            "UPDATE outbound SET status = ?, last_error = ?, claimed_by = NULL, attempts = "
            "attempts + 1, sent_at = ? WHERE id = ?",
            (status, error, now_iso() if status == "sent" else None, qid),
        )


def _release(ctx: Context, qid: int, row: dict[str, Any], error: str, count_attempt: bool) -> None:
    attempts = int(row["attempts"]) + (1 if count_attempt else 0)
    max_attempts = int(ctx.config.get("mail.outbound.max_attempts"))
    status = "failed" if attempts >= max_attempts else "queued"
    with ctx.store.transaction():
        ctx.store.execute(
            "UPDATE outbound SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
            "claimed_by = NULL WHERE id = ?",
            (status, attempts, _backoff(ctx.config, attempts), error, qid),
        )


def retry(ctx: Context, ids: Sequence[int] | None = None) -> int:
    """Put failed mail (all, or ``ids``) back in the queue, due now; returns how many."""
    now = now_iso()
    with ctx.store.transaction():
        if ids is None:
            cur = ctx.store.execute(
                "UPDATE outbound SET status = 'queued', next_attempt_at = ?, attempts = 0 "
                "WHERE status = 'failed'",
                (now,),
            )
        else:
            marks = ",".join("?" * len(ids)) or "NULL"
            cur = ctx.store.execute(
                f"UPDATE outbound SET status = 'queued', next_attempt_at = ?, attempts = 0 "
                f"WHERE status IN ('failed', 'queued') AND id IN ({marks})",
                (now, *ids),
            )
    return int(cur.rowcount)
