"""Fixtures that start real servers on loopback for the tests.

Loaded by ``conftest.py`` (``pytest_plugins = ["servers"]``); every test module can use them.

* ``smtp_server`` / ``smtp_server_factory``: aiosmtpd receiving what hdcli sends.
* ``tls_certificate``: a self-signed certificate for 127.0.0.1/localhost (openssl CLI).
* ``imap_server`` (session) / ``imap_mailbox`` (emptied per test): Debian's Dovecot.
* ``http_server``: a recording HTTP server with a scripted status sequence.
* ``postgres_url``: a throwaway PostgreSQL database from ``HDCLI_TEST_POSTGRES_URL``.

A server that is not available skips its tests locally, with a hint how to get it, and fails
them under ``CI=true`` (see :func:`require_server`).
"""

from __future__ import annotations

import contextlib
import http.server
import imaplib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest


def require_server(what: str, how: str) -> NoReturn:
    """Skip the test because ``what`` is missing, saying ``how`` to get it; fail under CI=true."""
    message = f"{what}: {how}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------
# TLS


@dataclass(frozen=True)
class TlsCertificate:
    """A self-signed certificate valid for ``127.0.0.1`` and ``localhost``."""

    cert: Path
    key: Path

    def server_context(self) -> Any:
        """An ``ssl.SSLContext`` for a server presenting this certificate."""
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsCertificate:
    """A self-signed certificate made with the ``openssl`` CLI; clients trust it via ``.cert``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        require_server("openssl not found", "apt-get install openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return TlsCertificate(cert=cert, key=key)


# --------------------------------------------------------------------------------------------
# SMTP


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server received it: envelope and the bytes of DATA."""

    envelope_from: str
    recipients: list[str]
    raw: bytes


