"""Read-only views of tickets: ``get_ticket``, ``list_tickets`` and ``show``.

``hdcli list`` and ``hdcli show`` run in every shell loop, so this module imports nothing but
the errors and the tickets' repository (:mod:`hdcli.repo.tickets`, itself importing nothing):
not the write side (:mod:`hdcli.tickets`, :mod:`hdcli.customers`, events, mail), not ``json``
(only a ticket's history needs it) and not ``logging``. The workflow code reads tickets through
these functions too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hdcli.errors import NotFound, UsageError
from hdcli.models import PRIORITIES, STATUSES, choice
from hdcli.repo import tickets as ticket_repo

if TYPE_CHECKING:
    from hdcli.backends.base import Row, SqlStorage
    from hdcli.models import ListedTicket


def get_ticket(store: SqlStorage, number: str) -> Row:
    """The ticket row with this number; NotFound (exit 3) when there is none.

    Inside a transaction on PostgreSQL the row is locked until the transaction ends."""
    number = number.strip()
    row = ticket_repo.by_number(store, number)
    if row is None:
        raise NotFound(f"no ticket {number} (see `hdcli list`)")
    return row


def list_tickets(
    store: SqlStorage,
    *,
    status: str | None = None,
    assignee: str | None = None,
    org: str | None = None,
    since: str | None = None,
    requester: str | None = None,
    preselected: bool | None = None,
    priority: str | None = None,
    search: str | None = None,
    ranked: bool = False,
    limit: int | None = None,
    terms: str | None = None,
) -> list[ListedTicket]:
    """Tickets newest first (the columns of :class:`~hdcli.models.ListedTicket`), filtered by
    status (or ``open``), assignee login (or ``none``), organisation name or id, creation
    day (``YYYY-MM-DD``), requester (a contact's address) and whether an agent was
    preselected (by routing) or not, priority (``low``, ``normal``, ``high``, ``urgent``), and
    whose text holds every word of ``search`` (the
    search index: subjects, bodies, names and addresses, attachment names); ``ranked``
    puts the best match first. ``terms``: the index's terms of ``search``
    (:func:`hdcli.search.terms`) when the caller has them already.

    UsageError for a bad status, priority, date, negative limit or a search without words; NotFound
    for an unknown agent, organisation or contact.
    """
    if status and status not in (*STATUSES, "open"):
        raise UsageError(f"bad status {status!r} (allowed: open, {', '.join(STATUSES)})")
    if priority:
        choice(priority, PRIORITIES, "priority")
    assignee_id = None
    if assignee and assignee != "none":
        from hdcli.customers import get_agent  # only a filter needs the customer side

        assignee_id = int(get_agent(store, assignee)["id"])
    org_id = None
    if org:
        from hdcli.customers import get_org

        org_id = int(get_org(store, org)["id"])
    created_from = None
    if since:
        from datetime import date

        try:
            created_from = date.fromisoformat(since).isoformat()
        except ValueError:
            raise UsageError(f"bad date {since!r} (use YYYY-MM-DD)") from None
    requester_id = None
    if requester:
        from hdcli.customers import get_contact

        requester_id = int(get_contact(store, requester)["id"])
    if limit is not None and limit < 0:
        raise UsageError("--limit cannot be negative")
    if search is not None:
        from hdcli.search import current
        from hdcli.search import terms as search_terms

        current(store)
        terms = terms or search_terms(store, search)
    else:
        terms = None
    return ticket_repo.listing(
        store,
        search=terms,
        ranked=ranked,
        status=status or None,
        unassigned=assignee == "none",
        assignee_id=assignee_id,
        org_id=org_id,
        created_from=created_from,
        requester_id=requester_id,
        preselected=preselected,
        priority=priority or None,
        limit=limit,
    )


def show(store: SqlStorage, number: str, history: bool = True) -> Row:
    """The whole ticket as one JSON-ready dict (``history`` adds the history events)."""
    from hdcli.repo import articles as article_repo
    from hdcli.repo import time_entries as time_repo

    t = get_ticket(store, number)
    names = ticket_repo.names(store, t["id"]) or {}
    articles = article_repo.of_ticket(store, t["id"])
    atts: dict[int, list[Row]] = {}
    for a in article_repo.attachments_of_ticket(store, t["id"]):
        atts.setdefault(int(a.pop("article_id")), []).append(a)
    for art in articles:
        art["attachments"] = atts.get(int(art["id"]), [])
    entries = time_repo.of_ticket(store, t["id"])
    for e in entries:
        e["billable"] = bool(e["billable"])
    links = ticket_repo.links(store, t["id"])
    out: Row = {
        "number": t["number"],
        "subject": t["subject"],
        "status": t["status"],
        "waiting_for": t["waiting_for"],
        "channel": t["channel"],
        "impact": t["impact"],
        "priority": t["priority"],
        "organisation": names.get("org"),
        "contract": names.get("contract"),
        "requester": names.get("req_email"),
        "requester_name": names.get("req_name"),
        "assignee": names.get("assignee"),
        "preselected": names.get("routed"),
        "external_id": t["external_id"],
        "created_at": t["created_at"],
        "updated_at": t["updated_at"],
        "closed_at": t["closed_at"],
        "total_minutes": sum(int(e["minutes"]) for e in entries),
        "merged_into": ticket_repo.number_of(store, t["merged_into_id"])
        if t["merged_into_id"]
        else None,
        "links": links,
        "articles": articles,
        "time_entries": entries,
    }
    if history:
        from hdcli.repo import history as history_repo  # json, for the history alone

        out["history"] = history_repo.of_ticket(store, t["id"])
    return out
