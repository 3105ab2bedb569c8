"""The words of the domain, defined once: statuses, channels, roles, policies, outcomes.

Each vocabulary is a ``Literal`` type (what mypy checks) and a tuple of its values (what
input is validated against and what ``--help`` and errors list), kept equal by
:func:`typing.get_args`. Rows read from storage stay plain mappings (:data:`Row`); where a row
crosses a module boundary with a fixed shape it is typed here.

This module imports only :mod:`hdcli.errors`: every layer may use it.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, get_args

from hdcli.errors import UsageError

Row = dict[str, Any]
"""A row read from storage: column name to value."""

# -- tickets ---------------------------------------------------------------------------------------
TicketStatus = Literal["new", "assigned", "in_progress", "waiting", "closed"]
STATUSES: tuple[TicketStatus, ...] = get_args(TicketStatus)
OPEN_STATUSES: tuple[TicketStatus, ...] = ("new", "assigned", "in_progress", "waiting")

WaitingFor = Literal["customer", "approval"]
WAITING_FOR: tuple[WaitingFor, ...] = get_args(WaitingFor)

#: Which status may follow which: every status change goes through
#: :func:`hdcli.tickets.transition`, which refuses anything else (exit 4). ``waiting`` may
#: follow ``waiting`` (a ticket waiting for the customer may start waiting for an approval).
TRANSITIONS: dict[TicketStatus, tuple[TicketStatus, ...]] = {
    "new": ("assigned", "in_progress", "waiting", "closed"),
    "assigned": ("in_progress", "waiting", "closed", "new"),
    "in_progress": ("waiting", "closed", "assigned"),
    "waiting": ("in_progress", "assigned", "new", "waiting", "closed"),
    "closed": ("new", "assigned"),
}


class ListedTicket(TypedDict):
    """A row of ``hdcli list`` (:func:`hdcli.views.list_tickets`)."""

    number: str
    status: TicketStatus
    subject: str
    organisation: str
    requester: str
    assignee: str | None
    preselected: str | None
    channel: str
    impact: str
    priority: Priority
    created_at: str
    updated_at: str


Channel = Literal["email", "phone", "fax", "web"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)

Impact = Literal["single_user", "several_users", "everyone"]
IMPACTS: tuple[Impact, ...] = get_args(Impact)

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

Activity = Literal["remote", "onsite", "phone", "other"]
ACTIVITIES: tuple[Activity, ...] = get_args(Activity)

ArticleKind = Literal["mail", "phone", "fax", "web", "note", "bounce", "auto_reply"]
ARTICLE_KINDS: tuple[ArticleKind, ...] = get_args(ArticleKind)
#: The kind of a ticket's first article, by the channel it came in on.
ARTICLE_OF_CHANNEL: dict[str, ArticleKind] = {
    "email": "mail",
    "phone": "phone",
    "fax": "fax",
    "web": "web",
}

Direction = Literal["in", "out", "internal"]

# -- customers -------------------------------------------------------------------------------------
OrgKind = Literal["company", "public_body"]
ORG_KINDS: tuple[OrgKind, ...] = get_args(OrgKind)

Language = Literal["de", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

ContactRole = Literal["main", "approver", "billing"]
ROLES: tuple[ContactRole, ...] = get_args(ContactRole)

#: what an API token may do (``hdcli token``, ``hdcli serve``)
TokenRole = Literal["agent", "admin", "gateway", "readonly"]
TOKEN_ROLES: tuple[TokenRole, ...] = get_args(TokenRole)

BillingMode = Literal["hourly", "included_hours", "free"]
BILLING_MODES: tuple[BillingMode, ...] = get_args(BillingMode)

ApprovalPolicy = Literal["none", "before_work", "changes"]
APPROVAL_POLICIES: tuple[ApprovalPolicy, ...] = get_args(ApprovalPolicy)

ClosedPolicy = Literal["new_ticket", "reject_with_notice", "reopen"]
CLOSED_POLICIES: tuple[ClosedPolicy, ...] = get_args(ClosedPolicy)

#: What closing a ticket without time (0 h) does with its service report: ``skip`` makes none,
#: ``send`` stores and mails it as for any other ticket.
EmptyReports = Literal["skip", "send"]
EMPTY_REPORTS: tuple[EmptyReports, ...] = get_args(EmptyReports)

# -- approvals and service reports -----------------------------------------------------------------
ApprovalKind = Literal["before_work", "change"]
APPROVAL_KINDS: tuple[ApprovalKind, ...] = get_args(ApprovalKind)

ApprovalStatus = Literal["pending", "granted", "denied", "overridden", "applied"]
APPROVAL_STATUSES: tuple[ApprovalStatus, ...] = get_args(ApprovalStatus)

Via = Literal["mail", "phone", "fax"]
VIAS: tuple[Via, ...] = get_args(Via)

#: ``withdrawn``: the ticket was reopened and closed again without time under
#: ``empty_reports = skip``, so the report of its earlier close no longer stands
ReportStatus = Literal["pending", "approved", "disputed", "withdrawn"]
REPORT_STATUSES: tuple[ReportStatus, ...] = get_args(ReportStatus)

# -- mail ------------------------------------------------------------------------------------------
Outcome = Literal["new", "followup", "duplicate", "ignored", "rejected", "quarantined"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)

#: What :func:`hdcli.mail.classify.classify` finds a mail to be: one a person wrote, or an
#: automatic one (an auto-reply or other machine mail, a bounce, our own mail looping back).
MailKind = Literal["normal", "auto_reply", "bounce", "loop"]
MAIL_KINDS: tuple[MailKind, ...] = get_args(MailKind)

TlsSecurity = Literal["ssl", "starttls", "none"]
TLS_SECURITIES: tuple[TlsSecurity, ...] = get_args(TlsSecurity)

#: What a mail source does with a message once its result is committed (rejected and
#: quarantined messages go to their folders whatever this says).
ImapOnSuccess = Literal["move", "flag", "delete"]
IMAP_ON_SUCCESS: tuple[ImapOnSuccess, ...] = get_args(ImapOnSuccess)
MaildirOnSuccess = Literal["move", "delete"]
MAILDIR_ON_SUCCESS: tuple[MaildirOnSuccess, ...] = get_args(MaildirOnSuccess)


class ClaimedMail(TypedDict):
    """A queued mail a delivery run claimed (:func:`hdcli.repo.outbound.claimed`)."""

    id: int
    attempts: int


class MailToSend(TypedDict):
    """What a transport needs of a queued mail (:func:`hdcli.repo.outbound.to_send`)."""

    sender: str
    recipient: str
    raw: bytes


def choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    """``value`` when it is one of ``allowed``, else UsageError (exit 2) listing them."""
    if value not in allowed:
        raise UsageError(f"bad {what} {value!r} (allowed: {', '.join(allowed)})")
    return value
