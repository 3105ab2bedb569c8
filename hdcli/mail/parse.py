"""Parse one inbound RFC 5322 message into plain Python values.

Pure functions: no storage, no configuration, no I/O. The ingest pipeline calls
:func:`parse_message` once per message and gets a :class:`ParsedMail` or a
:class:`MailParseError` with a one-line reason, never any other exception.

Why compat32 and not ``email.policy.default``: on real mail the modern policy is about
four times slower and raises on some messages (``UnicodeDecodeError`` on an RFC 2231
parameter in iso-2022-jp, ``KeyError`` from ``get_content()`` on multiparts without a
boundary). The compat32 parser gives us raw header strings; we decode them ourselves
(RFC 2047, 8-bit bytes, unknown charsets) with fallbacks instead of exceptions.

The ``email`` package is imported inside the functions, so importing this module
costs nothing at CLI start-up.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hdcli.errors import HdcliError

if TYPE_CHECKING:
    from email.message import Message

DEFAULT_MAX_ATTACHMENT_SIZE = 10 * 1024 * 1024
DEFAULT_LOOP_HEADER = "X-hdcli-Loop"

# Headers kept verbatim (decoded) in ParsedMail.headers: what loop protection and
# list handling look at. The configured loop header is added per call.
KEPT_HEADERS = (
    "auto-submitted",
    "precedence",
    "x-loop",
    "return-path",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    "list-id",
    "list-unsubscribe",
    "content-type",
    "x-mlserver",
    "mailing-list",
)

# At least one of these must be present for bytes to count as a mail at all.
_MAIL_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "received",
        "return-path",
        "sender",
        "mime-version",
        "content-type",
        "delivered-to",
        "reply-to",
    }
)


class MailParseError(HdcliError):
    """The bytes are not a message hdcli can read.

    ``reason`` is one line for a human (the quarantine log shows it), e.g.
    ``"no headers: not an RFC 5322 message"``.
    """

    def __init__(self, reason: str) -> None:
        reason = " ".join(reason.split()) or "unreadable message"
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    """One attached file, decoded from its transfer encoding."""

    filename: str
    """Sanitised by :func:`sanitize_filename`: safe to use as a single path component."""
    content_type: str
    """Lower-case ``type/subtype``, e.g. ``"application/pdf"``."""
    data: bytes

    @property
    def size(self) -> int:
        """Size of the decoded data in bytes."""
        return len(self.data)


@dataclass
class ParsedMail:
    """Everything hdcli needs from one inbound message.

    Addresses are lower-case bare addresses; Message-IDs are ``"<id@host>"``; every text
    field is a decoded ``str`` with no CR/LF where a header could be written from it.
    """

    key: str
    """Idempotency key: the Message-ID, or ``"sha256:<hex>"`` of the message when it has none.

    The hash is taken over the message with line endings normalised to LF and a leading
    mbox ``From `` line removed, so the same message read over IMAP (CRLF) and from a
    Maildir or mbox file (LF) gets the same key.
    """
    message_id: str | None
    from_addr: str
    from_name: str
    to: list[str]
    cc: list[str]
    subject: str
    date: datetime | None
    """Aware and in UTC, or None when missing or unreadable."""
    in_reply_to: list[str]
    references: list[str]
    attachments: list[Attachment]
    skipped_attachments: list[str]
    """One line per attachment not kept, e.g. ``"big.iso (20971520 bytes): over the size cap"``."""
    headers: dict[str, str]
    """Lower-case name → decoded value (first occurrence) of :data:`KEPT_HEADERS` and of
    the loop header."""
    has_return_path: bool
    return_path: str | None
    """Bare lower-case address; ``""`` for the null sender ``<>``; None when absent."""
    defects: list[str] = field(default_factory=list)
    embedded_message_ids: list[str] = field(default_factory=list)
    """Message-IDs of messages embedded in message/rfc822 or text/rfc822-headers parts
    (for a bounce: the original message)."""
    content_type: str = "text/plain"
    """Lower-case ``type/subtype`` of the top-level part."""
    text_parts: list[tuple[str, Message]] = field(default_factory=list, repr=False, compare=False)
    """The body parts (``text/plain`` or ``text/html``, part), still encoded: the bodies are
    decoded on first use (a rejected stranger's body is never needed)."""

    @functools.cached_property
    def body_html(self) -> str | None:
        """The HTML body parts, joined; None when there are none. LF line ends."""
        html = [text for ctype, text in self._bodies if ctype == "text/html"]
        return "\n".join(html) if html else None

    @functools.cached_property
    def body_text(self) -> str:
        """The text/plain body; for HTML-only mail a text rendering of the HTML. LF line ends."""
        plain = [text for ctype, text in self._bodies if ctype == "text/plain"]
        text = "\n".join(t.strip("\n") for t in plain).strip() if plain else ""
        if not text and self.body_html is not None:
            text = html_to_text(self.body_html)
        return text

    @functools.cached_property
    def _bodies(self) -> list[tuple[str, str]]:
        bodies = [(ctype, _part_text(part)) for ctype, part in self.text_parts]
        self.text_parts = []  # decoded once; the parsed parts are not needed any more
        return bodies


# --------------------------------------------------------------------------- helpers

_CTRL_RUN = re.compile(r"[ ]*[\x00-\x1f\x7f\x85\u2028\u2029][\x00-\x20\x7f\x85\u2028\u2029]*")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*?)\?=")
_MSGID_BRACKETED = re.compile(r"<([^<>]*)>")
_WS = re.compile(r"\s+")
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_MBOX_FROM = re.compile(rb"From [^\n]*\n")
_LATIN1_ALIASES = frozenset(
    {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1", "iso-ir-100", "cp819"}
)
_ASCII_ALIASES = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "us", "646"})


