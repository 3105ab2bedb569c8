"""The PostgreSQL backend: the storage conformance suite on a real server, plus connection
handling (URLs, passwords, unreachable servers)."""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hdcli.backends.base import Storage
from hdcli.backends.testing import Connect, StorageConformance, postgres_schema, run_concurrently
from hdcli.config import Config
from hdcli.errors import BackendError, BackendUnavailable

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty schema of the session's test database for one test."""
    with postgres_schema(postgres_url) as url:
        yield url


class TestPostgresConformance(StorageConformance):
    @pytest.fixture
    def connect(self, schema_url: str) -> Connect:
        from hdcli.backends.postgres import PostgresStorage

        return lambda: PostgresStorage(schema_url)

    @pytest.fixture
    def break_connection(self, postgres_url: str) -> Callable[[Storage], None]:
        """The server ends the store's session, as a restart or a failover would."""
        import psycopg

        def break_(store: Storage) -> None:
            row = store.query_one("SELECT pg_backend_pid() AS pid")
            assert row is not None
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                ended = admin.execute(
                    "SELECT pg_terminate_backend(%s, 10000) AS ok", (row["pid"],)
                ).fetchone()
            assert ended == (True,)

        return break_


def _config(tmp_path: Path, **env: str) -> Config:
    return Config.load(tmp_path / "config.toml", env={"HDCLI_LOAD_PLUGINS": "", **env})


def test_unreachable_server_is_one_clear_line_without_password() -> None:
    from hdcli.backends.postgres import PostgresStorage

    with pytest.raises(BackendUnavailable) as caught:
        PostgresStorage("postgresql://hd:s3cr3t-pw@127.0.0.1:1/helpdesk?connect_timeout=5")
    message = str(caught.value)
    assert "\n" not in message
    assert '"helpdesk"' in message
    assert "127.0.0.1:1" in message
    assert "s3cr3t-pw" not in message


