"""Inbound mail: one message in, one committed result out.

:func:`ingest_one` takes the bytes of one message and decides, in one transaction, what becomes
of it: a new ticket, a follow-up on an existing one, a duplicate of a message seen before, an
ignored automatic mail (auto-reply, bounce, loop), a rejected message (no contract: nothing of
it is stored), or a quarantined one (unreadable, or it failed inside hdcli). The inbound log
row, the ticket changes, the articles and the mail it causes commit together; mail delivery
and plugin events follow the commit (:func:`hdcli.unit.finish`). :func:`ingest_many` does the
same for a stream of messages, many to a transaction, each message in a savepoint of its own
(a failing message is undone and quarantined alone; a result is reported only once committed).

Idempotency: every message has a key (its Message-ID, or a hash of its bytes); the
``inbound_log`` keeps a SHA-256 of that key under a UNIQUE constraint, inserted first in the
transaction, so a message ingested twice, also by two processes at once, is ``duplicate`` the
second time. Only the hash is kept: a rejected stranger's Message-ID (which may hold an
address) is not stored either, nor shown in its result (``message_id`` is None there).

A reply to a closed ticket's pending service report (to the report mail, or with its subject
from whom reports go to) is the report's answer, not a new request: it goes to
the ``handle_inbound_mail`` hook (the billing plugin) before the closed-ticket policy applies.

Transient failures (the store is locked or unreachable: :class:`BackendUnavailable`,
:class:`TransientError`) and configuration errors are raised, never quarantined: the MTA
retries, ``mail fetch`` leaves the message at its source. Library code: no printing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hdcli.articles import add_inbound_mail, inbound_attachments, may_write, send_mail
from hdcli.errors import BackendUnavailable, ConfigError, Refused, TransientError
from hdcli.models import OUTCOMES as OUTCOMES
from hdcli.repo import customers as customer_repo
from hdcli.repo import inbound as inbound_repo
from hdcli.repo import outbound as outbound_repo
from hdcli.repo import tickets as ticket_repo
from hdcli.tickets import OpenRequest, followup_in_tx, open_in_tx, reopen_in_tx
from hdcli.unit import finish, record
from hdcli.util import logger, norm_email, now_iso, one_line

if TYPE_CHECKING:
    from hdcli.backends.base import Row, SqlStorage
    from hdcli.context import Context
    from hdcli.mail.classify import Classification
    from hdcli.mail.parse import ParsedMail

FIELDS = ("source", "message_id", "outcome", "ticket", "reason")
NO_SUBJECT = "(no subject)"
#: Errors that mean "try again later": never quarantined, always raised.
PASS_THROUGH = (BackendUnavailable, TransientError, ConfigError)


@dataclass
class IngestResult:
    """What became of one message (one line of ``hdcli mail ingest`` output).

    ``previous`` is set for a duplicate: the outcome the message had the first time, so that a
    source can still move a rejected message to its review folder.
    """

    source: str
    message_id: str | None
    outcome: str
    ticket: str | None
    reason: str
    previous: str | None = None
    kept: bool = False
    """Over the size cap and taken in with its headers only: the source keeps the original
    (in its quarantine folder) for a human to look at."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "message_id": self.message_id,
            "outcome": self.outcome,
            "ticket": self.ticket,
            "reason": self.reason,
        }

    @property
    def source_outcome(self) -> str:
        """The outcome a source's ``done`` should act on (a duplicate acts like its first)."""
        if self.outcome == "duplicate" and self.previous in ("rejected", "quarantined"):
            return self.previous
        if self.kept:
            return "quarantined"
        return self.outcome


