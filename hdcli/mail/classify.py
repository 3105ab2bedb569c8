"""Tell automatic mail (bounces, auto-replies, loops) from mail a person wrote.

hdcli never answers automatic mail (DESIGN.md, Mail / Loop protection): answering an
out-of-office or a bounce is how mail loops start. :func:`classify` looks at the headers
first (RFC 3834 ``Auto-Submitted``, ``Precedence``, ``X-Loop``, our own loop header, the
null Return-Path, Microsoft's ``X-Auto-Response-Suppress``), then at the MIME structure
(RFC 3464 / RFC 5965 ``multipart/report``) and the sender (mailer-daemon, postmaster),
and only as a last resort at the subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hdcli.mail.parse import DEFAULT_LOOP_HEADER, normalise_msgid
from hdcli.models import MailKind

if TYPE_CHECKING:
    from hdcli.mail.parse import ParsedMail

# The kinds (hdcli.models.MAIL_KINDS), by name.
NORMAL: MailKind = "normal"
AUTO_REPLY: MailKind = "auto_reply"
BOUNCE: MailKind = "bounce"
LOOP: MailKind = "loop"


@dataclass(frozen=True)
class Classification:
    """What kind of mail this is, and the first piece of evidence for it."""

    kind: MailKind
    """One of :data:`hdcli.models.MAIL_KINDS`."""
    reason: str
    """One line for the inbound log, e.g. ``"Auto-Submitted: auto-replied"``; "" for normal mail."""
    bounced_message_ids: list[str] = field(default_factory=list)
    """For bounces: Message-IDs of the original message(s) the bounce reports on."""

    @property
    def automatic(self) -> bool:
        """True for everything but normal mail: hdcli must never answer it."""
        return self.kind != NORMAL


# Local parts of senders that only ever send delivery reports.
_DAEMON_LOCALPARTS = frozenset(
    {"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "postmaster", "post_master"}
)

# Subjects as a last resort. Anchored at the start (after an optional "[tag]"), so a
# customer writing "Re: returned mail from your server" is not caught.
_BOUNCE_SUBJECT = re.compile(
    r"""^\s*(?:\[[^\]]*\]\s*|\*+\s*)?(?:
        undeliver(?:ed|able)
      | returned\s+mail | mail\s+returned
      | (?:mail\s+|email\s+)?delivery\s+(?:status\s+notification|failure|failed|has\s+failed)
      | mail\s+delivery\s+(?:failed|failure|subsystem|system|status)
      | (?:message|mail)\s+(?:delivery\s+has\s+failed|could\s+not\s+be\s+delivered|not\s+delivered)
      | failure\s+notice
      | mail\s+system\s+error
      | notice:\s+mail\s+delivery
      | non[- ]?delivery
      | unzustellbar | nicht\s+zustellbar | zustellung\s+fehlgeschlagen
      | unzustellbare\s+nachricht | r[ée]ponse\s+de\s+non-remise | non\s+remis
      | warning:\s+could\s+not\s+send
      | sorry,\s+your\s+message\s+could\s+not\s+be\s+delivered
      | there\s+was\s+an\s+error\s+sending\s+your\s+mail
      | メールエラー | メール配信エラー | 配信できません | 配信不能
      | недоставленное\s+сообщение | ваше\s+сообщение\s+не\s+доставлено
    )""",
    re.IGNORECASE | re.VERBOSE,
)
#: Subjects of out-of-office and other automatic answers (also what tells an answer from a
#: machine's own mail in ingest).
AUTO_REPLY_SUBJECT = re.compile(
    r"""^\s*(?:\[[^\]]*\]\s*)?(?:
        automatic\s+reply | auto(?:matic)?[- ]?(?:reply|response|respons|antwort)
      | autoreply | autorespond
      | out\s+of\s+(?:the\s+)?office | ooo\b
      | abwesenheits?(?:notiz|nachricht|meldung)
      | automatische\s+antwort | automatische\s+r[üu]ckantwort
      | away\s+(?:until|from) | on\s+vacation | vacation\s+(?:reply|message|notice)
      | r[ée]ponse\s+automatique
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_PRECEDENCE_AUTOMATIC = frozenset({"bulk", "junk", "list", "auto_reply"})
_EMBEDDED_MSGID = re.compile(r"(?im)^[ \t>]*message-id[ \t]*:[ \t]*(<[^>\n]*>|\S+)")


def classify(
    mail: ParsedMail,
    raw: bytes | None = None,
    *,
    loop_header: str = DEFAULT_LOOP_HEADER,
    own_addresses: Iterable[str] = (),
) -> Classification:
    """Classify a parsed mail as normal, auto-reply, bounce or loop.

    ``raw`` (the message bytes) lets bounces that quote the original message as plain text
    beyond what ``mail`` kept (e.g. over the attachment cap) still yield its Message-ID.
    ``own_addresses`` are the addresses hdcli sends from: mail from them is a loop.
    Pure function: looks only at its arguments.
    """
    headers = mail.headers
    own = {a.strip().lower() for a in own_addresses if a and a.strip()}

    # 1. Loops: our own mail coming back.
    if loop_header.lower() in headers:
        return Classification(LOOP, f"own loop header {loop_header}")
    if mail.from_addr and mail.from_addr in own:
        return Classification(LOOP, f"sent from our own address {mail.from_addr}")

    # 2. Bounces and reports: structure and sender first, subject last.
    bounce_reason = _bounce_reason(mail)
    if bounce_reason is not None:
        if bounce_reason.startswith("read receipt"):
            return Classification(AUTO_REPLY, bounce_reason)
        return Classification(BOUNCE, bounce_reason, _bounced_ids(mail, raw))

    # 3. Auto-replies and other automatic mail, by header.
    reason = _auto_header_reason(mail)
    if reason is not None:
        kind = LOOP if reason.startswith("X-Loop") else AUTO_REPLY
        return Classification(kind, reason)

    # 4. Last resort: the subject.
    if _BOUNCE_SUBJECT.search(mail.subject):
        return Classification(
            BOUNCE, f"bounce subject {_short(mail.subject)!r}", _bounced_ids(mail, raw)
        )
    if AUTO_REPLY_SUBJECT.search(mail.subject):
        return Classification(AUTO_REPLY, f"auto-reply subject {_short(mail.subject)!r}")
    return Classification(NORMAL, "")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounce_reason(mail: ParsedMail) -> str | None:
    ctype = mail.content_type
    top = mail.headers.get("content-type", "").lower()
    if ctype == "multipart/report":
        m = re.search(r"report-type\s*=\s*\"?([\w.-]+)", top)
        report_type = m.group(1) if m else ""
        if report_type == "feedback-report":
            return "abuse/feedback report (ARF)"
        if report_type == "disposition-notification":
            return "read receipt (disposition notification)"
        return "delivery status notification"
    types = {a.content_type for a in mail.attachments}
    if "message/delivery-status" in types:
        return "delivery status notification"
    if "message/feedback-report" in types:
        return "abuse/feedback report (ARF)"
    # from_raw: a daemon's From is often no usable address at all ("MAILER-DAEMON")
    sender = mail.from_addr or mail.from_raw
    local = sender.split("@", 1)[0].strip('"')
    if local in _DAEMON_LOCALPARTS:
        return f"sender {local}"
    if _is_list_robot(local, mail.headers):
        return f"mailing-list robot {sender}"
    if mail.return_path == "" and mail.embedded_message_ids:
        return "null sender with the original message attached"
    if _BOUNCE_SUBJECT.search(mail.subject) and (
        mail.return_path == "" or "auto-submitted" in mail.headers
    ):
        return f"bounce subject {_short(mail.subject)!r}"
    return None


def _is_list_robot(local: str, headers: dict[str, str]) -> bool:
    """Mail from list software about our mail (not a member, loop alert, …).

    ``-request``/``-owner``/``-bounces`` addresses are robots by convention. ``-admin``
    alone is not (customers have ``it-admin@`` mailboxes), only with list software headers.
    """
    if local.startswith("owner-") or local.endswith(("-request", "-owner", "-bounces", "-ctl")):
        return True
    return local.endswith("-admin") and ("x-mlserver" in headers or "mailing-list" in headers)


def _auto_header_reason(mail: ParsedMail) -> str | None:
    headers = mail.headers
    auto_submitted = headers.get("auto-submitted", "").strip()
    if auto_submitted and auto_submitted.split(";", 1)[0].strip().lower() != "no":
        return f"Auto-Submitted: {_short(auto_submitted)}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _PRECEDENCE_AUTOMATIC:
        return f"Precedence: {precedence}"
    if "x-loop" in headers:
        return f"X-Loop: {_short(headers['x-loop'])}"
    if "x-autoreply" in headers:
        return "X-Autoreply header"
    if "x-autorespond" in headers:
        return "X-Autorespond header"
    if "x-auto-response-suppress" in headers:
        return f"X-Auto-Response-Suppress: {_short(headers['x-auto-response-suppress'])}"
    if mail.return_path == "":
        return "empty Return-Path <>"
    return None


def _bounced_ids(mail: ParsedMail, raw: bytes | None) -> list[str]:
    """Message-IDs of the message a bounce reports on, best evidence first."""
    ids: list[str] = []

    def add(mid: str | None) -> None:
        if mid and mid != mail.message_id and mid not in ids:
            ids.append(mid)

    for mid in mail.embedded_message_ids:
        add(mid)
    # Bounces without MIME structure (Exim, qmail, …) quote the original in the body.
    for m in _EMBEDDED_MSGID.finditer(mail.body_text):
        add(normalise_msgid(m.group(1)))
    for att in mail.attachments:
        if att.content_type in ("message/rfc822", "text/rfc822-headers", "text/plain"):
            head = att.data[:65536].decode("utf-8", errors="replace")
            for m in _EMBEDDED_MSGID.finditer(head):
                add(normalise_msgid(m.group(1)))
    if raw is not None and not ids:
        text = raw.decode("latin-1")
        matches = list(_EMBEDDED_MSGID.finditer(text))
        for m in matches[1:] if mail.message_id else matches:
            add(normalise_msgid(m.group(1)))
    for mid in mail.in_reply_to:
        add(mid)
    for mid in mail.references:
        add(mid)
    # RFC 5322 ids always hold an "@"; anything else is a stray token, not an id.
    return [mid for mid in ids if "@" in mid[1:-2]]
