"""The ``tickets`` table with its ``ticket_participants`` and ``ticket_links``, and the
ticket's read side: ``hdcli list`` and ``hdcli show`` (tickets joined with the names of their
organisation, contract, requester and agents).

``hdcli list`` and ``hdcli show`` import this module on every run: it imports nothing at run
time (not even :mod:`hdcli.models`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import ListedTicket, Row

_COLUMNS = (
    "t.number, t.status, t.subject, o.name AS organisation, c.email AS requester, "
    "a.login AS assignee, r.login AS preselected, t.channel, t.impact, t.priority, "
    "t.created_at, t.updated_at"
)
_JOINS = (
    "JOIN organisations o ON o.id = t.org_id JOIN contacts c ON c.id = t.requester_id "
    "LEFT JOIN agents a ON a.id = t.assignee_id LEFT JOIN agents r ON r.id = t.routed_to_id"
)
_ORDER = " ORDER BY t.created_at DESC, t.id DESC"
_RANKED = " ORDER BY h.score, t.created_at DESC, t.id DESC"
#: hits of a search at most that are ranked: the newest (the best of them come first)
RANKED = 1000


# -- one ticket --------------------------------------------------------------------------------
def by_number(store: SqlStorage, number: str) -> Row | None:
    """The ticket row with this number, or None.

    Inside a transaction the row is locked until the transaction ends (the backend's
    ``row_lock``: PostgreSQL's ``FOR UPDATE``), so concurrent changes of one ticket serialise.
    """
    sql = "SELECT * FROM tickets WHERE number = ?"
    if store.in_transaction:
        # a change reads the ticket it is about to write (SQLite's write transactions
        # serialise already; its row_lock is empty)
        sql += store.row_lock
    return store.query_one(sql, (number,))


def by_id(store: SqlStorage, ticket_id: int) -> Row | None:
    """The ticket row with this id, or None."""
    return store.query_one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))


def number_of(store: SqlStorage, ticket_id: int) -> str | None:
    """The number of the ticket with this id, or None."""
    row = store.query_one("SELECT number FROM tickets WHERE id = ?", (ticket_id,))
    return str(row["number"]) if row else None


def by_external_id(store: SqlStorage, external_id: str) -> Row | None:
    """The ticket opened with this external id, or None."""
    return store.query_one("SELECT * FROM tickets WHERE external_id = ?", (external_id,))


def by_external_ids(store: SqlStorage, external_ids: Sequence[str]) -> dict[str, Row]:
    """The tickets opened with these external ids, by external id (unknown ones left out)."""
    found: dict[str, Row] = {}
    ids = list(dict.fromkeys(external_ids))
    for start in range(0, len(ids), 500):  # well below every backend's parameter limit
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        for row in store.query(f"SELECT * FROM tickets WHERE external_id IN ({marks})", part):
            found[str(row["external_id"])] = row
    return found


def by_numbers(store: SqlStorage, numbers: Sequence[str]) -> list[Row]:
    """The tickets with these numbers, in the order of ``numbers`` (unknown ones left out)."""
    if not numbers:
        return []
    marks = ",".join("?" * len(numbers))
    rows = store.query(f"SELECT * FROM tickets WHERE number IN ({marks})", list(numbers))
    order = {n: i for i, n in enumerate(numbers)}
    return sorted(rows, key=lambda r: order[r["number"]])


def answered_by(store: SqlStorage, message_ids: Sequence[str]) -> list[Row]:
    """The tickets whose received or sent mail has one of these Message-IDs (what a message
    with them in In-Reply-To/References answers), in no particular order."""
    if not message_ids:
        return []
    marks = ",".join("?" * len(message_ids))
    return store.query(
        f"SELECT t.* FROM tickets t WHERE t.id IN (SELECT ticket_id FROM articles "
        f"WHERE message_id IN ({marks}) UNION SELECT ticket_id FROM outbound "
        f"WHERE message_id IN ({marks}))",
        [*message_ids, *message_ids],
    )


def insert(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new ticket; returns its id."""
    return store.insert("tickets", dict(row))


def update(store: SqlStorage, ticket_id: int, cols: Mapping[str, Any]) -> None:
    """Write columns of a ticket (``cols`` names come from code, never from input)."""
    sets = ", ".join(f"{c} = ?" for c in cols)
    store.execute(f"UPDATE tickets SET {sets} WHERE id = ?", (*cols.values(), ticket_id))


def referenced(
    store: SqlStorage, column: Literal["org_id", "contract_id", "requester_id"], row_id: int
) -> bool:
    """Whether some ticket refers to the organisation, contract or contact ``row_id``."""
    return (
        store.query_one(f"SELECT id FROM tickets WHERE {column} = ? LIMIT 1", (row_id,)) is not None
    )


def count(store: SqlStorage) -> int:
    """How many tickets the store holds."""
    row = store.query_one("SELECT count(*) AS n FROM tickets")
    return int(row["n"]) if row else 0


# -- participants and links --------------------------------------------------------------------
def add_participant(store: SqlStorage, ticket_id: int, email: str, role: str) -> None:
    """Make the (normalised) address a participant of the ticket; one that is already keeps
    its role."""
    store.write(
        "ticket_participants",
        "INSERT INTO ticket_participants (ticket_id, email, role) VALUES (?, ?, ?) "
        "ON CONFLICT (ticket_id, email) DO NOTHING",
        (ticket_id, email, role),
    )


def writer_known(store: SqlStorage, ticket_id: int, org_id: int, address: str) -> bool:
    """Whether ``address`` takes part in the ticket, is a contact of its organisation or of
    one of the organisation's mail domains (one round trip)."""
    row = store.query_one(
        "SELECT 1 AS x FROM ticket_participants WHERE ticket_id = ? AND email = ? "
        "UNION ALL SELECT 1 AS x FROM contacts WHERE email = ? AND org_id = ? "
        "UNION ALL SELECT 1 AS x FROM org_domains WHERE domain = ? AND org_id = ? LIMIT 1",
        (ticket_id, address, address, org_id, address.rpartition("@")[2], org_id),
    )
    return row is not None


def move_participants(store: SqlStorage, from_ticket: int, to_ticket: int) -> None:
    """The participants of one ticket take part in another (as ``participant``; one that
    takes part already keeps its role) and no longer in the first."""
    store.execute(
        "INSERT INTO ticket_participants (ticket_id, email, role) "
        "SELECT ?, email, 'participant' FROM ticket_participants WHERE ticket_id = ? "
        "ON CONFLICT (ticket_id, email) DO NOTHING",
        (to_ticket, from_ticket),
    )
    store.execute("DELETE FROM ticket_participants WHERE ticket_id = ?", (from_ticket,))


def link(store: SqlStorage, ticket_id: int, other_id: int, kind: str) -> None:
    """Link a ticket to another (``follow_up_of``, ``relates_to``, ``parent``: the other is
    its parent, ``duplicate_of``)."""
    store.execute(
        "INSERT INTO ticket_links (ticket_id, other_id, kind) VALUES (?, ?, ?)",
        (ticket_id, other_id, kind),
    )


def links(store: SqlStorage, ticket_id: int) -> list[Row]:
    """The ticket's links as ``kind`` and the other ticket's ``number``: its own links, then
    the links of other tickets to it seen from this side (``followed_by``, ``relates_to``,
    ``child``, ``duplicated_by``)."""
    # Scalar subqueries keep the plan driven by ticket_links (a few rows); as joins, the
    # planner may scan all tickets for the "followed_by" half.
    return store.query(
        "SELECT l.kind, (SELECT number FROM tickets WHERE id = l.other_id) AS number "
        "FROM ticket_links l WHERE l.ticket_id = ? UNION ALL "
        "SELECT CASE l2.kind WHEN 'follow_up_of' THEN 'followed_by' WHEN 'parent' THEN 'child' "
        "WHEN 'duplicate_of' THEN 'duplicated_by' ELSE l2.kind END AS kind, "
        "(SELECT number FROM tickets WHERE id = l2.ticket_id) "
        "AS number FROM ticket_links l2 WHERE l2.other_id = ?",
        (ticket_id, ticket_id),
    )


def linked(store: SqlStorage, ticket_id: int, other_id: int) -> bool:
    """Whether the two tickets are linked already (either way, any kind)."""
    row = store.query_one(
        "SELECT 1 AS x FROM ticket_links WHERE (ticket_id = ? AND other_id = ?) "
        "OR (ticket_id = ? AND other_id = ?) LIMIT 1",
        (ticket_id, other_id, other_id, ticket_id),
    )
    return row is not None


# -- the read side -----------------------------------------------------------------------------
def names(store: SqlStorage, ticket_id: int) -> Row | None:
    """The names a ticket refers to by id, in one query: ``org``, ``contract``, ``req_name``,
    ``req_email``, ``assignee`` and ``routed`` (each None when unset); None without the
    ticket."""
    # each join is by primary key
    return store.query_one(
        "SELECT o.name AS org, k.number AS contract, c.name AS req_name, c.email AS req_email, "
        "a.login AS assignee, r.login AS routed FROM tickets t "
        "LEFT JOIN organisations o ON o.id = t.org_id "
        "LEFT JOIN contracts k ON k.id = t.contract_id "
        "LEFT JOIN contacts c ON c.id = t.requester_id "
        "LEFT JOIN agents a ON a.id = t.assignee_id "
        "LEFT JOIN agents r ON r.id = t.routed_to_id WHERE t.id = ?",
        (ticket_id,),
    )


def listing(
    store: SqlStorage,
    *,
    status: str | None = None,
    unassigned: bool = False,
    assignee_id: int | None = None,
    org_id: int | None = None,
    created_from: str | None = None,
    requester_id: int | None = None,
    preselected: bool | None = None,
    priority: str | None = None,
    search: str | None = None,
    ranked: bool = False,
    limit: int | None = None,
) -> list[ListedTicket]:
    """The rows of ``hdcli list``, newest first: tickets of ``status`` (``open``: not
    closed), without an assignee (``unassigned``) or of ``assignee_id``, of ``org_id``,
    created on or after ``created_from`` (an ISO date), of the contact ``requester_id``,
    with (``preselected=True``) or without (``False``) a preselected agent, of ``priority``,
    whose text
    matches ``search`` (the backend's ``search_terms``), at most ``limit`` (values checked by
    the caller). ``ranked`` (with ``search``): best match first instead of newest first;
    with a ``limit``, the best of the newest :data:`RANKED` hits (or ``limit``, if more) that
    pass the filters (all of them, when there are no more)."""
    where: list[str] = []
    params: list[Any] = []
    if status == "open":
        where.append("t.status <> 'closed'")
    elif status:
        where.append("t.status = ?")
        params.append(status)
    if unassigned:
        where.append("t.assignee_id IS NULL")
    elif assignee_id is not None:
        where.append("t.assignee_id = ?")
        params.append(assignee_id)
    if org_id is not None:
        where.append("t.org_id = ?")
        params.append(org_id)
    if created_from:
        where.append("t.created_at >= ?")
        params.append(created_from)
    if requester_id is not None:
        where.append("t.requester_id = ?")
        params.append(requester_id)
    if preselected is not None:
        where.append(f"t.routed_to_id IS {'NOT ' if preselected else ''}NULL")
    if priority:
        where.append("t.priority = ?")
        params.append(priority)
    cond = " WHERE " + " AND ".join(where) if where else ""
    hits = ""
    order = _ORDER
    if search is not None and ranked and limit is not None:
        # Ranking costs per hit (FTS5's bm25, ts_rank): a word in every fifth ticket of
        # 1,000,000 took 0.6 s. Only the newest hits that pass the filters are ranked, at most
        # RANKED (or ``limit``): first their ids, from the index in id order (no rank), then
        # the rank of just those. With fewer hits, every hit is ranked.
        found = _newest_hit_ids(store, search, cond, params, max(RANKED, int(limit)))
        if not found:
            return []
        ranked_sql, ranked_params = store.search_ranked(search, found)
        hits = f" JOIN ({ranked_sql}) h ON h.ticket_id = t.id"
        params = [*ranked_params, *params]
        order = _RANKED
    elif (
        search is not None
        and limit is not None
        and ((among := _newest_by_creation(store, search, cond, params, int(limit))) is not None)
    ):
        # Newest first: sorting every hit by its creation took 0.5 s for a word in a fifth
        # of 1,000,000 tickets; only the candidates are sorted.
        if not among:
            return []
        cond += (" AND " if cond else " WHERE ") + f"t.id IN ({', '.join('?' * len(among))})"
        params = [*params, *among]
    elif search is not None:
        # the one search query: hdcli search and hdcli list --search alike
        hits = f" JOIN ({store.search_hits}) h ON h.ticket_id = t.id"
        params = [search, *params]
        if ranked:
            order = _RANKED
    if limit is None:
        rows = store.query(f"SELECT {_COLUMNS} FROM tickets t{hits} {_JOINS}{cond}{order}", params)
        return cast("list[ListedTicket]", rows)
    # The newest ids first, from tickets alone, then the joins for just those rows. With the
    # joins in the same query, SQLite's planner may drive it from organisations through
    # tickets_org and sort every matching ticket (0.6 s at 1,000,000 tickets for ``--status
    # open --limit 1``); alone, ``ORDER BY created_at DESC, id DESC LIMIT n`` walks the
    # tickets_created index backwards (an index entry ends with the rowid, the tie-break).
    score = ", h.score" if hits else ""
    pick = f"SELECT t.id{score} FROM tickets t{hits}{cond}{order} LIMIT {int(limit)}"
    outer = order.replace("h.score", "pick.score")
    rows = store.query(
        f"SELECT {_COLUMNS} FROM ({pick}) pick JOIN tickets t ON t.id = pick.id {_JOINS}{outer}",
        params,
    )
    return cast("list[ListedTicket]", rows)


def _newest_hit_ids(
    store: SqlStorage, search: str, cond: str, params: list[Any], n: int
) -> list[int]:
    """The ids of the ``n`` newest (highest id) tickets matching ``search`` that pass
    ``cond``: from the index in id order, unranked."""
    rows = store.query(
        f"SELECT h.ticket_id FROM ({store.search_ids}) h JOIN tickets t ON t.id = h.ticket_id"
        f"{cond} ORDER BY h.ticket_id DESC LIMIT {int(n)}",
        [search, *params],
    )
    return [int(r["ticket_id"]) for r in rows]


#: at most this many tickets older by id but newer by creation than the candidates are
#: looked at by :func:`_newest_by_creation`; with more, every hit is sorted instead
LATER = 10_000


def _newest_by_creation(
    store: SqlStorage, search: str, cond: str, params: list[Any], limit: int
) -> list[int] | None:
    """Ids among which the ``limit`` newest hits by creation time (of ``search``, passing
    ``cond``) surely are, or None when they are found best by sorting every hit.

    The candidates are the newest hits by id (:data:`RANKED`, or ``limit``). Let T be the
    creation time of the ``limit``-th newest of them: a hit outside them that belongs to the
    answer was created at T or later, and its id is below theirs; those few (tickets are
    created in id order, so normally none) are added when they match."""
    if limit < 1:
        return []
    n = max(RANKED, limit)
    found = _newest_hit_ids(store, search, cond, params, n)
    if len(found) < n:
        return found  # every hit
    marks = ", ".join("?" * len(found))
    row = store.query_one(
        f"SELECT created_at FROM tickets WHERE id IN ({marks}) "
        f"ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET {limit - 1}",
        found,
    )
    assert row is not None
    later_cond = (cond + " AND " if cond else " WHERE ") + "t.created_at >= ? AND t.id < ?"
    later = store.query(
        f"SELECT t.id FROM tickets t{later_cond} LIMIT {LATER + 1}",
        [*params, row["created_at"], min(found)],
    )
    if len(later) > LATER:
        return None
    if later:
        ids = [int(r["id"]) for r in later]
        matched = store.query(
            f"SELECT h.ticket_id FROM ({store.search_ids}) h "
            f"WHERE h.ticket_id IN ({', '.join('?' * len(ids))})",
            [search, *ids],
        )
        found += [int(r["ticket_id"]) for r in matched]
    return found


#: The group of an open ticket in the workload report, by what it is grouped by.
_WORKLOAD_KEYS = {
    "status": (
        "CASE WHEN t.status = 'waiting' AND t.waiting_for IS NOT NULL "
        "THEN 'waiting (' || t.waiting_for || ')' ELSE t.status END"
    ),
    "agent": "coalesce(a.login, '(unassigned)')",
    "org": "o.name",
    "age": "substr(t.created_at, 1, 19)",  # the caller buckets it in its time zone
}


def open_workload(store: SqlStorage, by: str) -> Iterator[Row]:
    """The open tickets counted per group and status, streamed: ``grp`` (``by`` ``status``:
    the status, with what a waiting ticket waits for; ``agent``: the assignee's login or
    ``(unassigned)``; ``org``: the organisation's name; ``age``: the creation time),
    ``status``, ``n`` and the ``oldest`` creation time. ValueError for another ``by``."""
    key = _WORKLOAD_KEYS.get(by)
    if key is None:
        raise ValueError(f"cannot group open tickets by {by!r}")
    return store.iterate(
        f"SELECT {key} AS grp, t.status, count(*) AS n, min(t.created_at) AS oldest "
        "FROM tickets t JOIN organisations o ON o.id = t.org_id "
        "LEFT JOIN agents a ON a.id = t.assignee_id WHERE t.status <> 'closed' "
        f"GROUP BY {key}, t.status"
    )