def _fold(text: str) -> str:
    """Fold every run of control characters (CR, LF, TAB, …) into one space; strip."""
    return _CTRL_RUN.sub(" ", text).strip()


def _lookup_charset(charset: str | None) -> str | None:
    """A Python codec name for a MIME charset label, or None when unknown."""
    import codecs

    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    label = label.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*de
    if not label or label in ("unknown-8bit", "x-unknown", "unknown", "8bit", "default"):
        return None
    if label in _ASCII_ALIASES:
        return "ascii"
    if label in _LATIN1_ALIASES:
        # What senders label latin-1 is in practice windows-1252 (€, curly quotes): the
        # same choice browsers make (WHATWG encoding standard).
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode text bytes in the declared ``charset``, never failing.

    Unknown, missing or wrong labels fall back to UTF-8, then windows-1252, then latin-1
    (which decodes anything).
    """
    codec = _lookup_charset(charset)
    if codec is not None and codec != "ascii":
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
        except LookupError:  # pragma: no cover - codec vanished between lookup and use
            codec = None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec is not None and codec not in ("ascii", "utf-8"):
        return data.decode(codec, errors="replace")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _unsurrogate(value: str) -> str:
    """Turn raw 8-bit header bytes (surrogate-escaped by the parser) back into text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", errors="surrogateescape")
        return decode_bytes(raw, None)
    return value


def _word_bytes(encoding: str, text: str) -> bytes | None:
    import base64
    import binascii

    try:
        if encoding in "Bb":
            text = "".join(text.split())
            return base64.b64decode(text + "=" * (-len(text) % 4))
        return _qp_header_decode(text)
    except (binascii.Error, ValueError):
        return None


def _qp_header_decode(text: str) -> bytes:
    raw = text.replace("_", " ").encode("latin-1", errors="replace")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x3D and i + 2 < n and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _is_hex(b: bytes) -> bool:
    return len(b) == 2 and all(ch in b"0123456789abcdefABCDEF" for ch in b)


def decode_header_value(value: str | None) -> str:
    """Decode a raw header value: 8-bit bytes, RFC 2047 encoded words; fold control runs.

    Whitespace between two adjacent encoded words is dropped (RFC 2047 section 6.2), and
    adjacent words in the same charset are joined as bytes before decoding, because real
    senders split one multi-byte character across two words. A broken encoded word is
    kept as it is rather than raising.
    """
    if not value:
        return ""
    if not isinstance(value, str):
        value = str(value)
    value = _unsurrogate(value)
    if "=?" in value:
        value = _decode_encoded_words(value)
    return _fold(value)


