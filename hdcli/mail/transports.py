"""Outbound mail transports: SMTP, a sendmail pipe, a Maildir and a folder of ``.eml`` files.

Every transport is built from the plain settings table ``[mail.outbound]`` (a ``dict``) and offers
the same two methods::

    transport.send(envelope_from, recipients, raw)   # deliver one message, or raise SendError
    transport.close()                                # release connections; safe to call twice

and, optionally, ``transport.send_queued(key, envelope_from, recipients, raw)``, which
``hdcli mail flush`` calls instead of ``send`` where it exists: ``key`` names the queue entry
and is the same on every attempt to deliver it (:meth:`Transport.send_queued`).

Contract of ``send``:

* ``raw`` is the complete message as it is to be delivered. The offline transports (Maildir,
  file) write it byte for byte; SMTP sends it byte for byte except that bare LF line endings
  become CRLF on the wire, as SMTP demands.
* It returns only when the message was handed over for every recipient.
* :class:`TemporarySendError`: nothing is wrong with the message; try again later (server
  down or timing out, a 4xx answer, sendmail exiting 75, a full disk, bad credentials).
* :class:`PermanentSendError`: this message will never go through as it is (a 5xx answer,
  an invalid address). ``reason`` carries the server's answer. When some recipients were
  accepted and others refused, ``accepted`` names those that already got the message, so that
  a retry must not go to them again.

The module imports only the standard library's light parts at import time; smtplib, ssl and
subprocess are imported by the methods that use them, so registering the transports by dotted
name costs nothing at CLI start-up.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hdcli.errors import BackendUnavailable, ConfigError, HdcliError, TransientError, UsageError
from hdcli.util import private_dir, private_file

if TYPE_CHECKING:
    import smtplib

__all__ = [
    "FileTransport",
    "MaildirTransport",
    "PermanentSendError",
    "SendError",
    "SendmailTransport",
    "SmtpTransport",
    "TemporarySendError",
    "Transport",
]

EX_TEMPFAIL = 75
#: sendmail exit codes (sysexits.h) that mean "the system had a problem, the message is fine".
_SENDMAIL_TEMPORARY = frozenset({71, 74, EX_TEMPFAIL})  # EX_OSERR, EX_IOERR, EX_TEMPFAIL

_SECURITY_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


class SendError(HdcliError):
    """A message could not be delivered; ``reason`` says why in one line."""

    def __init__(self, reason: str, *, accepted: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        #: Recipients that did receive the message although the send as a whole failed.
        self.accepted: list[str] = list(accepted or [])


class TemporarySendError(SendError, TransientError):
    """Delivery failed for a reason that may go away: keep the message queued and retry."""


class PermanentSendError(SendError):
    """Delivery failed for good (5xx, invalid address): mark the message failed, with ``reason``."""


class Transport:
    """Base of the built-in transports; documents the interface a plugin transport offers."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = dict(settings)

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Deliver ``raw`` from ``envelope_from`` to every address in ``recipients``."""
        raise NotImplementedError

    def send_queued(self, key: str, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Deliver the queue entry ``key`` like :meth:`send`.

        ``key`` (letters, digits and ``.@-_+=``; from :func:`hdcli.mail.outbound.delivery_key`)
        is the same on every attempt to deliver one entry. A transport that can tell an
        earlier delivery of the same entry uses it so that a retry after a run was killed
        replaces that delivery instead of adding a second one: the Maildir and file transports
        name the file after it. The default just calls :meth:`send`.
        """
        self.send(envelope_from, recipients, raw)

    def close(self) -> None:
        """Release what the transport holds (connections). Calling it twice is harmless."""

    def begin_batch(self) -> None:
        """Allow :meth:`send` to return before the message is durable, until :meth:`sync`.

        For a queue flush that records many deliveries at once: the caller calls :meth:`sync`
        before it marks the messages of the batch sent, and treats a
        :class:`TemporarySendError` from it as "none of them was delivered". Transports that
        deliver synchronously (SMTP, sendmail) ignore it.
        """

    def sync(self) -> None:
        """Make every message sent since :meth:`begin_batch` (or the last sync) durable."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_address(address: str, *, what: str) -> None:
    """Refuse addresses that could smuggle SMTP commands, options or headers."""
    if any(ch in address for ch in "\r\n\0") or any(ch.isspace() for ch in address):
        raise PermanentSendError(f"invalid {what} address {address!r}")


def _check_envelope(envelope_from: str, recipients: list[str]) -> None:
    if not recipients:
        raise PermanentSendError("no recipients")
    _check_address(envelope_from, what="sender")
    for rcpt in recipients:
        if not rcpt:
            raise PermanentSendError("empty recipient address")
        _check_address(rcpt, what="recipient")


def _setting_float(settings: dict[str, Any], key: str, default: float) -> float:
    value = settings.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"mail.outbound.{key} must be a number of seconds, not {value!r}"
        ) from None


def _unique_name() -> str:
    """A file name unique across hosts, processes and calls (the Maildir convention)."""
    now = time.time()
    seconds = int(now)
    micro = int((now - seconds) * 1_000_000)
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
    return f"{seconds}.M{micro}P{os.getpid()}R{os.urandom(8).hex()}.{host}"


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable; platforms that cannot open directories skip it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_new_file(path: Path, raw: bytes, *, sync: bool = True, replace: bool = False) -> None:
    """Create ``path`` exclusively (with ``replace``: or truncate what a killed run left
    there), write ``raw`` completely and (with ``sync``) fsync it."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = private_file(path, flags)
    try:
        view = memoryview(raw)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9.@_+=-]")

