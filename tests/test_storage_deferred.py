"""Deferred writes (``SqlStorage.deferred_writes``, what bulk open sends its history and
participant rows with): every later statement sees them, a savepoint undoes its own, an error
drops what still waits. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from hdcli.context import Context

ROW = (
    "INSERT INTO history (ticket_id, entity, entity_key, actor, action, detail, created_at) "
    "VALUES (NULL, 'probe', ?, 'bench', 'probed', '{}', '2026-12-03T08:00:00Z')"
)
KEYS = "SELECT entity_key FROM history WHERE entity = 'probe' ORDER BY id"


def test_deferred_rows_are_seen_in_order_and_undone_with_their_savepoint(any_ctx: Context) -> None:
    store = any_ctx.store
    with store.transaction(), store.deferred_writes():
        store.write("history", ROW, ("1",))
        assert [r["entity_key"] for r in store.query(KEYS)] == ["1"]  # a read sends it first
        with pytest.raises(ValueError), store.savepoint():
            store.write("history", ROW, ("2",))
            raise ValueError
        store.write("history", ROW, ("3",))
        assert [r["entity_key"] for r in store.iterate(KEYS)] == ["1", "3"]
        store.write("history", ROW, ("4",))
        store.write("history", ROW, ("5",))
    assert [r["entity_key"] for r in store.query(KEYS)] == ["1", "3", "4", "5"]
    with pytest.raises(ValueError), store.transaction(), store.deferred_writes():
        store.write("history", ROW, ("6",))
        raise ValueError
    with store.transaction(), store.deferred_writes():
        pass
    assert [r["entity_key"] for r in store.query(KEYS)] == ["1", "3", "4", "5"]