def _decode_encoded_words(value: str) -> str:
    out: list[str] = []
    pending = bytearray()
    pending_cs: str | None = None  # charset of the encoded word just before, if any
    pos = 0

    def flush() -> None:
        nonlocal pending_cs
        if pending_cs is not None:
            out.append(decode_bytes(bytes(pending), pending_cs))
            pending.clear()
            pending_cs = None

    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        pos = m.end()
        data = _word_bytes(m.group(2), m.group(3))
        if data is None:
            flush()
            out.append(gap + m.group(0))
            continue
        charset = m.group(1).lower()
        if pending_cs is not None and not gap.strip():
            if charset == pending_cs:
                pending.extend(data)
                continue
            flush()
        else:
            flush()
            out.append(gap)
        pending_cs = charset
        pending.extend(data)
    flush()
    out.append(value[pos:])
    return "".join(out)


def normalise_msgid(value: str | None) -> str | None:
    """Return a Message-ID as ``"<id@host>"``, or None when ``value`` holds none.

    Takes the first ``<…>`` group; without brackets, the first whitespace-free token.
    Whitespace inside the brackets (from folding) is removed.
    """
    if not value:
        return None
    value = _unsurrogate(value)
    m = _MSGID_BRACKETED.search(value)
    if m:
        inner = _WS.sub("", m.group(1))
    else:
        tokens = value.split()
        inner = tokens[0].strip("<>,;") if tokens else ""
    inner = _CTRL_RUN.sub("", inner)
    return f"<{inner}>" if inner else None


def extract_msgids(value: str | None) -> list[str]:
    """Every Message-ID in a References / In-Reply-To value, in order, without duplicates.

    Bracketed ids are taken; a value without brackets falls back to the whitespace or
    comma separated tokens that contain ``@``.
    """
    if not value:
        return []
    value = _unsurrogate(value)
    found = [_WS.sub("", g) for g in _MSGID_BRACKETED.findall(value)]
    if not found:
        found = [t.strip("<>") for t in re.split(r"[\s,;]+", value) if "@" in t]
    out: list[str] = []
    seen: set[str] = set()
    for inner in found:
        inner = _CTRL_RUN.sub("", inner)
        if not inner:
            continue
        mid = f"<{inner}>"
        if mid not in seen:
            seen.add(mid)
            out.append(mid)
    return out


_WIN_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
_FILENAME_BAD = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029<>:"|?*]')
MAX_FILENAME_LENGTH = 180


def sanitize_filename(name: str | None, fallback: str = "attachment") -> str:
    """A file name safe to use as one path component on any system.

    Keeps only the last component of a path (``"../../etc/passwd"`` → ``"passwd"``,
    ``"C:\\\\x\\\\a.doc"`` → ``"a.doc"``), removes format characters (bidi overrides, isolates
    and marks, zero-width characters: ``"\\u202efdp.exe"`` is stored as ``"fdp.exe"``, which
    is what it is), replaces control characters and characters
    Windows forbids with ``_``, removes leading dots and spaces, caps the length at
    :data:`MAX_FILENAME_LENGTH` characters keeping the extension, and never returns an
    empty or reserved name (``fallback`` is used, sanitised, when nothing is left).
    """
    import unicodedata

    text = "" if name is None else str(name)
    text = unicodedata.normalize("NFC", _unsurrogate(text))
    # Format characters (category Cf) make a name look like another: gone, not replaced.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    # CR/LF/TAB runs (folded headers, hostile names) become one space first.
    text = re.sub(r"[\r\n\t]+", " ", text)
    parts = [p for p in re.split(r"[/\\]", text) if p.strip(" .")]
    text = parts[-1] if parts else ""
    text = _FILENAME_BAD.sub("_", text)
    text = text.strip().lstrip(". ").rstrip(". ")
    text = re.sub(r"\s+", " ", text)
    if len(text) > MAX_FILENAME_LENGTH:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16:
            text = stem[: MAX_FILENAME_LENGTH - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            text = text[:MAX_FILENAME_LENGTH].rstrip(". ")
    if text.split(".", 1)[0].strip().lower() in _WIN_RESERVED:
        text = "_" + text
    if not text:
        if fallback == "attachment":
            return "attachment"
        return sanitize_filename(fallback, "attachment")
    return text


# --------------------------------------------------------------------------- HTML


_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5",
        "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer", "dl",
        "dt", "dd", "address", "center", "form", "title",
    }
)  # fmt: skip
_HIDDEN_TAGS = frozenset({"script", "style", "head", "template", "noscript"})


