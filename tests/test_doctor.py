"""``hdcli doctor`` really connects: SMTP (up, down, wrong password; nothing sent) and every
IMAP source (login, folder), against the real servers of tests/servers.py."""

from __future__ import annotations

import json
from typing import Any

from helpdesk import Helpdesk
from servers import SmtpServer


def checks(hd: Helpdesk, **env: str) -> tuple[int, dict[str, dict[str, Any]]]:
    proc = hd("doctor", "--json", env=env)
    return proc.returncode, {r["check"]: r for r in json.loads(proc.stdout)}


def smtp_env(server: SmtpServer, **extra: str) -> dict[str, str]:
    return {
        "HDCLI_MAIL__OUTBOUND__TRANSPORT": "smtp",
        "HDCLI_MAIL__OUTBOUND__HOST": server.host,
        "HDCLI_MAIL__OUTBOUND__PORT": str(server.port),
        "HDCLI_MAIL__OUTBOUND__SECURITY": "none",
        "HDCLI_MAIL__OUTBOUND__TIMEOUT": "5",
        **extra,
    }


def test_doctor_connects_to_smtp_and_fails_when_it_is_down(
    hd: Helpdesk, smtp_server_factory: Any
) -> None:
    hd.seed()
    server = smtp_server_factory(users={"agent": "s3cret"})
    env = smtp_env(server, HDCLI_MAIL__OUTBOUND__USERNAME="agent")
    code, rows = checks(hd, **env, HDCLI_MAIL__OUTBOUND__PASSWORD="s3cret")
    assert code == 0, rows
    assert "connected, AUTH as agent" in rows["mail transport"]["detail"]
    assert server.messages == []  # no mail was sent

    code, rows = checks(hd, **env, HDCLI_MAIL__OUTBOUND__PASSWORD="wrong")
    assert code == 5 and rows["mail transport"]["ok"] is False
    assert "refused the login of 'agent'" in rows["mail transport"]["detail"]

    server.stop()
    code, rows = checks(hd, **env, HDCLI_MAIL__OUTBOUND__PASSWORD="s3cret")
    assert code == 5 and rows["mail transport"]["ok"] is False
    assert f"SMTP server {server.host}:{server.port}" in rows["mail transport"]["detail"]
    assert rows["storage"]["ok"] is True  # the other checks still ran
    assert rows["storage"]["detail"].endswith(", writable")


def test_doctor_logs_in_to_every_imap_source(hd: Helpdesk, imap_server: Any) -> None:
    from test_fetch import configure_sources

    hd.seed()
    settings = imap_server.settings()
    hd.env["HDCLI_TEST_IMAP_PASSWORD"] = settings.pop("password")
    good = {"type": "imap", **settings, "password_env": "HDCLI_TEST_IMAP_PASSWORD"}
    configure_sources(hd, {"inbox": good})
    code, rows = checks(hd)
    assert code == 0 and "inbox: logged in, folder 'INBOX'" in rows["mail sources"]["detail"]

    configure_sources(hd, {"inbox": good, "archive": {**good, "folder": "Nirgendwo"}})
    code, rows = checks(hd)
    assert code == 5
    assert "archive:" in rows["mail sources"]["detail"]
    assert "Nirgendwo" in rows["mail sources"]["detail"]
    assert "inbox:" not in rows["mail sources"]["detail"]
