"""hdcli-webhook against a real HTTP receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hdcli.config import Config
from hdcli.events import TicketEvent

import hdcli_webhook


def config(tmp_path: Path, **env: str) -> Config:
    """A configuration read from an absent file plus ``HDCLI_*`` variables (as in a real run)."""
    return Config.load(tmp_path / "config.toml", env=env)


def event(name: str = "ticket.opened") -> TicketEvent:
    return TicketEvent(
        name,
        "2025030410000011",
        "Drucker druckt nicht – Büro 3",
        "new",
        "mmueller",
        "2025-03-04T09:15:00Z",
        {"requester": "anna.schmidt@muster.example", "channel": "email"},
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "hdcli.webhook" and r.levelno == logging.WARNING
    ]


def test_delivers_the_event_as_json(
    tmp_path: Path, receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=receiver.url)
    hdcli_webhook.ticket_event(event(), cfg)

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.path == "/hooks/hdcli?token=s3cret"
    assert got.json() == event().to_dict()
    assert got.json()["subject"] == "Drucker druckt nicht – Büro 3"
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.headers["X-Hdcli-Event"] == "ticket.opened"
    assert "X-Hdcli-Signature" not in got.headers
    assert warnings_of(caplog) == []


def test_a_5xx_is_retried_once(
    tmp_path: Path, receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500]
    hdcli_webhook.ticket_event(event(), config(tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=receiver.url))

    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert warnings_of(caplog) == []


def test_persistent_5xx_gives_one_log_line(
    tmp_path: Path, receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [503, 503, 503]
    hdcli_webhook.ticket_event(event(), config(tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=receiver.url))

    assert len(receiver.requests) == 2  # the default: one retry
    [line] = warnings_of(caplog)
    assert "ticket.opened 2025030410000011 not delivered" in line
    assert "HTTP 503 (2 attempts)" in line
    assert "s3cret" not in line  # the URL's path and query may carry tokens


def test_retries_are_configurable(tmp_path: Path, receiver: Any) -> None:
    receiver.statuses = [500, 502]
    cfg = config(
        tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=receiver.url, HDCLI_PLUGINS__WEBHOOK__RETRIES="0"
    )
    hdcli_webhook.ticket_event(event(), cfg)
    assert len(receiver.requests) == 1


def test_a_4xx_is_not_retried(
    tmp_path: Path, receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [404]
    hdcli_webhook.ticket_event(event(), config(tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=receiver.url))
    assert len(receiver.requests) == 1
    [line] = warnings_of(caplog)
    assert "HTTP 404" in line


def test_receiver_down_is_logged_not_raised(
    tmp_path: Path, dead_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    hdcli_webhook.ticket_event(event(), config(tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=dead_url))

    [line] = warnings_of(caplog)
    assert line.startswith(
        "webhook: ticket.opened 2025030410000011 not delivered to http://127.0.0.1:"
    )
    assert "connection refused (2 attempts); queued for a retry" in line


def queued(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "xdg-data" / "hdcli" / "webhook-queue").glob("*.json"))


def test_a_failed_delivery_is_queued_and_flushed_when_the_receiver_is_up(
    tmp_path: Path, dead_url: str, receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    down = config(tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=dead_url)
    hdcli_webhook.ticket_event(event("ticket.opened"), down)
    hdcli_webhook.ticket_event(event("ticket.closed"), down)  # queued behind, in order
    files = queued(tmp_path)
    assert len(files) == 2
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    assert files[0].parent.stat().st_mode & 0o777 == 0o700

    up = config(tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=receiver.url)
    settings = hdcli_webhook.Settings.from_config(up)
    assert settings is not None
    # not due yet (back-off): nothing is sent
    assert hdcli_webhook.flush(up, settings) == hdcli_webhook.Flushed(0, 2, 0)
    assert receiver.requests == []
    done = hdcli_webhook.flush(up, settings, everything=True)
    assert done == hdcli_webhook.Flushed(2, 0, 0)
    assert receiver.events() == ["ticket.opened", "ticket.closed"]
    assert receiver.requests[0].json() == event("ticket.opened").to_dict()
    assert queued(tmp_path) == []


def test_the_next_event_sends_the_due_queue_first_and_old_entries_are_dropped(
    tmp_path: Path, dead_url: str, receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    down = config(
        tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=dead_url, HDCLI_PLUGINS__WEBHOOK__RETRY_BASE="0"
    )
    hdcli_webhook.ticket_event(event("ticket.opened"), down)
    hdcli_webhook.ticket_event(event("ticket.assigned"), down)
    [first, _second] = queued(tmp_path)
    entry = json.loads(first.read_text())
    entry["first_failed"] -= 2 * 86400  # older than max_age (one day)
    first.write_text(json.dumps(entry))

    up = config(
        tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=receiver.url, HDCLI_PLUGINS__WEBHOOK__RETRY_BASE="0"
    )
    hdcli_webhook.ticket_event(event("ticket.closed"), up)
    assert receiver.events() == ["ticket.assigned", "ticket.closed"]
    assert queued(tmp_path) == []
    assert any("ticket.opened 2025030410000011 dropped" in w for w in warnings_of(caplog))


def test_a_read_timeout_is_not_retried(
    tmp_path: Path, receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # the receiver may have acted on the first request: a second copy would be worse
    receiver.statuses = ["slow"]
    cfg = config(
        tmp_path, HDCLI_PLUGINS__WEBHOOK__URL=receiver.url, HDCLI_PLUGINS__WEBHOOK__TIMEOUT="0.3"
    )
    hdcli_webhook.ticket_event(event(), cfg)
    assert len(receiver.requests) == 1
    [line] = warnings_of(caplog)
    assert "no answer within 0.3 s" in line


def test_events_filter(tmp_path: Path, receiver: Any) -> None:
    cfg = config(
        tmp_path,
        HDCLI_PLUGINS__WEBHOOK__URL=receiver.url,
        HDCLI_PLUGINS__WEBHOOK__EVENTS="ticket.closed, ticket.reopened",
    )
    for name in ("ticket.opened", "ticket.assigned", "ticket.closed"):
        hdcli_webhook.ticket_event(event(name), cfg)
    assert receiver.events() == ["ticket.closed"]


def test_events_filter_from_the_config_file(tmp_path: Path, receiver: Any) -> None:
    (tmp_path / "config.toml").write_text(
        f'[plugins.webhook]\nurl = "{receiver.url}"\ntimeout = 2\nevents = ["ticket.opened"]\n',
        encoding="utf-8",
    )
    cfg = config(tmp_path)
    hdcli_webhook.ticket_event(event("ticket.closed"), cfg)
    hdcli_webhook.ticket_event(event("ticket.opened"), cfg)
    assert receiver.events() == ["ticket.opened"]


def test_body_is_signed_with_the_secret(
    tmp_path: Path, receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_TEST_SECRET", "geheim")
    cfg = config(
        tmp_path,
        HDCLI_PLUGINS__WEBHOOK__URL=receiver.url,
        HDCLI_PLUGINS__WEBHOOK__SECRET_ENV="WEBHOOK_TEST_SECRET",
    )
    hdcli_webhook.ticket_event(event(), cfg)

    got = receiver.requests[0]
    expected = "sha256=" + hmac.new(b"geheim", got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["X-Hdcli-Signature"], expected)


def test_missing_secret_is_logged_and_nothing_sent(
    tmp_path: Path, receiver: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # sending unsigned would only be rejected by a receiver that expects a signature
    monkeypatch.delenv("WEBHOOK_TEST_SECRET", raising=False)
    cfg = config(
        tmp_path,
        HDCLI_PLUGINS__WEBHOOK__URL=receiver.url,
        HDCLI_PLUGINS__WEBHOOK__SECRET_ENV="WEBHOOK_TEST_SECRET",
    )
    hdcli_webhook.ticket_event(event(), cfg)
    assert receiver.requests == []
    [line] = warnings_of(caplog)
    assert "WEBHOOK_TEST_SECRET" in line


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("URL", "ftp://example.org/x", "http(s) URL"),
        ("TIMEOUT", "soon", "timeout must be a number"),
        ("RETRIES", "99", "retries must be 0 to 5"),
    ],
)
def test_bad_settings_are_logged_not_raised(
    tmp_path: Path, receiver: Any, key: str, value: str, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"HDCLI_PLUGINS__WEBHOOK__URL": receiver.url, f"HDCLI_PLUGINS__WEBHOOK__{key}": value}
    hdcli_webhook.ticket_event(event(), config(tmp_path, **env))
    assert receiver.requests == []
    [line] = warnings_of(caplog)
    assert says in line


def test_without_a_url_the_plugin_is_idle(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hdcli_webhook.ticket_event(event(), config(tmp_path))
    assert warnings_of(caplog) == []


# -- end to end: the installed plugin inside a real hdcli run ---------------------------------
@pytest.mark.usefixtures("plugin_installed")
@pytest.mark.parametrize("load", [None, "webhook"], ids=["all-plugins", "only-webhook"])
def test_hdcli_open_posts_ticket_opened(helpdesk: Any, receiver: Any, load: str | None) -> None:
    helpdesk.seed()
    env = {"HDCLI_PLUGINS__WEBHOOK__URL": receiver.url}
    if load is not None:
        env["HDCLI_LOAD_PLUGINS"] = load
    number = helpdesk.ok(
        "open",
        "--contact",
        "anna.schmidt@muster.example",
        "--subject",
        "Drucker druckt nicht",
        "--body",
        "Hilfe",
        "-q",
        env=env,
    ).strip()

    assert receiver.events() == ["ticket.opened"]
    sent = receiver.requests[0].json()
    assert sent["ticket"] == number
    assert sent["subject"] == "Drucker druckt nicht"
    assert sent["status"] == "new"
    assert sent["actor"] == "mmueller"
    assert sent["data"]["requester"] == "anna.schmidt@muster.example"


@pytest.mark.usefixtures("plugin_installed")
def test_hdcli_open_succeeds_when_the_receiver_is_down(helpdesk: Any, dead_url: str) -> None:
    helpdesk.seed()
    env = {"HDCLI_PLUGINS__WEBHOOK__URL": dead_url, "HDCLI_LOAD_PLUGINS": "webhook"}
    proc = helpdesk(
        "open",
        "--contact",
        "anna.schmidt@muster.example",
        "--subject",
        "Test",
        "--body",
        "Hilfe",
        "-q",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    number = proc.stdout.strip()
    assert "webhook: ticket.opened" in proc.stderr
    assert "connection refused" in proc.stderr
    shown = json.loads(helpdesk.ok("show", number, "--format", "json", env=env))
    assert shown["status"] == "new"


@pytest.mark.usefixtures("plugin_installed")
def test_webhook_flush_delivers_what_the_receiver_missed(
    helpdesk: Any, dead_url: str, receiver: Any
) -> None:
    helpdesk.seed()
    down = {"HDCLI_PLUGINS__WEBHOOK__URL": dead_url, "HDCLI_LOAD_PLUGINS": "webhook"}
    number = helpdesk.ok(
        "open", "--contact", "anna.schmidt@muster.example", "--subject", "T", "-q", env=down
    ).strip()
    still = helpdesk("webhook", "flush", "--all", env=down)
    assert still.returncode == 5 and "waiting 1" in still.stderr
    up = {"HDCLI_PLUGINS__WEBHOOK__URL": receiver.url, "HDCLI_LOAD_PLUGINS": "webhook"}
    done = helpdesk("webhook", "flush", "--all", env=up)
    assert done.returncode == 0 and "delivered 1, waiting 0" in done.stderr
    assert receiver.events() == ["ticket.opened"]
    assert receiver.requests[0].json()["ticket"] == number


@pytest.mark.usefixtures("plugin_installed")
def test_webhook_test_command(helpdesk: Any, receiver: Any) -> None:
    env = {"HDCLI_PLUGINS__WEBHOOK__URL": receiver.url, "HDCLI_LOAD_PLUGINS": "webhook"}
    out = helpdesk.ok("webhook", "test", env=env)
    assert "delivered webhook.test" in out
    assert "HTTP 200" in out
    assert receiver.events() == ["webhook.test"]
    assert receiver.requests[0].json()["data"] == {"test": True}


@pytest.mark.usefixtures("plugin_installed")
def test_webhook_test_command_reports_failure(helpdesk: Any, receiver: Any, dead_url: str) -> None:
    down = helpdesk(
        "webhook",
        "test",
        env={"HDCLI_PLUGINS__WEBHOOK__URL": dead_url, "HDCLI_LOAD_PLUGINS": "webhook"},
    )
    assert down.returncode == 5
    assert "hdcli: error: webhook test to http://127.0.0.1:" in down.stderr
    assert "connection refused" in down.stderr

    unset = helpdesk("webhook", "test", env={"HDCLI_LOAD_PLUGINS": "webhook"})
    assert unset.returncode == 2
    assert "plugins.webhook.url" in unset.stderr

    off = helpdesk("webhook", "test", env={"HDCLI_LOAD_PLUGINS": ""})
    assert off.returncode == 2  # switched off: the command does not exist
