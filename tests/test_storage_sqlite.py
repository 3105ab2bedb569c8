"""The SQLite backend: the storage conformance suite plus what only SQLite has."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hdcli.backends.sqlite import SqliteStorage, path_of
from hdcli.backends.testing import Connect, StorageConformance
from hdcli.errors import BackendUnavailable


class TestSqliteConformance(StorageConformance):
    @pytest.fixture
    def connect(self, tmp_path: Path) -> Connect:
        url = f"sqlite:///{tmp_path / 'hdcli.db'}"
        return lambda: SqliteStorage(url)


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
