"""Read-only views of tickets: ``get_ticket``, ``list_tickets`` and ``show``.

``hdcli list`` and ``hdcli show`` run in every shell loop, so this module imports nothing but
the errors: not the write side (:mod:`hdcli.tickets`, :mod:`hdcli.customers`, events, mail),
not ``json`` (only a ticket's history needs it) and not ``logging``. The workflow code reads
tickets through these functions too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hdcli.errors import NotFound, UsageError
from hdcli.models import STATUSES

if TYPE_CHECKING:
    from hdcli.backends.base import Row, SqlStorage

_COLUMNS = (
    "t.number, t.status, t.subject, o.name AS organisation, c.email AS requester, "
    "a.login AS assignee, t.channel, t.impact, t.created_at, t.updated_at"
)
_JOINS = (
    "JOIN organisations o ON o.id = t.org_id JOIN contacts c ON c.id = t.requester_id "
    "LEFT JOIN agents a ON a.id = t.assignee_id"
)
#: The rows of ``hdcli list`` (every join is by primary key).
LIST_SQL = f"SELECT {_COLUMNS} FROM tickets t {_JOINS}"
_ORDER = " ORDER BY t.created_at DESC, t.id DESC"


def get_ticket(store: SqlStorage, number: str) -> Row:
    """The ticket row with this number; NotFound (exit 3) when there is none.

    Inside a transaction on PostgreSQL the row is locked until the transaction ends."""
    number = number.strip()
    sql = "SELECT * FROM tickets WHERE number = ?"
    if store.in_transaction:
        # a change reads the ticket it is about to write: lock its row so that concurrent
        # changes of one ticket serialise (SQLite's write transactions already do)
        sql += store.row_lock
    row = store.query_one(sql, (number,))
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
    limit: int | None = None,
) -> list[Row]:
    """Tickets newest first (``LIST_SQL`` columns), filtered by status (or ``open``), assignee
    login (or ``none``), organisation name or id and creation day (``YYYY-MM-DD``).

    UsageError for a bad status, date or negative limit; NotFound for an unknown agent or
    organisation.
    """
    where: list[str] = []
    params: list[Any] = []
    if status:
        if status not in (*STATUSES, "open"):
            raise UsageError(f"bad status {status!r} (allowed: open, {', '.join(STATUSES)})")
        if status == "open":
            where.append("t.status <> 'closed'")
        else:
            where.append("t.status = ?")
            params.append(status)
    if assignee:
        if assignee == "none":
            where.append("t.assignee_id IS NULL")
        else:
            from hdcli.customers import get_agent  # only a filter needs the customer side

            where.append("t.assignee_id = ?")
            params.append(get_agent(store, assignee)["id"])
    if org:
        from hdcli.customers import get_org

        where.append("t.org_id = ?")
        params.append(get_org(store, org)["id"])
    if since:
        from datetime import date

        try:
            day = date.fromisoformat(since)
        except ValueError:
            raise UsageError(f"bad date {since!r} (use YYYY-MM-DD)") from None
        where.append("t.created_at >= ?")
        params.append(day.isoformat())
    cond = " WHERE " + " AND ".join(where) if where else ""
    if limit is None:
        return store.query(LIST_SQL + cond + _ORDER, params)
    if limit < 0:
        raise UsageError("--limit cannot be negative")
    # The newest ids first, from tickets alone, then the joins for just those rows. With the
    # joins in the same query, SQLite's planner may drive it from organisations through
    # tickets_org and sort every matching ticket (0.6 s at 1,000,000 tickets for ``--status
    # open --limit 1``); alone, ``ORDER BY created_at DESC, id DESC LIMIT n`` walks the
    # tickets_created index backwards (an index entry ends with the rowid, the tie-break).
    pick = f"SELECT t.id FROM tickets t{cond}{_ORDER} LIMIT {int(limit)}"
    return store.query(
        f"SELECT {_COLUMNS} FROM ({pick}) pick JOIN tickets t ON t.id = pick.id {_JOINS}{_ORDER}",
        params,
    )


def show(store: SqlStorage, number: str, history: bool = True) -> Row:
    """The whole ticket as one JSON-ready dict (``history`` adds the history events)."""
    t = get_ticket(store, number)
    # One query for the ticket's own names: each join is by primary key.
    names = (
        store.query_one(
            "SELECT o.name AS org, k.number AS contract, c.name AS req_name, c.email AS req_email, "
            "a.login AS assignee, r.login AS routed FROM tickets t "
            "LEFT JOIN organisations o ON o.id = t.org_id "
            "LEFT JOIN contracts k ON k.id = t.contract_id "
            "LEFT JOIN contacts c ON c.id = t.requester_id "
            "LEFT JOIN agents a ON a.id = t.assignee_id "
            "LEFT JOIN agents r ON r.id = t.routed_to_id WHERE t.id = ?",
            (t["id"],),
        )
        or {}
    )
    articles = store.query(
        "SELECT id, kind, direction, sender, recipients, cc, subject, body, message_id, "
        "in_reply_to, created_by, created_at FROM articles WHERE ticket_id = ? ORDER BY id",
        (t["id"],),
    )
    atts: dict[int, list[Row]] = {}
    for a in store.query(
        "SELECT x.article_id, x.id, x.filename, x.content_type, x.size FROM attachments x "
        "JOIN articles a ON a.id = x.article_id WHERE a.ticket_id = ? ORDER BY x.id",
        (t["id"],),
    ):
        atts.setdefault(int(a.pop("article_id")), []).append(a)
    for art in articles:
        art["attachments"] = atts.get(int(art.pop("id")), [])
    entries = store.query(
        "SELECT e.id, a.login AS agent, e.minutes, e.work_date AS date, e.activity, e.note, "
        "e.billable FROM time_entries e LEFT JOIN agents a ON a.id = e.agent_id "
        "WHERE e.ticket_id = ? ORDER BY e.work_date, e.id",
        (t["id"],),
    )
    for e in entries:
        e["billable"] = bool(e["billable"])
    # Scalar subqueries keep the plan driven by ticket_links (a few rows); as joins, the
    # planner may scan all tickets for the "followed_by" half, which has no other_id index.
    links = store.query(
        "SELECT l.kind, (SELECT number FROM tickets WHERE id = l.other_id) AS number "
        "FROM ticket_links l WHERE l.ticket_id = ? UNION ALL "
        "SELECT 'followed_by' AS kind, (SELECT number FROM tickets WHERE id = l2.ticket_id) "
        "AS number FROM ticket_links l2 WHERE l2.other_id = ?",
        (t["id"], t["id"]),
    )
    out: Row = {
        "number": t["number"],
        "subject": t["subject"],
        "status": t["status"],
        "waiting_for": t["waiting_for"],
        "channel": t["channel"],
        "impact": t["impact"],
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
        "links": links,
        "articles": articles,
        "time_entries": entries,
    }
    if history:
        import json

        hist = store.query(
            "SELECT created_at, actor, action, detail FROM history WHERE ticket_id = ? ORDER BY id",
            (t["id"],),
        )
        for h in hist:
            h["detail"] = json.loads(h["detail"])
        out["history"] = hist
    return out
