"""``hdcli db status`` / ``db upgrade`` on both backends, and an unreachable database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hdcli.backends.base import latest_version, migrations
from hdcli.backends.testing import postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, hd) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{hd.db}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


def status(hd, url: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    proc = hd("db", "status", "--format", "json", env={"HDCLI_STORAGE__URL": url})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_status_and_upgrade(hd, store_url: str) -> None:  # type: ignore[no-untyped-def]
    env = {"HDCLI_STORAGE__URL": store_url}
    fresh = status(hd, store_url)
    assert fresh["version"] == 0
    assert fresh["latest"] == latest_version()
    assert fresh["pending"] == [f"{v:04d}_{n}" for v, n, _ in migrations()]
    assert fresh["backend"] == store_url.split(":", 1)[0]

    proc = hd("db", "upgrade", env=env)
    assert proc.returncode == 0, proc.stderr
    applied = ", ".join(str(v) for v, _, _ in migrations())
    assert f"applied migrations: {applied}" in proc.stderr
    done = status(hd, store_url)
    assert done["version"] == latest_version()
    assert done["pending"] == []

    again = hd("db", "upgrade", env=env)
    assert again.returncode == 0
    assert "up to date" in again.stderr


def test_first_use_creates_the_schema(hd, store_url: str) -> None:  # type: ignore[no-untyped-def]
    env = {"HDCLI_STORAGE__URL": store_url}
    proc = hd("org", "add", "Muster GmbH", "--kind", "company", env=env)
    assert proc.returncode == 0, proc.stderr
    assert status(hd, store_url)["version"] == latest_version()
    assert "Muster GmbH" in hd("org", "list", "--format", "csv", env=env).stdout


def test_status_never_shows_the_password(hd, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(postgres_url)
    user = parts.username or "postgres"
    netloc = f"{user}:pw-in-url-123@{parts.hostname}:{parts.port or 5432}"
    url = urlunsplit(parts._replace(netloc=netloc))
    proc = hd("db", "status", "--format", "json", env={"HDCLI_STORAGE__URL": url})
    assert proc.returncode == 0, proc.stderr
    assert "pw-in-url-123" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("args", [("list",), ("db", "status"), ("db", "upgrade")])
def test_unreachable_postgres_exits_5_with_one_line(hd, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    url = "postgresql://postgres:top-secret@127.0.0.1:1/x?connect_timeout=5"
    proc = hd(*args, env={"HDCLI_STORAGE__URL": url})
    assert proc.returncode == 5
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hdcli: error: cannot connect to PostgreSQL")
    assert "127.0.0.1:1" in lines[0]
    assert '"x"' in lines[0]
    assert "top-secret" not in proc.stderr
    assert proc.stdout == ""