def log_key(key: str) -> str:
    """What ``inbound_log.message_key`` holds for a message key: its SHA-256."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class _Settings:
    """Per-context values read once (batch ingest calls ingest_one thousands of times)."""

    def __init__(self, ctx: Context) -> None:
        from hdcli.numbers import all_formats

        config = ctx.config
        self.hooks = [
            str(config.get("tickets.subject_hook")),
            *[str(h) for h in config.get("tickets.former_hooks") or []],
        ]
        self.formats = all_formats()
        self.loop_header = str(config.get("mail.loop_header"))
        self.max_size = int(config.get("mail.max_attachment_size"))
        self.max_message = int(config.get("mail.max_message_size"))
        self.max_header_count = int(config.get("mail.max_header_count"))
        self.max_header_bytes = int(config.get("mail.max_header_bytes"))
        default = str(config.get("mail.automatic_new"))
        #: What automatic mail of a served customer does, per kind: "ticket" or "ignore".
        self.automatic = {
            kind: str(config.get(f"mail.automatic.{kind}") or default)
            for kind in ("generated", "list")
        }
        self.own = [
            str(config.get("mail.from_address")),
            *[str(a) for a in config.get("mail.addresses") or []],
        ]
        billing = str(config.get("mail.billing_address") or "")
        if billing:
            self.own.append(billing)
        self.closed_policy = str(config.get("tickets.closed_policy"))
        #: The contract gate's answers within the open transaction (address → requester or
        #: the reason of the refusal). Cleared whenever a transaction begins or a message is
        #: rolled back, so it never outlives what it read (a contact created by a message that
        #: was undone, a contract changed by another process between two batches).
        self.gate: dict[str, Any] = {}
        self.refused: dict[str, str] = {}

    def forget(self) -> None:
        self.gate.clear()
        self.refused.clear()


def _settings(ctx: Context) -> _Settings:
    cached: _Settings | None = getattr(ctx, "_ingest_settings", None)
    if cached is None:
        cached = _Settings(ctx)
        ctx._ingest_settings = cached  # type: ignore[attr-defined]
    return cached


# -- entry point ---------------------------------------------------------------------------------
def ingest_one(
    ctx: Context, raw: bytes, source: str = "", billing: bool = False, *, deliver: bool = True
) -> IngestResult:
    """Ingest one message; its whole result commits in one transaction.

    ``source`` labels the result (a file name or a configured source); ``billing`` marks mail
    of the billing mailbox (approvals of service reports). With ``deliver`` (the default) the
    mail it queued is delivered and its events announced right after the commit; batch callers
    pass False and call :func:`hdcli.unit.finish` themselves now and then.

    The message is parsed, classified and its sender put to the contract gate before the write
    transaction begins (:func:`prepare`): however long a hostile message takes to read, no
    other writer waits for it. Only the decision's writes hold the write lock.

    Never raises for a bad message (it is quarantined with the reason); raises
    BackendUnavailable / TransientError when the store is locked or unreachable and ConfigError
    for a configuration that cannot work, so the caller retries later.
    """
    settings = _settings(ctx)
    mark = len(ctx.after_commit)  # what earlier, committed messages still wait to deliver
    settings.forget()
    prepared = prepare(ctx, raw)
    try:
        with ctx.store.transaction():
            result = _process(ctx, settings, prepared, source, billing)
    except BaseException:
        del ctx.after_commit[mark:]  # mail and events of the rolled-back transaction
        raise
    if deliver:
        finish(ctx)
    return result


@dataclass
class Prepared:
    """One message as far as it is read before its transaction (see :func:`prepare`)."""

    raw: bytes
    key: str
    """The idempotency key (see :func:`message_key`); ``log_key`` of it is the log's key."""
    id_key: str | None
    """``log_key`` of the Message-ID alone (None without one): a reused Message-ID is told
    from a message seen before by it."""
    mail: ParsedMail | None = None
    error: str | None = None
    """Why the message could not be read (it is quarantined), else None."""
    kind: Classification | None = None
    size: int = 0
    oversized: bool = False
    """Over ``mail.max_message_size``: only its headers were read."""
    gate: tuple[Any, str] | None = None
    """The contract gate's answer for the sender, read before the transaction:
    ``(requester, "")`` or ``(None, reason)``; None when not asked."""


def prepare(
    ctx: Context, raw: bytes, *, gate_cache: dict[str, tuple[Any, str]] | None = None
) -> Prepared:
    """Everything about a message that needs no write lock: parse (headers only above
    ``mail.max_message_size``), key, classification, the contract gate's answer for the
    sender (a read), and the decoded bodies of a served sender's mail."""
    from hdcli import customers
    from hdcli.mail.classify import AUTO_REPLY, NORMAL, classify
    from hdcli.mail.parse import MailParseError, parse_message

    settings = _settings(ctx)
    size = len(raw)
    oversized = settings.max_message > 0 and size > settings.max_message
    head = _header_block(raw) if oversized else raw
    try:
        mail = parse_message(
            head,
            max_attachment_size=settings.max_size,
            loop_header=settings.loop_header,
            max_header_count=settings.max_header_count,
            max_header_bytes=settings.max_header_bytes,
        )
    except MailParseError as exc:
        reason = exc.reason
        if oversized:
            reason = f"{_too_big(settings, size)}; its headers: {reason}"
        digest = hashlib.sha256()
        _feed(digest, raw, strip_cr=False)
        prep = Prepared(raw, "sha256:" + digest.hexdigest(), None, error=reason, size=size)
        prep.oversized = oversized
        return prep
    key, id_key = message_key(raw, mail, oversized)
    kind = classify(mail, head, loop_header=settings.loop_header, own_addresses=settings.own)
    prep = Prepared(raw, key, id_key, mail, kind=kind, size=size, oversized=oversized)
    if oversized:
        mail.body_text = _too_big_note(settings, size)
        mail.body_html = None
    sender = norm_email(mail.from_addr) if mail.from_addr and "@" in mail.from_addr else ""
    if sender and kind.kind in (NORMAL, AUTO_REPLY):
        answer = gate_cache.get(sender) if gate_cache is not None else None
        if answer is None:
            answer = customers.find_requester(ctx.store, sender, ctx.today())
            # a requester still to be created is asked again inside (see _seed_gate)
            if gate_cache is not None and (answer[0] is None or answer[0].contact.get("id")):
                gate_cache[sender] = answer
        prep.gate = answer
        if prep.gate[0] is not None:
            _ = mail.body_text, mail.body_html  # decoded here, not under the write lock
    return prep