class _RecordingHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self.server.reject.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.server.data_reply:
            return self.server.data_reply
        raw = envelope.original_content or envelope.content
        self.server.messages.append(
            ReceivedMail(
                envelope_from=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                raw=bytes(raw),
            )
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that records what it receives.

    * ``host``, ``port``: where to connect; ``port`` stays the same across :meth:`stop` and
      :meth:`start`, so "SMTP down, then back" can be tested.
    * ``messages``: list of :class:`ReceivedMail`, in arrival order.
    * ``reject``: maps a recipient address (lower case) to the full reply line for its RCPT,
      e.g. ``{"gone@example.org": "550 5.1.1 No such user"}`` or a ``451 4.3.0 …`` line.
    * ``data_reply``: when set, the reply to DATA instead of accepting the message.
    * ``security``: ``none`` (default), ``starttls`` (offered, not required) or ``ssl``.
    * ``users``: when set, AUTH PLAIN/LOGIN is offered (also without TLS) and checked against it.
    """

    def __init__(
        self,
        *,
        security: str = "none",
        certificate: TlsCertificate | None = None,
        users: dict[str, str] | None = None,
        reject: dict[str, str] | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.security = security
        self.certificate = certificate
        self.users = users
        self.reject: dict[str, str] = {k.lower(): v for k, v in (reject or {}).items()}
        self.data_reply: str | None = None
        self.messages: list[ReceivedMail] = []
        self._controller: Any = None

    @property
    def running(self) -> bool:
        """Whether the server currently accepts connections."""
        return self._controller is not None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        users = self.users or {}
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if users.get(login) == auth_data.password.decode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def start(self) -> None:
        """Start listening (again) on the same port."""
        from aiosmtpd.controller import Controller

        if self._controller is not None:
            return
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 10}
        if self.security != "none":
            if self.certificate is None:
                raise ValueError("a TLS server needs a certificate")
            context = self.certificate.server_context()
            kwargs["ssl_context" if self.security == "ssl" else "tls_context"] = context
        if self.users is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        controller = Controller(_RecordingHandler(self), hostname=self.host, port=self.port,
                                **kwargs)  # fmt: skip
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: connections to ``port`` are refused until :meth:`start`."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def settings(self, **extra: Any) -> dict[str, Any]:
        """``[mail.outbound]`` settings of an SMTP transport pointing at this server."""
        values: dict[str, Any] = {
            "host": self.host, "port": self.port, "security": self.security, "timeout": 10,
        }  # fmt: skip
        if self.certificate is not None:
            values["ca_file"] = str(self.certificate.cert)
        values.update(extra)
        return values


@pytest.fixture
def smtp_server_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., SmtpServer]]:
    """Start SMTP servers with options; ``factory(security=..., users=..., reject=...)``.

    ``security="starttls"`` or ``"ssl"`` uses the ``tls_certificate`` fixture. Every server
    started is stopped at the end of the test.
    """
    servers: list[SmtpServer] = []

    def factory(*, security: str = "none", **options: Any) -> SmtpServer:
        certificate = None
        if security != "none":
            certificate = request.getfixturevalue("tls_certificate")
        server = SmtpServer(security=security, certificate=certificate, **options)
        server.start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    """A plain SMTP server (no TLS, no auth) on 127.0.0.1; see :class:`SmtpServer`."""
    return smtp_server_factory()


# --------------------------------------------------------------------------------------------
# IMAP (Dovecot)

DOVECOT = "/usr/sbin/dovecot"

_DOVECOT_CONF = """\
# Test instance: everything below {root}, plain IMAP on loopback only.
instance_name = hdcli-test-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# a refused login answers at once (the default waits two seconds, against guessing)
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


class DovecotServer:
    """A running Dovecot with one mail user; talk to it with imaplib or the helpers below.

    ``host``, ``port``, ``user`` and ``password`` are what an IMAP source needs (plain IMAP,
    ``security = "none"``). The helpers open their own short connection each time.
    ``legacy`` is the same server seen by a second user (own mailbox) to whom Dovecot
    announces only ``IMAP4rev1``: no MOVE, no UIDPLUS, like an old server.
    """

    def __init__(self, root: Path, port: int, user: str, password: str) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = port
        self.user = user
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None
        self.legacy: DovecotServer | None = None

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Settings of an IMAP source reading this server's INBOX."""
        values: dict[str, Any] = {
            "host": self.host, "port": self.port, "security": "none",
            "username": self.user, "password": self.password, "timeout": 10,
        }  # fmt: skip
        values.update(extra)
        return values

    @contextlib.contextmanager
    def connect(self) -> Iterator[imaplib.IMAP4]:
        """A logged-in imaplib connection, logged out afterwards."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            conn.login(self.user, self.password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def folders(self) -> list[str]:
        """Names of all folders of the mailbox."""
        with self.connect() as conn:
            typ, data = conn.list()
        assert typ == "OK", data
        names = []
        for line in data:
            if not isinstance(line, bytes):
                continue
            # (\HasNoChildren) "." Name   or   (\HasNoChildren) "." "Name with space"
            name = line.decode().split(") ", 1)[1].split(" ", 1)[1]
            names.append(name[1:-1] if name.startswith('"') else name)
        return names

    def append(self, raw: bytes, folder: str = "INBOX", flags: str = "") -> None:
        """Store ``raw`` in ``folder`` (created when missing) with optional ``flags``."""
        with self.connect() as conn:
            if folder != "INBOX" and folder not in self.folders():
                conn.create(f'"{folder}"')
            typ, data = conn.append(f'"{folder}"', f"({flags})" if flags else None, None, raw)
        assert typ == "OK", data

    def _fetch(self, folder: str, part: str) -> list[Any]:
        with self.connect() as conn:
            typ, _ = conn.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = conn.uid("SEARCH", "ALL")
            uids = b" ".join(data).split()
            results = []
            for uid in uids:
                typ, fetched = conn.uid("FETCH", uid, f"({part})")
                assert typ == "OK", fetched
                results.append(fetched)
        return results

    def list_folder(self, folder: str = "INBOX") -> list[bytes]:
        """The messages of ``folder`` in UID order (empty for a missing folder)."""
        return [
            bytes(item[1])
            for fetched in self._fetch(folder, "BODY.PEEK[]")
            for item in fetched
            if isinstance(item, tuple)
        ]

    def list_flags(self, folder: str = "INBOX") -> list[set[str]]:
        """The flags of each message of ``folder`` in UID order."""
        result = []
        for fetched in self._fetch(folder, "FLAGS"):
            text = b" ".join(x for x in fetched if isinstance(x, bytes)).decode()
            inner = text.split("FLAGS (", 1)[1].split(")", 1)[0]
            result.append(set(inner.split()))
        return result

    def clear(self) -> None:
        """Delete every folder but INBOX and every message in INBOX."""
        with self.connect() as conn:
            for name in sorted(self.folders(), key=len, reverse=True):
                if name != "INBOX":
                    conn.delete(f'"{name}"')
            conn.select("INBOX")
            _, data = conn.search(None, "ALL")
            if data and data[0]:
                conn.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                conn.expunge()
            conn.close()

    def log(self) -> str:
        """Dovecot's log so far, for failure messages."""
        with contextlib.suppress(OSError):
            return (self.root / "dovecot.log").read_text(errors="replace")
        return ""


def _mail_owner() -> tuple[int, int, str, str]:
    """(uid, gid, internal user, login user) for the test instance.

    Under root the mailbox belongs to ``hdcli-test`` when that user exists, else to ``nobody``
    (never root: Dovecot refuses it and real deployments never do it); Dovecot's own service
    users come from the package. Without root everything runs as the current user.
    """
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        return me.pw_uid, me.pw_gid, me.pw_name, me.pw_name
    try:
        owner = pwd.getpwnam("hdcli-test")
    except KeyError:
        owner = pwd.getpwnam("nobody")
    return owner.pw_uid, owner.pw_gid, "dovecot", "dovenull"


def _wait_for_dovecot(server: DovecotServer, deadline: float) -> None:
    assert server.process is not None
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"Dovecot exited with {server.process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection((server.host, server.port), timeout=2) as sock:
                if sock.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"Dovecot did not answer on port {server.port}:\n{server.log()}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def imap_server() -> Iterator[DovecotServer]:
    """Dovecot on 127.0.0.1 (free port) with its own config, one passwd-file user, Maildir.

    Session-scoped: messages stay between tests; use ``imap_mailbox`` for an empty mailbox.
    Waits up to two minutes for ``/usr/sbin/dovecot`` when a package installation is still
    running; a missing Dovecot skips (fails under CI=true).
    """
    deadline = time.monotonic() + (120 if os.environ.get("CI") == "true" else 5)
    while not os.access(DOVECOT, os.X_OK):
        if time.monotonic() > deadline:
            require_server("Dovecot not found", "apt-get install dovecot-imapd")
        time.sleep(1)
    uid, gid, internal_user, login_user = _mail_owner()
    # Not below pytest's temp dir: that is private to the user running pytest, and Dovecot's
    # processes run as the mail user and as its own service users.
    root = Path(tempfile.mkdtemp(prefix="hdcli-dovecot-"))
    try:
        root.chmod(0o755)
        home = root / "home"
        home.mkdir()
        os.chown(home, uid, gid)
        port = free_port()
        for sub in ("agent", "legacy"):
            (home / sub).mkdir()
            os.chown(home / sub, uid, gid)
        password = secrets.token_hex(8)
        (root / "users").write_text(
            f"agent:{{PLAIN}}{password}:{uid}:{gid}::{home}/agent::\n"
            # A per-user capability list hides MOVE and UIDPLUS from this user.
            f"legacy:{{PLAIN}}{password}:{uid}:{gid}::{home}/legacy::"
            "userdb_imap_capability=IMAP4rev1\n"
        )
        (root / "users").chmod(0o644)
        conf = root / "dovecot.conf"
        internal_group = "dovecot" if internal_user == "dovecot" else str(gid)
        if internal_user != "dovecot":
            import grp

            internal_group = grp.getgrgid(gid).gr_name
        conf.write_text(_DOVECOT_CONF.format(
            root=root, port=port, internal_user=internal_user,
            internal_group=internal_group, login_user=login_user,
        ))  # fmt: skip
        server = DovecotServer(root, port, "agent", password)
        server.legacy = DovecotServer(root, port, "legacy", password)
        with open(root / "stderr.log", "wb") as stderr:
            server.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            _wait_for_dovecot(server, time.monotonic() + 30)
            yield server
        finally:
            server.process.terminate()
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_mailbox(imap_server: DovecotServer) -> DovecotServer:
    """The session's Dovecot with an empty mailbox: no messages, no folder but INBOX."""
    imap_server.clear()
    return imap_server


# --------------------------------------------------------------------------------------------
# HTTP


@dataclass(frozen=True)
class RecordedRequest:
    """One request the HTTP server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    """A loopback HTTP server in a thread.

    ``url`` is its base URL (``http://127.0.0.1:PORT``); ``requests`` lists every request in
    arrival order. Each request is answered with the next status of ``statuses`` (e.g.
    ``[500, 200]``: first fails, then succeeds) and, when the list is used up, with
    ``default_status``; the body is ``response_body``.
    """

    host: str
    port: int
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    response_body: bytes = b'{"ok": true}'
    requests: list[RecordedRequest] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _handler_for(state: HttpServer) -> type[http.server.BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                state.requests.append(
                    RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
                )
                status = state.statuses.pop(0) if state.statuses else state.default_status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.response_body)))
            self.end_headers()
            self.wfile.write(state.response_body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A recording HTTP server on 127.0.0.1; set ``.statuses`` to script its answers."""
    state = HttpServer(host="127.0.0.1", port=0)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    httpd.daemon_threads = True
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, name="http_server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# --------------------------------------------------------------------------------------------
# PostgreSQL

_POSTGRES_HINT = (
    "set HDCLI_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test "
    "(apt-get install postgresql)"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database ``hdcli_test_<random>`` on the server of HDCLI_TEST_POSTGRES_URL.

    The database is created for the session and dropped (with any open connections) at the
    end. Missing variable, driver or server: skip locally, fail under CI=true.
    """
    from urllib.parse import urlsplit, urlunsplit

    base = os.environ.get("HDCLI_TEST_POSTGRES_URL")
    if not base:
        require_server("PostgreSQL not configured", _POSTGRES_HINT)
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        require_server("psycopg not installed", "pip install -e '.[test]'")
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        require_server(f"PostgreSQL not reachable ({exc})".replace("\n", " "), _POSTGRES_HINT)
    name = f"hdcli_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(base)._replace(path="/" + name))
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
