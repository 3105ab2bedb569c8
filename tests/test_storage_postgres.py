"""The PostgreSQL backend: the storage conformance suite on a real server, plus connection
handling (URLs, passwords, unreachable servers)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hdcli.backends.base import Storage
from hdcli.backends.testing import Connect, StorageConformance, postgres_schema
from hdcli.config import Config
from hdcli.errors import BackendUnavailable

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