def _process(
    ctx: Context, settings: _Settings, prep: Prepared, source: str, billing: bool
) -> IngestResult:
    """One prepared message inside the caller's open transaction, in a savepoint of its own:
    a message that fails is undone alone and quarantined; the messages before it stay."""
    mail = prep.mail
    if mail is None:
        return _quarantine(ctx, prep, None, source, prep.error or "unreadable message")
    mark = len(ctx.after_commit)
    try:
        for again in (False, True):
            try:
                with ctx.store.savepoint():
                    return _ingest_parsed(ctx, settings, prep, mail, source, billing)
            except Exception as exc:
                if again or not ctx.store.is_unique_violation(exc):
                    raise
                # Another writer made the same row first (PostgreSQL: two processes and one
                # new sender's contact, or one message twice): undone, and once more, now
                # seeing it.
                del ctx.after_commit[mark:]
                settings.forget()
        raise AssertionError("unreachable")
    except PASS_THROUGH:
        del ctx.after_commit[mark:]
        settings.forget()
        raise
    except Refused as exc:  # a plugin vetoed what the message asked for (a reopen, say)
        del ctx.after_commit[mark:]
        settings.forget()
        reason = one_line(str(exc))[:500] or f"refused by a plugin: {type(exc).__name__}"
        return _quarantine(ctx, prep, mail.message_id, source, reason)
    except Exception as exc:  # one bad message never stops the rest: keep it for a human
        del ctx.after_commit[mark:]
        settings.forget()
        logger("hdcli.mail.ingest").debug("ingest of %s failed", mail.message_id, exc_info=True)
        return _quarantine(
            ctx,
            prep,
            mail.message_id,
            source,
            f"internal error: {type(exc).__name__}: {one_line(str(exc))}"[:500],
        )


# -- keys and sizes ------------------------------------------------------------------------------
_CHUNK = 1 << 20
#: Where the header block of a message over the size cap is searched for (and cut off).
_MAX_HEADER_BLOCK = 1 << 20


