"""The hook specifications of hdcli: the whole plugin contract, one docstring each.

Registration hooks receive a ``register`` callback so that the core keeps control of
duplicates and validation and one plugin can register many things. Targets are given as
``"package.module:attribute"`` strings (or objects) so that registering a backend never
imports its driver: the target is imported only when it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from email.message import EmailMessage

    import typer

    from hdcli.config import Config
    from hdcli.context import Context
    from hdcli.events import Change, Handled, TicketEvent
    from hdcli.mail.parse import ParsedMail

hookspec = pluggy.HookspecMarker("hdcli")


@hookspec
def register_storage(register: Callable[[str, Any], None]) -> None:
    """Register storage backends by URL scheme.

    Call ``register(scheme, target)`` once per scheme, e.g.
    ``register("sqlite", "hdcli.backends.sqlite:SqliteStorage")``. ``target`` is a class or a
    ``"module:attr"`` string; it is called as ``target(url, config)`` and must return an object
    implementing :class:`hdcli.backends.base.Storage`. Registering the same scheme twice is an
    error.
    """


@hookspec
def register_transports(register: Callable[[str, Any], None]) -> None:
    """Register outbound mail transports by name (``mail.outbound.transport``).

    ``register(name, target)``; ``target(settings: dict)`` returns an object with
    ``send(envelope_from, recipients, raw)`` and ``close()`` (see :mod:`hdcli.mail.transports`).
    """


@hookspec
def register_sources(register: Callable[[str, Any], None]) -> None:
    """Register inbound mail source types by name (``mail.sources.NAME.type``).

    ``register(type_name, target)``; ``target(name: str, settings: dict)`` returns an object with
    ``messages()``, ``done(ref, outcome)`` and ``close()`` (see :mod:`hdcli.mail.sources`).
    """


@hookspec
def register_number_formats(register: Callable[[str, Any], None]) -> None:
    """Register ticket-number formats by name (``tickets.number_format``).

    ``register(name, target)``; ``target`` is a class or ``"module:attr"`` of an object that follows
    :class:`hdcli.numbers.NumberFormat`.
    """


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add commands or sub-apps to the CLI.

    ``app`` is the root :class:`typer.Typer`; use ``app.command()`` or ``app.add_typer()``.
    Called once while the CLI is built.
    """


@hookspec
def register_reports(register: Callable[[str, Any], None]) -> None:
    """Register reports for ``hdcli report NAME``.

    ``register(name, target)``; ``target`` is a ``"module:attr"`` string or callable
    ``target(ctx: hdcli.reports.ReportContext, options: dict) -> hdcli.reports.ReportResult``.
    """


@hookspec
def register_template_dirs(register: Callable[[str], None]) -> None:
    """Register folders holding mail templates (``<lang>/<name>.txt``).

    Folders registered later take precedence; the config directory's ``templates/`` folder
    always wins over every plugin.
    """


@hookspec(firstresult=True)
def route_message(mail: ParsedMail, config: Config) -> str | None:
    """Choose the agent for a new ticket opened from an inbound mail.

    Return an agent login to preselect, or ``None`` to let the next implementation (finally the
    configured routing rules) decide. First non-``None`` result wins.
    """


@hookspec
def prepare_outbound(message: EmailMessage, context: dict[str, Any]) -> None:
    """Adjust an outbound message before it is queued (add headers, change the body).

    ``context`` holds ``kind`` (acknowledgement, started, reply, approval_request,
    service_report, closed_notice, report), ``ticket`` (number or None) and ``config``.
    The core checks the headers again afterwards: a header with CR/LF is refused.
    """


@hookspec(firstresult=True)
def guard_change(change: Change) -> str | None:
    """Veto a change before it is committed.

    Return a reason (a string) to refuse the change: the command fails with exit code 4 and
    the reason, and nothing is written. Return ``None`` to allow it.
    """


@hookspec
def ticket_event(event: TicketEvent, config: Config) -> None:
    """React to a ticket change after it was committed (notifications, webhooks).

    Called once per event. An exception raised here is logged and never rolls back the
    change or fails the command.
    """


@hookspec(firstresult=True)
def ticket_changing(change: Change, ticket: dict[str, Any] | None, ctx: Context) -> str | None:
    """Check a change inside its transaction, before it is written (after ``guard_change``).

    ``ticket`` is the ticket row as it is now (None while a ticket is being opened); ``ctx``
    the run's :class:`hdcli.context.Context` (its ``store`` is in the change's transaction).
    Return a reason (or raise :class:`hdcli.errors.Refused`) to veto the change: the command
    fails with exit code 4 and nothing of it is written. Return ``None`` to allow it; what an
    implementation records (say, an override in the history) commits with the change. The
    built-in approvals plugin gates ``ticket.start`` here, the billing plugin locks the time of
    an approved service report (``ticket.log``). First non-``None`` result wins.
    """


@hookspec
def ticket_changed(event: TicketEvent, ticket: dict[str, Any], ctx: Context) -> None:
    """Add to a change inside its transaction, right after it was written.

    Called once per event (the same events ``ticket_event`` gets after the commit), with the
    ticket row as changed. What an implementation writes through ``ctx.store`` commits or
    rolls back with the change; an exception rolls the whole change back and fails the
    command. The built-in billing plugin makes the service report of a closed ticket here.
    """


@hookspec(firstresult=True)
def handle_inbound_mail(
    mail: ParsedMail,
    ticket: dict[str, Any] | None,
    ctx: Context,
    candidates: list[dict[str, Any]],
    mailbox: str,
) -> Handled | None:
    """Take an inbound mail of a person before the core's rules (follow-up, new ticket, the
    closed-ticket policy) apply, inside the message's transaction.

    ``ticket`` is the ticket the mail answers and its sender may write to (None when there is
    none); ``candidates`` every ticket the mail refers to (numbers in its subject, then
    In-Reply-To/References), whoever sent it; ``mailbox`` is ``"billing"`` for mail of a source
    marked ``billing = true``, else ``""``. Return a :class:`hdcli.events.Handled` (outcome,
    ticket, reason) when the mail is taken care of; ``None`` lets the next implementation and
    finally the core decide. The built-in approvals plugin records an approver's yes or no
    here, the billing plugin the customer's answer to a service report. First result wins.
    """
