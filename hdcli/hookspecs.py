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
    from hdcli.events import Change, TicketEvent
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
