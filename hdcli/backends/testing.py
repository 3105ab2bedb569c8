"""The storage conformance suite: the contract of :class:`~hdcli.backends.base.Storage` as tests.

Every backend's tests run it, third-party ones too. Subclass :class:`StorageConformance` in a
test module (the name must start with ``Test``) and provide one fixture, ``connect``: a callable
that opens a *new* connection to the *same* store, fresh and empty (no schema) for each test::

    from hdcli.backends.testing import StorageConformance

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def connect(self, tmp_path):
            return lambda: MyStorage(f"mine:///{tmp_path}/store", None)

Several tests open two connections at once (locks, isolation, concurrent counters); every
connection opened through ``connect`` is closed after the test. The suite needs pytest; the
hdcli command line never imports this module.

A second, optional fixture, ``break_connection``, is a callable that makes an open store's
connection fail the way a lost server or a failing disk does (PostgreSQL: the server ends the
session; SQLite: the driver reports a disk I/O error). With it, the suite checks that every
operation then raises :class:`~hdcli.errors.BackendUnavailable`, never a driver error;
without it those tests are skipped.

:func:`postgres_schema` gives a PostgreSQL backend its fresh empty store per test: a schema of
its own on an existing database, dropped afterwards.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from hdcli.backends import base
from hdcli.backends.base import SqlStorage, Storage, latest_version
from hdcli.errors import BackendError, BackendUnavailable, HdcliError, Refused

Connect = Callable[[], Storage]

UNICODE = "Müller – Grüße ✓ 日本語 😀 ß"
TIMESTAMP = "2026-11-27T09:50:04Z"


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A URL for ``url``'s database whose ``search_path`` is a new, empty schema.

    The schema is dropped with everything in it afterwards. Needs psycopg.
    """
    import psycopg
    from psycopg import sql

    name = f"hdcli_t_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            sep = "&" if "?" in url else "?"
            yield f"{url}{sep}options=-csearch_path%3D{name}"
        finally:
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _org(store: Storage, name: str) -> int:
    return store.insert("organisations", {"name": name, "kind": "company", "created_at": TIMESTAMP})


def _names(store: Storage) -> list[str]:
    return [r["name"] for r in store.query("SELECT name FROM organisations ORDER BY id")]


def _transaction(store: Storage) -> None:
    with store.transaction():
        _org(store, "B")


def _savepoint(store: Storage) -> None:
    with store.transaction(), store.savepoint():
        _org(store, "B")


def _lock(store: Storage) -> None:
    with store.lock("fetch"):
        pass


#: What the broken-connection test runs, and whether it must fail (True) or may also work
#: without a connection (False).
BROKEN_OPERATIONS: dict[str, tuple[Callable[[Storage], Any], bool]] = {
    "execute": (lambda s: s.execute("SELECT 1 AS x"), True),
    "executemany": (
        lambda s: s.executemany("INSERT INTO counters (name, value) VALUES (?, ?)", [("a", 1)]),
        True,
    ),
    "query": (lambda s: s.query("SELECT name FROM organisations"), True),
    "query_one": (lambda s: s.query_one("SELECT name FROM organisations"), True),
    "iterate": (lambda s: list(s.iterate("SELECT name FROM organisations")), True),
    "insert": (lambda s: _org(s, "B"), True),
    "next_value": (lambda s: s.next_value("a"), True),
    "transaction": (_transaction, True),
    "savepoint": (_savepoint, True),
    "schema_version": (lambda s: s.schema_version(), True),
    "ensure_schema": (lambda s: s.ensure_schema(), True),
    "upgrade": (lambda s: s.upgrade(), True),
    "is_empty": (lambda s: s.is_empty(), True),
    "list_tables": (lambda s: s.list_tables(), True),
    "columns": (lambda s: s.columns("counters"), True),
    "has_rows": (lambda s: s.has_rows("organisations"), True),
    "count_rows": (lambda s: s.count_rows("organisations"), True),
    "read_rows": (lambda s: list(s.read_rows("organisations", ["id", "name"])), True),
    "write_rows": (lambda s: s.write_rows("counters", ["name", "value"], [("b", 1)]), True),
    "delete_rows": (lambda s: s.delete_rows("counters"), True),
    "lock": (_lock, False),
    "reset_sequences": (lambda s: s.reset_sequences(), False),
}


