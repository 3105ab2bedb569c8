"""The ``history`` table: who did what, when, to which record.

``detail`` is stored as JSON text and given back decoded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row


def add(
    store: SqlStorage,
    *,
    actor: str,
    entity: str,
    key: str,
    action: str,
    detail: Mapping[str, Any] | None,
    ticket_id: int | None,
    at: str,
) -> None:
    """Record one history event (``detail`` as JSON; values it cannot encode as text)."""
    store.write(
        "history",
        "INSERT INTO history (ticket_id, entity, entity_key, actor, action, detail, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            ticket_id,
            entity,
            key,
            actor,
            action,
            json.dumps(dict(detail or {}), ensure_ascii=False, default=str),
            at,
        ),
    )


def of_ticket(store: SqlStorage, ticket_id: int) -> list[Row]:
    """The ticket's history events, oldest first: ``created_at``, ``actor``, ``action`` and
    the decoded ``detail``."""
    rows = store.query(
        "SELECT created_at, actor, action, detail FROM history WHERE ticket_id = ? ORDER BY id",
        (ticket_id,),
    )
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return rows


def has_action(store: SqlStorage, ticket_id: int, action: str) -> bool:
    """Whether the ticket's history holds an event ``action`` (e.g. ``started``)."""
    return (
        store.query_one(
            "SELECT 1 AS x FROM history WHERE ticket_id = ? AND action = ? LIMIT 1",
            (ticket_id, action),
        )
        is not None
    )


def last_action(store: SqlStorage, ticket_id: int, actions: Sequence[str]) -> str | None:
    """The latest of the ticket's history events among ``actions``, or None."""
    marks = ",".join("?" * len(actions))
    row = store.query_one(
        f"SELECT action FROM history WHERE ticket_id = ? AND action IN ({marks}) "
        "ORDER BY id DESC LIMIT 1",
        (ticket_id, *actions),
    )
    return str(row["action"]) if row else None
