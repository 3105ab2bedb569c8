"""Outbound mail: compose, queue in the same transaction as the change, deliver with retries.

Every mail is first written to the ``outbound`` table inside the transaction of the change that
caused it; delivery happens after the commit (right away when ``mail.outbound.send_now``, and
by ``hdcli mail flush``). A temporary failure keeps the mail queued with exponential backoff;
a permanent one marks it failed with the server's answer. Mail goes to one recipient only:
never reply-all, never to an inbound mail's CC.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hdcli.errors import Refused, UsageError
from hdcli.repo import outbound as outbound_repo
from hdcli.util import logger, now_iso, one_line

if TYPE_CHECKING:
    from email.message import EmailMessage

    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context


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
    return f"<{stamp}.{os.urandom(8).hex()}@{one_line(domain) or 'localhost'}>"


_TOKEN = re.compile(r"^[A-Za-z0-9-]+$")
_ATOM_OK = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")
MAX_LINE = 998  # RFC 5322 2.1.1, without the CRLF
_ADDRESS_ROOM = MAX_LINE - len("From: ") - len(" <>")  # for name and address on one line


def encode_words(text: str) -> str:
    """``text`` as an unstructured header value (Subject): ASCII as it is; anything else, and
    ASCII that a reader would take for an encoded word (``=?``), as RFC 2047 words."""
    if text.isascii() and "=?" not in text:
        return text
    return _encoded_words(text)


def _encoded_words(text: str) -> str:
    """RFC 2047 base64 words of at most 45 bytes each (whole characters), one a line."""
    data = text.encode("utf-8")
    words: list[bytes] = []
    start = 0
    while start < len(data):
        end = start + 45
        # back to the first byte of a character (UTF-8 continuation bytes are 10xxxxxx)
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        words.append(data[start:end])
        start = end
    return "\n ".join(_word(w) for w in words)


def _encoded_word(text: str) -> str:
    return _word(text.encode("utf-8"))


def _word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def format_address(name: str, address: str) -> str:
    """``Name <address>`` with the name as atoms, quoted, or RFC 2047-encoded as needed.

    A non-ASCII name (or one holding ``=?``) becomes one encoded word, as
    ``email.utils.formataddr`` writes it: readers that keep the blank between two encoded
    words of a display name (Python's modern parser before gh-128110) would show a space the
    name does not have. Only a name too long for one header line is split into several words.
    """
    name = one_line(name)
    address = one_line(address)
    if not name:
        return address
    if not name.isascii() or "=?" in name:
        phrase = _encoded_word(name)
    elif _ATOM_OK.match(name):
        phrase = name
    else:
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if len(phrase) + len(address) > _ADDRESS_ROOM:
        phrase = _encoded_words(name)
    return f"{phrase} <{address}>"


def header_fields(
    sender: tuple[str, str],
    recipient: tuple[str, str],
    subject: str,
    headers: Sequence[tuple[str, str]],
) -> list[tuple[str, str]]:
    """The header fields hdcli writes, encoded, in order: the same on both ways a mail is
    built (:func:`render_plain`, :func:`build_message`)."""
    return [
        ("From", format_address(*sender)),
        ("To", format_address(*recipient)),
        ("Subject", encode_words(subject)),
        *headers,
    ]


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
    reply_to: str | None = None,
) -> tuple[str, bytes]:
    """Build the message; returns (Message-ID, raw bytes). Headers never carry CR/LF.

    Every value is folded onto one line before it becomes a header. A plain-text mail that no
    plugin prepares is written directly (it is on the hot path of ingest and bulk open); a mail
    with attachments, or one a ``prepare_outbound`` plugin may change, is built with the
    stdlib's EmailMessage.
    """
    from email.utils import format_datetime

    from hdcli.plugins import hooks, load_plugins, pm

    config = ctx.config
    loop_header = str(config.get("mail.loop_header"))
    if not _TOKEN.match(loop_header):
        raise UsageError(f"mail.loop_header {loop_header!r} is not a header name")
    message_id = make_message_id(config.mail_domain)
    sender = (
        one_line(str(config.get("mail.from_name"))),
        one_line(str(config.get("mail.from_address"))),
    )
    recipient = (one_line(to_name), one_line(to_addr))
    for _name, address in (sender, recipient):
        if not address.isascii() or not address:
            raise Refused(f"cannot send mail to or from the address {address!r}")
    plain_subject = one_line(subject)
    headers: list[tuple[str, str]] = [
        ("Date", format_datetime(datetime.now(UTC))),
        ("Message-ID", message_id),
    ]
    # Addresses and Message-IDs are ASCII: one that is not (8-bit bytes in an inbound
    # Message-ID) is left out instead of being sent as an encoded word no reader matches.
    reply = one_line(reply_to or "")
    if reply and reply.isascii():
        headers.append(("Reply-To", reply))
    parent = one_line(in_reply_to or "")
    if parent and parent.isascii():
        headers.append(("In-Reply-To", parent))
    refs = [r for r in map(one_line, references) if r and r.isascii()]
    if refs:
        headers.append(("References", " ".join(refs[-10:])))
    if automatic:
        headers.append(("Auto-Submitted", "auto-replied"))
        headers.append(("X-Auto-Response-Suppress", "All"))
    headers.append((loop_header, sender[1]))
    if ticket_number:
        headers.append(("X-hdcli-Ticket", one_line(ticket_number)))
    atts = list(attachments)
    load_plugins()
    if not atts and not pm.hook.prepare_outbound.get_hookimpls():
        plain = render_plain(sender, recipient, plain_subject, headers, body)
        if plain is not None:
            return message_id, plain
    msg = build_message(sender, recipient, plain_subject, headers, body, atts)
    hooks.prepare_outbound(
        msg, {"kind": kind, "ticket": ticket_number, "config": ctx.config, "automatic": automatic}
    )
    for name, value in msg.items():
        if "\r" in str(value) or "\n" in str(value).replace("\n ", "").replace("\n\t", ""):
            raise Refused(f"outbound header {name} contains a line break")
    raw: bytes = msg.as_bytes()
    return message_id, raw


def render_plain(
    sender: tuple[str, str],
    recipient: tuple[str, str],
    subject: str,
    headers: Sequence[tuple[str, str]],
    body: str,
) -> bytes | None:
    """The bytes of a plain-text mail, written directly: what :func:`build_message` gives for
    the same values without attachments (``tests/test_outbound_mime.py`` holds them equal),
    at a fraction of its cost. Every value must already be on one line.

    None when a header would not fit on a line of :data:`MAX_LINE` characters: folding it is
    left to EmailMessage."""
    head = "".join(
        f"{name}: {value}\n" for name, value in header_fields(sender, recipient, subject, headers)
    )
    if max(map(len, head.split("\n"))) > MAX_LINE:
        return None
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    qp = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    head += (
        'MIME-Version: 1.0\nContent-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n\n"
    )
    return head.encode("ascii") + qp + (b"" if qp.endswith(b"\n") else b"\n")


def build_message(
    sender: tuple[str, str],
    recipient: tuple[str, str],
    subject: str,
    headers: Sequence[tuple[str, str]],
    body: str,
    attachments: Sequence[OutAttachment] = (),
) -> EmailMessage:
    """The mail as the stdlib's EmailMessage, for attachments and ``prepare_outbound`` plugins.

    The header fields are stored as :func:`header_fields` encodes them (``set_raw``), not
    given to the stdlib to encode: before the fix of gh-121284 it writes an encoded display
    name that holds specials back unencoded (the name ``ü <a@b>`` came out as
    ``=?utf-8?q?=C3=BC?= <a@b> <b@x>``, a second address), and it decodes text that looks
    like an encoded word (``=?utf-8?q?x=2C_y?=`` came out as ``x, y``). A plugin reading a
    header still gets it parsed; a line over :data:`MAX_LINE` is folded by the stdlib.
    """
    from email.message import EmailMessage

    msg = EmailMessage(policy=_policy())
    for name, value in header_fields(sender, recipient, subject, headers):
        msg.set_raw(name, value)
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    for att in attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(
            att.data, maintype=maintype, subtype=subtype or "octet-stream", filename=att.filename
        )
    return msg


#: Automatic mails that answer inbound mail: the daily cap (loop protection) counts these.
ANSWER_KINDS = ("acknowledgement", "closed_notice")


def auto_limit_reached(ctx: Context, recipient: str) -> bool:
    """True when ``recipient`` got ``mail.auto_reply_limit`` automatic answers in 24 hours."""
    limit = int(ctx.config.get("mail.auto_reply_limit"))
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return outbound_repo.answers_since(ctx.store, recipient, ANSWER_KINDS, since) >= limit


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
    capped: bool = False,
    reply_to: str | None = None,
) -> Queued | None:
    """Queue one mail in the current transaction; returns its queue id and Message-ID.

    ``capped`` marks an automatic answer to inbound mail (loop protection): it is suppressed,
    and None returned, when the address already got ``mail.auto_reply_limit`` of them in 24
    hours. Mail that staff cause (a start notice, a service report) is never suppressed.
    """
    store = ctx.store
    to_addr = one_line(to_addr).lower()
    if capped and auto_limit_reached(ctx, to_addr):
        if to_addr not in ctx.capped_warned:  # a mail loop must not flood cron's mail
            ctx.capped_warned.add(to_addr)
            logger("hdcli.mail").warning(
                "automatic mail to %s suppressed: daily limit reached (further ones in this "
                "run are not named again; see hdcli mail attention)",
                to_addr,
            )
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
        reply_to=reply_to,
    )
    now = now_iso()
    qid = outbound_repo.insert(
        store,
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


# -- who holds a claim ------------------------------------------------------------------------
@dataclass(frozen=True)
class Claimant:
    """The process that claimed outbound mail, as ``outbound.claimed_by`` records it.

    ``host`` is the host name, ``pid`` the process id, ``started`` the process's start on
    Linux (the boot id's first eight digits and the start time in clock ticks, so that a pid
    reused by a later process, or by a process after a reboot, is told apart; empty where
    ``/proc`` does not tell) and ``run`` a token of the flush run (one process may flush many
    times). The text form is ``host=H pid=P started=S run=R``; claims written by an older hdcli
    (a bare token) parse as None and are only released by :data:`STALE_CLAIM`.
    """

    host: str
    pid: int
    started: str
    run: str

    def __str__(self) -> str:
        return f"host={self.host} pid={self.pid} started={self.started or '-'} run={self.run}"

    @classmethod
    def parse(cls, text: str | None) -> Claimant | None:
        fields = dict(part.partition("=")[::2] for part in str(text or "").split())
        try:
            return cls(fields["host"], int(fields["pid"]), fields["started"].strip("-"),
                       fields["run"])  # fmt: skip
        except (KeyError, ValueError):
            return None

    def gone(self) -> bool:
        """True only when the claimant ran on this host and its process has ended (a zombie
        counts as ended) or its pid now belongs to another process. A claimant on another
        host is never judged from here: its claim waits for :data:`STALE_CLAIM`."""
        me = this_process()
        if self.host != me.host:
            return False
        if self.pid == me.pid:
            return self.started != me.started
        my_boot = me.started.partition(".")[0]
        if self.started and my_boot and self.started.partition(".")[0] != my_boot:
            return True  # this host rebooted since
        stat = _proc_stat(self.pid)
        if stat is not None:
            state, ticks = stat
            if state in ("Z", "X", "x"):
                return True
            return bool(self.started and my_boot) and self.started != f"{my_boot}.{ticks}"
        try:  # no /proc, or it hides the process: ask the kernel
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # PermissionError: alive, another user's
            return False
        return False


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip().replace("-", "")[:8]
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of process ``pid`` from ``/proc``, or None when it
    cannot be read (no such process, no ``/proc``, or hidden from us)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from its end
    fields = stat.rpartition(")")[2].split()
    return (fields[0], fields[19]) if len(fields) >= 20 else None


def _process_started(pid: int) -> str:
    """``BOOT.TICKS`` of a running process on Linux; empty when it has ended (or is a zombie)
    or when ``/proc`` cannot tell."""
    stat = _proc_stat(pid)
    boot = _boot_id()
    if stat is None or stat[0] in ("Z", "X", "x") or not boot:
        return ""
    return f"{boot}.{stat[1]}"


_ME: list[Claimant] = []


def this_process() -> Claimant:
    """This process as a claimant (``run`` is empty; :func:`flush` adds a token per run)."""
    if not _ME or _ME[0].pid != os.getpid():  # a fork is another process
        import socket

        host = re.sub(r"[\s=]", "_", socket.gethostname()) or "localhost"
        _ME[:] = [Claimant(host, os.getpid(), _process_started(os.getpid()), "")]
    return _ME[0]


def release_abandoned(store: SqlStorage) -> int:
    """Inside the claiming transaction: give back what dead runs had claimed.

    A claim of a process of this host that has ended is released at once; any other claim
    (another host's, or one written by an older hdcli) after :data:`STALE_CLAIM`. Returns how
    many mails were released at once. The mail a killed run was sending may have been
    delivered (see docs/mail.md, "Delivery guarantees"); it is sent again.
    """
    released = 0
    for claimed_by in outbound_repo.claimants(store):
        claimant = Claimant.parse(claimed_by)
        if claimant is not None and claimant.gone():
            n = outbound_repo.release_claims_of(store, claimed_by)
            released += n
            logger("hdcli.mail").warning(
                "%d mail(s) claimed by process %d on %s, which has ended, are queued again",
                n, claimant.pid, claimant.host,
            )  # fmt: skip
    outbound_repo.release_stale_claims(
        store, (datetime.now(UTC) - STALE_CLAIM).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    return released


def delivery_key(qid: int, message_id: str) -> str:
    """The name of a queue entry's delivery, the same on every attempt: offline transports
    name its file after it, so that a retry replaces the file instead of adding one."""
    return f"{qid:010d}-{message_id.strip().strip('<>')}"


def flush(ctx: Context, ids: Sequence[int] | None = None, limit: int = 1000) -> FlushResult:
    """Deliver due mail (or just ``ids``). Each mail is claimed first, so two runs at once never
    send the same mail; the claims of a run that died on this host are released by the next
    run, another host's after :data:`STALE_CLAIM`.

    The result of each mail is recorded the moment the transport returns, in a statement of
    its own, so that a run killed at any point re-sends at most the one mail it was sending.
    """
    from hdcli.mail.transports import PermanentSendError, SendError

    store = ctx.store
    config = ctx.config
    result = FlushResult()
    owner = str(replace(this_process(), run=os.urandom(8).hex()))
    now = now_iso()
    if ids is not None and not ids:
        return result
    with store.transaction():
        release_abandoned(store)
        if ids is not None:
            outbound_repo.claim_ids(store, owner, now, ids)
        else:
            outbound_repo.claim_due(store, owner, now, limit)
    claimed = outbound_repo.claimed(store, owner)
    if not claimed:
        return result
    transport = None
    down: str | None = None
    try:
        transport = make_transport(config)
        send_queued = getattr(transport, "send_queued", None)
        for row in claimed:
            qid = int(row["id"])
            if down is not None:
                _release(ctx, qid, owner, row, down, count_attempt=False)
                result.deferred.append((qid, down))
                continue
            # one message in memory at a time, however long the queue
            mail = outbound_repo.begin_attempt(store, qid, owner)
            if mail is None:  # taken over by another run after STALE_CLAIM
                continue
            envelope = (str(mail["sender"]), [str(mail["recipient"])], bytes(mail["raw"]))
            try:
                if send_queued is not None:
                    send_queued(delivery_key(qid, str(mail["message_id"])), *envelope)
                else:
                    transport.send(*envelope)
            except PermanentSendError as exc:
                outbound_repo.record_failed(store, qid, owner, str(exc))
                result.failed.append((qid, str(exc)))
            except SendError as exc:
                down = str(exc)
                _release(ctx, qid, owner, row, down, count_attempt=True)
                result.deferred.append((qid, down))
            else:
                outbound_repo.record_sent(store, qid, owner)
                result.sent.append(qid)
    except UsageError as exc:  # bad transport settings: keep everything queued
        handled = set(result.sent) | {q for q, _ in result.failed} | {q for q, _ in result.deferred}
        for row in claimed:
            qid = int(row["id"])
            if qid not in handled:
                _release(ctx, qid, owner, row, str(exc), count_attempt=False)
                result.deferred.append((qid, str(exc)))
        raise
    finally:
        if transport is not None:
            try:
                transport.close()
            except Exception as exc:  # closing a dead connection must not lose the results
                logger("hdcli.mail").debug("closing the transport failed: %s", exc)
    return result


def _release(
    ctx: Context, qid: int, owner: str, row: dict[str, Any], error: str, count_attempt: bool
) -> None:
    """Give a claimed mail back to the queue with backoff (failed after ``max_attempts``);
    ``count_attempt`` when this run tried it (its attempt was counted before sending)."""
    attempts = int(row["attempts"]) + (1 if count_attempt else 0)
    max_attempts = int(ctx.config.get("mail.outbound.max_attempts"))
    status = "failed" if attempts >= max_attempts else "queued"
    outbound_repo.requeue(
        ctx.store, qid, owner, status, attempts, _backoff(ctx.config, attempts), error
    )


def retry(ctx: Context, ids: Sequence[int] | None = None) -> int:
    """Put failed mail (all, or ``ids``) back in the queue, due now; returns how many."""
    now = now_iso()
    with ctx.store.transaction():
        if ids is None:
            return outbound_repo.retry_failed(ctx.store, now)
        return outbound_repo.retry(ctx.store, ids, now)


def queue_rows(
    store: SqlStorage, *, status: str | None = None, everything: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """The outbound queue, newest first: rows of ``status``, else all but those sent (or,
    with ``everything``, all), at most ``limit``."""
    return outbound_repo.listing(store, status=status, everything=everything, limit=limit)
