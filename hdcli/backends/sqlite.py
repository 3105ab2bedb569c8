"""The embedded default: SQLite (WAL, busy timeout, foreign keys)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from hdcli.backends.base import SqlStorage
from hdcli.errors import BackendUnavailable, HdcliError

BUSY_TIMEOUT_MS = 15000
#: What "try again later" is in SQLite: locked, busy, cannot open the file, the disk failing
#: or full (error codes, and the messages for drivers that give none).
_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_PROTOCOL",
)
_UNAVAILABLE_MESSAGES = ("locked", "busy", "unable to open", "disk I/O", "disk is full")


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


def path_of(url: str) -> Path:
    """``sqlite:///rel/path`` is relative, ``sqlite:////abs/path`` absolute (SQLAlchemy style);
    ``sqlite:///`` followed by an absolute path as produced by the defaults also works."""
    rest = url.split("://", 1)[1]
    rest = rest.split("?", 1)[0]
    if rest.startswith("/"):
        rest = rest[1:]
    return Path(unquote(rest)).expanduser()


class SqliteStorage(SqlStorage):
    """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``.

    Writes take the database's write lock at ``BEGIN IMMEDIATE`` and wait up to
    ``BUSY_TIMEOUT_MS`` for it; ``lock(name)`` is an ``flock`` on a file beside the database.
    """

    dialect = "sqlite"
    ddl: ClassVar[dict[str, str]] = {
        "ID": "INTEGER PRIMARY KEY",
        "BIGINT": "INTEGER",
        "BLOB": "BLOB",
    }
    IntegrityError = sqlite3.IntegrityError

    def __init__(self, url: str, config: Any = None) -> None:
        super().__init__()
        self.url = url
        self.path = path_of(url)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn.row_factory = _dict_row
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self._conn.execute("PRAGMA journal_mode").fetchone()["journal_mode"] != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise BackendUnavailable(f"cannot open SQLite database {self.path}: {exc}") from None

    def _sql(self, sql: str) -> str:
        return sql

    def _begin(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _wrap(self, exc: Exception) -> Exception | None:
        if isinstance(exc, HdcliError):
            return None
        if isinstance(exc, sqlite3.OperationalError):
            msg = str(exc)
            name = getattr(exc, "sqlite_errorname", "")
            if name.startswith(_UNAVAILABLE) or any(m in msg for m in _UNAVAILABLE_MESSAGES):
                return BackendUnavailable(f"SQLite database {self.path}: {msg}")
        return None

    def is_unique_violation(self, exc: BaseException) -> bool:
        if not isinstance(exc, sqlite3.IntegrityError):
            return False
        name = getattr(exc, "sqlite_errorname", "")
        if name:
            return name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")
        return "UNIQUE constraint failed" in str(exc)

    def list_tables(self) -> list[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        return [str(r["name"]) for r in rows]

    def _table_exists(self, name: str) -> bool:
        row = self.query_one(
            "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        return row is not None

    @contextmanager
    def lock(self, name: str) -> Iterator[bool]:
        import fcntl

        lock_path = self.path.with_name(f"{self.path.name}.{name}.lock")
        try:
            fh = open(lock_path, "a+b")  # noqa: SIM115 - closed below, after the lock
        except OSError as exc:
            raise BackendUnavailable(f"cannot open lock file {lock_path}: {exc.strerror}") from None
        with fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            except OSError as exc:
                raise BackendUnavailable(f"cannot lock {lock_path}: {exc.strerror}") from None
            try:
                yield True
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
