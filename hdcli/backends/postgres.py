"""PostgreSQL with psycopg 3: a team's shared helpdesk (``pip install 'hdcli[postgres]'``).

``postgresql://user@host:5432/dbname?sslmode=require`` (or ``postgres://``). Every libpq
setting of the URL passes through (``sslmode``, ``sslrootcert``, ``connect_timeout``,
``options=-csearch_path%3Dhelpdesk`` for a schema of its own, …). The password comes, first
found wins, from the configuration's ``storage.password_env`` (name of an environment
variable) or ``storage.password_cmd`` (a command printing it), else from the URL or libpq's
own ``PGPASSWORD`` / ``~/.pgpass``.

psycopg is imported when a store is opened, never when the backend is registered.

Dialect points: ``?`` placeholders become ``%s``; the connection is in autocommit mode and
``transaction()`` sends ``BEGIN``/``COMMIT`` itself (READ COMMITTED: writers wait on row locks,
counters are atomic upserts); BYTEA comes back as ``bytes``; ``lock(name)`` is a session
advisory lock; ``iterate`` reads through a server-side cursor, so big results never sit in
memory whole.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar

from hdcli.backends.base import (
    INTEGRITY,
    PERMANENT,
    TRANSIENT,
    ErrorKind,
    Row,
    SqlStorage,
    _checked,
    like_pattern,
)
from hdcli.errors import BackendError, BackendUnavailable, ConfigError, HdcliError, UsageError

CONNECT_TIMEOUT = 10
#: seconds a statement waits for a lock / may run at most, unless configured
#: (``storage.lock_timeout``, ``storage.statement_timeout``; 0 waits for ever)
LOCK_TIMEOUT = 30.0
STATEMENT_TIMEOUT = 30.0
_cursor_ids = itertools.count(1)

#: What a PostgreSQL error means for hdcli, by SQLSTATE: a full code first, else its class
#: (the first two characters).
#:
#: - TRANSIENT: the server cannot take the change *now*: the connection failed or was lost
#:   (08), the server is out of disk, memory or connections (53), an operator or a timeout
#:   stopped the statement (57: 57014 query_canceled is what ``statement_timeout`` raises,
#:   57P01-57P05 shutdowns, a dropped database, an idle session timeout), the transaction lost
#:   a serialization race or a deadlock (40), a lock was not granted in ``lock_timeout``
#:   (55P03), the server's files failed (58), the server is read-only (25006: a standby
#:   after a failover) or this role may read but not write (42501, as SQLite's READONLY),
#:   an idle-in-transaction timeout (25P03) or an old snapshot (72):
#:   :class:`~hdcli.errors.BackendUnavailable` (exit 5; 75 for mail ingest).
#: - INTEGRITY: a violated constraint (23) stays the driver's ``psycopg.IntegrityError``, as
#:   the storage contract says.
#: - PERMANENT: everything else: SQL the server refuses (42 without 42501, 0A, 3F …), a value
#:   it refuses (22 data exception, 54 program limit: the mail that carries it is
#:   quarantined), an invalid transaction state (25 without 25006/25P03: a bug), internal
#:   errors and damaged data (XX): :class:`~hdcli.errors.BackendError`.
#:
#: An error without a SQLSTATE was raised by psycopg itself: an ``OperationalError`` (the
#: connection was lost) is TRANSIENT, any other (a closed cursor, wrong parameters, a NUL
#: byte in text) PERMANENT. Failing to connect at all (refused, unknown host, role or
#: database, bad password) is always BackendUnavailable: an admin fixes it, the MTA retries.
ERROR_KINDS: dict[str, ErrorKind] = {
    "08": TRANSIENT,  # connection exception
    "53": TRANSIENT,  # insufficient resources: disk full, out of memory, too many connections
    "57": TRANSIENT,  # operator intervention: query_canceled (timeouts), shutdowns
    "40": TRANSIENT,  # transaction rollback: serialization failure, deadlock
    "55P03": TRANSIENT,  # lock_not_available (lock_timeout, NOWAIT)
    "58": TRANSIENT,  # system error: I/O error, undefined/duplicate file
    "25006": TRANSIENT,  # read_only_sql_transaction: a standby, or a read-only default
    "25P03": TRANSIENT,  # idle_in_transaction_session_timeout
    "42501": TRANSIENT,  # insufficient_privilege: this role may not write (yet)
    "72": TRANSIENT,  # snapshot too old
    "23": INTEGRITY,  # integrity constraint violation
    "22": PERMANENT,  # data exception
    "25": PERMANENT,  # invalid transaction state
    "42": PERMANENT,  # syntax error or access rule violation
    "54": PERMANENT,  # program limit exceeded
    "55": PERMANENT,  # object not in prerequisite state
    "0A": PERMANENT,  # feature not supported
    "XX": PERMANENT,  # internal error, data corrupted, index corrupted
}


def error_kind(exc: BaseException) -> ErrorKind | None:
    """TRANSIENT, PERMANENT or INTEGRITY for an error of psycopg (see :data:`ERROR_KINDS`);
    None for anything else (it is no driver error)."""
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    state = exc.sqlstate
    if not state:
        return TRANSIENT if isinstance(exc, psycopg.OperationalError) else PERMANENT
    return ERROR_KINDS.get(state) or ERROR_KINDS.get(state[:2], PERMANENT)


#: blobs of this size and more go in with COPY, in pieces of this size (:meth:`insert_blob`)
BLOB_PIECE = 1 << 20
#: Rows a connection adds to a table (through ``insert``, which the tables that others refer
#: to use) before it has the table analysed, once they are also more than the table held when
#: last analysed. PostgreSQL plans a foreign-key check once per session and keeps the plan: a
#: ``tickets`` table that was nearly empty at the session's first insert is then scanned whole
#: for every article, history row and participant written after it (a bulk import into a new
#: helpdesk got slower with every ticket; with autovacuum off, for good). ANALYZE renews the
#: statistics, and with them every plan of the session that reads the table.
ANALYZE_AFTER = 1000

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    return str(value).translate(_COPY_ESCAPES)


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """Portable SQL to psycopg's: ``?`` outside quotes becomes ``%s``, every ``%`` ``%%``."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        if ch == "%":
            out.append("%%")
            continue
        out.append(ch)
    return "".join(out)


