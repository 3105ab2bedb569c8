"""The SQLite backend: the storage conformance suite plus what only SQLite has."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hdcli.backends import sqlite as sqlite_backend
from hdcli.backends.base import INTEGRITY, PERMANENT, TRANSIENT, Storage
from hdcli.backends.sqlite import ERROR_KINDS, SqliteStorage, error_kind, path_of
from hdcli.backends.testing import Connect, StorageConformance
from hdcli.errors import BackendError, BackendUnavailable


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


# -- driver errors: every SQLite result code is transient, permanent or an integrity error -----
def _store(tmp_path: Path) -> SqliteStorage:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'hdcli.db'}")
    store.ensure_schema()
    return store


def _org(store: SqliteStorage, name: str = "A") -> None:
    store.execute(
        "INSERT INTO organisations (name, kind, created_at) VALUES (?, 'company', ?)",
        (name, "2026-01-01T00:00:00Z"),
    )


def _raises(kind: type[Exception], code: str, fn: Callable[[], object]) -> BaseException:
    """``fn`` raises ``kind`` (exactly: a permanent error is no BackendUnavailable) whose cause
    carries the SQLite result code ``code``; its message is one line naming the database."""
    with pytest.raises(kind) as caught:
        fn()
    assert type(caught.value) is kind
    cause = caught.value.__cause__
    assert getattr(cause, "sqlite_errorname", "").startswith(code), cause
    assert "\n" not in str(caught.value)
    assert "hdcli.db" in str(caught.value)
    return caught.value


def test_busy_is_transient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT_MS", 100)
    store = _store(tmp_path)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        late = SqliteStorage(store.url)

        def write() -> None:
            with late.transaction():
                _org(late)

        _raises(BackendUnavailable, "SQLITE_BUSY", write)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with late.transaction():  # usable again once the lock is gone
        _org(late)


def test_threads_of_one_process_take_turns_at_the_write_lock(tmp_path: Path) -> None:
    """Writers in threads (the server's workers) wait in line and each transaction commits
    whole; a thread's rollback and a closed store give the lock back."""
    first = _store(tmp_path)
    stores = [SqliteStorage(first.url) for _ in range(4)]
    errors: list[BaseException] = []

    def writer(store: SqliteStorage, n: int) -> None:
        try:
            for i in range(25):
                with store.transaction():
                    _org(store, f"T{n}-{i}")
                    store.execute("SELECT count(*) FROM organisations").fetchone()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    names = {r["name"] for r in first.execute("SELECT name FROM organisations").fetchall()}
    assert {f"T{n}-{i}" for n in range(4) for i in range(25)} <= names

    with pytest.raises(ZeroDivisionError), stores[0].transaction():
        _org(stores[0], "undone")
        1 / 0
    holding = stores[1].transaction()
    holding.__enter__()
    stores[1].close()  # a store closed inside its transaction gives the lock back too
    done = threading.Event()

    def late() -> None:
        with stores[2].transaction():
            _org(stores[2], "late")
        done.set()

    t = threading.Thread(target=late)
    t.start()
    t.join(30)
    assert done.is_set()
    assert (
        first.execute("SELECT count(*) AS n FROM organisations WHERE name = 'undone'").fetchone()[
            "n"
        ]
        == 0
    )


def test_a_thread_that_waits_too_long_for_the_write_lock_is_transient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT_MS", 100)
    holder = _store(tmp_path)
    late = SqliteStorage(holder.url)
    caught: list[BaseException] = []

    def write() -> None:
        try:
            with late.transaction():
                _org(late, "late")
        except BaseException as exc:
            caught.append(exc)

    with holder.transaction():
        _org(holder, "first")
        t = threading.Thread(target=write)
        t.start()
        t.join(30)
    assert [type(e) for e in caught] == [BackendUnavailable]
    assert "locked" in str(caught[0])
    with late.transaction():  # usable again once the lock is free
        _org(late, "later")


def test_locked_is_transient(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _org(store, "A")
    _org(store, "B")
    reading = store._conn.execute("SELECT name FROM organisations")
    reading.fetchone()  # a statement still reading the table
    drop = "DROP TABLE organisations"
    _raises(BackendUnavailable, "SQLITE_LOCKED", lambda: store.execute(drop))
    reading.close()


def test_readonly_is_transient(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.execute("PRAGMA query_only = ON")
    error = _raises(BackendUnavailable, "SQLITE_READONLY", lambda: _org(store))
    assert "may write the database" in str(error)


def test_full_is_transient(tmp_path: Path) -> None:
    store = _store(tmp_path)
    pages = store.query_one("PRAGMA page_count")
    assert pages is not None
    store.execute(f"PRAGMA max_page_count = {pages['page_count']}")

    def fill() -> None:
        for i in range(1000):
            _org(store, f"org {i} " + "x" * 500)

    error = _raises(BackendUnavailable, "SQLITE_FULL", fill)
    assert "disk is full" in str(error)


def test_cantopen_is_transient(tmp_path: Path) -> None:
    (tmp_path / "hdcli.db").mkdir()
    with pytest.raises(BackendUnavailable, match="SQLITE_CANTOPEN"):
        SqliteStorage(f"sqlite:///{tmp_path / 'hdcli.db'}")


def test_interrupt_is_transient(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store._conn.set_progress_handler(lambda: 1, 1)
    _raises(BackendUnavailable, "SQLITE_INTERRUPT", lambda: store.query("SELECT * FROM tickets"))


def test_corrupt_is_permanent(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for i in range(200):
        _org(store, f"org {i}")
    store.close()
    db = tmp_path / "hdcli.db"
    data = bytearray(db.read_bytes())
    page = 4096
    for start in range(page, len(data), page):  # every page but the header's
        data[start : start + page] = b"\xa5" * page
    db.write_bytes(bytes(data))
    with pytest.raises(BackendError) as caught:
        broken = SqliteStorage(f"sqlite:///{db}")
        broken.query("SELECT * FROM organisations")
    assert type(caught.value) is BackendError
    assert "SQLITE_CORRUPT" in str(caught.value)
    assert "backup" in str(caught.value)


def test_notadb_is_permanent(tmp_path: Path) -> None:
    db = tmp_path / "hdcli.db"
    db.write_bytes(b"this is not a database, it is a letter to the helpdesk\n" * 200)
    with pytest.raises(BackendError) as caught:
        SqliteStorage(f"sqlite:///{db}").ensure_schema()
    assert type(caught.value) is BackendError
    assert "SQLITE_NOTADB" in str(caught.value)


def test_sql_error_is_permanent(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _raises(BackendError, "SQLITE_ERROR", lambda: store.query("SELECT nope FROM organisations"))
    _raises(BackendError, "SQLITE_ERROR", lambda: store.query("SELECT * FROM no_such_table"))


def test_toobig_is_permanent(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1000)
    _raises(BackendError, "SQLITE_TOOBIG", lambda: _org(store, "x" * 5000))


def test_auth_is_permanent(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store._conn.set_authorizer(lambda *_: sqlite3.SQLITE_DENY)
    _raises(BackendError, "SQLITE_AUTH", lambda: store.query("SELECT * FROM tickets"))


def test_errors_of_the_driver_itself_are_permanent(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(BackendError) as caught:
        store.query("SELECT ?", (1, 2))
    assert isinstance(caught.value.__cause__, sqlite3.ProgrammingError)


def test_constraint_and_mismatch_stay_integrity_errors(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _org(store, "A")
    with pytest.raises(sqlite3.IntegrityError) as caught:
        _org(store, "A")
    assert caught.value.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE"
    with pytest.raises(sqlite3.IntegrityError) as caught:
        store.execute(
            "INSERT INTO organisations (id, name, kind, created_at) VALUES ('x', 'B', 'c', 'd')"
        )
    assert caught.value.sqlite_errorname == "SQLITE_MISMATCH"


#: (primary code, name, the class CPython raises it as, the kind): every code of the table,
#: for the codes no test can provoke on a real file (IOERR, PROTOCOL, NOMEM …) the only check.
CODES = [
    (1, "SQLITE_ERROR", sqlite3.OperationalError, PERMANENT),
    (2, "SQLITE_INTERNAL", sqlite3.InternalError, PERMANENT),
    (3, "SQLITE_PERM", sqlite3.OperationalError, TRANSIENT),
    (4, "SQLITE_ABORT", sqlite3.OperationalError, TRANSIENT),
    (5, "SQLITE_BUSY", sqlite3.OperationalError, TRANSIENT),
    (517, "SQLITE_BUSY_SNAPSHOT", sqlite3.OperationalError, TRANSIENT),
    (6, "SQLITE_LOCKED", sqlite3.OperationalError, TRANSIENT),
    (8, "SQLITE_READONLY", sqlite3.OperationalError, TRANSIENT),
    (1032, "SQLITE_READONLY_DBMOVED", sqlite3.OperationalError, TRANSIENT),
    (1544, "SQLITE_READONLY_DIRECTORY", sqlite3.OperationalError, TRANSIENT),
    (9, "SQLITE_INTERRUPT", sqlite3.OperationalError, TRANSIENT),
    (10, "SQLITE_IOERR", sqlite3.OperationalError, TRANSIENT),
    (522, "SQLITE_IOERR_SHORT_READ", sqlite3.OperationalError, TRANSIENT),
    (4874, "SQLITE_IOERR_SHMSIZE", sqlite3.OperationalError, TRANSIENT),
    (11, "SQLITE_CORRUPT", sqlite3.DatabaseError, PERMANENT),
    (12, "SQLITE_NOTFOUND", sqlite3.InternalError, PERMANENT),
    (13, "SQLITE_FULL", sqlite3.OperationalError, TRANSIENT),
    (14, "SQLITE_CANTOPEN", sqlite3.OperationalError, TRANSIENT),
    (15, "SQLITE_PROTOCOL", sqlite3.OperationalError, TRANSIENT),
    (16, "SQLITE_EMPTY", sqlite3.OperationalError, PERMANENT),
    (17, "SQLITE_SCHEMA", sqlite3.OperationalError, PERMANENT),
    (18, "SQLITE_TOOBIG", sqlite3.DataError, PERMANENT),
    (19, "SQLITE_CONSTRAINT", sqlite3.IntegrityError, INTEGRITY),
    (2067, "SQLITE_CONSTRAINT_UNIQUE", sqlite3.IntegrityError, INTEGRITY),
    (20, "SQLITE_MISMATCH", sqlite3.IntegrityError, INTEGRITY),
    (21, "SQLITE_MISUSE", sqlite3.InterfaceError, PERMANENT),
    (22, "SQLITE_NOLFS", sqlite3.DatabaseError, PERMANENT),
    (23, "SQLITE_AUTH", sqlite3.DatabaseError, PERMANENT),
    (24, "SQLITE_FORMAT", sqlite3.DatabaseError, PERMANENT),
    (25, "SQLITE_RANGE", sqlite3.InterfaceError, PERMANENT),
    (26, "SQLITE_NOTADB", sqlite3.DatabaseError, PERMANENT),
]


@pytest.mark.parametrize(("code", "name", "cls", "kind"), CODES, ids=[c[1] for c in CODES])
def test_error_table(code: int, name: str, cls: type[sqlite3.Error], kind: str) -> None:
    exc = cls(f"{name.lower()} happened")
    exc.sqlite_errorcode = code  # as the sqlite3 module sets them
    exc.sqlite_errorname = name
    assert error_kind(exc) == kind
    store = SqliteStorage.__new__(SqliteStorage)
    store.path = Path("/srv/hdcli.db")
    wrapped = store._wrap(exc)
    expected = {TRANSIENT: BackendUnavailable, PERMANENT: BackendError, INTEGRITY: type(None)}
    assert type(wrapped) is expected[kind]


def test_every_primary_code_is_in_the_table() -> None:
    assert sorted(ERROR_KINDS) == list(range(1, 27))
    # NOMEM (7) is never an sqlite3.Error: Python raises MemoryError
    assert sorted({c[0] & 0xFF for c in CODES}) == [c for c in range(1, 27) if c != 7]
    assert error_kind(MemoryError()) == TRANSIENT
    assert error_kind(ValueError("not from the driver")) is None
    assert error_kind(sqlite3.IntegrityError("no code")) == INTEGRITY
    assert error_kind(sqlite3.OperationalError("no code")) == PERMANENT


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
