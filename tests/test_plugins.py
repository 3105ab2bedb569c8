"""The plugin system: entry-point loading, every hook, and switching plugins off.

Subprocess tests make the distribution in ``tests/plugin_fixture`` visible to ``hdcli`` without
installing it: a ``*.dist-info`` folder built from its pyproject's entry points, plus the folder
itself, on ``PYTHONPATH``. In-process tests register plugin objects under their own name and
unregister them in ``finally`` (never loading installed entry points into the test process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from workflow import registered

from hdcli import hookimpl

FIXTURE = Path(__file__).resolve().parent / "plugin_fixture"
EVERYTHING = ("fixture", "fixture_veto", "fixture_noisy", "fixture_broken")


def fixture_site(tmp_path: Path, *names: str) -> str:
    """A PYTHONPATH on which importlib.metadata finds ``hdcli-fixture`` with the entry points
    ``names`` (taken from tests/plugin_fixture/pyproject.toml)."""
    project = tomllib.loads((FIXTURE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    points = project["entry-points"]["hdcli"]
    site = tmp_path / "site"
    info = site / f"hdcli_fixture-{project['version']}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    (info / "entry_points.txt").write_text(
        "[hdcli]\n" + "".join(f"{n} = {points[n]}\n" for n in names), encoding="utf-8"
    )
    return os.pathsep.join([str(site), str(FIXTURE)])


def with_plugins(hd: Any, tmp_path: Path, *names: str, load: str | None = None) -> None:
    """Make ``names`` installed for ``hd``'s runs; ``load`` is HDCLI_LOAD_PLUGINS (None: unset,
    so every installed plugin loads)."""
    hd.env["PYTHONPATH"] = fixture_site(tmp_path, *names)
    if load is None:
        hd.env.pop("HDCLI_LOAD_PLUGINS", None)
    else:
        hd.env["HDCLI_LOAD_PLUGINS"] = load


# -- subprocess: the real CLI with the fixture distribution ------------------------------------
def test_installed_plugin_adds_a_command(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, "fixture")
    assert hd.ok("hello", "--name", "Anna") == "hello, Anna, from the fixture plugin\n"


def test_plugin_loaded_by_name(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, *EVERYTHING, load="fixture")  # the broken one stays off
    assert "from the fixture plugin" in hd.ok("hello")


def test_empty_load_plugins_hides_installed_plugins(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, "fixture", load="")
    proc = hd("hello")
    assert proc.returncode == 2
    assert "hello" in proc.stderr  # Typer names the unknown command
    assert proc.stdout == ""


def test_plugin_storage_scheme(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, "fixture")
    db = tmp_path / "elsewhere" / "memtest.db"
    hd.env["HDCLI_STORAGE__URL"] = f"memtest://{db}"
    hd.ok("org", "add", "Muster GmbH", "--kind", "company", "--domain", "muster.example")
    hd.ok("org", "add", "Stadt Beispiel", "--kind", "public_body")

    names = [row["name"] for row in hd.json("org", "list")]
    assert sorted(names) == ["Muster GmbH", "Stadt Beispiel"]
    assert db.exists()  # the scheme mapped to SQLite on that path ...
    assert not hd.db.exists()  # ... and the default store was never touched


def test_unknown_storage_scheme_names_the_known_ones(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, "fixture", load="")
    hd.env["HDCLI_STORAGE__URL"] = f"memtest://{tmp_path / 'x.db'}"
    proc = hd("org", "list")
    assert proc.returncode == 2
    assert "memtest" in proc.stderr
    assert "sqlite" in proc.stderr


def test_plugins_command_lists_the_plugin_and_its_hooks(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, "fixture")
    rows = {row["name"]: row for row in json.loads(hd.ok("plugins", "--json"))}

    plugin = rows["fixture"]
    assert plugin["builtin"] is False
    assert plugin["version"] == "0.0.1"
    assert plugin["hooks"] == [
        "prepare_outbound",
        "register_commands",
        "register_storage",
        "register_transports",
    ]
    assert "storage scheme:memtest" in plugin["provides"]
    assert "mail transport:fixture_jsonl" in plugin["provides"]
    builtin = rows["hdcli.default_plugins.storage"]
    assert builtin["builtin"] is True
    assert "storage scheme:sqlite" in builtin["provides"]


def test_plugins_command_without_installed_plugins(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, "fixture", load="")
    rows = json.loads(hd.ok("plugins", "--json"))
    assert rows, "the built-in plugins are always listed"
    assert all(row["builtin"] for row in rows)


def test_broken_plugin_can_be_switched_off(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, "fixture_broken")
    broken = hd("org", "list")
    assert broken.returncode != 0
    assert "broken on purpose" in broken.stderr
    assert "Traceback" not in broken.stderr

    hd.env["HDCLI_LOAD_PLUGINS"] = ""
    assert hd.json("org", "list") == []
    hd.seed()
    assert hd.open().isdigit()


def test_guard_change_veto_refuses_and_stores_nothing(hd: Any, tmp_path: Path) -> None:
    hd.seed()
    with_plugins(hd, tmp_path, "fixture_veto", load="fixture_veto")
    proc = hd(
        "open",
        "--contact",
        "anna.schmidt@muster.example",
        "--subject",
        "Drucker",
        "--body",
        "Hilfe",
    )

    assert proc.returncode == 4
    assert "hdcli: error: ticket.open refused: the fixture plugin accepts no new tickets" in (
        proc.stderr
    )
    assert proc.stdout == ""
    assert hd.json("list") == []
    assert hd.mails() == []


def test_failing_ticket_event_is_logged_and_the_change_stands(hd: Any, tmp_path: Path) -> None:
    hd.seed()
    with_plugins(hd, tmp_path, "fixture_noisy", load="fixture_noisy")
    proc = hd(
        "open",
        "--contact",
        "anna.schmidt@muster.example",
        "--subject",
        "Drucker",
        "--body",
        "Hilfe",
        "-q",
    )

    assert proc.returncode == 0, proc.stderr
    number = proc.stdout.strip()
    assert number.isdigit()
    log_lines = [line for line in proc.stderr.splitlines() if "fixture_noisy" in line]
    assert len(log_lines) == 1
    assert "ticket.opened" in log_lines[0]
    assert f"fixture receiver exploded on {number}" in log_lines[0]
    assert hd.json("show", number)["status"] == "new"


def test_plugin_transport_and_prepare_outbound(hd: Any, tmp_path: Path) -> None:
    with_plugins(hd, tmp_path, "fixture", load="fixture")
    hd.seed()
    sent_dir = tmp_path / "sent"
    hd.env["HDCLI_MAIL__OUTBOUND__TRANSPORT"] = "fixture_jsonl"
    hd.env["HDCLI_MAIL__OUTBOUND__PATH"] = str(sent_dir)
    number = hd.open()

    lines = (sent_dir / "sent.jsonl").read_text(encoding="utf-8").splitlines()
    [ack] = [json.loads(line) for line in lines]
    assert ack["to"] == ["anna.schmidt@muster.example"]
    assert f"[Ticket#{number}]" in ack["subject"]
    assert ack["kind"] == "acknowledgement"  # the header prepare_outbound added


def test_registering_a_backend_does_not_import_its_driver(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from hdcli.plugins import storage_backends\n"
        "names = storage_backends.names()\n"
        "print(json.dumps({'names': names, 'modules': sorted(m for m in sys.modules if "
        "m.split('.')[0] in ('psycopg', 'psycopg2', 'psycopg_binary') "
        "or m.startswith('hdcli.backends.'))}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDCLI_")}
    env["PYTHONPATH"] = fixture_site(tmp_path, "fixture")
    env["HDCLI_LOAD_PLUGINS"] = "fixture"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    seen = json.loads(proc.stdout)

    assert {"sqlite", "postgresql", "memtest"} <= set(seen["names"])
    assert seen["modules"] == []  # neither psycopg, nor the postgres or sqlite backend


# -- in process: plugin objects registered for one test ---------------------------------------
@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    # in case this process loads plugins first: never pull installed entry points in
    monkeypatch.setenv("HDCLI_LOAD_PLUGINS", "")


def config_in(tmp_path: Path, text: str = "") -> Any:
    from hdcli.config import Config

    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return Config.load(path, env={"HDCLI_STORAGE__URL": f"sqlite:///{tmp_path / 'hd.db'}"})


PRINTER_MAIL = (
    b"From: Anna Schmidt <anna.schmidt@muster.example>\r\n"
    b"To: helpdesk@smartwork.example\r\n"
    b"Subject: Drucker druckt nicht\r\n"
    b"Message-ID: <printer-1@muster.example>\r\n"
    b"Date: Tue, 04 Mar 2025 09:15:00 +0100\r\n"
    b"\r\n"
    b"Der Drucker im 2. OG druckt nicht.\r\n"
)
VPN_MAIL = PRINTER_MAIL.replace(b"Drucker druckt nicht", b"VPN geht nicht").replace(
    b"printer-1", b"vpn-1"
)


class PrinterRouter:
    """Sends every printer problem to mmueller; says nothing about anything else."""

    @hookimpl
    def route_message(self, mail: Any, config: Any) -> str | None:
        return "mmueller" if "drucker" in mail.subject.lower() else None


def test_route_message_plugin_preselects_the_agent(tmp_path: Path) -> None:
    from hdcli.mail.parse import parse_message
    from hdcli.plugins import hooks

    # the configured rules would send everything from muster.example to someone else
    config = config_in(
        tmp_path, '[[routing.rules]]\nagent = "jkrause"\nsender_domain = "muster.example"\n'
    )
    printer, vpn = parse_message(PRINTER_MAIL), parse_message(VPN_MAIL)
    assert hooks.route_message(printer, config) == "jkrause"

    with registered(PrinterRouter(), "test-router"):
        assert hooks.route_message(printer, config) == "mmueller"  # first result wins
        assert hooks.route_message(vpn, config) == "jkrause"  # None: the rules decide
    assert hooks.route_message(printer, config) == "jkrause"


def test_guard_change_and_ticket_event_in_process(caplog: pytest.LogCaptureFixture) -> None:
    from hdcli.events import Change, TicketEvent
    from hdcli.plugins import hooks

    seen: list[str] = []

    class Policy:
        @hookimpl
        def guard_change(self, change: Change) -> str | None:
            return "no closing on Fridays" if change.action == "ticket.close" else None

        @hookimpl
        def ticket_event(self, event: TicketEvent, config: Any) -> None:
            seen.append(event.event)
            raise ValueError("listener down")

    with registered(Policy(), "test-policy"):
        refused = hooks.guard_change(Change("ticket.close", "1", "mmueller"))
        assert refused == "no closing on Fridays"
        assert hooks.guard_change(Change("ticket.start", "1", "mmueller")) is None
        event = TicketEvent("ticket.closed", "1", "S", "closed", "mmueller", "2025-03-04T09:15:00Z")
        hooks.ticket_event(event, None)  # must not raise
    assert seen == ["ticket.closed"]
    assert any(
        "test-policy" in r.getMessage() and "listener down" in r.getMessage()
        for r in caplog.records
    )


def test_duplicate_registration_is_an_error() -> None:
    from hdcli.errors import UsageError
    from hdcli.plugins import storage_backends

    class Clash:
        @hookimpl
        def register_storage(self, register: Callable[[str, Any], None]) -> None:
            register("sqlite", "somewhere:Else")

    with registered(Clash(), "test-clash"), pytest.raises(UsageError) as err:
        storage_backends.names()
    assert "registered twice" in str(err.value)
    assert "test-clash" in str(err.value)
    assert "sqlite" in storage_backends.names()  # back to normal after unregistering


def test_register_number_formats_resolves_on_use() -> None:
    from hdcli.numbers import number_format
    from hdcli.plugins import number_formats

    class Fixed:
        name = "fixed"

        def allocate(self, store: Any, n: int, today: date, system_id: str) -> list[str]:
            return [f"FX{i:06d}" for i in range(1, n + 1)]

        def valid(self, number: str) -> bool:
            return number.startswith("FX")

    class Formats:
        @hookimpl
        def register_number_formats(self, register: Callable[[str, Any], None]) -> None:
            register("fixed", Fixed)
            register("lazy", "hdcli_no_such_module:Format")

    with registered(Formats(), "test-formats"):
        assert {"date_checksum", "increment", "fixed", "lazy"} <= set(number_formats.names())
        assert number_formats.owner("fixed") == "test-formats"
        fmt = number_format("fixed")
        assert isinstance(fmt, Fixed)
        assert fmt.allocate(None, 2, date(2025, 3, 4), "10") == ["FX000001", "FX000002"]
        with pytest.raises(ModuleNotFoundError):  # imported only now, when it is used
            number_formats.get("lazy")


def test_register_sources_and_transports() -> None:
    from hdcli.errors import UsageError
    from hdcli.plugins import sources, transports

    class Source:
        def __init__(self, name: str, settings: dict[str, Any]) -> None:
            self.name = name

    class Transport:
        def __init__(self, settings: dict[str, Any]) -> None:
            self.settings = settings

    class Mail:
        @hookimpl
        def register_sources(self, register: Callable[[str, Any], None]) -> None:
            register("fixture_src", Source)

        @hookimpl
        def register_transports(self, register: Callable[[str, Any], None]) -> None:
            register("fixture_tx", Transport)

    with registered(Mail(), "test-mail"):
        assert sources.get("fixture_src") is Source
        assert {"imap", "maildir", "fixture_src"} <= set(sources.names())
        assert transports.get("fixture_tx") is Transport
    with pytest.raises(UsageError, match="unknown mail transport 'fixture_tx'"):
        transports.get("fixture_tx")


def test_register_reports(tmp_path: Path) -> None:
    from hdcli.context import Context
    from hdcli.reports import ReportResult, catalogue, run

    def greeting(rctx: Any, options: dict[str, Any]) -> ReportResult:
        return ReportResult("Greeting", ["who"], [{"who": options.get("who", "world")}])

    class Reports:
        @hookimpl
        def register_reports(self, register: Callable[[str, Any], None]) -> None:
            register("greeting", greeting)

    with registered(Reports(), "test-reports"):
        assert {"name": "greeting", "plugin": "test-reports"} in catalogue()
        result = run(Context(config_in(tmp_path)), "greeting", {"who": "Anna"})
        assert list(result.rows) == [{"who": "Anna"}]


def test_register_template_dirs_precedence(tmp_path: Path) -> None:
    from hdcli.plugins import template_dirs
    from hdcli.templates import search_path

    mine = tmp_path / "plugin-templates"
    (mine / "en").mkdir(parents=True)

    class Templates:
        @hookimpl
        def register_template_dirs(self, register: Callable[[str], None]) -> None:
            register(str(mine))

    config = config_in(tmp_path)
    builtin = template_dirs()
    with registered(Templates(), "test-templates"):
        assert template_dirs() == [*builtin, str(mine)]  # later folders take precedence
        path = search_path(config)
        assert path[0] == str(config.template_dir)  # the config dir always wins
        assert path.index(str(mine)) < path.index(builtin[0])


def test_a_ticket_event_hook_may_take_fewer_arguments() -> None:
    from hdcli import hookimpl
    from hdcli.events import TicketEvent
    from hdcli.plugins import hooks, pm

    seen: list[str] = []

    class OnlyEvent:
        @hookimpl
        def ticket_event(self, event: TicketEvent) -> None:
            seen.append(event.event)

    plugin = OnlyEvent()
    pm.register(plugin, "test-only-event")
    try:
        hooks.ticket_event(TicketEvent("ticket.opened", "1", "s", "new", "me", "now"), None)
    finally:
        pm.unregister(plugin)
    assert seen == ["ticket.opened"]