def describe(conninfo: dict[str, Any]) -> str:
    """``database "helpdesk" at db.example:5432`` (never the password)."""
    host = conninfo.get("host") or conninfo.get("hostaddr") or "the local socket"
    port = conninfo.get("port") or "5432"
    db = conninfo.get("dbname") or conninfo.get("user") or ""
    return f'database "{db}" at {host}:{port}'


def _reason(exc: BaseException, password: str | None) -> str:
    """The first meaningful line of a libpq message, without the password."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r"^connection failed:\s*", "", text)
    text = re.sub(r"^connection to server (at|on) .*? failed:\s*", "", text)
    text = re.sub(r"^(connection is bad|FATAL|ERROR):\s+", "", text)
    if password:
        text = text.replace(password, "***")
    return text


class PostgresStorage(SqlStorage):
    """The PostgreSQL backend; see the module docstring for the URL and password rules."""

    dialect = "postgresql"
    row_lock = " FOR UPDATE"
    ddl: ClassVar[dict[str, str]] = {
        "ID": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "BIGINT": "BIGINT",
        "BLOB": "BYTEA",
        "SEARCH_INDEX": "CREATE TABLE search_index (ticket_id BIGINT PRIMARY KEY "
        "REFERENCES tickets(id) ON DELETE CASCADE, body TEXT NOT NULL, doc tsvector NOT NULL); "
        "CREATE INDEX search_index_doc ON search_index USING GIN (doc)",
    }
    #: German stems ("Drucker" finds "Druckers"); ts_rank negated: lower is better
    search_hits = (
        "SELECT s.ticket_id, -ts_rank(s.doc, q.q) AS score FROM search_index s, "
        "(SELECT plainto_tsquery('german', ?) AS q) q WHERE s.doc @@ q.q"
    )
    search_ids = (
        "SELECT s.ticket_id FROM search_index s WHERE s.doc @@ plainto_tsquery('german', ?)"
    )

    def __init__(self, url: str, config: Any = None) -> None:
        super().__init__()
        #: rows this connection added per table since it was last analysed, and the rows each
        #: table held then (see ANALYZE_AFTER)
        self._added: dict[str, int] = {}
        self._analysed: dict[str, float] = {}
        try:
            import psycopg
            from psycopg import conninfo as ci
            from psycopg.adapt import Dumper
            from psycopg.rows import dict_row
        except ImportError:
            raise UsageError(
                "the PostgreSQL backend needs psycopg: pip install 'hdcli[postgres]'"
            ) from None
        self._psycopg = psycopg
        self.IntegrityError = psycopg.IntegrityError
        self.url = url
        # libpq knows only postgresql:// and postgres://; "postgresql+psycopg://" is accepted
        # for SQLAlchemy-style URLs.
        conn_url = re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)
        try:
            info = ci.conninfo_to_dict(conn_url)
        except psycopg.ProgrammingError as exc:
            from hdcli.config import mask_url

            raise UsageError(f"bad PostgreSQL URL {mask_url(url)}: {_reason(exc, None)}") from None
        self.where = describe(info)
        password = _password(config)
        lock_timeout = _seconds(config, "storage.lock_timeout", LOCK_TIMEOUT)
        statement_timeout = _seconds(config, "storage.statement_timeout", STATEMENT_TIMEOUT)
        kwargs: dict[str, Any] = {}
        if password:
            kwargs["password"] = password
        if "connect_timeout" not in info:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT
        if "application_name" not in info:
            kwargs["application_name"] = "hdcli"
        try:
            self._conn = psycopg.connect(conn_url, autocommit=True, row_factory=dict_row, **kwargs)
        except psycopg.Error as exc:
            secret = password or str(info.get("password") or "") or None
            if "connection option" in str(exc) or "invalid URI" in str(exc):
                from hdcli.config import mask_url

                raise UsageError(
                    f"bad PostgreSQL URL {mask_url(url)}: {_reason(exc, secret)}"
                ) from None
            raise BackendUnavailable(
                f"cannot connect to PostgreSQL {self.where}: {_reason(exc, secret)}"
            ) from None

        class BoolAsInt(Dumper):
            # Booleans live in INTEGER columns (0/1) on every backend, as SQLite has it.
            oid = psycopg.adapters.types["int4"].oid

            def dump(self, obj: Any) -> bytes:
                return b"1" if obj else b"0"

        self._conn.adapters.register_dumper(bool, BoolAsInt)
        # A lock held by another session (a long LOCK TABLE, a stuck transaction) must not
        # make a write wait for ever: the MTA path answers 75 in time, the CLI exits 5.
        try:
            self.query_one(
                "SELECT set_config('lock_timeout', ?, false) AS l, "
                "set_config('statement_timeout', ?, false) AS s",
                (_ms(lock_timeout), _ms(statement_timeout)),
            )
        except BaseException:
            self.close()
            raise

    # -- dialect points ------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return translate(sql)

    def insert_blob(self, table: str, values: dict[str, Any], column: str, data: bytes) -> None:
        if len(data) < BLOB_PIECE:
            return super().insert_blob(table, values, column, data)
        # A bound parameter is copied twice on the way (psycopg's buffer, libpq's message):
        # COPY takes the row in pieces instead, the blob hex-encoded a piece at a time.
        import binascii

        names = ", ".join(_checked(c) for c in (*values, column))
        self._flush(table)

        def copy_row() -> None:
            sql = f"COPY {_checked(table)} ({names}) FROM STDIN"
            with self._conn.cursor() as cur, cur.copy(sql) as copy:
                copy.write("".join(_copy_text(v) + "\t" for v in values.values()) + "\\\\x")
                view = memoryview(data)
                for at in range(0, len(data), BLOB_PIECE):
                    copy.write(binascii.hexlify(view[at : at + BLOB_PIECE]))
                copy.write(b"\n")

        self._guard(copy_row)
        return None

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql, rows)

    def _begin(self) -> None:
        self._conn.execute("BEGIN")

    def _commit(self) -> None:
        self._conn.execute("COMMIT")
        if self._added and max(self._added.values()) >= ANALYZE_AFTER:
            self._analyze_grown()

    def _rollback(self) -> None:
        from psycopg.pq import TransactionStatus

        self._added.clear()  # undone: the table is as it was
        if self._conn.info.transaction_status != TransactionStatus.IDLE:
            self._conn.execute("ROLLBACK")

    def insert(self, table: str, values: dict[str, Any]) -> int:
        new_id = super().insert(table, values)
        self._added[table] = self._added.get(table, 0) + 1
        return new_id

    def _analyze_grown(self) -> None:
        """ANALYZE each table this connection has added more rows to than it held when last
        analysed (see :data:`ANALYZE_AFTER`). Best effort, after the commit: it never fails
        the change, and waits at most 100 ms for a table that a VACUUM or another ANALYZE
        holds (then it is left to the next time, or to autovacuum)."""
        conn = self._conn
        for table, added in list(self._added.items()):
            if added < ANALYZE_AFTER:
                continue
            try:
                known = self._analysed.get(table)
                if known is None:
                    row = conn.execute(
                        "SELECT greatest(reltuples, 0) AS n FROM pg_class "
                        "WHERE oid = to_regclass(%s)",
                        (table,),
                    ).fetchone()
                    known = float(row["n"]) if row else 0.0
                if added > known:
                    conn.execute("BEGIN")
                    conn.execute("SET LOCAL lock_timeout = '100ms'")
                    conn.execute(f"ANALYZE {table}")
                    conn.execute("COMMIT")
                    known += added
                    del self._added[table]
                self._analysed[table] = known
            except Exception:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                self._added.pop(table, None)

    def _wrap(self, exc: Exception) -> Exception | None:
        if isinstance(exc, HdcliError):
            return None
        kind = error_kind(exc)
        if kind is None or kind == INTEGRITY:
            return None
        reason = _reason(exc, None)
        state = getattr(exc, "sqlstate", None)
        if state:
            reason += f" (SQLSTATE {state})"
        if kind == TRANSIENT:
            return BackendUnavailable(f"PostgreSQL {self.where}: {reason}")
        return BackendError(f"PostgreSQL {self.where}: {reason}")

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, self._psycopg.errors.UniqueViolation)

    def _table_exists(self, name: str) -> bool:
        row = self.query_one("SELECT to_regclass(?) IS NOT NULL AS x", (name,))
        return bool(row and row["x"])

    def list_tables(self) -> list[str]:
        rows = self.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        return [str(r["tablename"]) for r in rows]

    # -- the search index ----------------------------------------------------------------
    def search_terms(self, words: Sequence[str]) -> str:
        # plainto_tsquery reads plain words only: no operator the caller types counts
        return " ".join(words)

    def search_ranked(self, terms: str, ticket_ids: Sequence[int]) -> tuple[str, list[Any]]:
        # by their keys: a range of ids would be read through the GIN index's every hit
        sql = (
            "SELECT s.ticket_id, -ts_rank(s.doc, plainto_tsquery('german', ?)) AS score "
            "FROM search_index s WHERE s.ticket_id = ANY(?)"
        )
        return sql, [terms, [int(t) for t in ticket_ids]]

    def search_put(self, docs: Sequence[tuple[int, str]]) -> None:
        self.executemany(
            "INSERT INTO search_index (ticket_id, body, doc) "
            "VALUES (?, ?, to_tsvector('german', ?)) ON CONFLICT (ticket_id) "
            "DO UPDATE SET body = excluded.body, doc = excluded.doc",
            [(tid, text, text) for tid, text in docs],
        )

    def search_drop(self, ticket_ids: Sequence[int]) -> None:
        self.executemany("DELETE FROM search_index WHERE ticket_id = ?", [(t,) for t in ticket_ids])

    def search_clear(self) -> None:
        self.execute("DELETE FROM search_index")

    def search_containing(self, text: str) -> list[int]:
        rows = self.query(
            "SELECT ticket_id FROM search_index WHERE body ILIKE ? ESCAPE '\\'",
            (like_pattern(text),),
        )
        return [int(r["ticket_id"]) for r in rows]

    def search_snippets(self, terms: str, numbers: Sequence[str]) -> dict[str, str]:
        if not numbers:
            return {}
        marks = ", ".join("?" * len(numbers))
        rows = self.query(
            "SELECT t.number, ts_headline('german', s.body, plainto_tsquery('german', ?), "
            "'StartSel=[, StopSel=], MaxWords=20, MinWords=8, MaxFragments=2, "
            'FragmentDelimiter=" … "\') AS snippet FROM search_index s '
            f"JOIN tickets t ON t.id = s.ticket_id WHERE t.number IN ({marks})",
            (terms, *numbers),
        )
        return {str(r["number"]): str(r["snippet"]) for r in rows}

    def analyze(self) -> None:
        # a freshly copied table has no statistics: without them every batch of the search
        # rebuild's joins scans whole tables
        self.execute("ANALYZE")

    def _lock_schema(self) -> None:
        # Two first runs against an empty database must not both create the schema. A
        # migration of a big store may take long: no statement_timeout for it (locks still
        # time out, so it never waits for ever behind another session).
        self.execute("SET LOCAL statement_timeout = 0")
        self.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':schema'))")

    def reset_sequences(self) -> None:
        rows = self.query(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND column_name = 'id' AND is_identity = 'YES'"
        )
        for r in rows:
            table = str(r["table_name"])
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )

    # -- shared behaviour with PostgreSQL specifics ------------------------------------------
    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        from psycopg.rows import dict_row

        # Outside a transaction a server-side cursor must be WITH HOLD; either way the rows
        # come in chunks and the connection stays usable for other statements meanwhile.
        self._flush()
        name = f"hdcli_iter_{next(_cursor_ids)}"
        withhold = not self.in_transaction
        cur = self._guard(
            lambda: self._conn.cursor(name=name, row_factory=dict_row, withhold=withhold)
        )
        cur.itersize = 1000
        try:
            self._guard(cur.execute, self._sql(sql), tuple(params))
            while True:
                chunk = self._guard(cur.fetchmany, 1000)
                if not chunk:
                    return
                yield from chunk
        finally:
            # a broken connection: the error that broke it matters
            with contextlib.suppress(Exception):
                cur.close()

    @contextmanager
    def lock(self, name: str) -> Iterator[bool]:
        key = "SELECT hashtext(current_schema() || ':' || ?) AS k"
        row = self.query_one(key, (name,))
        assert row is not None
        k = int(row["k"])
        got = self.query_one("SELECT pg_try_advisory_lock(?) AS ok", (k,))
        if not (got and got["ok"]):
            yield False
            return
        try:
            yield True
        finally:
            # a lost session released its locks anyway
            with contextlib.suppress(Exception):
                self.execute("SELECT pg_advisory_unlock(?)", (k,))


def _password(config: Any) -> str | None:
    """The password from ``storage.password_env`` / ``storage.password_cmd``, if configured."""
    if config is None:
        return None
    settings = {
        "password_env": _get(config, "storage.password_env"),
        "password_cmd": _get(config, "storage.password_cmd"),
    }
    if not (settings["password_env"] or settings["password_cmd"]):
        return None
    from hdcli.config import resolve_secret

    return resolve_secret(settings) or None


def _seconds(config: Any, key: str, default: float) -> float:
    """A timeout in seconds from the configuration (0: none)."""
    value = _get(config, key) if config is not None else None
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number of seconds, not {value!r}") from None
    if seconds < 0:
        raise ConfigError(f"{key} must be 0 (no timeout) or more seconds, not {value!r}")
    return seconds


def _ms(seconds: float) -> str:
    """PostgreSQL's timeout settings count milliseconds; a fraction of one rounds up."""
    return str(int(-(-seconds * 1000 // 1)))


def _get(config: Any, key: str) -> Any:
    try:
        return config.get(key)
    except Exception:  # an older configuration schema without the key
        return None