def test_wrong_user_names_the_database(postgres_url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    from hdcli.backends.postgres import PostgresStorage

    parts = urlsplit(postgres_url)
    url = urlunsplit(
        parts._replace(netloc=f"no_such_role_hd:pw-xyz@{parts.hostname}:{parts.port or 5432}")
    )
    with pytest.raises(BackendUnavailable) as caught:
        PostgresStorage(url)
    assert "no_such_role_hd" in str(caught.value)
    assert "pw-xyz" not in str(caught.value)


def test_query_parameters_pass_through(schema_url: str) -> None:
    from hdcli.backends.postgres import PostgresStorage

    store = PostgresStorage(schema_url + "&sslmode=disable&application_name=hdcli-test")
    try:
        row = store.query_one("SELECT current_setting('application_name') AS app")
        assert row == {"app": "hdcli-test"}
        assert store.schema_version() == 0
    finally:
        store.close()


def test_password_from_a_command_and_from_the_environment(
    schema_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trust authentication accepts any password, so this proves the settings are read and
    a failing command stops the connection with a clear error."""
    from hdcli.backends.postgres import PostgresStorage, _password

    class Settings:
        def __init__(self, values: dict[str, str]) -> None:
            self.values = values

        def get(self, key: str, default: object = None) -> object:
            return self.values.get(key, default)

    monkeypatch.setenv("HD_TEST_PG_PASSWORD", "from-env")
    assert _password(Settings({"storage.password_env": "HD_TEST_PG_PASSWORD"})) == "from-env"
    cmd = f"{sys.executable} -c \"print('from-cmd')\""
    assert _password(Settings({"storage.password_cmd": cmd})) == "from-cmd"
    assert _password(Settings({})) is None
    assert _password(_config(tmp_path)) is None
    store = PostgresStorage(schema_url, Settings({"storage.password_env": "HD_TEST_PG_PASSWORD"}))
    store.close()


def test_bad_url_is_a_usage_error() -> None:
    from hdcli.backends.postgres import PostgresStorage
    from hdcli.errors import UsageError

    with pytest.raises(UsageError, match="bad PostgreSQL URL"):
        PostgresStorage("postgresql://hd:pw@127.0.0.1:notaport/x")


def test_translate_placeholders() -> None:
    from hdcli.backends.postgres import translate

    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE '%?%'") == (
        "SELECT * FROM t WHERE a = %s AND b LIKE '%%?%%'"
    )
    assert translate('SELECT "x?" FROM t WHERE c = ?') == 'SELECT "x?" FROM t WHERE c = %s'


def test_two_first_runs_create_the_schema_once(schema_url: str) -> None:
    from hdcli.backends.postgres import PostgresStorage
    from hdcli.backends.testing import run_concurrently

    stores = [PostgresStorage(schema_url) for _ in range(4)]
    try:
        applied = run_concurrently(lambda i: stores[i].upgrade(), 4)
        from hdcli.backends.base import migrations

        assert sorted(len(a) for a in applied) == [0, 0, 0, len(migrations())]
    finally:
        for s in stores:
            s.close()


# -- driver errors: every SQLSTATE is transient, permanent or an integrity error ----------------
@pytest.fixture
def store(schema_url: str, tmp_path: Path) -> Iterator[Any]:
    """A store with the schema, a lock timeout of 2 s and a statement timeout of 4 s (from the
    configuration)."""
    from hdcli.backends.postgres import PostgresStorage

    config = _config(
        tmp_path, HDCLI_STORAGE__LOCK_TIMEOUT="2", HDCLI_STORAGE__STATEMENT_TIMEOUT="4"
    )
    store = PostgresStorage(schema_url, config)
    store.ensure_schema()
    store.execute("INSERT INTO counters (name, value) VALUES ('a', 0), ('b', 0)")
    yield store
    store.close()


@pytest.fixture
def admin(schema_url: str) -> Iterator[Any]:
    """Another session on the same schema (autocommit)."""
    import psycopg

    with psycopg.connect(schema_url, autocommit=True) as conn:
        yield conn


def _raises(kind: type[Exception], sqlstate: str | None, fn: Callable[[], object]) -> Exception:
    """``fn`` raises exactly ``kind`` from a psycopg error of ``sqlstate`` (None: raised by
    psycopg itself); the message is one line that names the database."""
    with pytest.raises(kind) as caught:
        fn()
    assert type(caught.value) is kind
    cause = caught.value.__cause__
    assert getattr(cause, "sqlstate", "-") == sqlstate, repr(cause)
    assert "\n" not in str(caught.value)
    assert "PostgreSQL database" in str(caught.value)
    return caught.value


def test_timeouts_come_from_the_configuration(store: Any, schema_url: str) -> None:
    from hdcli.backends.postgres import PostgresStorage

    row = store.query_one(
        "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s"
    )
    assert row == {"l": "2s", "s": "4s"}
    default = PostgresStorage(schema_url)
    try:
        row = default.query_one(
            "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s"
        )
        assert row == {"l": "30s", "s": "30s"}
    finally:
        default.close()


def test_a_table_lock_is_transient_within_the_lock_timeout(store: Any, admin: Any) -> None:
    admin.execute("BEGIN")
    admin.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
    started = time.monotonic()
    try:
        error = _raises(
            BackendUnavailable, "55P03", lambda: store.query("SELECT count(*) AS n FROM tickets")
        )
    finally:
        admin.execute("ROLLBACK")
    assert 1.5 < time.monotonic() - started < 15
    assert "lock timeout" in str(error)
    assert store.query("SELECT count(*) AS n FROM tickets") == [{"n": 0}]


def test_a_statement_over_the_statement_timeout_is_transient(store: Any) -> None:
    started = time.monotonic()
    _raises(BackendUnavailable, "57014", lambda: store.query("SELECT pg_sleep(10)"))
    assert 3.5 < time.monotonic() - started < 9


def test_a_lost_connection_is_transient(store: Any, admin: Any) -> None:
    row = store.query_one("SELECT pg_backend_pid() AS pid")
    admin.execute("SELECT pg_terminate_backend(%s)", (row["pid"],))
    with pytest.raises(BackendUnavailable) as caught:
        store.query("SELECT 1 AS x")
    state = getattr(caught.value.__cause__, "sqlstate", None)
    assert state in ("57P01", None)  # admin_shutdown, or the socket closed first
    _raises(BackendUnavailable, None, lambda: store.query("SELECT 1 AS x"))


def test_a_deadlock_is_transient(store: Any, schema_url: str) -> None:
    from hdcli.backends.postgres import PostgresStorage

    other = PostgresStorage(schema_url)
    stores = [store, other]
    barrier = threading.Barrier(2, timeout=20)

    def work(i: int) -> BaseException | None:
        first, second = ("a", "b") if i == 0 else ("b", "a")
        try:
            with stores[i].transaction():
                stores[i].execute("UPDATE counters SET value = value + 1 WHERE name = ?", (first,))
                barrier.wait()
                stores[i].execute("UPDATE counters SET value = value + 1 WHERE name = ?", (second,))
        except Exception as exc:
            return exc
        return None

    try:
        results = run_concurrently(work, 2)
    finally:
        other.close()
    errors = [r for r in results if r is not None]
    assert len(errors) == 1
    assert type(errors[0]) is BackendUnavailable
    assert getattr(errors[0].__cause__, "sqlstate", None) == "40P01"


def test_a_serialization_failure_is_transient(store: Any, admin: Any) -> None:
    def write() -> None:
        with store.transaction():
            store.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            store.query("SELECT value FROM counters WHERE name = 'a'")
            admin.execute("UPDATE counters SET value = 5 WHERE name = 'a'")
            store.execute("UPDATE counters SET value = value + 1 WHERE name = 'a'")

    _raises(BackendUnavailable, "40001", write)


def test_a_read_only_server_is_transient(store: Any) -> None:
    store.execute("SET default_transaction_read_only = on")  # as on a standby

    def write() -> None:
        with store.transaction():
            store.execute("UPDATE counters SET value = 1")

    _raises(BackendUnavailable, "25006", write)


def test_a_role_that_may_not_write_is_transient(store: Any, admin: Any) -> None:
    """The PostgreSQL form of SQLite's READONLY: an admin grants the rights, the MTA retries."""
    role = f"hdcli_reader_{secrets.token_hex(4)}"
    schema = store.query_one("SELECT current_schema() AS s")["s"]
    admin.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        store.execute(f"SET ROLE {role}")
        assert store.query("SELECT name FROM counters ORDER BY name") == [
            {"name": "a"},
            {"name": "b"},
        ]
        _raises(BackendUnavailable, "42501", lambda: store.execute("UPDATE counters SET value = 1"))
        store.execute("RESET ROLE")
    finally:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE {role}")


def test_sql_and_values_the_server_refuses_are_permanent(store: Any) -> None:
    _raises(BackendError, "42703", lambda: store.query("SELECT nope FROM counters"))
    _raises(BackendError, "42P01", lambda: store.query("SELECT * FROM no_such_table"))
    _raises(BackendError, "22012", lambda: store.query("SELECT 1 / 0 AS x"))
    many = "SELECT " + ", ".join("1" for _ in range(1700))
    _raises(BackendError, "54011", lambda: store.query(many))
    _raises(BackendError, "0A000", lambda: store.query("SELECT count(*) FROM counters FOR UPDATE"))
    nul = "Drucker\x00kaputt"
    _raises(BackendError, None, lambda: store.execute("UPDATE counters SET name = ?", (nul,)))
    assert store.query_one("SELECT count(*) AS n FROM counters") == {"n": 2}


def test_a_statement_after_a_failed_one_is_permanent(store: Any) -> None:
    """Without a savepoint the transaction is spoilt (a bug of the caller): 25P02."""
    with pytest.raises(BackendError), store.transaction():
        with pytest.raises(BackendError):
            store.query("SELECT 1 / 0 AS x")
        _raises(BackendError, "25P02", lambda: store.query("SELECT 1 AS x"))
        raise BackendError("leave the transaction")
    assert store.query_one("SELECT 1 AS x") == {"x": 1}


def test_integrity_errors_stay_the_drivers(store: Any) -> None:
    import psycopg

    with pytest.raises(psycopg.errors.UniqueViolation):
        store.execute("INSERT INTO counters (name, value) VALUES ('a', 1)")
    with pytest.raises(psycopg.errors.NotNullViolation):
        store.execute("INSERT INTO counters (name, value) VALUES (NULL, 1)")


#: SQLSTATE → kind, for every entry of the table and its neighbours; the classes that no test
#: can provoke on a healthy server (53 out of disk or memory, 58 I/O, XX corrupted, 72 …) are
#: checked here with psycopg's own exception classes.
STATES = [
    ("08000", "transient"), ("08003", "transient"), ("08006", "transient"),
    ("08001", "transient"), ("53000", "transient"), ("53100", "transient"),
    ("53200", "transient"), ("53300", "transient"), ("57000", "transient"),
    ("57014", "transient"), ("57P01", "transient"), ("57P02", "transient"),
    ("57P03", "transient"), ("57P04", "transient"), ("40000", "transient"),
    ("40001", "transient"), ("40002", "transient"), ("40003", "transient"),
    ("40P01", "transient"), ("55P03", "transient"), ("58000", "transient"),
    ("58030", "transient"), ("58P01", "transient"), ("25006", "transient"),
    ("25P03", "transient"), ("42501", "transient"), ("72000", "transient"),
    ("23000", "integrity"), ("23502", "integrity"), ("23503", "integrity"),
    ("23505", "integrity"), ("23514", "integrity"), ("23P01", "integrity"),
    ("22000", "permanent"), ("22001", "permanent"), ("22021", "permanent"),
    ("22P02", "permanent"), ("25000", "permanent"), ("25P02", "permanent"),
    ("42000", "permanent"), ("42601", "permanent"), ("42P01", "permanent"),
    ("42703", "permanent"), ("54000", "permanent"), ("54011", "permanent"),
    ("55000", "permanent"), ("55006", "permanent"), ("0A000", "permanent"),
    ("XX000", "permanent"), ("XX001", "permanent"), ("XX002", "permanent"),
    ("28P01", "permanent"), ("3D000", "permanent"), ("3F000", "permanent"),
    ("F0000", "permanent"), ("P0001", "permanent"),
]  # fmt: skip


@pytest.mark.parametrize(("sqlstate", "kind"), STATES, ids=[s for s, _ in STATES])
def test_error_table(sqlstate: str, kind: str) -> None:
    import psycopg

    from hdcli.backends.postgres import PostgresStorage, error_kind

    exc = psycopg.errors.lookup(sqlstate)(f"error {sqlstate}")
    assert exc.sqlstate == sqlstate
    assert error_kind(exc) == kind
    store = PostgresStorage.__new__(PostgresStorage)
    store.where = 'database "helpdesk" at db.example:5432'
    wrapped = store._wrap(exc)
    expected = {"transient": BackendUnavailable, "permanent": BackendError, "integrity": None}
    assert (type(wrapped) if wrapped is not None else None) is expected[kind]
    if wrapped is not None:
        assert f"SQLSTATE {sqlstate}" in str(wrapped)


def test_error_table_without_sqlstate() -> None:
    import psycopg

    from hdcli.backends.postgres import error_kind

    assert error_kind(psycopg.OperationalError("the connection is lost")) == "transient"
    assert error_kind(psycopg.InterfaceError("the cursor is closed")) == "permanent"
    assert error_kind(psycopg.ProgrammingError("wrong number of parameters")) == "permanent"
    assert error_kind(psycopg.DataError("NUL bytes")) == "permanent"
    assert error_kind(ValueError("not from the driver")) is None


def test_bad_timeouts_are_configuration_errors(schema_url: str, tmp_path: Path) -> None:
    from hdcli.backends.postgres import PostgresStorage
    from hdcli.errors import ConfigError

    with pytest.raises(ConfigError, match="lock_timeout"):
        PostgresStorage(schema_url, _config(tmp_path, HDCLI_STORAGE__LOCK_TIMEOUT="-1"))
    store = PostgresStorage(schema_url, _config(tmp_path, HDCLI_STORAGE__STATEMENT_TIMEOUT="0"))
    try:
        assert store.query_one("SELECT current_setting('statement_timeout') AS s") == {"s": "0"}
    finally:
        store.close()


def test_a_table_that_grew_in_this_session_is_analysed(
    schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows added to a table that was (nearly) empty when the session began are followed by an
    ANALYZE, so that its foreign-key checks stop scanning the whole table; undone rows are not
    counted, and a table analysed already is analysed again only once it has doubled."""
    from hdcli.backends import postgres

    monkeypatch.setattr(postgres, "ANALYZE_AFTER", 20)
    store = postgres.PostgresStorage(schema_url)
    store.ensure_schema()

    def known() -> float:
        row = store.query_one(
            "SELECT reltuples FROM pg_class WHERE oid = 'organisations'::regclass"
        )
        assert row is not None
        return float(row["reltuples"])

    def add(n: int, start: int) -> None:
        with store.transaction():
            for i in range(start, start + n):
                store.insert(
                    "organisations",
                    {"name": f"Org {i}", "kind": "company", "created_at": "2026-01-01T00:00:00Z"},
                )

    before = known()
    with pytest.raises(ZeroDivisionError), store.transaction():
        add(30, 0)
        1 / 0
    add(10, 100)
    assert known() == before  # 30 undone, 10 kept: not yet
    add(15, 200)
    assert known() == 25  # 25 rows added in this session: analysed
    add(20, 300)
    assert known() == 25  # 20 more are not more than the 25 it held
    add(10, 400)
    assert known() == 55

    import psycopg

    # a table another session holds (a VACUUM, say) is not waited for: the change commits
    with psycopg.connect(schema_url, autocommit=True) as other:
        other.execute("BEGIN")
        other.execute("LOCK TABLE organisations IN SHARE UPDATE EXCLUSIVE MODE")
        started = time.monotonic()
        add(60, 500)
        assert time.monotonic() - started < 10  # not the 30 s of storage.lock_timeout
        other.execute("ROLLBACK")
    assert known() == 55
    assert store.query("SELECT count(*) AS n FROM organisations") == [{"n": 115}]
    store.close()
