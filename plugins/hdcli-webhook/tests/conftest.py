"""Fixtures: a real HTTP receiver on loopback and a throwaway helpdesk driven by the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

try:
    import hdcli_webhook  # noqa: F401  (installed: the normal case)
except ImportError:  # a checkout without the plugin installed: test the source beside us
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Receiver:
    """A webhook receiver: answers with ``statuses`` in turn (then 200) and records requests.

    A status of ``"slow"`` answers 200 only after ``slow_seconds`` (to provoke a read timeout).
    """

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int | str] = field(default_factory=list)
    slow_seconds: float = 2.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def next_status(self) -> int | str:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def events(self) -> list[str]:
        return [r.json().get("event") for r in self.requests]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = receiver.next_status()
            if status == "slow":
                # wait, but give up as soon as the test is over
                receiver.released.wait(receiver.slow_seconds)
                status = 200
            reply = b'{"ok": true}'
            self.send_response(int(status))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.send_header("Connection", "close")
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (read timeout test)
                self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data dir (and so the delivery queue) of in-process configs: inside the test's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return tmp_path / "xdg-data"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A threaded HTTP server on 127.0.0.1 (a free port), stopped after the test."""

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    rec = Receiver(url="")
    server = Server(("127.0.0.1", 0), _handler(rec))
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/hdcli?token=s3cret"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield rec
    finally:
        rec.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/hdcli"


class Helpdesk:
    """A helpdesk in ``root`` driven by the real ``hdcli`` command line, run in this process
    as a subprocess would run it (:func:`hdcli.testing.invoke`: the environment below and
    nothing else, plugins loaded afresh for every run).

    SQLite and the Maildir outbox live in ``root``; configuration, data and user dirs too, so
    nothing of the user's own setup is read. ``HDCLI_LOAD_PLUGINS`` is left to each test.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HDCLI_")}
        self.env.update(
            {
                "HDCLI_CONFIG": str(root / "config" / "hdcli" / "config.toml"),
                "XDG_CONFIG_HOME": str(root / "config"),
                "XDG_DATA_HOME": str(root / "data"),
                "HDCLI_STORAGE__URL": f"sqlite:///{root / 'hdcli.db'}",
                "HDCLI_MAIL__OUTBOUND__PATH": str(root / "outbox"),
                "HDCLI_MAIL__FROM_ADDRESS": "helpdesk@smartwork.example",
                "HDCLI_USER": "mmueller",
                "NO_COLOR": "1",
            }
        )

    def __call__(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        from hdcli.testing import invoke

        return invoke(args, env={**self.env, **(env or {})}, cwd=self.root)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        proc = self(*args, env=env)
        assert proc.returncode == 0, (
            f"hdcli {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
        )
        return proc.stdout

    def seed(self) -> None:
        """An organisation with a contract and a contact allowed to open tickets."""
        quiet = {"HDCLI_LOAD_PLUGINS": ""}
        self.ok("db", "upgrade", env=quiet)  # hdcli opens no helpdesk that does not exist
        self.ok(
            "org",
            "add",
            "Muster GmbH",
            "--kind",
            "company",
            "--domain",
            "muster.example",
            env=quiet,
        )
        self.ok(
            "contract",
            "add",
            "Muster GmbH",
            "--number",
            "RV-1",
            "--billing",
            "hourly",
            "--rate",
            "95",
            "--increment",
            "15m",
            env=quiet,
        )
        self.ok(
            "contact",
            "add",
            "Muster GmbH",
            "--name",
            "Anna Schmidt",
            "--email",
            "anna.schmidt@muster.example",
            "--role",
            "main",
            env=quiet,
        )
        self.ok(
            "agent",
            "add",
            "mmueller",
            "--name",
            "Max Müller",
            "--email",
            "max.mueller@smartwork.example",
            env=quiet,
        )


@pytest.fixture
def helpdesk(tmp_path: Path) -> Helpdesk:
    return Helpdesk(tmp_path)


@pytest.fixture
def plugin_installed() -> None:
    """Skip (fail under CI=true) unless the plugin is installed beside hdcli."""
    from importlib.metadata import entry_points

    if any(ep.name == "webhook" for ep in entry_points(group="hdcli")):
        return
    message = "hdcli-webhook is not installed (pip install -e plugins/hdcli-webhook)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