@functools.cache
def _renderer_class() -> type[Any]:
    # Built on first use so that importing this module does not import html.parser.
    from html.parser import HTMLParser

    class _Renderer(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.out: list[str] = []
            self.skip = 0
            self.href: str | None = None
            self.link_text: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in _HIDDEN_TAGS:
                self.skip += 1
            elif tag in _BLOCK_TAGS:
                self.out.append("\n")
                if tag == "li":
                    self.out.append("- ")
            elif tag == "a":
                self.href = dict(attrs).get("href")
                self.link_text = []
            elif tag in ("td", "th"):
                self.out.append("\t")
            elif tag == "img":
                alt = dict(attrs).get("alt")
                if alt and not self.skip:
                    self.out.append(alt)

        def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag not in _HIDDEN_TAGS:
                self.handle_starttag(tag, attrs)

        def handle_endtag(self, tag: str) -> None:
            if tag in _HIDDEN_TAGS:
                self.skip = max(0, self.skip - 1)
            elif tag in _BLOCK_TAGS:
                self.out.append("\n")
            elif tag == "a":
                href = self.href
                text = "".join(self.link_text).strip()
                if href and not href.startswith(("#", "mailto:", "cid:")) and href != text:
                    self.out.append(f" <{href}>")
                self.href = None

        def handle_data(self, data: str) -> None:
            if self.skip:
                return
            self.out.append(data)
            if self.href is not None:
                self.link_text.append(data)

    return _Renderer


def html_to_text(html: str) -> str:
    """A readable plain-text rendering of an HTML body (stdlib ``html.parser``).

    Drops script, style and head; block elements and ``<br>`` start new lines; list items
    get ``"- "``; links keep their target in angle brackets when it differs from their text.
    """
    renderer = _renderer_class()()
    try:
        renderer.feed(html)
        renderer.close()
    except Exception:  # html.parser is lenient; a failure here must not lose the mail
        return _fold_lines(re.sub(r"<[^>]*>", " ", html))
    return _fold_lines("".join(renderer.out))


def _fold_lines(text: str) -> str:
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = re.sub(r"[ \t\u00a0]+", " ", line).strip()
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# --------------------------------------------------------------------------- parsing

_EXT_BY_TYPE = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "text/xml": ".xml",
    "text/rfc822-headers": ".txt",
    "text/x-vcard": ".vcf",
    "text/vcard": ".vcf",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "message/feedback-report": ".txt",
    "application/pdf": ".pdf",
    "application/xml": ".xml",
    "application/zip": ".zip",
    "application/msword": ".doc",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/tiff": ".tif",
}
_FALLBACK_STEM = {
    "message/rfc822": "forwarded",
    "text/rfc822-headers": "original-headers",
    "message/delivery-status": "delivery-status",
    "message/disposition-notification": "disposition-notification",
    "message/feedback-report": "feedback-report",
}


def _fallback_name(content_type: str) -> str:
    stem = _FALLBACK_STEM.get(content_type, "attachment")
    return stem + _EXT_BY_TYPE.get(content_type, ".bin")


def _normalise_eol(raw: bytes) -> tuple[bytes, bool]:
    """LF line ends everywhere; report whether bare CR (old Mac) line ends were found."""
    if b"\r" not in raw:
        return raw, False
    lf = raw.replace(b"\r\n", b"\n")
    bare_cr = b"\r" in lf
    if bare_cr:
        lf = lf.replace(b"\r", b"\n")
    return lf, bare_cr