def _body_start(raw: bytes) -> int:
    """Offset of the body: after the first empty line (CRLF or LF), else the end."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    if not ends:
        return len(raw)
    end = min(ends)
    return end + (2 if raw[end + 1 : end + 2] == b"\n" else 3)


def _header_block(raw: bytes) -> bytes:
    """The header block of a message (at most 1 MiB of it), ending in an empty line."""
    view = raw[:_MAX_HEADER_BLOCK]
    end = _body_start(view)
    return bytes(view[:end]).rstrip(b"\r\n") + b"\n\n"


def _feed(digest: Any, data: bytes, start: int = 0, *, strip_cr: bool = True) -> None:
    """Hash ``data[start:]`` in chunks (no copy of a big message), CRs left out: the same
    message read over IMAP (CRLF) and from a file (LF) hashes the same."""
    view = memoryview(data)
    for i in range(start, len(data), _CHUNK):
        chunk = view[i : i + _CHUNK]
        digest.update(bytes(chunk).replace(b"\r", b"") if strip_cr else chunk)


def message_key(raw: bytes, mail: ParsedMail, oversized: bool = False) -> tuple[str, str | None]:
    """The idempotency key of a message and the log key of its Message-ID alone.

    With a Message-ID the key is the id plus a digest of the sender, the date and the body, so
    a message seen before (fetched twice, delivered twice by the MTA, also with trace headers
    such as ``Received`` added on the way) has the same key, and another message that reuses
    its Message-ID has not. Without one it is the digest of the whole message.
    """
    if mail.message_id is None:
        if not oversized:
            return mail.key, None
        digest = hashlib.sha256()
        _feed(digest, raw)
        return "sha256:" + digest.hexdigest(), None
    digest = hashlib.sha256()
    digest.update(mail.from_addr.encode("utf-8", "surrogatepass") + b"\0")
    digest.update((mail.date.isoformat() if mail.date else "").encode() + b"\0")
    _feed(digest, raw, _body_start(raw))
    return f"{mail.message_id} {digest.hexdigest()}", log_key(mail.message_id)


def _too_big(settings: _Settings, size: int) -> str:
    return f"message too big ({size:,} bytes, mail.max_message_size {settings.max_message:,})"


def _too_big_note(settings: _Settings, size: int) -> str:
    return (
        f"[{_too_big(settings, size)}: only its headers were read; its text and attachments "
        "were not kept. The original stays at its source.]"
    )


def _quarantine(
    ctx: Context, prep: Prepared, message_id: str | None, source: str, reason: str
) -> IngestResult:
    """Keep the message for a human (a message over the size cap: its header block only)."""
    store = ctx.store
    lkey = log_key(prep.key)
    with store.transaction():
        if not _claim(store, lkey, prep.id_key, source):
            return _duplicate(store, lkey, source, message_id)
        kept = _header_block(prep.raw) if prep.oversized else prep.raw
        inbound_repo.quarantine(store, lkey, source, reason, bytes(kept), now_iso())
        _log(store, lkey, "quarantined", None, reason)
    return IngestResult(source, message_id, "quarantined", None, reason)


def _claim(store: SqlStorage, lkey: str, id_key: str | None, source: str) -> bool:
    """Insert the inbound log row; False when the message was seen before.

    Inserting first (and not checking first) makes a concurrent duplicate wait for the other
    transaction and then find the row: it becomes ``duplicate``, never an error.
    """
    return inbound_repo.claim(store, lkey, source, now_iso(), id_key=id_key)


def _log(store: SqlStorage, lkey: str, outcome: str, ticket_id: Any, reason: str) -> None:
    inbound_repo.set_outcome(store, lkey, outcome, ticket_id, reason)


def _duplicate(store: SqlStorage, lkey: str, source: str, message_id: str | None) -> IngestResult:
    row = inbound_repo.seen(store, lkey) or {}
    previous = row.get("outcome")
    if previous == "rejected" and row.get("number") is None:
        # Rejected without a ticket: a sender the gate refused (or one a plugin turned away),
        # whose Message-ID is no more shown the second time than it was the first.
        message_id = None
    return IngestResult(
        source,
        message_id,
        "duplicate",
        row.get("number"),
        f"seen before ({previous})" if previous else "seen before",
        previous=previous,
    )


# -- the decision ---------------------------------------------------------------------------------
def _ingest_parsed(
    ctx: Context, settings: _Settings, prep: Prepared, mail: ParsedMail, source: str, billing: bool
) -> IngestResult:
    store = ctx.store
    lkey = log_key(prep.key)
    kind = prep.kind
    assert kind is not None
    with store.transaction():
        if prep.id_key is not None and _is_legacy(store, prep.id_key):
            # logged before keys held more than the Message-ID: the same message, as then
            return _duplicate(store, prep.id_key, source, mail.message_id)
        if not _claim(store, lkey, prep.id_key, source):
            return _duplicate(store, lkey, source, mail.message_id)
        _seed_gate(settings, mail, prep)
        machine = _machine_kind(mail, kind) if kind.automatic else None
        if machine is not None and settings.automatic[machine] == "ticket" and _served(prep):
            outcome, ticket, reason = _person(ctx, settings, mail, automatic=kind.reason)
        elif kind.automatic:
            outcome, ticket, reason = _automatic(ctx, settings, mail, kind)
        elif billing and (numbers := _subject_numbers(settings, mail)):
            outcome, ticket, reason = _billing(ctx, settings, mail, numbers)
        else:
            outcome, ticket, reason = _person(ctx, settings, mail)
        reason = _for_a_human(store, mail, outcome, ticket, reason)
        if prep.oversized and ticket is not None and outcome in ("new", "followup"):
            reason = _join(reason, f"{_too_big(settings, prep.size)}: headers only")
        if prep.id_key is not None and (other := inbound_repo.seen_by_id(store, prep.id_key, lkey)):
            reason = _join(
                reason,
                f"Message-ID seen before on a different message ({other['outcome']}): "
                "processed as a message of its own",
            )
        _log(store, lkey, outcome, ticket["id"] if ticket else None, reason)
    # A stranger's Message-ID often holds an address; result lines end up in cron logs.
    shown = None if outcome == "rejected" and _stranger(settings, mail) else mail.message_id
    kept = prep.oversized and outcome in ("new", "followup")
    return IngestResult(
        source, shown, outcome, ticket["number"] if ticket else None, reason, kept=kept
    )


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


def _is_legacy(store: SqlStorage, id_key: str) -> bool:
    """Whether a row of the log is keyed by this Message-ID alone (written before
    migration 0006)."""
    return inbound_repo.seen(store, id_key) is not None


def _seed_gate(settings: _Settings, mail: ParsedMail, prep: Prepared) -> None:
    """Take the contract gate's answer read before the transaction, where it can be trusted:
    a refusal, or a requester whose contact exists. A requester still to be created (a new
    address of a customer's domain) is asked again inside, where the write lock is held, so
    that two messages of one new address never create the contact twice."""
    if prep.gate is None:
        return
    sender = norm_email(mail.from_addr)
    requester, why = prep.gate
    if sender in settings.gate or sender in settings.refused:
        return
    if requester is None:
        settings.refused[sender] = why
    elif requester.contact.get("id") is not None:
        settings.gate[sender] = requester


def _served(prep: Prepared) -> bool:
    return prep.gate is not None and prep.gate[0] is not None


def _machine_kind(mail: ParsedMail, kind: Classification) -> str | None:
    """``"generated"`` or ``"list"`` for automatic mail a machine sent of its own accord (a
    monitoring alert, a ticket system's notification, a job's report, a list's mail); None
    for answers to a mail (out-of-office, read receipts), bounces and loops."""
    from hdcli.mail.classify import AUTO_REPLY, AUTO_REPLY_SUBJECT

    if kind.kind != AUTO_REPLY or kind.reason.startswith("read receipt"):
        return None
    headers = mail.headers
    if "x-loop" in headers:  # a loop somewhere, whatever else it says
        return None
    submitted = headers.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if submitted == "auto-replied" or "x-autoreply" in headers or "x-autorespond" in headers:
        return None
    precedence = headers.get("precedence", "").strip().lower()
    if precedence == "auto_reply" or AUTO_REPLY_SUBJECT.search(mail.subject):
        return None
    if submitted not in ("", "no"):
        return "generated"
    if precedence in ("bulk", "list", "junk") or "list-id" in headers:
        return "list"
    return "generated"


def _for_a_human(
    store: SqlStorage, mail: ParsedMail, outcome: str, ticket: Row | None, reason: str
) -> str:
    """``reason`` with what of the message needs a human: attachments not kept for their size,
    header fields and addresses beyond the caps of the parse, the acknowledgement of a new
    ticket that the daily cap of automatic mail suppressed."""
    notes = [reason] if reason else []
    if outcome == "new" and ticket is not None and _suppressed(store, ticket):
        notes.append("acknowledgement not sent: daily limit of automatic mails reached")
    if outcome in ("new", "followup"):
        if mail.skipped_attachments:
            notes.append("attachment not kept: " + "; ".join(mail.skipped_attachments))
        notes.extend(d for d in mail.defects if d.startswith(("header cap:", "address cap:")))
    return one_line("; ".join(notes))


def _suppressed(store: SqlStorage, ticket: Row) -> bool:
    """Whether mail to the requester of ``ticket`` was suppressed (for a ticket opened in this
    transaction: its acknowledgement)."""
    from hdcli.repo import history

    return history.has_action(store, int(ticket["id"]), "mail_suppressed")


def _stranger(settings: _Settings, mail: ParsedMail) -> bool:
    """Whether the contract gate refused the sender (or there was no sender to ask about).

    Only meaningful right after the message was decided: ``settings.refused`` holds every
    address the gate refused within the open transaction, this message's sender among them.
    """
    sender = mail.from_addr
    return not sender or "@" not in sender or norm_email(sender) in settings.refused


Decision = tuple[str, "Row | None", str]


def _subject_numbers(settings: _Settings, mail: ParsedMail) -> list[str]:
    from hdcli.numbers import find_numbers

    if not mail.subject:
        return []
    return find_numbers(mail.subject, settings.hooks, settings.formats)


def _find_ticket(
    store: SqlStorage, settings: _Settings, mail: ParsedMail, check_sender: bool = True
) -> Row | None:
    """The ticket a message answers: its number in the subject, else In-Reply-To/References
    to a message hdcli received or sent. Only a ticket the sender may write to counts."""
    return _writable(store, _candidates(store, settings, mail), mail, check_sender)


def _writable(
    store: SqlStorage, candidates: list[Row], mail: ParsedMail, check_sender: bool = True
) -> Row | None:
    """The first of ``candidates`` the sender may write to (see :func:`_belongs`)."""
    for ticket in candidates:
        if not check_sender or may_write(store, ticket, mail.from_addr):
            return ticket
    return None


def _numbered(store: SqlStorage, numbers: list[str]) -> list[Row]:
    """The tickets with these numbers, in their order."""
    return ticket_repo.by_numbers(store, numbers)


def _candidates(store: SqlStorage, settings: _Settings, mail: ParsedMail) -> list[Row]:
    """The tickets a message may answer, best first, whoever sent it: the numbers in its
    subject, then the tickets of the Message-IDs in In-Reply-To/References."""
    candidates = _numbered(store, _subject_numbers(settings, mail))
    ids = list(dict.fromkeys([*mail.in_reply_to, *reversed(mail.references)]))[:20]
    if ids:
        rows = ticket_repo.answered_by(store, ids)
        seen = {int(c["id"]) for c in candidates}
        candidates.extend(r for r in rows if int(r["id"]) not in seen)
    return _merge_targets(store, candidates)


def _merge_targets(store: SqlStorage, candidates: list[Row]) -> list[Row]:
    """Each candidate merged into another (``hdcli merge``) replaced by the ticket it was
    merged into (a chain followed a few steps), each ticket once."""
    out: list[Row] = []
    seen: set[int] = set()
    for row in candidates:
        for _ in range(5):
            if not row.get("merged_into_id"):
                break
            row = ticket_repo.by_id(store, int(row["merged_into_id"])) or row
        if int(row["id"]) not in seen:
            seen.add(int(row["id"]))
            out.append(row)
    return out


def _automatic(
    ctx: Context, settings: _Settings, mail: ParsedMail, kind: Classification
) -> Decision:
    """Auto-replies and bounces: recorded where they belong, never answered."""
    from hdcli.mail.classify import AUTO_REPLY, BOUNCE

    store = ctx.store
    if kind.kind == BOUNCE and kind.bounced_message_ids:
        row = outbound_repo.sent_for_ticket(store, kind.bounced_message_ids[:20])
        if row is not None:
            ticket = ticket_repo.by_id(store, row["ticket_id"])
            if ticket is not None:
                outbound_repo.mark_bounced(store, row["message_id"], f"bounced: {kind.reason}")
                add_inbound_mail(ctx, ticket, mail, kind="bounce", attachments=())
                record(ctx, ticket, "bounce", message_id=row["message_id"], reason=kind.reason)
                return "ignored", ticket, f"bounce of our mail recorded ({kind.reason})"
        return "ignored", None, f"bounce: {kind.reason}"
    if kind.kind == AUTO_REPLY:
        ticket = _find_ticket(store, settings, mail)
        if ticket is not None and ticket["status"] != "closed":
            add_inbound_mail(ctx, ticket, mail, kind="auto_reply", attachments=())
            record(ctx, ticket, "auto_reply", sender=mail.from_addr, reason=kind.reason)
            return "ignored", ticket, f"auto-reply recorded, nothing sent ({kind.reason})"
    return "ignored", None, f"{kind.kind.replace('_', '-')}: {kind.reason}"


def _billing(ctx: Context, settings: _Settings, mail: ParsedMail, numbers: list[str]) -> Decision:
    """Mail of the billing mailbox with ticket numbers in its subject: the plugins' business
    (the billing plugin records answers to service reports); ignored when none took it."""
    from hdcli.plugins import hooks

    candidates = _numbered(ctx.store, numbers)
    handled = hooks.handle_inbound_mail(mail, None, ctx, candidates, "billing")
    if handled is not None:
        return handled.outcome, handled.ticket, handled.reason
    return (
        "ignored",
        candidates[0] if candidates else None,
        "billing mail: no service report matched",
    )


def _person(
    ctx: Context, settings: _Settings, mail: ParsedMail, automatic: str | None = None
) -> Decision:
    """Mail a person wrote: first the plugins' (``handle_inbound_mail``), then a follow-up of
    the ticket it answers, the closed-ticket policy, or a new ticket if the sender is served.

    ``automatic`` (the classification's reason) is for machine mail of a served customer
    (``mail.automatic_new = ticket``): it opens or joins a ticket like a person's mail, but
    nothing is ever sent in answer (no acknowledgement, no closed-ticket notice) and the
    plugins' ``handle_inbound_mail`` is not asked (a machine approves no service report).
    """
    from hdcli.plugins import hooks

    store = ctx.store
    if not mail.from_addr or "@" not in mail.from_addr:
        return "rejected", None, mail.sender_problem or "no sender address"
    candidates = _candidates(store, settings, mail)
    ticket = _writable(store, candidates, mail)
    if automatic is None:
        handled = hooks.handle_inbound_mail(mail, ticket, ctx, candidates, "")
        if handled is not None:
            return handled.outcome, handled.ticket, handled.reason
    else:
        quiet = f"automatic mail ({automatic}): nothing sent in answer"
        if ticket is None:
            outcome, t, reason = _new_ticket(ctx, settings, mail, notify=False)
            return outcome, t, _join(reason, quiet) if outcome == "new" else reason
        if ticket["status"] != "closed":
            outcome, t, reason = _followup(ctx, ticket, mail)
            return outcome, t, _join(reason, quiet)
        if _closed_policy(ctx, settings, ticket) != "new_ticket":
            return "ignored", ticket, f"ticket is closed; {quiet}"
        outcome, t, reason = _new_ticket(ctx, settings, mail, linked_from=ticket, notify=False)
        if outcome == "new":
            reason = _join(f"ticket {ticket['number']} is closed: new ticket linked to it", quiet)
        return outcome, t, reason
    if ticket is None:
        return _new_ticket(ctx, settings, mail)
    if ticket["status"] != "closed":
        return _followup(ctx, ticket, mail)
    policy = _closed_policy(ctx, settings, ticket)
    if policy == "reopen":
        reopen_in_tx(ctx, ticket, "reply by mail")
        outcome, t, reason = _followup(ctx, ticket, mail)
        return outcome, t, f"ticket was closed: reopened; {reason}".rstrip("; ")
    if policy == "reject_with_notice":
        sent = send_mail(
            ctx,
            ticket,
            "closed_notice",
            to_addr=mail.from_addr,
            to_name=mail.from_name or "",
            automatic=True,
            article=False,
            answers=mail.message_id or None,
        )
        told = (
            "the sender was asked to write anew"
            if sent
            else "the notice was not sent: daily limit of automatic mails reached"
        )
        return "rejected", ticket, f"ticket is closed (policy reject_with_notice): {told}"
    outcome, t, reason = _new_ticket(ctx, settings, mail, linked_from=ticket)
    if outcome == "new":
        reason = f"ticket {ticket['number']} is closed: new ticket linked to it"
    return outcome, t, reason


def _closed_policy(ctx: Context, settings: _Settings, ticket: Row) -> str:
    """The closed-ticket policy of the ticket's contract, else the configured one."""
    policy = customer_repo.contract_value(ctx.store, ticket["contract_id"], "closed_policy")
    return str(policy) if policy else settings.closed_policy


def _followup(ctx: Context, ticket: Row, mail: ParsedMail) -> Decision:
    followup_in_tx(ctx, ticket, mail)
    return "followup", ticket, ""


def _new_ticket(
    ctx: Context,
    settings: _Settings,
    mail: ParsedMail,
    linked_from: Row | None = None,
    *,
    notify: bool = True,
) -> Decision:
    from hdcli import customers
    from hdcli.numbers import new_subject
    from hdcli.plugins import hooks

    store = ctx.store
    sender = norm_email(mail.from_addr)
    if sender in settings.refused:
        return "rejected", None, settings.refused[sender]
    if sender not in settings.gate:
        requester, why = customers.find_requester(store, sender, ctx.today())
        if requester is None:
            # The contract gate: nothing of the message is kept, only the count and the reason.
            settings.refused[sender] = why
            return "rejected", None, why
        settings.gate[sender] = requester
    subject = new_subject(mail.subject, settings.hooks)
    from hdcli.default_plugins.routing import route_fields

    assignee = hooks.route_message(mail, ctx.config)
    fields = route_fields(mail.subject, mail.body_text, mail.from_addr, ctx.config)
    req = OpenRequest(
        impact=fields.get("impact", "single_user"),
        priority=fields.get("priority", "normal"),
        contact=sender,
        subject=one_line(subject) or NO_SUBJECT,
        body=mail.body_text,
        channel="email",
        name=mail.from_name,
        message_id=mail.message_id,
        cc=mail.cc,
        attachments=inbound_attachments(mail),
        body_html=mail.body_html,
        assignee=assignee,
        linked_from=linked_from,
        notify=notify,
    )
    try:
        opened = open_in_tx(ctx, req, gate_cache=settings.gate)
    except Refused as exc:  # a plugin's veto: nothing was written before it
        return "rejected", None, one_line(str(exc))
    if mail.skipped_attachments:
        record(ctx, opened.ticket, "attachments_skipped", files=mail.skipped_attachments)
    return "new", opened.ticket, f"routed to {assignee}" if assignee else ""


# -- many messages ---------------------------------------------------------------------------------
def ingest_many(
    ctx: Context, messages: Iterable[tuple[str, bytes]], *, batch: int = 200
) -> Iterator[IngestResult]:
    """Ingest ``(source, raw)`` pairs, yielding each result after its commit.

    Up to ``batch`` messages share one transaction, each in a savepoint of its own, so a
    message that fails is still undone and quarantined alone while a commit (and on SQLite its
    write lock) is paid once per batch. Results are yielded only once their batch committed.
    The mail the messages cause is delivered after each commit (it is in the queue from the
    commit on, so nothing is lost when the run stops in between). A transient error rolls back
    the open batch (none of its results were yielded) and propagates after the mail of the
    committed batches was handed on; running again ingests the rest.
    """
    settings = _settings(ctx)
    store = ctx.store
    batch = max(int(batch), 1)
    source_iter = iter(messages)
    with _pinned_actor(ctx):
        try:
            while True:
                chunk = _prepare_chunk(ctx, source_iter, batch)
                if not chunk:
                    return
                done: list[IngestResult] = []
                mark = len(ctx.after_commit)
                settings.forget()
                try:
                    with store.transaction():
                        for source, prep in chunk:
                            done.append(_process(ctx, settings, prep, source, False))
                except BaseException:
                    del ctx.after_commit[mark:]  # mail and events of the rolled-back batch
                    raise
                del chunk
                if ctx.after_commit:
                    finish(ctx)
                yield from done
        finally:
            if ctx.after_commit:
                finish(ctx)


#: Bytes of messages prepared for one batch at most (a batch of big mails is shorter).
BATCH_BYTES = 64 * 1024 * 1024


def _prepare_chunk(
    ctx: Context, source_iter: Iterator[tuple[str, bytes]], batch: int
) -> list[tuple[str, Prepared]]:
    """The next batch, read and prepared before its transaction begins: up to ``batch``
    messages and about :data:`BATCH_BYTES` of them."""
    chunk: list[tuple[str, Prepared]] = []
    size = 0
    gate: dict[str, tuple[Any, str]] = {}
    for source, raw in source_iter:
        chunk.append((source, prepare(ctx, raw, gate_cache=gate)))
        size += len(raw)
        if len(chunk) >= batch or size >= BATCH_BYTES:
            break
    return chunk


@contextmanager
def _pinned_actor(ctx: Context) -> Iterator[None]:
    """Resolve the acting user once for a whole batch run.

    ``Context.actor`` asks the operating system for the user name each time it is read, and
    every article and history row of every message reads it; the answer cannot change
    during a run.
    """
    previous = getattr(ctx, "_actor", None)
    if previous:
        yield
        return
    ctx._actor = ctx.actor
    try:
        yield
    finally:
        ctx._actor = previous


MESSAGE_SUFFIXES = (".eml", ".box", ".msg", ".mbox")


def read_messages(paths: Iterable[str], stdin: Any = None) -> Iterator[tuple[str, bytes]]:
    """``(source, raw)`` for every message named by ``paths``, read one at a time.

    A file is one message (whatever its name); ``-`` is one message on ``stdin`` (a binary
    stream); a Maildir (a folder with ``cur/`` or ``new/``) yields the files of ``new/`` then
    ``cur/``; any other folder is searched recursively for ``.eml``/``.box`` files and
    Maildirs, in name order. A path that does not exist raises UsageError before anything of
    it is read.
    """
    import os
    from pathlib import Path

    from hdcli.errors import UsageError

    for arg in paths:
        if arg == "-":
            if stdin is None:
                raise UsageError("no standard input to read a message from")
            yield "-", stdin.read()
            continue
        path = Path(arg)
        if path.is_file():
            yield str(path), _read(path)
        elif path.is_dir():
            for found in _walk(path, os):
                data = _read_optional(found)
                if data is not None:
                    yield str(found), data
        else:
            raise UsageError(f"no such file or folder: {arg}")


def _is_maildir(path: Any) -> bool:
    return bool((path / "cur").is_dir() or (path / "new").is_dir())


def _walk(folder: Any, os: Any) -> Iterator[Any]:
    if _is_maildir(folder):
        for sub in ("new", "cur"):
            box = folder / sub
            if box.is_dir():
                for name in sorted(os.listdir(box)):
                    if not name.startswith("."):
                        yield box / name
        return  # its Maildir++ subfolders (.Processed, .Review, …) are not inbound mail
    else:
        entries = sorted(folder.iterdir())
        for entry in entries:
            if entry.is_file() and entry.suffix.lower() in MESSAGE_SUFFIXES:
                yield entry
        subfolders = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    for sub in subfolders:
        yield from _walk(sub, os)


def _read(path: Any) -> bytes:
    from hdcli.errors import UsageError

    try:
        data: bytes = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    return data


def _read_optional(path: Any) -> bytes | None:
    """A message file of a folder, or None when it vanished (another reader moved it)."""
    try:
        data: bytes = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    return data
