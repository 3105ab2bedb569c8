"""The SQLite backend: the storage conformance suite plus what only SQLite has."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hdcli.backends.base import Storage
from hdcli.backends.sqlite import SqliteStorage, path_of
from hdcli.backends.testing import Connect, StorageConformance
from hdcli.errors import BackendUnavailable


class _FailingConnection:
    """A connection whose disk went away: every statement fails as SQLite reports it."""

    in_transaction = False

    def __init__(self, real: sqlite3.Connection, error: str = "disk I/O error") -> None:
        self.real = real
        self.error = error

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError(self.error)

    execute = executemany = executescript = cursor = _fail

    def close(self) -> None:
        self.real.close()


def _break(store: Storage) -> None:
    assert isinstance(store, SqliteStorage)
    store._conn = _FailingConnection(store._conn)


class TestSqliteConformance(StorageConformance):
    @pytest.fixture
    def connect(self, tmp_path: Path) -> Connect:
        url = f"sqlite:///{tmp_path / 'hdcli.db'}"
        return lambda: SqliteStorage(url)

    @pytest.fixture
    def break_connection(self) -> Callable[[Storage], None]:
        return _break


def test_urls_relative_and_absolute(tmp_path: Path) -> None:
    assert path_of("sqlite:///data/hdcli.db") == Path("data/hdcli.db")
    assert path_of(f"sqlite:///{tmp_path}/x.db") == tmp_path / "x.db"
    assert path_of(f"sqlite:////{str(tmp_path).lstrip('/')}/x.db") == tmp_path / "x.db"


def test_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'hdcli.db'}")
    try:
        store.ensure_schema()
        assert store.query_one("PRAGMA journal_mode") == {"journal_mode": "wal"}
        with pytest.raises(sqlite3.IntegrityError):
            store.execute(
                "INSERT INTO contacts (org_id, name, email, created_at) VALUES (?, ?, ?, ?)",
                (999, "x", "x@example.org", "2026-01-01T00:00:00Z"),
            )
    finally:
        store.close()


def test_unopenable_database_is_backend_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BackendUnavailable, match="cannot open SQLite database"):
        SqliteStorage(f"sqlite:///{blocker / 'hdcli.db'}")


class _FailingCursor:
    """Rows that cannot be read: the statement started, the disk failed while stepping."""

    def __init__(self, error: str) -> None:
        self.error = error

    def _fail(self, *args: Any) -> Any:
        raise sqlite3.OperationalError(self.error)

    fetchone = fetchall = fetchmany = _fail


@pytest.mark.parametrize(
    "error", ["disk I/O error", "database is locked", "database or disk is full"]
)
def test_errors_while_reading_rows_are_backend_unavailable(tmp_path: Path, error: str) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'hdcli.db'}")
    try:
        store.ensure_schema()
        real = store._conn

        class Reading:
            in_transaction = False

            def execute(self, *args: Any) -> Any:
                real.execute(*args)
                return _FailingCursor(error)

            def close(self) -> None:
                real.close()

        store._conn = Reading()
        for read in (
            lambda: store.query("SELECT name FROM counters"),
            lambda: store.query_one("SELECT name FROM counters"),
            lambda: list(store.iterate("SELECT name FROM counters")),
        ):
            with pytest.raises(BackendUnavailable, match=error):
                read()
    finally:
        store.close()


def test_a_failed_commit_leaves_the_connection_usable(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'hdcli.db'}")
    try:
        store.ensure_schema()
        commit = store._commit

        def failing() -> None:
            raise sqlite3.OperationalError("disk I/O error")

        store._commit = failing  # type: ignore[method-assign]
        with pytest.raises(BackendUnavailable), store.transaction():
            store.next_value("a")
        store._commit = commit  # type: ignore[method-assign]
        with store.transaction():
            assert store.next_value("a") == 1  # the failed transaction was rolled back
    finally:
        store.close()


def test_an_unusable_lock_file_is_backend_unavailable(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'hdcli.db'}")
    try:
        (tmp_path / "hdcli.db.fetch.lock").mkdir()
        with pytest.raises(BackendUnavailable, match="lock"), store.lock("fetch"):
            pass
    finally:
        store.close()