def _check_header_block(data: bytes) -> None:
    """Refuse input that cannot be a mail, with a reason, before the parser sees it."""
    if not data.strip():
        raise MailParseError("empty message")
    end = data.find(b"\n\n")
    head = data if end < 0 else data[:end]
    if b"\x00" in head:
        raise MailParseError("binary data in the header block: not an RFC 5322 message")
    if not _HEADER_LINE.match(data):
        raise MailParseError("no headers: not an RFC 5322 message")


# The common shapes of an address header, ``Name <local@domain>``, ``"Name" <local@domain>``
# and ``local@domain``, read without the stdlib's character-by-character address parser (the
# most expensive step of parsing a typical mail). Only values these patterns match in full take
# this way, and for them the result is the one getaddresses gives; anything else (groups,
# comments, several addresses, folding, escapes, odd spacing) goes to getaddresses.
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_ADDR_SPEC = _DOT_ATOM + r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PHRASE_WORD = r"[^()<>@,:;\"\[\]\\\s]+"
_SIMPLE_ADDRESS = re.compile(
    rf"[ \t]*(?:\"([^\"\\\r\n]*)\"|({_PHRASE_WORD}(?: {_PHRASE_WORD})*))?[ \t]*"
    rf"<({_ADDR_SPEC})>[ \t]*|[ \t]*({_ADDR_SPEC})[ \t]*"
)


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _simple_address(value: str) -> tuple[str, str] | None:
    """``(name, address)`` of a header value in one of the common shapes, else None."""
    if "\n" in value:
        if '"' in value:
            return None
        value = _FOLD.sub("", value)  # unfolding: a line break before blanks goes
    m = _SIMPLE_ADDRESS.fullmatch(value)
    if m is None:
        return None
    quoted, phrase, addr, bare = m.groups()
    if bare is not None:
        return "", bare
    return (quoted if quoted is not None else phrase or ""), addr


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    if not values:
        return []
    texts = [_unsurrogate(v) for v in values]
    fast = [_simple_address(t) for t in texts]
    if all(pair is not None for pair in fast):
        return [pair for pair in fast if pair is not None]
    from email.utils import getaddresses

    try:
        pairs = getaddresses(texts)
    except Exception:
        return []
    return [(name, addr) for name, addr in pairs if addr or name]


def _bare(addr: str) -> str:
    return _CTRL_RUN.sub("", addr).strip().strip("<>").lower()


def _bare_list(values: list[str]) -> list[str]:
    out: list[str] = []
    for _, addr in _addresses(values):
        bare = _bare(addr)
        if bare and bare not in out:
            out.append(bare)
    return out


def _raw_get(msg: Message, name: str) -> str | None:
    """First raw value of a header, without compat32's Header wrapping of 8-bit values."""
    lname = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lname:
            return value if isinstance(value, str) else str(value)
    return None


