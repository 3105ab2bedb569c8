"""The storage interface and the SQL implementation shared by the SQL backends.

Workflow modules speak portable SQL through :class:`Storage`: ``?`` placeholders, ISO 8601
text timestamps, ``INSERT … RETURNING`` and ``ON CONFLICT`` upserts (SQLite ≥ 3.35 and
PostgreSQL both have them). A backend fills in the small dialect points: connecting, the
placeholder style, DDL types, how a write transaction begins and how driver errors map to
hdcli's errors.

Every driver error is one of three kinds, decided by one table per backend (``ERROR_KINDS``
in :mod:`hdcli.backends.sqlite` and :mod:`hdcli.backends.postgres`):

- :data:`TRANSIENT`: the store cannot take the change now (locked, unreachable, full,
  read-only for this user, out of resources, a statement cancelled by a timeout): raised as
  :class:`~hdcli.errors.BackendUnavailable` (exit 5; 75 for mail ingest, the MTA retries);
- :data:`PERMANENT`: trying again gives the same answer (a damaged store, SQL or a value the
  store refuses): raised as :class:`~hdcli.errors.BackendError` (exit 1; a mail that causes
  one is quarantined);
- :data:`INTEGRITY`: a violated constraint: the driver's own ``IntegrityError``, unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, cast

from hdcli.errors import Refused
from hdcli.models import Row as Row
from hdcli.util import like_pattern as like_pattern

_MIGRATION = re.compile(r"(\d{4})_(\w+)\.sql")
_Action = TypeVar("_Action", bound=Callable[[], None])

ErrorKind = Literal["transient", "permanent", "integrity"]
#: a driver error worth retrying: BackendUnavailable
TRANSIENT: ErrorKind = "transient"
#: a driver error that retrying does not fix: BackendError
PERMANENT: ErrorKind = "permanent"
#: a violated constraint: the driver's IntegrityError as it is
INTEGRITY: ErrorKind = "integrity"


def _migration_dir() -> Path:
    return Path(__file__).resolve().parent / "migrations"


def migrations() -> list[tuple[int, str, str]]:
    """The versioned schema history: ``(version, name, sql)`` in order."""
    found = []
    for entry in _migration_dir().iterdir():
        m = _MIGRATION.fullmatch(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


@lru_cache(maxsize=1)
def known_versions() -> tuple[int, ...]:
    """The schema versions this hdcli knows, ascending (from the file names alone: this runs
    at every start, reading the SQL is left to an upgrade)."""
    return tuple(
        sorted(
            int(m.group(1))
            for name in os.listdir(_migration_dir())
            if (m := _MIGRATION.fullmatch(name))
        )
    )


def latest_version() -> int:
    """The newest schema version this hdcli knows."""
    return known_versions()[-1]


class Storage(ABC):
    """A helpdesk store. Contract every backend keeps (checked by ``hdcli.backends.testing``):

    - ``transaction()`` is a context manager; writes inside it commit together or not at all;
      nested use joins the outer transaction. Writes serialise against other processes
      (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: row locks and unique constraints).
    - ``execute``/``query``/``query_one`` take SQL with ``?`` placeholders; rows are dicts.
    - ``insert`` returns the new row's ``id``; ``next_value`` increments a named counter
      atomically and returns the last of the ``n`` values reserved.
    - ``lock(name)`` holds a lock across processes (for ``mail fetch``), non-blocking:
      it yields False when another connection holds it.
    - Values: text is unicode text; timestamps are ISO 8601 text; BLOB columns take ``bytes``
      and give back ``bytes``; booleans are stored as the integers 0 and 1.
    - Driver errors that mean "cannot reach / locked / full / read-only / try again" become
      BackendUnavailable; the others become BackendError (see the module docstring), with the
      driver's exception as ``__cause__`` and a message of one line that names the store.
      A violated constraint stays the driver's own exception (``store.IntegrityError``);
      :meth:`is_unique_violation` tells a duplicate key from other errors portably. On
      PostgreSQL a failed statement spoils the whole transaction: catch such errors around
      a :meth:`~SqlStorage.savepoint`, never bare inside a transaction.
    """

    dialect: str = ""
    url: str = ""
    #: the driver's integrity error class (``sqlite3.IntegrityError``, ``psycopg.IntegrityError``)
    IntegrityError: type[Exception] = Exception

    def is_unique_violation(self, exc: BaseException) -> bool:
        """True when ``exc`` is the driver's error for a duplicate key (UNIQUE / PRIMARY KEY)."""
        return False

    @classmethod
    def missing(cls, url: str) -> str | None:
        """What of the store at ``url`` does not exist and opening it would create (the folder
        of an SQLite file), or None. A server database that does not exist fails to
        connect anyway."""
        return None

    @abstractmethod
    def transaction(self) -> Any: ...

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    @abstractmethod
    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        """Stream rows without loading them all (bounded memory for big reports)."""

    @abstractmethod
    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    @abstractmethod
    def insert(self, table: str, values: dict[str, Any]) -> int: ...

    @abstractmethod
    def next_value(self, counter: str, n: int = 1, start: int = 0) -> int: ...

    @abstractmethod
    def lock(self, name: str) -> Any: ...

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def upgrade(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""

    @abstractmethod
    def is_empty(self) -> bool:
        """True when the store holds no helpdesk data at all (no schema or no rows)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; closing twice is harmless."""

    @abstractmethod
    def savepoint(self) -> Any:
        """Context manager: a part of the open transaction that an error undoes alone."""

    @abstractmethod
    def list_tables(self) -> list[str]:
        """Names of the tables of the store (``schema_migrations`` included)."""

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """The column names of ``table`` in their order."""

    # -- the search index: one document of text per ticket (migration 0008) ------------------
    #: SQL of a subquery with the columns ``ticket_id`` and ``score`` (lower is better): the
    #: tickets whose document matches its one ``?`` parameter, :meth:`search_terms` of the words
    search_hits: ClassVar[str] = ""
    #: SQL of a subquery with the one column ``ticket_id``: the matching tickets, unranked
    #: (the cheap question: which, not how well)
    search_ids: ClassVar[str] = ""

    def search_ranked(self, terms: str, ticket_ids: Sequence[int]) -> tuple[str, list[Any]]:
        """SQL of a subquery like :attr:`search_hits` and its parameters, ranking just these
        hits of ``terms`` (from :attr:`search_ids`; it may hold more tickets, which the caller
        filters out, but never fewer)."""
        raise NotImplementedError

    def search_terms(self, words: Sequence[str]) -> str:
        """The parameter of :attr:`search_hits` for ``words`` (every word must occur); the
        words' characters can never be read as the index's query syntax."""
        raise NotImplementedError

    def search_put(self, docs: Sequence[tuple[int, str]]) -> None:
        """Write (or replace) the documents ``(ticket id, text)``."""
        raise NotImplementedError

    def search_drop(self, ticket_ids: Sequence[int]) -> None:
        """Remove the documents of these tickets."""
        raise NotImplementedError

    def search_clear(self) -> None:
        """Remove every document (before a rebuild)."""
        raise NotImplementedError

    def search_containing(self, text: str) -> list[int]:
        """The tickets whose document contains ``text`` (case-insensitive, as it is: for
        erasure, not ranked)."""
        raise NotImplementedError

    def search_compact(self) -> None:  # noqa: B027 - optional: most backends need nothing
        """After documents were removed for erasure: leave no trace of their words in the
        index's own structures (SQLite's FTS5 keeps deleted terms until its segments merge)."""

    def search_snippets(self, terms: str, numbers: Sequence[str]) -> dict[str, str]:
        """A short excerpt of each ticket's document around the matches of ``terms`` (from
        :meth:`search_terms`), matches in ``[`` ``]``, by ticket number."""
        raise NotImplementedError

    def analyze(self) -> None:  # noqa: B027 - optional: most backends need nothing
        """Refresh the planner's statistics after a bulk load (``hdcli db copy``)."""

    def reset_sequences(self) -> None:  # noqa: B027 - optional: most backends need nothing
        """After rows were inserted with explicit ids: make the next generated ids follow
        the largest ones (PostgreSQL identity columns; SQLite needs nothing)."""

    # -- whole tables, whatever they hold (``hdcli db copy``) -------------------------------
    def has_rows(self, table: str) -> bool:
        """Whether ``table`` holds any row."""
        return self.query_one(f"SELECT 1 AS x FROM {_checked(table)} LIMIT 1") is not None

    def count_rows(self, table: str) -> int:
        """How many rows ``table`` holds."""
        row = self.query_one(f"SELECT count(*) AS n FROM {_checked(table)}")
        return int(row["n"]) if row else 0

    def read_rows(self, table: str, columns: Sequence[str]) -> Iterator[Row]:
        """Stream ``columns`` of every row of ``table``, by id when it has one (a row that
        refers to an older one of its table comes after it)."""
        names = ", ".join(_checked(c) for c in columns)
        order = " ORDER BY id" if "id" in columns else ""
        return self.iterate(f"SELECT {names} FROM {_checked(table)}{order}")

    def write_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert ``rows`` (values in the order of ``columns``) into ``table`` as they are,
        ids included."""
        names = ", ".join(_checked(c) for c in columns)
        marks = ", ".join("?" * len(columns))
        self.executemany(f"INSERT INTO {_checked(table)} ({names}) VALUES ({marks})", rows)

    def delete_rows(self, table: str) -> None:
        """Delete every row of ``table``."""
        self.execute(f"DELETE FROM {_checked(table)}")

    def ensure_schema(self) -> None:
        """Upgrade an empty store; refuse an outdated store that holds data."""
        version = self.schema_version()
        latest = latest_version()
        if version == latest:
            return
        if version > latest:
            raise Refused(
                f"the store's schema is version {version}, newer than this hdcli knows "
                f"({latest}): upgrade hdcli"
            )
        if version == 0 or self.is_empty():
            self.upgrade()
            return
        raise Refused(
            f"the store's schema is version {version}, this hdcli needs {latest}: "
            "run `hdcli db upgrade`"
        )


_TABLE_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


@lru_cache(maxsize=256)
def _insert_sql(table: str, cols: tuple[str, ...]) -> str:
    """``INSERT … RETURNING id`` for ``table`` and ``cols``, each name checked (once per
    statement shape: bulk open inserts the same shapes thousands of times)."""
    if not _TABLE_RE.match(table) or not all(_TABLE_RE.match(c) for c in cols):
        raise ValueError(f"bad table or column name in insert into {table!r}")
    marks = ", ".join("?" * len(cols))
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) RETURNING id"


def _checked(name: str) -> str:
    """A table or column name fit to be put into SQL, else ValueError."""
    if not _TABLE_RE.match(name):
        raise ValueError(f"bad table or column name {name!r}")
    return name


class SqlStorage(Storage):
    """Shared SQL implementation; subclasses fill in the dialect points."""

    ddl: ClassVar[dict[str, str]] = {}
    #: appended to a ``SELECT`` of one row that a change is about to write, inside its
    #: transaction: PostgreSQL's ``FOR UPDATE`` (SQLite's write transaction already serialises)
    row_lock: ClassVar[str] = ""
    #: tables in dependency order (``hdcli db copy`` fills them in this order): a migration
    #: that adds a table adds it here too
    tables = (
        "counters",
        "organisations",
        "org_domains",
        "contracts",
        "contacts",
        "agents",
        "tickets",
        "articles",
        "attachments",
        "ticket_participants",
        "time_entries",
        "approvals",
        "service_reports",
        "outbound",
        "inbound_log",
        "quarantine",
        "ticket_links",
        "history",
        "locks",
        "access_log",
        "api_tokens",
    )

    def __init__(self) -> None:
        self._depth = 0
        self._savepoints = 0
        self._conn: Any = None
        #: Inside :meth:`deferred_writes`: the rows of :meth:`write` not sent yet, by table
        #: and statement, in the order they came.
        self._pending: dict[tuple[str, str], list[tuple[Any, ...]]] | None = None
        #: What runs once just before the open transaction commits, by name (see
        #: :meth:`before_commit`).
        self._before_commit: dict[str, Callable[[], None]] = {}

    # -- dialect points --------------------------------------------------------------
    @abstractmethod
    def _sql(self, sql: str) -> str:
        """Translate portable SQL (``?`` placeholders) to the driver's."""

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @abstractmethod
    def _wrap(self, exc: Exception) -> Exception | None:
        """The hdcli error for a driver error (by the backend's ``ERROR_KINDS``), or None to
        re-raise it as it is (an IntegrityError, an error that is no driver error)."""

    @abstractmethod
    def _table_exists(self, name: str) -> bool: ...

    def _lock_schema(self) -> None:
        """Inside the upgrade transaction: keep a concurrent upgrade out (SQLite's
        ``BEGIN IMMEDIATE`` does already)."""

    def columns(self, table: str) -> list[str]:
        if not _TABLE_RE.match(table):
            raise ValueError(f"bad table name {table!r}")
        cur = self.execute(f"SELECT * FROM {table} LIMIT 0")
        return [d[0] for d in cur.description]

    # -- shared --------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[SqlStorage]:
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._guard(self._begin)
        self._depth = 1
        try:
            yield self
            while self._before_commit:
                name = next(iter(self._before_commit))
                self._before_commit.pop(name)()
        except BaseException:
            self._depth = 0
            self._before_commit.clear()
            # the connection may be gone; the original error matters
            with contextlib.suppress(Exception):
                self._rollback()
            raise
        self._depth = 0
        try:
            self._guard(self._commit)
        except BaseException:
            # a COMMIT that failed may leave the transaction open (SQLite): end it, so the
            # connection can begin the next one
            with contextlib.suppress(Exception):
                self._rollback()
            raise

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def before_commit(self, name: str, action: _Action) -> _Action:
        """Run ``action`` once just before the open transaction commits, inside it (its
        writes commit with the rest; its error rolls all back). While an action waits under
        ``name``, that one is returned and ``action`` is not kept: it still runs once.
        Dropped when the transaction is rolled back."""
        if not self._depth:
            raise RuntimeError("before_commit() needs an open transaction()")
        return cast("_Action", self._before_commit.setdefault(name, action))

    def run_before_commit(self, name: str) -> None:
        """Run the action registered under ``name`` now (a read needs what it writes)."""
        action = self._before_commit.pop(name, None)
        if action is not None:
            action()

    @contextmanager
    def savepoint(self) -> Iterator[SqlStorage]:
        """A part of the current transaction that an error undoes alone.

        The error propagates; the surrounding transaction stays usable (on PostgreSQL it
        would be aborted otherwise), so ``except`` around this block may go on writing::

            try:
                with store.savepoint():
                    store.insert("inbound_log", row)
            except Exception as exc:
                if not store.is_unique_violation(exc):
                    raise
        """
        if not self._depth:
            raise RuntimeError("savepoint() needs an open transaction()")
        self._savepoints += 1
        name = f"hdcli_sp_{self._savepoints}"
        self.execute(f"SAVEPOINT {name}")
        try:
            yield self
        except BaseException:
            # the connection may be gone; the original error matters
            with contextlib.suppress(Exception):
                self.execute(f"ROLLBACK TO SAVEPOINT {name}")
                self.execute(f"RELEASE SAVEPOINT {name}")
            raise
        finally:
            self._savepoints -= 1
        self.execute(f"RELEASE SAVEPOINT {name}")

    @contextmanager
    def deferred_writes(self) -> Iterator[SqlStorage]:
        """Inside a transaction: :meth:`write` rows wait and go with one ``executemany`` per
        statement, before any other statement is sent (so every read, savepoint and write
        sees them, in order) and at the end of the block. An error drops the rows still
        waiting (the transaction is rolled back anyway)."""
        if not self._depth:
            raise RuntimeError("deferred_writes() needs an open transaction()")
        if self._pending is not None:
            yield self
            return
        self._pending = {}
        try:
            yield self
            self._flush()
        finally:
            self._pending = None

    def write(self, table: str, sql: str, params: Sequence[Any]) -> None:
        """A write into ``table`` whose result nobody reads: sent now, or inside
        :meth:`deferred_writes` with the other rows of its statement at once."""
        if self._pending is None:
            self.execute(sql, params)
        else:
            self._pending.setdefault((table, sql), []).append(tuple(params))

    def _flush(self, table: str | None = None) -> None:
        """Send the waiting rows (all, or only when some wait for ``table``)."""
        pending = self._pending
        if not pending or (table is not None and not any(t == table for t, _ in pending)):
            return
        self._pending = {}
        try:
            for (_table, sql), rows in pending.items():
                self._guard(self._executemany, self._sql(sql), rows)
        except BaseException:
            self._pending = None  # the transaction is lost: nothing more waits
            raise

    def _guard(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            wrapped = self._wrap(exc)
            if wrapped is None:
                raise
            raise wrapped from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self._pending:
            self._flush()
        return self._guard(self._conn.execute, self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self._pending:
            self._flush()
        self._guard(self._executemany, self._sql(sql), rows)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = self._guard(self.execute(sql, params).fetchall)
        return rows

    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        cur = self.execute(sql, params)
        while True:
            chunk = self._guard(cur.fetchmany, 1000)
            if not chunk:
                return
            yield from chunk

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._guard(self.execute(sql, params).fetchone)
        return row

    def insert(self, table: str, values: dict[str, Any]) -> int:
        sql = _insert_sql(table, tuple(values))
        # Rows waiting for other tables may wait on (a new ticket does not read them).
        self._flush(table)
        cur = self._guard(self._conn.execute, self._sql(sql), tuple(values.values()))
        row = self._guard(cur.fetchone)
        assert row is not None
        return int(row["id"])

    def insert_blob(self, table: str, values: dict[str, Any], column: str, data: bytes) -> None:
        """Insert a row of ``values`` whose ``column`` holds ``data``. A backend may write a
        large blob in pieces instead of binding it whole (SQLite and libpq copy a bound blob,
        and a mail's 50 MB attachment would be in memory three times)."""
        self.write(table, _insert_sql(table, (*values, column)), (*values.values(), data))

    def next_value(self, counter: str, n: int = 1, start: int = 0) -> int:
        row = self.query_one(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = counters.value + ? RETURNING value",
            (counter, start + n, n),
        )
        assert row is not None
        return int(row["value"])

    def schema_version(self) -> int:
        if not self._table_exists("schema_migrations"):
            return 0
        applied = {int(r["version"]) for r in self.query("SELECT version FROM schema_migrations")}
        if not applied:
            return 0
        # a store is at the version below its first missing migration: one applied out of
        # order (a newer one before an older) does not hide the older one
        top = max(applied)
        missing = [v for v in known_versions() if v < top and v not in applied]
        return missing[0] - 1 if missing else top

    def is_empty(self) -> bool:
        for table in ("organisations", "tickets", "agents"):
            if self._table_exists(table) and self.query_one(f"SELECT 1 AS x FROM {table} LIMIT 1"):
                return False
        return True

    def _render_ddl(self, sql: str) -> list[str]:
        for key, value in self.ddl.items():
            sql = sql.replace("{" + key + "}", value)
        stripped = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        return [s.strip() for s in stripped.split(";") if s.strip()]

    def upgrade(self) -> list[int]:
        from hdcli.util import now_iso

        applied: list[int] = []
        with self.transaction():
            self._lock_schema()
            self.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {int(r["version"]) for r in self.query("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations():
                if version in done:
                    continue
                for statement in self._render_ddl(sql):
                    self.execute(statement)
                self.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, now_iso()),
                )
                applied.append(version)
        return applied

    def applied_migrations(self) -> list[Row]:
        if not self._table_exists("schema_migrations"):
            return []
        return self.query(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        )

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._guard(conn.close)