class StorageConformance:
    """What every storage backend promises. Provide the ``connect`` fixture (see module doc)."""

    @pytest.fixture
    def connect(self) -> Connect:
        raise NotImplementedError("a conformance test class provides the `connect` fixture")

    @pytest.fixture
    def break_connection(self) -> Callable[[Storage], None]:
        """Make the given store's connection fail as a lost server would (see module doc)."""
        pytest.skip("the backend's tests provide no `break_connection` fixture")

    @pytest.fixture
    def opener(self, connect: Connect) -> Iterator[Connect]:
        """``connect``, closing every connection it opened after the test."""
        opened: list[Storage] = []

        def open_() -> Storage:
            store = connect()
            opened.append(store)
            return store

        yield open_
        for store in opened:
            store.close()

    @pytest.fixture
    def store(self, opener: Connect) -> Storage:
        """A store with the current schema, no data."""
        store = opener()
        store.ensure_schema()
        return store

    # -- schema --------------------------------------------------------------------------
    def test_fresh_store_is_empty_at_version_zero(self, opener: Connect) -> None:
        store = opener()
        assert store.schema_version() == 0
        assert store.is_empty()

    def test_upgrade_applies_every_migration_once(self, opener: Connect) -> None:
        store = opener()
        assert store.upgrade() == [v for v, _, _ in base.migrations()]
        assert store.schema_version() == latest_version()
        assert store.upgrade() == []
        store.ensure_schema()
        assert opener().schema_version() == latest_version()

    def test_ensure_schema_upgrades_an_empty_store(self, opener: Connect) -> None:
        store = opener()
        store.ensure_schema()
        assert store.schema_version() == latest_version()
        assert store.is_empty()

    def test_outdated_store_with_data_is_refused_until_upgraded(
        self, store: Storage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _org(store, "Muster GmbH")
        assert not store.is_empty()
        known = base.migrations()
        extra = (
            known[-1][0] + 1,
            "conformance",
            "CREATE TABLE conformance_extra (id {ID}, note TEXT);",
        )
        monkeypatch.setattr(base, "migrations", lambda: [*known, extra])
        monkeypatch.setattr(base, "latest_version", lambda: extra[0])
        with pytest.raises(Refused, match="db upgrade"):
            store.ensure_schema()
        assert store.upgrade() == [extra[0]]
        assert store.upgrade() == []
        store.ensure_schema()
        assert store.insert("conformance_extra", {"note": "x"}) >= 1
        assert _names(store) == ["Muster GmbH"]

    def test_store_newer_than_the_code_is_refused(self, store: Storage) -> None:
        store.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (latest_version() + 1, "future", TIMESTAMP),
        )
        with pytest.raises(Refused, match="newer"):
            store.ensure_schema()

    def test_tables_and_columns(self, store: Storage) -> None:
        tables = set(store.list_tables())
        if isinstance(store, SqlStorage):
            assert set(SqlStorage.tables) <= tables
        assert "schema_migrations" in tables
        assert store.columns("counters") == ["name", "value"]

    # -- rows ----------------------------------------------------------------------------
    def test_insert_returns_new_ids(self, store: Storage) -> None:
        first, second = _org(store, "A"), _org(store, "B")
        assert isinstance(first, int)
        assert second > first
        row = store.query_one("SELECT id, name FROM organisations WHERE id = ?", (second,))
        assert row == {"id": second, "name": "B"}

    def test_query_gives_dict_rows(self, store: Storage) -> None:
        _org(store, "A")
        _org(store, "B")
        rows = store.query("SELECT name, kind FROM organisations ORDER BY name")
        assert rows == [{"name": "A", "kind": "company"}, {"name": "B", "kind": "company"}]
        assert store.query_one("SELECT name FROM organisations WHERE name = ?", ("C",)) is None
        assert store.query("SELECT name FROM organisations WHERE name = ?", ("C",)) == []

    def test_execute_and_executemany(self, store: Storage) -> None:
        org = _org(store, "A")
        store.executemany(
            "INSERT INTO org_domains (org_id, domain) VALUES (?, ?)",
            [(org, "a.example"), (org, "b.example")],
        )
        store.execute("DELETE FROM org_domains WHERE domain = ?", ("a.example",))
        assert store.query("SELECT domain FROM org_domains") == [{"domain": "b.example"}]

    def test_text_round_trips(self, store: Storage) -> None:
        """Unicode text, ISO timestamps as text, and ``%`` / ``?`` inside literals."""
        store.insert("organisations", {"name": UNICODE, "kind": "company", "created_at": TIMESTAMP})
        row = store.query_one(
            "SELECT name, created_at FROM organisations WHERE name = ?", (UNICODE,)
        )
        assert row == {"name": UNICODE, "created_at": TIMESTAMP}
        assert isinstance(row["created_at"], str)
        found = store.query("SELECT name FROM organisations WHERE name LIKE ?", ("Müller%",))
        assert found == [{"name": UNICODE}]
        lit = store.query_one("SELECT '50%' AS p, 'a?b' AS q, count(*) AS n FROM organisations")
        assert lit == {"p": "50%", "q": "a?b", "n": 1}

    def test_blob_round_trip(self, store: Storage) -> None:
        raw = bytes(range(256)) * 40 + b"\x00end"
        qid = store.insert(
            "quarantine",
            {"message_key": "k", "reason": "test", "raw": raw, "created_at": TIMESTAMP},
        )
        row = store.query_one("SELECT raw FROM quarantine WHERE id = ?", (qid,))
        assert row is not None
        assert type(row["raw"]) is bytes
        assert row["raw"] == raw
        streamed = list(store.iterate("SELECT raw FROM quarantine"))
        assert type(streamed[0]["raw"]) is bytes
        assert streamed[0]["raw"] == raw

    def test_booleans_are_stored_as_integers(self, store: Storage) -> None:
        store.insert(
            "agents",
            {
                "login": "mm",
                "name": "M",
                "email": "m@x.example",
                "active": True,
                "created_at": TIMESTAMP,
            },
        )
        store.execute("UPDATE agents SET active = ? WHERE login = ?", (False, "mm"))
        assert store.query_one("SELECT active FROM agents") == {"active": 0}
        assert store.query_one("SELECT login FROM agents WHERE active = 0") == {"login": "mm"}

    def test_portable_sql_the_workflow_uses(self, store: Storage) -> None:
        """CAST to text, ``||``, LIKE over a role list, upserts, RETURNING, UPDATE with a
        LIMITed subquery, ``count(*) AS n``, LIMIT, UNION."""
        org = _org(store, "A")
        cid = store.insert(
            "contacts",
            {"org_id": org, "name": "Anna", "email": "anna@a.example", "roles": "main,approver",
             "created_at": TIMESTAMP},
        )  # fmt: skip
        row = store.query_one("SELECT name FROM contacts WHERE CAST(id AS TEXT) = ?", (str(cid),))
        assert row == {"name": "Anna"}
        row = store.query_one(
            "SELECT email FROM contacts WHERE (',' || roles || ',') LIKE ?", ("%,approver,%",)
        )
        assert row == {"email": "anna@a.example"}
        store.execute(
            "INSERT INTO org_domains (org_id, domain) VALUES (?, ?) "
            "ON CONFLICT (domain) DO NOTHING",
            (org, "a.example"),
        )
        store.execute(
            "INSERT INTO org_domains (org_id, domain) VALUES (?, ?) "
            "ON CONFLICT (domain) DO NOTHING",
            (org, "a.example"),
        )
        assert store.query_one("SELECT count(*) AS n FROM org_domains") == {"n": 1}
        for i in range(5):
            _org(store, f"x{i}")
        store.execute(
            "UPDATE organisations SET kind = ? WHERE id IN "
            "(SELECT id FROM organisations WHERE kind = ? ORDER BY id LIMIT ?)",
            ("public_body", "company", 2),
        )
        assert store.query_one(
            "SELECT count(*) AS n FROM organisations WHERE kind = 'public_body'"
        ) == {"n": 2}
        assert store.query(
            "SELECT 1 AS x FROM organisations WHERE id = ? UNION SELECT 1 FROM contacts "
            "WHERE id = ? LIMIT 1",
            (org, cid),
        ) == [{"x": 1}]
        rows = store.query("SELECT name FROM organisations ORDER BY id LIMIT 2")
        assert len(rows) == 2

    # -- transactions --------------------------------------------------------------------
    def test_transaction_commits_together(self, store: Storage, opener: Connect) -> None:
        other = opener()
        with store.transaction():
            _org(store, "A")
            _org(store, "B")
            assert other.query("SELECT name FROM organisations") == []
        assert _names(other) == ["A", "B"]

    def test_transaction_rolls_back_on_error(self, store: Storage, opener: Connect) -> None:
        with pytest.raises(ZeroDivisionError), store.transaction():
            _org(store, "A")
            _ = 1 / 0
        assert _names(store) == []
        assert _names(opener()) == []
        _org(store, "B")  # the connection is usable afterwards
        assert _names(store) == ["B"]

    def test_nested_transaction_joins_the_outer_one(self, store: Storage) -> None:
        with pytest.raises(ValueError), store.transaction():
            _org(store, "outer")
            with store.transaction():
                _org(store, "inner")
            raise ValueError("undo both")
        assert _names(store) == []
        with store.transaction(), pytest.raises(ValueError), store.transaction():
            _org(store, "inner")
            raise ValueError("the inner error propagates")
        # the inner block did not roll back by itself: it belongs to the outer transaction
        assert _names(store) == ["inner"]

    def test_unique_violation_is_recognisable(self, store: Storage) -> None:
        _org(store, "A")
        with pytest.raises(store.IntegrityError) as caught:
            _org(store, "A")
        assert store.is_unique_violation(caught.value)
        with pytest.raises(store.IntegrityError) as caught:
            store.execute("INSERT INTO organisations (name, kind) VALUES (?, ?)", ("B", "company"))
        assert not store.is_unique_violation(caught.value)  # NOT NULL, not a duplicate
        assert not store.is_unique_violation(ValueError("UNIQUE constraint failed"))
        assert _names(store) == ["A"]

    # -- driver errors -----------------------------------------------------------------
    def test_sql_the_store_refuses_is_a_permanent_backend_error(self, store: Storage) -> None:
        """A driver error becomes BackendError (not BackendUnavailable: trying again gives the
        same answer), one line, with the driver's exception as its cause."""
        for sql in ("SELECT no_such_column FROM counters", "SELECT * FROM no_such_table"):
            with pytest.raises(BackendError) as caught:
                store.query(sql)
            assert not isinstance(caught.value, BackendUnavailable)
            assert caught.value.__cause__ is not None
            assert "\n" not in str(caught.value)
        with pytest.raises(BackendError):
            list(store.iterate("SELECT no_such_column FROM counters"))
        assert store.query("SELECT name FROM counters") == []  # the store stays usable

    def test_a_refused_statement_in_a_savepoint_leaves_the_transaction_usable(
        self, store: Storage
    ) -> None:
        with store.transaction():
            _org(store, "A")
            with pytest.raises(BackendError), store.savepoint():
                store.query("SELECT no_such_column FROM organisations")
            _org(store, "B")
        assert _names(store) == ["A", "B"]

    def test_errors_that_are_not_the_drivers_pass_unchanged(self, store: Storage) -> None:
        with pytest.raises(ZeroDivisionError), store.transaction():
            _org(store, "A")
            _ = 1 / 0
        with pytest.raises(Refused), store.transaction():
            raise Refused("vetoed")
        assert _names(store) == []

    def test_constraint_errors_stay_the_drivers_integrity_error(self, store: Storage) -> None:
        """A violated constraint, whichever method ran the statement, is ``store.IntegrityError``
        (never an hdcli error: it is the caller's to handle), a duplicate key recognisably so."""
        org = _org(store, "A")
        store.execute("INSERT INTO org_domains (org_id, domain) VALUES (?, ?)", (org, "a.example"))
        violations: list[tuple[Callable[[], Any], bool]] = [
            (lambda: _org(store, "A"), True),
            (
                lambda: store.executemany(
                    "INSERT INTO org_domains (org_id, domain) VALUES (?, ?)",
                    [(org, "b.example"), (org, "a.example")],
                ),
                True,
            ),
            (
                lambda: store.query_one(
                    "INSERT INTO contacts (org_id, name, email, created_at) VALUES (?, ?, ?, ?) "
                    "RETURNING id",
                    (org + 1000, "X", "x@a.example", TIMESTAMP),
                ),
                False,  # a foreign key
            ),
            (lambda: store.execute("UPDATE organisations SET kind = NULL"), False),
        ]
        for violate, duplicate in violations:
            with pytest.raises(store.IntegrityError) as caught, store.transaction():
                violate()
            assert not isinstance(caught.value, HdcliError)
            assert store.is_unique_violation(caught.value) is duplicate, caught.value
        assert _names(store) == ["A"]
        assert store.query("SELECT domain FROM org_domains") == [{"domain": "a.example"}]

    def test_savepoint_undoes_only_its_part(self, store: Storage) -> None:
        with store.transaction():
            _org(store, "A")
            with pytest.raises(store.IntegrityError) as caught, store.savepoint():
                _org(store, "B")
                _org(store, "A")
            assert store.is_unique_violation(caught.value)
            _org(store, "C")  # the transaction goes on
        assert _names(store) == ["A", "C"]

    # -- counters ------------------------------------------------------------------------
    def test_next_value_counts_and_reserves_blocks(self, store: Storage) -> None:
        assert store.next_value("a") == 1
        assert store.next_value("a") == 2
        assert store.next_value("a", 10) == 12  # reserved 3..12, the last one returned
        assert store.next_value("a") == 13
        assert store.next_value("b", start=100) == 101
        assert store.next_value("b", 5, start=100) == 106

    def test_next_value_rolls_back_with_its_transaction(self, store: Storage) -> None:
        store.next_value("a")
        with pytest.raises(RuntimeError), store.transaction():
            store.next_value("a")
            raise RuntimeError
        assert store.next_value("a") == 2

    def test_next_value_is_atomic_across_connections(self, opener: Connect) -> None:
        first = opener()
        first.ensure_schema()
        workers, rounds = 4, 25
        stores = [opener() for _ in range(workers)]

        def work(i: int) -> list[int]:
            got = []
            for _ in range(rounds):
                with stores[i].transaction():
                    got.append(stores[i].next_value("shared", 2))
            return got

        values = sorted(v for got in run_concurrently(work, workers) for v in got)
        assert values == list(range(2, 2 * workers * rounds + 1, 2))

    # -- reading -------------------------------------------------------------------------
    def test_iterate_streams_every_row_in_order(self, store: Storage) -> None:
        n = 2500
        store.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?)",
            [(f"c{i:05d}", i) for i in range(n)],
        )
        seen = 0
        for i, row in enumerate(store.iterate("SELECT name, value FROM counters ORDER BY name")):
            assert row == {"name": f"c{i:05d}", "value": i}
            if i % 1000 == 0:  # other statements may run while a stream is open
                assert store.query_one("SELECT count(*) AS n FROM counters") == {"n": n}
            seen += 1
        assert seen == n

    def test_iterate_can_be_abandoned(self, store: Storage) -> None:
        store.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?)", [(f"c{i}", i) for i in range(50)]
        )
        stream = store.iterate("SELECT name FROM counters WHERE value >= ?", (10,))
        assert next(stream) is not None
        stream.close()  # type: ignore[attr-defined]
        with store.transaction():
            rows = list(
                store.iterate("SELECT value FROM counters WHERE value < ? ORDER BY value", (3,))
            )
        assert rows == [{"value": 0}, {"value": 1}, {"value": 2}]

    # -- locks ---------------------------------------------------------------------------
    def test_lock_is_exclusive_across_connections(self, store: Storage, opener: Connect) -> None:
        other = opener()
        with store.lock("fetch") as got:
            assert got is True
            with other.lock("fetch") as second:
                assert second is False
            with other.lock("another") as unrelated:
                assert unrelated is True
        with other.lock("fetch") as again:
            assert again is True

    def test_lock_is_released_when_the_block_fails(self, store: Storage, opener: Connect) -> None:
        with pytest.raises(KeyError), store.lock("fetch") as got:
            assert got
            raise KeyError("x")
        with opener().lock("fetch") as again:
            assert again is True

    # -- copies --------------------------------------------------------------------------
    def test_whole_tables_are_read_emptied_and_written_back(self, store: Storage) -> None:
        """What ``hdcli db copy`` does with each table: rows by id, written back as they were
        (ids, BLOBs and NULLs included), counted."""
        for name in ("B", "A", "C"):
            _org(store, name)
        raw = bytes(range(256))
        store.insert(
            "quarantine",
            {"message_key": "k", "source": "", "reason": "r", "raw": raw, "created_at": TIMESTAMP},
        )
        assert store.has_rows("organisations")
        assert not store.has_rows("contacts")
        assert (store.count_rows("organisations"), store.count_rows("contacts")) == (3, 0)
        cols = ["id", "name", "kind", "language", "created_at"]
        orgs = list(store.read_rows("organisations", cols))
        assert [r["name"] for r in orgs] == ["B", "A", "C"]  # by id
        assert list(orgs[0]) == cols
        qcols = ["id", "message_key", "source", "reason", "raw", "created_at"]
        kept = list(store.read_rows("quarantine", qcols))
        with store.transaction():
            store.delete_rows("quarantine")
            store.delete_rows("organisations")
            assert store.count_rows("organisations") == 0
            store.write_rows("organisations", cols, [tuple(r[c] for c in cols) for r in orgs])
            store.write_rows("quarantine", qcols, [tuple(r[c] for c in qcols) for r in kept])
        assert list(store.read_rows("organisations", cols)) == orgs
        assert [r["raw"] for r in store.read_rows("quarantine", ["raw"])] == [raw]
        assert list(store.read_rows("counters", ["name", "value"])) == []  # no id column
        with pytest.raises(ValueError):
            store.count_rows("organisations; DROP TABLE tickets")
        with pytest.raises(ValueError):
            list(store.read_rows("organisations", ["name FROM organisations --"]))

    def test_explicit_ids_then_generated_ones_follow(self, store: Storage) -> None:
        store.execute(
            "INSERT INTO organisations (id, name, kind, created_at) VALUES (?, ?, ?, ?)",
            (41, "copied", "company", TIMESTAMP),
        )
        store.reset_sequences()
        assert _org(store, "new") == 42

    def test_close_twice_is_harmless(self, opener: Connect) -> None:
        store = opener()
        store.close()
        store.close()

    # -- driver errors -------------------------------------------------------------------
    @pytest.mark.parametrize("operation", sorted(BROKEN_OPERATIONS))
    def test_a_broken_connection_is_backend_unavailable(
        self, store: Storage, break_connection: Callable[[Storage], None], operation: str
    ) -> None:
        """Once the connection fails, every operation raises BackendUnavailable (exit 5; the
        MTA pipe's 75), never a driver error; only what needs no connection may still work
        (a file lock, a no-op). Closing the broken store stays harmless."""
        run, must_fail = BROKEN_OPERATIONS[operation]
        _org(store, "A")
        break_connection(store)
        try:
            run(store)
        except BackendUnavailable:
            pass
        except Exception as exc:
            pytest.fail(f"{operation} on a broken connection raised {exc!r}")
        else:
            assert not must_fail, f"{operation} on a broken connection did not fail"
        store.close()
        store.close()


def run_concurrently(fn: Callable[[int], Any], n: int) -> list[Any]:
    """Run ``fn(0) … fn(n-1)`` in threads at once; return results in order, raise the first
    error. For backends' own concurrency tests."""
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = fn(i)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