def _parse_date(value: str | None) -> datetime | None:
    from email.utils import parsedate_to_datetime

    if not value:
        return None
    try:
        dt = parsedate_to_datetime(_fold(_unsurrogate(value)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:  # "-0000": time is UTC, zone unknown (RFC 5322 3.3)
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _part_type(part: Message) -> str:
    ctype = part.get_content_type()
    return ctype.lower() if isinstance(ctype, str) else "text/plain"


def _part_text(part: Message) -> str:
    """A text body part decoded from its transfer encoding and charset, with LF line ends."""
    text = decode_bytes(_decoded_payload(part), part.get_content_charset())
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decoded_payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload.encode("utf-8", errors="surrogateescape")
        return b""
    return bytes(str(data), "utf-8", errors="surrogateescape")


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return None
    return decode_header_value(name) or None


def _subparts(payload: object) -> list[Message]:
    """The sub-messages of a parsed payload (empty for a string payload)."""
    from email.message import Message

    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


def _message_bytes(part: Message) -> bytes:
    """The embedded message of a message/rfc822 part, as bytes."""
    subs = _subparts(part.get_payload())
    if not subs:
        return _decoded_payload(part)
    inner = subs[0]
    out: list[str] = []
    _serialise(inner, out, 0)
    return "".join(out).encode("utf-8", errors="surrogateescape")


def _serialise(msg: Message, out: list[str], depth: int) -> None:
    """Write a parsed part back as text from its raw headers and payloads.

    compat32 keeps raw header values and raw payload strings, so this reproduces the
    original closely; unlike ``email.generator`` it does not refold headers, which made
    it the most expensive step of parsing a bounce.
    """
    for name, value in msg.raw_items():
        out.append(f"{name}: {value}\n")
    out.append("\n")
    payload = msg.get_payload()
    if isinstance(payload, str):
        out.append(payload)
        return
    subs = _subparts(payload)
    if depth > 50:
        return
    boundary = msg.get_boundary() if msg.get_content_maintype() == "multipart" else None
    if boundary is None:
        for sub in subs:
            _serialise(sub, out, depth + 1)
        return
    if msg.preamble:
        out.append(msg.preamble + "\n")
    for sub in subs:
        out.append(f"--{boundary}\n")
        _serialise(sub, out, depth + 1)
        out.append("\n")
    out.append(f"--{boundary}--\n")
    if msg.epilogue:
        out.append(msg.epilogue)


def _headers_block_ids(text: str) -> list[str]:
    ids: list[str] = []
    for m in re.finditer(r"(?im)^message-id[ \t]*:[ \t]*((?:.*)(?:\n[ \t].*)*)", text):
        mid = normalise_msgid(m.group(1))
        if mid and mid not in ids:
            ids.append(mid)
    return ids


class _Walker:
    """Collects bodies and attachments from the MIME tree in one pass."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.text_parts: list[tuple[str, Message]] = []
        self.attachments: list[Attachment] = []
        self.skipped: list[str] = []
        self.embedded_ids: list[str] = []
        self.defects: list[str] = []

    def walk(self, part: Message, depth: int = 0) -> None:
        for defect in getattr(part, "defects", ()):
            self.defects.append(type(defect).__name__)
        if depth > 50:
            self.defects.append("MIME nesting too deep: inner parts ignored")
            return
        ctype = _part_type(part)
        payload = part.get_payload()
        if isinstance(payload, list) and ctype != "message/rfc822":
            # multipart/* (and message/* parts the parser split into sub-messages)
            subs = _subparts(payload)
            if ctype.startswith("multipart/") or not subs:
                for sub in subs:
                    self.walk(sub, depth + 1)
                return
            self._attach(part, ctype, self._render_message_list(subs))
            return
        if ctype == "message/rfc822":
            subs = _subparts(payload)
            if subs:
                mid = normalise_msgid(_raw_get(subs[0], "message-id"))
                if mid and mid not in self.embedded_ids:
                    self.embedded_ids.append(mid)
            self._attach(part, ctype, _message_bytes(part))
            return
        disposition = (_raw_get(part, "content-disposition") or "").split(";", 1)[0].strip().lower()
        name = _filename(part)
        is_attachment = disposition == "attachment" or name is not None
        if ctype.startswith("multipart/"):
            # a multipart without a usable boundary: its payload is plain text
            ctype = "text/plain"
        if not is_attachment and ctype in ("text/plain", "text/html"):
            self.text_parts.append((ctype, part))  # decoded when the body is asked for
            return
        data = _decoded_payload(part)
        if ctype == "text/rfc822-headers":
            for mid in _headers_block_ids(decode_bytes(data, None)):
                if mid not in self.embedded_ids:
                    self.embedded_ids.append(mid)
        self._attach(part, ctype, data, name)

    def _render_message_list(self, payload: list[Message]) -> bytes:
        # message/delivery-status and similar: blocks of header fields
        chunks = []
        for block in payload:
            lines = [f"{k}: {_unsurrogate(str(v))}" for k, v in block.raw_items()]
            chunks.append("\n".join(lines))
        return "\n\n".join(chunks).encode("utf-8", errors="replace")

    def _attach(self, part: Message, ctype: str, data: bytes, name: str | None = None) -> None:
        if name is None:
            name = _filename(part)
        filename = sanitize_filename(name, _fallback_name(ctype))
        if len(data) > self.max_size:
            self.skipped.append(f"{filename} ({len(data)} bytes): over the size cap")
            return
        self.attachments.append(Attachment(filename=filename, content_type=ctype, data=data))


def parse_message(
    raw: bytes,
    *,
    max_attachment_size: int = DEFAULT_MAX_ATTACHMENT_SIZE,
    loop_header: str = DEFAULT_LOOP_HEADER,
) -> ParsedMail:
    """Parse the bytes of one message.

    Raises:
        MailParseError: the input is not a mail (empty, binary, no header block) or could
            not be read; ``.reason`` says why in one line. No other exception escapes.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MailParseError(f"expected bytes, got {type(raw).__name__}")
    try:
        return _parse(bytes(raw), max_attachment_size, loop_header)
    except MailParseError:
        raise
    except RecursionError as exc:
        raise MailParseError("MIME structure nested too deeply") from exc
    except Exception as exc:
        raise MailParseError(f"unreadable message: {type(exc).__name__}: {exc}") from exc


def _parse(raw: bytes, max_size: int, loop_header: str) -> ParsedMail:
    # compat32 is the parser's default policy; naming it would import email.policy (and its
    # header registry), which the MTA pipe pays for on every message.
    from email.parser import BytesParser

    data, bare_cr = _normalise_eol(raw)
    m = _MBOX_FROM.match(data)
    body_start = m.end() if m else 0
    _check_header_block(data[body_start:])

    msg = BytesParser().parsebytes(data)

    # One pass over the raw header fields: first occurrence of each, all of a few.
    first: dict[str, str] = {}
    multi: dict[str, list[str]] = {"to": [], "cc": []}
    for name, value in msg.raw_items():
        lname = name.lower()
        if not isinstance(value, str):
            value = str(value)
        if lname in multi:
            multi[lname].append(value)
        first.setdefault(lname, value)
    if not _MAIL_HEADERS.intersection(first):
        raise MailParseError("no mail headers (From, To, Subject, Date …): not an RFC 5322 message")

    message_id = normalise_msgid(first.get("message-id"))
    if message_id is not None:
        key = message_id
    else:
        key = "sha256:" + hashlib.sha256(data[body_start:]).hexdigest()

    from_pairs = _addresses([first["from"]]) if "from" in first else []
    if not from_pairs and "sender" in first:
        from_pairs = _addresses([first["sender"]])
    from_name, from_addr = ("", "")
    if from_pairs:
        from_name, from_addr = from_pairs[0]
        from_name = decode_header_value(from_name)
        from_addr = _bare(from_addr)

    kept = {h: decode_header_value(first[h]) for h in KEPT_HEADERS if h in first}
    loop_lname = loop_header.lower()
    if loop_lname in first:
        kept[loop_lname] = decode_header_value(first[loop_lname])

    has_return_path = "return-path" in first
    return_path: str | None = None
    if has_return_path:
        rp = _unsurrogate(first["return-path"]).strip()
        pairs = _addresses([rp]) if rp.strip("<> \t\n") else []
        return_path = _bare(pairs[0][1]) if pairs else ""

    walker = _Walker(max_size)
    walker.walk(msg)
    defects = list(dict.fromkeys(walker.defects))
    if bare_cr:
        defects.append("bare CR line endings (converted to LF)")

    return ParsedMail(
        key=key,
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        to=_bare_list(multi["to"]),
        cc=_bare_list(multi["cc"]),
        subject=decode_header_value(first.get("subject")),
        date=_parse_date(first.get("date")),
        in_reply_to=extract_msgids(first.get("in-reply-to")),
        references=extract_msgids(first.get("references")),
        attachments=walker.attachments,
        skipped_attachments=walker.skipped,
        headers=kept,
        has_return_path=has_return_path,
        return_path=return_path,
        defects=defects,
        embedded_message_ids=walker.embedded_ids,
        content_type=_part_type(msg),
        text_parts=walker.text_parts,
    )