#: Maildir's rule for readers: a file in ``tmp/`` untouched this long is left over by a crash.
STALE_TMP_SECONDS = 36 * 3600


def _key_name(key: str) -> str:
    """A file name from a delivery key: safe characters only (no ``/``, no Maildir ``:``),
    never hidden, at most 200 characters."""
    name = _KEY_UNSAFE.sub("_", key)[:200].lstrip(".")
    if not name:
        raise ValueError(f"delivery key {key!r} gives no file name")
    return name


def _remove_stale(folder: Path, match: Callable[[str], bool]) -> None:
    """Remove files in ``folder`` that ``match`` and were not touched for
    :data:`STALE_TMP_SECONDS` (half-written files of runs killed long ago)."""
    cutoff = time.time() - STALE_TMP_SECONDS
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not match(name):
            continue
        path = folder / name
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def _sync_file(path: Path) -> None:
    """Flush a written file's data (and size) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        # fdatasync: the data and the size are what a reader needs; no mtime flush
        getattr(os, "fdatasync", os.fsync)(fd)
    finally:
        os.close(fd)


class _Batch:
    """Files written to a temporary name whose syncing and publishing wait for :meth:`sync`.

    The durability rule of Maildir holds for every file: its data is on disk before its final
    name appears, and the final names are on disk (directory fsync) before ``sync`` returns;
    only the disk flushes are shared by the files of a batch (one directory fsync per batch
    instead of one per message).
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temporary, final)

    def add(self, tmp: Path, final: Path) -> None:
        self.pending.append((tmp, final))

    def sync(self, where: str) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return
        try:
            for tmp, _ in pending:
                _sync_file(tmp)
            for tmp, final in pending:
                os.rename(tmp, final)
            for folder in dict.fromkeys(final.parent for _, final in pending):
                _fsync_dir(folder)
        except OSError as exc:
            for tmp, _ in pending:
                tmp.unlink(missing_ok=True)
            raise TemporarySendError(f"cannot write to {where}: {exc}") from exc


