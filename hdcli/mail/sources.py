"""Inbound mail sources: a Maildir on disk and an IMAP folder.

A source hands out messages one at a time and learns only afterwards, through :meth:`done`,
what became of each. The caller calls ``done`` only AFTER it committed the result, so a run
killed at any point leaves every message it did not finish at the source, to be read again by
the next run (which then recognises the ones already committed as duplicates)::

    for msg in source.messages():
        outcome = process_and_commit(msg.raw)       # new, followup, duplicate, ignored, ...
        source.done(msg.ref, outcome)
    source.close()

What ``done`` does per outcome: ``rejected`` moves the message to the review folder,
``quarantined`` to the quarantine folder, every other outcome applies ``on_success`` (move to
the processed folder, flag, or delete). Content of rejected mail thus stays at the source, never
in hdcli.

Errors: unreachable or timing-out servers raise :class:`hdcli.errors.TransientError`;
invalid settings and refused logins raise :class:`hdcli.errors.ConfigError`.
imaplib and ssl are imported only when an IMAP source connects.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hdcli.errors import ConfigError, TransientError

if TYPE_CHECKING:
    import imaplib

__all__ = [
    "OUTCOMES",
    "ImapSource",
    "MaildirSource",
    "Source",
    "SourceMessage",
]

#: Every outcome the caller may pass to :meth:`Source.done`.
OUTCOMES = frozenset({"new", "followup", "duplicate", "ignored", "rejected", "quarantined"})


@dataclass(frozen=True)
class SourceMessage:
    """One message read from a source.

    ``ref`` identifies it within its source for :meth:`Source.done` (a Maildir file name, or
    ``UIDVALIDITY:UID`` for IMAP); ``raw`` is the message exactly as stored.
    """

    ref: str
    raw: bytes


class Source(Protocol):
    """What ``hdcli mail fetch`` needs from a source of inbound mail."""

    name: str

    def messages(self) -> Iterator[SourceMessage]:
        """Yield the messages waiting at the source, one at a time (never all in memory)."""
        ...

    def done(self, ref: str, outcome: str) -> None:
        """Clear message ``ref`` away after its ``outcome`` was committed (see the module doc)."""
        ...

    def close(self) -> None:
        """Release connections. Calling it twice is harmless."""
        ...


def _check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")


def _choice(settings: dict[str, Any], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = str(settings.get(key) or default).lower()
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# Maildir


class MaildirSource:
    """Read ``new/`` and ``cur/`` of the Maildir ``path``.

    Settings: ``path`` (required), ``on_success`` (``move`` | ``delete``, default ``move``),
    ``move_to`` (default ``.Processed``), ``review_folder`` (default ``.Review``) and
    ``quarantine_folder`` (default ``.Quarantine``). Folder settings that are not absolute are
    taken relative to ``path``, so the defaults are Maildir++ subfolders that an IMAP server
    serving the same Maildir shows as folders. Target Maildirs are created when missing.

    Another run may take a message between listing and reading or between reading and
    ``done``; such a message is skipped silently.
    """

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.name = name
        path = settings.get("path")
        if not path:
            raise ConfigError(f"mail source {name!r}: path is required")
        self.path = Path(str(path)).expanduser()
        self.on_success = _choice(settings, "on_success", "move", ("move", "delete"))
        self.move_to = self._folder(settings.get("move_to") or ".Processed")
        self.review_folder = self._folder(settings.get("review_folder") or ".Review")
        self.quarantine_folder = self._folder(settings.get("quarantine_folder") or ".Quarantine")

    def _folder(self, value: str) -> Path:
        folder = Path(str(value)).expanduser()
        return folder if folder.is_absolute() else self.path / folder

    def messages(self) -> Iterator[SourceMessage]:
        """Yield each message of ``new/`` then ``cur/``, oldest name first.

        Hidden files and messages flagged as trashed (``T``) are skipped; ``ref`` is the file
        name (which stays valid when a mail reader moves the file from ``new/`` to ``cur/``).
        """
        if not (self.path / "new").is_dir() and not (self.path / "cur").is_dir():
            raise ConfigError(f"mail source {self.name!r}: {self.path} is not a Maildir")
        for sub in ("new", "cur"):
            try:
                names = sorted(os.listdir(self.path / sub))
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith(".") or "T" in _maildir_flags(name):
                    continue
                try:
                    raw = (self.path / sub / name).read_bytes()
                except (FileNotFoundError, IsADirectoryError):
                    continue  # another run took it between listing and reading
                yield SourceMessage(ref=name, raw=raw)

    def _locate(self, ref: str) -> Path | None:
        if "/" in ref or ref.startswith("."):
            raise ValueError(f"not a message of this Maildir: {ref!r}")
        for sub in ("new", "cur"):
            candidate = self.path / sub / ref
            if candidate.is_file():
                return candidate
        # A mail reader may have moved it to cur/ and changed its flags since.
        unique = ref.split(":", 1)[0]
        for sub in ("cur", "new"):
            with contextlib.suppress(FileNotFoundError):
                for name in os.listdir(self.path / sub):
                    if name.split(":", 1)[0] == unique:
                        return self.path / sub / name
        return None

    def done(self, ref: str, outcome: str) -> None:
        """Move or delete message ``ref`` according to ``outcome``; a vanished one is ignored."""
        _check_outcome(outcome)
        current = self._locate(ref)
        if current is None:
            return  # another run finished it already
        if outcome == "rejected":
            target: Path | None = self.review_folder
        elif outcome == "quarantined":
            target = self.quarantine_folder
        elif self.on_success == "delete":
            target = None
        else:
            target = self.move_to
        if target is None:
            current.unlink(missing_ok=True)
            return
        _maildir_move(current, target, root=self.path)

    def close(self) -> None:
        """Nothing to release for a Maildir."""


def _maildir_flags(name: str) -> str:
    _, _, info = name.partition(":")
    return info[2:] if info.startswith("2,") else ""


def _ensure_maildir(folder: Path, *, root: Path) -> None:
    from hdcli.util import private_dir

    for sub in ("tmp", "new", "cur"):
        private_dir(folder / sub)
    if folder.parent == root and folder.name.startswith("."):
        # Maildir++ marks subfolders so that delivery agents treat them alike.
        (folder / "maildirfolder").touch(exist_ok=True)


def _maildir_move(current: Path, folder: Path, *, root: Path) -> None:
    """Move a message file into ``folder`` keeping its name (and so its flags)."""
    _ensure_maildir(folder, root=root)
    sub = current.parent.name  # new or cur: a message unread before stays unread
    target = folder / sub / current.name
    try:
        os.rename(current, target)
    except FileNotFoundError:
        return  # another run moved it first
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another file system: copy through tmp/ (complete and synced) before removing.
        try:
            raw = current.read_bytes()
        except FileNotFoundError:
            return
        tmp = folder / "tmp" / current.name
        from hdcli.util import write_private

        write_private(tmp, raw)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.rename(tmp, target)
        current.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# IMAP

_IMAP_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
_KEYWORD_RE = re.compile(r"^\$?[A-Za-z0-9_.-]+$")


def _quote(mailbox: str) -> str:
    """An IMAP quoted string with the mailbox name in modified UTF-7 (RFC 3501 5.1.3)."""
    encoded = _utf7_imap(mailbox)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _utf7_imap(text: str) -> str:
    import base64

    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


class ImapSource:
    """Read one folder of an IMAP mailbox over IMAPS, STARTTLS or (on loopback) plain IMAP.

    Settings: ``host``, ``port`` (default 993 for ``ssl``, else 143), ``security`` (``ssl`` |
    ``starttls`` | ``none``, default ``ssl``), ``username``, ``password`` (already resolved),
    ``folder`` (default ``INBOX``), ``on_success`` (``move`` | ``flag`` | ``delete``, default
    ``move``), ``move_to`` (default ``Processed``), ``flag`` (the keyword set by
    ``on_success = "flag"``, default ``$hdcli``; servers that refuse keywords get ``\\Flagged``
    instead), ``review_folder`` (``Review``), ``quarantine_folder`` (``Quarantine``),
    ``timeout`` (seconds, default 60), ``tls_verify`` (default true), ``ca_file``.

    Messages are fetched one by one with ``BODY.PEEK[]`` (reading does not mark them seen);
    ``ref`` is ``UIDVALIDITY:UID``. Messages marked ``\\Deleted`` and, in flag mode, those that
    carry the flag already are skipped. Moves use ``UID MOVE`` when the server offers MOVE,
    else ``UID COPY`` + ``\\Deleted`` + expunge. A run killed between that COPY and the
    expunge leaves the message in the folder and its copy in the target; the next run reads it
    again (a duplicate) and, before it copies, looks for that copy in the target (same
    Message-ID header and size): found, the message is only deleted. Target folders are
    created when missing.
    """

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.name = name
        self.security = _choice(settings, "security", "ssl", ("ssl", "starttls", "none"))
        self.host = str(settings.get("host") or "")
        if not self.host:
            raise ConfigError(f"mail source {name!r}: host is required")
        self.port = int(settings.get("port") or _IMAP_PORTS[self.security])
        self.username = str(settings.get("username") or "")
        self.password = str(settings.get("password") or "")
        self.folder = str(settings.get("folder") or "INBOX")
        self.on_success = _choice(settings, "on_success", "move", ("move", "flag", "delete"))
        self.move_to = str(settings.get("move_to") or "Processed")
        self.review_folder = str(settings.get("review_folder") or "Review")
        self.quarantine_folder = str(settings.get("quarantine_folder") or "Quarantine")
        self.flag = str(settings.get("flag") or "$hdcli")
        if not _KEYWORD_RE.match(self.flag) and self.flag != "\\Flagged":
            raise ConfigError(f"mail source {name!r}: flag {self.flag!r} is not an IMAP keyword")
        try:
            self.timeout = float(settings.get("timeout") or 60)
        except (TypeError, ValueError):
            raise ConfigError(f"mail source {name!r}: timeout must be a number") from None
        self.tls_verify = bool(settings.get("tls_verify", True))
        self.ca_file: str | None = settings.get("ca_file") or None
        self._conn: imaplib.IMAP4 | None = None
        self._uidvalidity = ""
        self._known_folders: set[str] = set()
        self._capabilities: frozenset[str] = frozenset()
        #: UID -> (Message-ID, size) of messages handed out and not yet done
        self._handed_out: dict[str, tuple[str, int]] = {}

    @property
    def _where(self) -> str:
        return f"IMAP server {self.host}:{self.port}"

    # -- connection -----------------------------------------------------------------------

    def _tls_context(self) -> Any:
        from hdcli.mail.tls import tls_context

        return tls_context(self.ca_file, self.tls_verify)

    def check(self) -> str:
        """Log in and select the folder, fetch nothing (``hdcli doctor``)."""
        self._connection()
        return f"{self.name}: logged in, folder {self.folder!r}"

    def _connection(self) -> imaplib.IMAP4:
        if self._conn is None:
            with self._errors():
                self._conn = self._connect()
        return self._conn

    def _connect(self) -> imaplib.IMAP4:
        import imaplib

        conn: imaplib.IMAP4
        if self.security == "ssl":
            conn = imaplib.IMAP4_SSL(
                self.host, self.port, ssl_context=self._tls_context(), timeout=self.timeout
            )
        else:
            conn = imaplib.IMAP4(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                conn.starttls(ssl_context=self._tls_context())
            try:
                conn.login(self.username, self.password)
            except imaplib.IMAP4.error as exc:
                raise ConfigError(
                    f"{self._where} refused the login of {self.username!r}: {_text(exc)}"
                ) from exc
            # Servers announce extensions such as MOVE and UIDPLUS only after login.
            typ, data = conn.capability()
            announced = _first(data[-1:]) if typ == "OK" else ""
            self._capabilities = frozenset(
                (announced or " ".join(conn.capabilities)).upper().split()
            )
            typ, _ = conn.select(_quote(self.folder))
            if typ != "OK":
                raise ConfigError(f"{self._where} has no folder {self.folder!r}")
            self._uidvalidity = _first(conn.response("UIDVALIDITY")[1])
            # Keyword support shows in PERMANENTFLAGS; without \* fall back to \Flagged.
            flags = _first(conn.response("PERMANENTFLAGS")[1])
            if self.flag.startswith("$") and "\\*" not in flags and self.flag not in flags:
                self.flag = "\\Flagged"
        except BaseException:
            with contextlib.suppress(Exception):
                conn.shutdown()
            raise
        return conn

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn socket and protocol failures into hdcli's errors; drop a broken connection."""
        import imaplib
        import ssl

        try:
            yield
        except (imaplib.IMAP4.abort, OSError, ssl.SSLError) as exc:
            self._forget()
            raise TransientError(f"{self._where}: {_text(exc) or type(exc).__name__}") from exc
        except imaplib.IMAP4.error as exc:
            raise TransientError(f"{self._where}: {_text(exc)}") from exc

    def _forget(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.shutdown()

    def _check(self, what: str, result: tuple[str, list[Any]]) -> list[Any]:
        import imaplib

        typ, data = result
        if typ != "OK":
            raise imaplib.IMAP4.error(f"{what} failed: {_first(data)}")
        return data

    # -- reading --------------------------------------------------------------------------

    def _pending_uids(self) -> list[str]:
        conn = self._connection()
        criteria = ["UNDELETED"]
        if self.on_success == "flag":
            criteria += ["UNFLAGGED"] if self.flag == "\\Flagged" else ["UNKEYWORD", self.flag]
        data = self._check("UID SEARCH", conn.uid("SEARCH", *criteria))
        return b" ".join(part for part in data if part).decode("ascii").split()

    def messages(self) -> Iterator[SourceMessage]:
        """Yield the waiting messages of the folder in UID order, fetching one at a time.

        Only the list of UIDs is read up front; a message expunged by another client before
        its turn is skipped.
        """
        with self._errors():
            uids = self._pending_uids()
        for uid in uids:
            with self._errors():
                conn = self._connection()
                data = self._check(
                    "UID FETCH", conn.uid("FETCH", uid, "(UID RFC822.SIZE BODY.PEEK[])")
                )
            raw = _fetched_body(data)
            if raw is None:
                continue
            self._handed_out[uid] = (_message_id(raw), _fetched_size(data) or len(raw))
            yield SourceMessage(ref=f"{self._uidvalidity}:{uid}", raw=raw)

    # -- clearing away --------------------------------------------------------------------

    def done(self, ref: str, outcome: str) -> None:
        """Move, flag or delete message ``ref`` according to ``outcome``.

        A message no longer in the folder is ignored. A ``ref`` from before the folder's
        UIDVALIDITY changed cannot be trusted to name the same message and raises
        :class:`hdcli.errors.TransientError`; the next run reads the folder afresh.
        """
        _check_outcome(outcome)
        validity, _, uid = ref.rpartition(":")
        if not uid.isdigit():
            raise ValueError(f"not a message reference of this source: {ref!r}")
        # new and followup are first results: no earlier run can have copied the message
        maybe_copied = outcome not in ("new", "followup")
        handed_out = self._handed_out.pop(uid, None)
        with self._errors():
            conn = self._connection()
            if validity != self._uidvalidity:
                raise TransientError(
                    f"{self._where}: folder {self.folder!r} changed its UIDVALIDITY "
                    f"({validity} → {self._uidvalidity}); message {uid} left in place"
                )
            seen = handed_out if maybe_copied else None
            if outcome == "rejected":
                self._move(conn, uid, self.review_folder, seen)
            elif outcome == "quarantined":
                self._move(conn, uid, self.quarantine_folder, seen)
            elif self.on_success == "move":
                self._move(conn, uid, self.move_to, seen)
            elif self.on_success == "flag":
                flags = (
                    "(\\Seen \\Flagged)" if self.flag == "\\Flagged" else f"(\\Seen {self.flag})"
                )
                self._check("UID STORE", conn.uid("STORE", uid, "+FLAGS.SILENT", flags))
            else:
                self._delete(conn, uid)

    def _ensure_folder(self, conn: imaplib.IMAP4, folder: str) -> None:
        if folder in self._known_folders:
            return
        typ, data = conn.list('""', _quote(folder))
        if typ != "OK" or not any(data):
            typ, data = conn.create(_quote(folder))
            # Another run may have created it in between; only a failing LIST afterwards counts.
            if typ != "OK":
                typ, listed = conn.list('""', _quote(folder))
                if typ != "OK" or not any(listed):
                    raise ConfigError(
                        f"{self._where} cannot create folder {folder!r}: {_first(data)}"
                    )
            with contextlib.suppress(Exception):
                conn.subscribe(_quote(folder))
        self._known_folders.add(folder)

    def _move(
        self, conn: imaplib.IMAP4, uid: str, folder: str, seen: tuple[str, int] | None
    ) -> None:
        """Move ``uid`` to ``folder``; ``seen`` (Message-ID, size) when an earlier run may
        have copied it there already (without MOVE only: MOVE is atomic)."""
        self._ensure_folder(conn, folder)
        if "MOVE" in self._capabilities:
            self._check("UID MOVE", conn.uid("MOVE", uid, _quote(folder)))
            return
        if seen is None or not self._copied_before(conn, folder, *seen):
            self._check("UID COPY", conn.uid("COPY", uid, _quote(folder)))
        self._delete(conn, uid)

    def _copied_before(self, conn: imaplib.IMAP4, folder: str, message_id: str, size: int) -> bool:
        """Whether ``folder`` holds a message with this Message-ID header and this size: the
        copy of a run killed before its expunge. Looks with EXAMINE (read-only) and selects the
        source folder again. Without a usable Message-ID it cannot tell and says no (the
        message is copied: at worst twice, never lost)."""
        if not message_id or not message_id.isascii() or any(c in message_id for c in "\r\n"):
            return False
        typ, _ = conn.select(_quote(folder), readonly=True)
        found = False
        if typ == "OK":
            data = self._check(
                "UID SEARCH",
                conn.uid(
                    "SEARCH", "HEADER", "Message-ID", _imap_string(message_id),
                    "LARGER", str(size - 1), "SMALLER", str(size + 1),
                ),
            )  # fmt: skip
            found = bool(b" ".join(part for part in data if part).split())
        self._check("SELECT", conn.select(_quote(self.folder)))
        if _first(conn.response("UIDVALIDITY")[1]) != self._uidvalidity:
            self._forget()
            raise TransientError(
                f"{self._where}: folder {self.folder!r} changed its UIDVALIDITY; "
                "its messages are left in place"
            )
        return found

    def _delete(self, conn: imaplib.IMAP4, uid: str) -> None:
        self._check("UID STORE", conn.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)"))
        if "UIDPLUS" in self._capabilities:
            self._check("UID EXPUNGE", conn.uid("EXPUNGE", uid))
        else:
            # Without UIDPLUS the only way is a plain EXPUNGE of everything marked \Deleted.
            self._check("EXPUNGE", conn.expunge())

    def close(self) -> None:
        """Log out. Calling it twice is harmless."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.logout()
        except Exception:
            with contextlib.suppress(Exception):
                conn.shutdown()


def _first(data: list[Any] | None) -> str:
    if not data or data[0] is None:
        return ""
    item = data[0]
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _text(exc: BaseException) -> str:
    return " ".join(
        str(arg.decode("utf-8", "replace") if isinstance(arg, bytes) else arg) for arg in exc.args
    )


def _imap_string(text: str) -> str:
    """An IMAP quoted string (ASCII ``text`` without line breaks)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_MESSAGE_ID_RE = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)
_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)", re.IGNORECASE)


def _message_id(raw: bytes) -> str:
    """The Message-ID of a raw message (unfolded header), or empty."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    match = _MESSAGE_ID_RE.search(re.sub(rb"\r?\n[ \t]+", b" ", head))
    return match.group(1).decode("ascii", "replace") if match else ""


def _fetched_size(data: list[Any]) -> int | None:
    """RFC822.SIZE of a ``UID FETCH`` answer, the server's own count of the message bytes."""
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        if isinstance(head, bytes) and (match := _SIZE_RE.search(head)):
            return int(match.group(1))
    return None


def _fetched_body(data: list[Any]) -> bytes | None:
    """The literal of a ``UID FETCH ... BODY[]`` answer, or None when the message is gone."""
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and b"BODY[]" in item[0].upper():
            body = item[1]
            return bytes(body) if body is not None else None
    return None