class SmtpTransport(Transport):
    """Send over SMTP, reusing one connection for several messages until :meth:`close`.

    Settings: ``host`` (default ``localhost``), ``port`` (default 465 for ``ssl``, 587 for
    ``starttls``, 25 for ``none``), ``security`` (``ssl`` | ``starttls`` | ``none``, default
    ``starttls``), ``username`` and ``password`` (already resolved; login only when
    ``username`` is set), ``timeout`` in seconds (default 30), ``local_hostname`` (the EHLO
    name), ``tls_verify`` (default true) and ``ca_file`` (extra trusted certificates).
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        self.security = str(settings.get("security", "starttls")).lower()
        if self.security not in _SECURITY_PORTS:
            raise UsageError(
                f"mail.outbound.security must be ssl, starttls or none, not {self.security!r}"
            )
        self.host = str(settings.get("host") or "localhost")
        self.port = int(settings.get("port") or _SECURITY_PORTS[self.security])
        self.timeout = _setting_float(settings, "timeout", 30.0)
        self.username: str | None = settings.get("username") or None
        self.password: str = str(settings.get("password") or "")
        self.local_hostname: str | None = settings.get("local_hostname") or None
        self.tls_verify = bool(settings.get("tls_verify", True))
        self.ca_file: str | None = settings.get("ca_file") or None
        self._conn: smtplib.SMTP | None = None

    @property
    def _where(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def check(self) -> str:
        """Connect, STARTTLS and AUTH as configured, then quit: no mail is sent (``hdcli
        doctor``). ConfigError for a refused login, BackendUnavailable for the rest."""
        import smtplib

        try:
            conn = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(
                f"{self._where} refused the login of {self.username!r} ({exc.smtp_code})"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise BackendUnavailable(f"{self._where}: {reason}") from None
        _quit_quietly(conn)
        done = ["connected"]
        if self.security == "starttls":
            done.append("STARTTLS")
        if self.username:
            done.append(f"AUTH as {self.username}")
        return f"{self._where}: {', '.join(done)}"

    def _tls_context(self) -> Any:
        from hdcli.mail.tls import tls_context

        return tls_context(self.ca_file, self.tls_verify)

    def _connect(self) -> smtplib.SMTP:
        import smtplib

        conn: smtplib.SMTP
        if self.security == "ssl":
            conn = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._tls_context(),
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            conn.ehlo()
            if self.security == "starttls":
                # Never fall back to plain text when STARTTLS was asked for.
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password)
        except BaseException:
            _quit_quietly(conn)
            raise
        return conn

    def _connection(self) -> smtplib.SMTP:
        """The open connection, checked with NOOP because servers drop idle clients."""
        import smtplib

        if self._conn is not None:
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        self._conn = self._connect()
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            _quit_quietly(self._conn)
            self._conn = None

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Send one message; see the module docstring for the errors it raises."""
        import smtplib
        import ssl

        _check_envelope(envelope_from, recipients)
        try:
            conn = self._connection()
            options: list[str] = []
            if any(byte > 0x7F for byte in raw) and conn.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            if not (envelope_from + "".join(recipients)).isascii():
                if not conn.has_extn("smtputf8"):
                    raise PermanentSendError(
                        f"{self._where} does not accept non-ASCII addresses (no SMTPUTF8)"
                    )
                options.append("SMTPUTF8")
            refused = conn.sendmail(envelope_from, recipients, _crlf(raw), mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            raise _refused_error(exc.recipients, accepted=[]) from exc
        except smtplib.SMTPAuthenticationError as exc:
            # Wrong credentials are a configuration problem, not a problem of this message:
            # keep it queued so it goes out once the password is fixed.
            self._drop()
            raise TemporarySendError(
                f"{self._where} refused the login: {_answer(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # SMTPSenderRefused, SMTPDataError, SMTPConnectError, SMTPHeloError and friends.
            self._drop()
            raise _code_error(
                exc.smtp_code, f"{self._where} answered {_answer(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            self._drop()
            raise TemporarySendError(f"{self._where}: {exc}") from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise TemporarySendError(f"{self._where} closed the connection: {exc}") from exc
        except ssl.SSLError as exc:
            self._drop()
            raise TemporarySendError(f"TLS with {self._where} failed: {exc}") from exc
        except TimeoutError as exc:
            self._drop()
            raise TemporarySendError(f"{self._where} timed out: {exc}") from exc
        except OSError as exc:
            self._drop()
            raise TemporarySendError(f"cannot reach {self._where}: {exc}") from exc
        except smtplib.SMTPException as exc:
            self._drop()
            raise TemporarySendError(f"{self._where}: {exc}") from exc
        except UnicodeError as exc:
            self._drop()
            raise PermanentSendError(f"cannot encode the envelope for SMTP: {exc}") from exc
        if refused:
            accepted = [rcpt for rcpt in recipients if rcpt not in refused]
            raise _refused_error(refused, accepted=accepted)

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        self._drop()


def _crlf(raw: bytes) -> bytes:
    """SMTP demands CRLF; smtplib leaves bare CR and LF of bytes alone (and so breaks dot-
    stuffing and invites SMTP smuggling), hence every line ending becomes CRLF here."""
    import re

    return re.sub(rb"\r\n|\r|\n", b"\r\n", raw)


def _quit_quietly(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except Exception:
        conn.close()


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _code_error(code: int, reason: str, *, accepted: list[str] | None = None) -> SendError:
    if 400 <= code < 500 or code < 0:
        return TemporarySendError(reason, accepted=accepted)
    return PermanentSendError(reason, accepted=accepted)


def _refused_error(refused: dict[str, tuple[int, bytes]], *, accepted: list[str]) -> SendError:
    """One error for all refused recipients: permanent if any refusal was permanent."""
    parts = [f"{rcpt}: {_answer(code, text)}" for rcpt, (code, text) in refused.items()]
    reason = "recipient refused: " + "; ".join(parts)
    if accepted:
        reason += " (delivered to " + ", ".join(accepted) + ")"
    worst = max(code for code, _ in refused.values())
    return _code_error(worst, reason, accepted=accepted)


class SendmailTransport(Transport):
    """Pipe each message into a sendmail-compatible program.

    Settings: ``command`` (a string split like a shell would, or a list; default
    ``/usr/sbin/sendmail -oi``) and ``timeout`` in seconds (default 60). The program is run
    without a shell as ``command -f FROM -- RCPT...`` with the message on standard input, so no
    address can become an option or a shell word. Exit 0 is success; 75 (EX_TEMPFAIL), 71 and
    74 are temporary; any other status is permanent, with the program's error output as reason.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        import shlex

        super().__init__(settings)
        command = settings.get("command", "/usr/sbin/sendmail -oi")
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        if not argv:
            raise UsageError("mail.outbound.command is empty")
        self.argv: list[str] = argv
        self.timeout = _setting_float(settings, "timeout", 60.0)

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Run the program once for this message; see the class docstring for the errors."""
        import subprocess

        _check_envelope(envelope_from, recipients)
        argv = [*self.argv, "-f", envelope_from, "--", *recipients]
        try:
            done = subprocess.run(
                argv, input=raw, capture_output=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise TemporarySendError(
                f"{self.argv[0]} did not finish within {self.timeout:g} s"
            ) from exc
        except OSError as exc:
            raise TemporarySendError(f"cannot run {self.argv[0]}: {exc}") from exc
        if done.returncode == 0:
            return
        output = " ".join(done.stderr.decode("utf-8", "replace").split())
        output = output or " ".join(done.stdout.decode("utf-8", "replace").split())
        if done.returncode < 0:
            reason = f"{self.argv[0]} was killed by signal {-done.returncode}"
            raise TemporarySendError(reason)
        reason = f"{self.argv[0]} exited with status {done.returncode}"
        if output:
            reason += f": {output[:500]}"
        if done.returncode in _SENDMAIL_TEMPORARY:
            raise TemporarySendError(reason)
        raise PermanentSendError(reason)


class MaildirTransport(Transport):
    """Deliver into a Maildir (setting ``path``), for offline use and for reading with a MUA.

    Each message goes to ``tmp/``, is fsynced and then renamed into ``new/``, so a reader never
    sees a half-written message. A queued mail (:meth:`send_queued`) is named after its
    delivery key, ``hdcli-<key>``, in ``tmp/`` and in ``new/``: a retry after a run was killed
    overwrites what that run left in ``tmp/`` and replaces its file in ``new/`` (the same
    bytes) instead of adding a second copy; other messages get a unique name. Files in
    ``tmp/`` older than 36 hours are removed (Maildir's rule). ``tmp``, ``new`` and ``cur`` are
    created when missing (0700, as are missing parents). The file holds exactly ``raw`` (mode
    0600); the envelope is not recorded.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        path = settings.get("path")
        if not path:
            raise UsageError("mail.outbound.path is required for the maildir transport")
        self.path = Path(str(path)).expanduser()
        self._batch: _Batch | None = None
        self._made = False

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Write one message into ``new/``; the file name is returned by :meth:`deliver`."""
        self.deliver(raw)

    def send_queued(self, key: str, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Write the queue entry ``key`` as ``new/hdcli-<key>``, replacing an earlier copy."""
        self.deliver(raw, key=key)

    def begin_batch(self) -> None:
        """From now on a message stays in ``tmp/`` until :meth:`sync` publishes the batch."""
        if self._batch is None:
            self._batch = _Batch()

    def sync(self) -> None:
        """fsync the batch's files, move them into ``new/`` and fsync ``new/`` once."""
        if self._batch is not None:
            self._batch.sync(f"Maildir {self.path}")

    def close(self) -> None:
        """Publish what a batch still holds (a caller that never syncs loses nothing)."""
        self.sync()

    def deliver(self, raw: bytes, *, key: str | None = None) -> Path:
        """Write ``raw`` into the Maildir and return the path of the file in ``new/`` (in a
        batch, the path it will have after :meth:`sync`); ``key`` names it (see the class)."""
        try:
            if not self._made:
                for sub in ("tmp", "new", "cur"):
                    private_dir(self.path / sub)
                _remove_stale(self.path / "tmp", lambda name: not name.startswith("."))
                self._made = True
            name = _unique_name() if key is None else f"hdcli-{_key_name(key)}"
            tmp = self.path / "tmp" / name
            new = self.path / "new" / name
            if self._batch is not None:
                _write_new_file(tmp, raw, sync=False, replace=key is not None)
                self._batch.add(tmp, new)
                return new
            _write_new_file(tmp, raw, replace=key is not None)
            os.rename(tmp, new)
            _fsync_dir(self.path / "new")
        except OSError as exc:
            self._made = False
            raise TemporarySendError(f"cannot write to Maildir {self.path}: {exc}") from exc
        return new


class FileTransport(Transport):
    """Write each message as ``<timestamp>-<unique>.eml`` into the folder ``path``.

    The file appears under its final name only when complete (written to a hidden temporary
    name first, fsynced, renamed), holds exactly ``raw``, and names sort in the order the
    messages were sent. A queued mail (:meth:`send_queued`) is written as ``<key>.eml``
    instead (names then sort in the order the mails were queued): a retry after a run was
    killed replaces that file and its hidden temporary file rather than adding new ones.
    Hidden temporary files older than 36 hours are removed. A missing folder is created 0700,
    the files are 0600.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        path = settings.get("path")
        if not path:
            raise UsageError("mail.outbound.path is required for the file transport")
        self.path = Path(str(path)).expanduser()
        self._batch: _Batch | None = None
        self._made = False

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Write one message file."""
        self.deliver(raw)

    def send_queued(self, key: str, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Write the queue entry ``key`` as ``<key>.eml``, replacing an earlier copy."""
        self.deliver(raw, key=key)

    def begin_batch(self) -> None:
        """From now on a message keeps its hidden name until :meth:`sync` publishes the batch."""
        if self._batch is None:
            self._batch = _Batch()

    def sync(self) -> None:
        """fsync the batch's files, give them their final names and fsync the folder once."""
        if self._batch is not None:
            self._batch.sync(str(self.path))

    def close(self) -> None:
        """Publish what a batch still holds."""
        self.sync()

    def deliver(self, raw: bytes, *, key: str | None = None) -> Path:
        """Write ``raw`` to a new ``.eml`` file and return its path (in a batch, the path it
        will have after :meth:`sync`); ``key`` names it (see the class)."""
        if key is None:
            now = time.time()
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
            name = f"{stamp}.{int(now % 1 * 1e6):06d}Z-{os.urandom(6).hex()}.eml"
        else:
            name = f"{_key_name(key)}.eml"
        try:
            if not self._made:
                private_dir(self.path)
                _remove_stale(self.path, lambda n: n.startswith(".") and n.endswith(".eml.tmp"))
                self._made = True
            tmp = self.path / f".{name}.tmp"
            if self._batch is not None:
                _write_new_file(tmp, raw, sync=False, replace=key is not None)
                self._batch.add(tmp, self.path / name)
                return self.path / name
            _write_new_file(tmp, raw, replace=key is not None)
            os.rename(tmp, self.path / name)
            _fsync_dir(self.path)
        except OSError as exc:
            self._made = False
            raise TemporarySendError(f"cannot write to {self.path}: {exc}") from exc
        return self.path / name
