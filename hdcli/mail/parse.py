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
from collections.abc import Iterator
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
    """The sender's usable address (see :func:`usable_address`), "" when there is none."""
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
    sender_problem: str | None = None
    """Why there is no usable sender (``from_addr`` is then ""), one line for the result,
    e.g. ``"no usable sender: the From header has an address with an empty local part"``;
    None when there is one. A message without a usable sender never becomes a contact and
    is never answered."""
    sender_source: str = "from"
    """Where ``from_addr`` came from: one of :data:`SENDER_SOURCES`, "" when there is none."""
    from_raw: str = ""
    """The first address of the sender headers as written (lower-case), also when it is not
    usable: for recognising senders such as ``MAILER-DAEMON``, never for writing to."""
    addresses_not_kept: dict[str, int] = field(default_factory=dict)
    """Lower-case header name → number of addresses beyond the cap of the parse (counted,
    not kept), e.g. ``{"cc": 99000}``."""
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


# Labels whose bytes are really a superset's: what senders label GB2312 is GBK or GB18030,
# Shift_JIS is Windows' cp932, EUC-KR is cp949 (the WHATWG encoding standard does the same).
_SUPERSETS = {
    "gb2312": "gb18030",
    "euc-cn": "gb18030",
    "euc_cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "iso-8859-8-i": "iso8859_8",
    "unicode-1-1-utf-7": "utf_7",
}
# ISO-2022-JP as written by real clients uses the extensions (NEC, IBM, JIS X 0212); some
# label Shift_JIS bytes as ISO-2022-JP (Zammad tries the same chain).
_ISO2022JP_CHAIN = ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3")
# Codecs Python knows that are not the character set of a text: decoding with them gives
# nothing a person can read (``undefined`` raises on every byte).
_NOT_TEXT = frozenset(
    {
        "punycode",
        "idna",
        "undefined",
        "raw_unicode_escape",
        "unicode_escape",
        "mbcs",
        "oem",
        "charmap",
        "palmos",
    }
)
# Mail charsets the detector may answer with (it guesses exotic code pages on short text).
_DETECT_CANDIDATES = (
    "utf_8",
    "cp1252",
    "cp1250",
    "cp1251",
    "koi8_r",
    "cp932",
    "euc_jp",
    "gb18030",
    "big5hkscs",
    "cp949",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp874",
)
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3,}")


def _lookup_charset(charset: str | None) -> str | None:
    """A Python codec name for a MIME charset label, or None when unknown or not a text charset."""
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
    label = _SUPERSETS.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if info.name in _NOT_TEXT or not getattr(info, "_is_text_encoding", True):
        return None
    return _SUPERSETS.get(info.name, info.name)


def _try_decode(data: bytes, codec: str) -> str | None:
    codecs = _ISO2022JP_CHAIN if codec.startswith("iso2022_jp") else (codec,)
    for name in codecs:
        try:
            return data.decode(name)
        except (UnicodeError, LookupError):
            continue
    return None


def _detect(data: bytes, sample: bytes | None = None) -> str | None:
    """``data`` decoded in the charset a detector finds for ``sample`` (default ``data``).

    charset-normalizer is imported only here, when a message has 8-bit text in no charset
    that fits. None when it finds nothing that decodes ``data``.
    """
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    probe = sample if sample and _HIGH_RUN.search(sample) else data
    try:
        best = from_bytes(probe[:65536], cp_isolation=list(_DETECT_CANDIDATES)).best()
    except Exception:  # the detector must never lose a mail
        return None
    if best is None or best.encoding in _NOT_TEXT:
        return None
    return _try_decode(data, best.encoding)


def decode_bytes(data: bytes, charset: str | None, *, sample: bytes | None = None) -> str:
    """Decode text bytes in the declared ``charset``, never failing.

    Labels are read as the superset real senders mean (GB2312 as GB18030, Shift_JIS as
    cp932, ISO-2022-JP with its extensions, then as Shift_JIS). Unknown, missing, wrong and
    non-text labels (``punycode``, ``idna``, ``undefined``) fall back to UTF-8; then, for
    8-bit text that is not Latin with accents (runs of three or more 8-bit bytes), to what a
    detector finds (charset-normalizer, over ``sample`` when given: more text guesses
    better); last to windows-1252 (never failing).
    """
    codec = _lookup_charset(charset)
    if codec is not None and codec != "ascii":
        text = _try_decode(data, codec)
        if text is not None:
            return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec is not None and codec.startswith("iso2022_jp"):
        text = _try_decode(data, "cp932")  # Shift_JIS bytes labelled ISO-2022-JP
        if text is not None:
            return text
    if _HIGH_RUN.search(data):
        text = _detect(data, sample)
        if text is not None:
            return text
    if codec is not None and codec not in ("ascii", "utf-8"):
        return data.decode(codec, errors="replace")
    return data.decode("cp1252", errors="replace")


def _unsurrogate(value: str, charset: str | None = None, sample: bytes | None = None) -> str:
    """Turn raw 8-bit header bytes (surrogate-escaped by the parser) back into text.

    The bytes are read in ``charset`` (the message's declared body charset), then as
    UTF-8, then as :func:`decode_bytes` guesses.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = value.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:  # surrogates that were not raw bytes
            return value.encode("utf-8", errors="replace").decode("utf-8")
        return decode_bytes(raw, charset, sample=sample)
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


#: How often a header value is decoded again when its decoded text is itself encoded words
#: (double-encoding senders and gateways).
MAX_DECODE_ROUNDS = 3


def decode_header_value(
    value: str | None, charset: str | None = None, sample: bytes | None = None
) -> str:
    """Decode a raw header value: 8-bit bytes, RFC 2047 encoded words; fold control runs.

    Raw 8-bit bytes are read in ``charset`` (the message's declared body charset) first,
    see :func:`_unsurrogate`. Whitespace between two adjacent encoded words is dropped
    (RFC 2047 section 6.2), and adjacent words in the same charset are joined as bytes
    before decoding, because real senders split one multi-byte character across two words.
    A value whose decoded text is again encoded words is decoded again, up to
    :data:`MAX_DECODE_ROUNDS` times; then every control character (CR and LF included)
    becomes a space, so the result is always one line. A broken encoded word is kept as
    it is rather than raising.
    """
    if not value:
        return ""
    if not isinstance(value, str):
        value = str(value)
    value = _unsurrogate(value, charset, sample)
    for _ in range(MAX_DECODE_ROUNDS):
        if "=?" not in value:
            break
        decoded = _decode_encoded_words(value)
        if decoded == value:
            break
        value = decoded
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


_MSGID_UNSAFE = re.compile(r"[^!-;=?-~]")


def _msgid_inner(inner: str) -> str:
    """The inside of a Message-ID as ASCII: what is not printable ASCII is percent-encoded.

    Raw 8-bit bytes are encoded byte by byte (not decoded first), so the same id always
    becomes the same text whatever charset the message claims; outbound In-Reply-To and
    References built from it never fail to encode.
    """
    inner = _CTRL_RUN.sub("", _WS.sub("", inner))
    if not _MSGID_UNSAFE.search(inner):
        return inner
    raw = inner.encode("utf-8", errors="surrogateescape") if _encodable(inner) else b""
    if not raw:
        raw = inner.encode("utf-8", errors="replace")
    return "".join(
        chr(b) if 0x21 <= b <= 0x7E and b not in (0x3C, 0x3E) else f"%{b:02X}" for b in raw
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def normalise_msgid(value: str | None) -> str | None:
    """Return a Message-ID as ``"<id@host>"``, or None when ``value`` holds none.

    Takes the first ``<…>`` group; without brackets, the first whitespace-free token.
    Whitespace inside the brackets (from folding) is removed; anything else that is not
    printable ASCII is percent-encoded (:func:`_msgid_inner`).
    """
    if not value:
        return None
    m = _MSGID_BRACKETED.search(value)
    if m:
        inner = m.group(1)
    else:
        tokens = value.split()
        inner = tokens[0].strip("<>,;") if tokens else ""
    inner = _msgid_inner(inner)
    return f"<{inner}>" if inner else None


def extract_msgids(value: str | None, limit: int = 1000) -> list[str]:
    """Every Message-ID in a References / In-Reply-To value, in order, without duplicates.

    Bracketed ids are taken; a value without brackets falls back to the whitespace or
    comma separated tokens that contain ``@``. At most ``limit`` ids (the first ones).
    """
    if not value:
        return []
    found: list[str] = []
    for m in _MSGID_BRACKETED.finditer(value):
        found.append(m.group(1))
        if len(found) >= limit:
            break
    if not found:
        found = [t.strip("<>") for t in re.split(r"[\s,;]+", value) if "@" in t][:limit]
    out: list[str] = []
    seen: set[str] = set()
    for inner in found:
        inner = _msgid_inner(inner)
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


#: A run of base64 lines at least this long in a body is lifted out of the message before the
#: stdlib parser sees it (see :func:`_lift_bodies`); smaller ones are parsed as they are.
LIFT_MIN_BYTES = 256 * 1024
# A run of lines of base64 characters only (no blank, colon or dash: never a header field,
# a boundary or an empty line), each line at most 998 characters (RFC 5322).
_B64_RUN = re.compile(rb"\n(?:[A-Za-z0-9+/=]{1,998}+\r?\n)++")
_FIRST_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")
_ALL_BLANK = re.compile(rb"[ \t\n\r\x0b\x0c]*\Z")
_CHUNK = 1024 * 1024


@dataclass
class _Lifted:
    """Big base64 bodies cut out of a message before parsing, each replaced by a token line.

    The stdlib parser turns a body into one ``str`` (and first a list of its lines), and
    decoding makes bytes of it again: three copies of an attachment beside the raw bytes. A
    lifted body is decoded straight from a slice of the raw bytes instead. The tokens carry
    a random part, so no sender can write one.
    """

    raw: bytes
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    prefix: str = ""

    def run_text(self, token: str) -> str:
        start, end = self.spans[token]
        return self.raw[start:end].replace(b"\r\n", b"\n").decode("ascii")

    def restore(self, text: str) -> str:
        """``text`` with every token in it replaced by the lines it stands for."""
        for token in self.spans:
            if token in text:
                run = self.run_text(token)
                text = text.replace(token + "\n", run).replace(token, run[:-1])
        return text

    def resolve(self, part: Message) -> None:
        """Give a leaf part its body back: a base64 body that is one lifted run is left as a
        slice of the raw bytes (decoded on use, see :func:`_decoded_payload`); any other
        payload holding a token gets the lines it stands for, as parsed without lifting."""
        payload = getattr(part, "_payload", None)
        if not self.spans or not isinstance(payload, str) or self.prefix not in payload:
            return
        token = payload.strip()
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
        if token in self.spans and cte == "base64":
            start, end = self.spans[token]
            part._hdcli_span = memoryview(self.raw)[start:end]  # type: ignore[attr-defined]
            return
        part._payload = self.restore(payload)  # type: ignore[attr-defined]

    def restore_tree(self, part: Message, depth: int = 0) -> None:
        """Put the lifted lines back everywhere in ``part`` (an embedded message is kept as
        the text it was sent as)."""
        if not self.spans or depth > 60:
            return
        for name in ("preamble", "epilogue"):
            value = getattr(part, name, None)
            if isinstance(value, str) and self.prefix in value:
                setattr(part, name, self.restore(value))
        payload = getattr(part, "_payload", None)
        if isinstance(payload, str):
            if self.prefix in payload:
                part._payload = self.restore(payload)  # type: ignore[attr-defined]
            return
        for sub in _subparts(payload):
            self.restore_tree(sub, depth + 1)


def _lift_bodies(raw: bytes, min_size: int) -> tuple[bytes, _Lifted]:
    """``raw`` with every run of base64 lines of ``min_size`` bytes or more after the first
    empty line replaced by a token line, and what was lifted (nothing: ``raw`` itself)."""
    import secrets

    lifted = _Lifted(raw)
    if len(raw) < min_size:
        return raw, lifted
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    if not ends:
        return raw, lifted
    lifted.prefix = f"hdcli-lifted-{secrets.token_hex(8)}-"
    pieces: list[bytes] = []
    last = 0
    for m in _B64_RUN.finditer(raw, min(ends)):
        start, end = m.start() + 1, m.end()
        if end - start < min_size:
            continue
        token = f"{lifted.prefix}{len(lifted.spans)}"
        pieces.append(raw[last:start])
        pieces.append(token.encode("ascii") + b"\n")
        lifted.spans[token] = (start, end)
        last = end
    if not lifted.spans:
        return raw, lifted
    pieces.append(raw[last:])
    return b"".join(pieces), lifted


def _sha256_normalised(raw: bytes, start: int) -> str:
    """The SHA-256 of ``raw[start:]`` with line ends normalised to LF, in chunks (no copy)."""
    digest = hashlib.sha256()
    view = memoryview(raw)
    carry = b""
    for i in range(start, len(raw), _CHUNK):
        chunk = carry + bytes(view[i : i + _CHUNK])
        carry = b""
        if chunk.endswith(b"\r"):
            chunk, carry = chunk[:-1], b"\r"
        digest.update(chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    if carry:
        digest.update(b"\n")
    return digest.hexdigest()


def _b64_decode(span: memoryview) -> bytes:
    """A lifted base64 body decoded, as ``get_payload(decode=True)`` decodes it."""
    import binascii

    try:
        return binascii.a2b_base64(span)
    except binascii.Error:  # bad padding: the stdlib's own recovery
        import importlib

        decode_b = importlib.import_module("email._encoded_words").decode_b
        value: bytes = decode_b(b"".join(bytes(span).splitlines()))[0]
        return value


def _normalise_eol(raw: bytes) -> tuple[bytes, bool]:
    """LF line ends everywhere; report whether bare CR (old Mac) line ends were found."""
    if b"\r" not in raw:
        return raw, False
    lf = raw.replace(b"\r\n", b"\n")
    bare_cr = b"\r" in lf
    if bare_cr:
        lf = lf.replace(b"\r", b"\n")
    return lf, bare_cr


#: Caps on the header block of a message (and of every MIME part's). Fields beyond either
#: cap are dropped and the count recorded in :attr:`ParsedMail.defects`, except the first
#: of each header hdcli reads (:data:`_ESSENTIAL`), kept up to :data:`ESSENTIAL_FIELD_MAX`
#: bytes, so that a flood of headers never costs a customer's mail its sender or subject.
DEFAULT_MAX_HEADER_COUNT = 1000
DEFAULT_MAX_HEADER_BYTES = 4 * 1024 * 1024
#: Addresses kept per address header (To, Cc, From …); the rest are only counted.
DEFAULT_MAX_ADDRESSES = 1000
ESSENTIAL_FIELD_MAX = 64 * 1024
# Non-header lines skipped before the header block (an mbox "From " line, a client's
# "---- Original message ----" banner, a blank line); the header block must follow.
_MAX_LEADING_JUNK = 3
# A malformed line inside the header block is dropped when a header field follows it
# within this many lines; otherwise the body starts there (it lacked its blank line).
_LOOKAHEAD = 2

_ESSENTIAL = frozenset(
    {
        *KEPT_HEADERS,
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "content-transfer-encoding",
        "content-disposition",
    }
)
_FIELD_NAME = re.compile(rb"([!-9;-~]+)[ \t]*:")
_BLANKISH = re.compile(rb"[ \t\r\x0b\x0c]*")


@dataclass
class _HeaderBlock:
    """The header block of a message as found, recovered and capped by :func:`_scan_headers`."""

    data: bytes
    """A clean message for the stdlib parser: the kept header fields, a blank line, the body."""
    envelope: str | None = None
    """The address of a leading mbox ``From `` line, if any."""
    defects: list[str] = field(default_factory=list)


def _lines(data: bytes, start: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each line from ``start`` on (``end`` after its LF)."""
    n = len(data)
    pos = start
    while pos < n:
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl + 1
        yield pos, end
        pos = end


def _scan_headers(
    data: bytes,
    max_count: int = DEFAULT_MAX_HEADER_COUNT,
    max_bytes: int = DEFAULT_MAX_HEADER_BYTES,
) -> _HeaderBlock:
    """Find the header block the way Zammad (the Ruby mail gem) and Znuny read real mail.

    One pass over the lines, linear in the size of the header block:

    - up to :data:`_MAX_LEADING_JUNK` lines before the first header field that are not
      fields are skipped (an mbox ``From `` line, whose address is kept as the envelope
      sender; a ``---- Original message ----`` banner); the stdlib would read all of the
      message as body;
    - a line inside the block that is no field (no name and colon), and a line that only
      looks empty (blanks, a lone CR), is dropped when a field follows within
      :data:`_LOOKAHEAD` lines: the fields after it are still headers; otherwise the body
      starts at that line;
    - ``Name : value`` (blanks before the colon) is read as ``Name: value``;
    - fields beyond ``max_count`` fields or ``max_bytes`` bytes are dropped (see
      :data:`DEFAULT_MAX_HEADER_COUNT`).

    Raises MailParseError when there is no header field at all.
    """
    lines = _lines(data, 0)
    pending: list[tuple[int, int]] = []  # lines read ahead
    block = _HeaderBlock(b"")

    def next_line() -> tuple[int, int] | None:
        if pending:
            return pending.pop(0)
        return next(lines, None)

    def peek(k: int) -> tuple[int, int] | None:
        while len(pending) <= k:
            line = next(lines, None)
            if line is None:
                return None
            pending.append(line)
        return pending[k]

    def is_field(line: tuple[int, int] | None) -> bool:
        return line is not None and _FIELD_NAME.match(data, line[0], line[1]) is not None

    # 1. leading lines that are not header fields
    first = peek(0)
    skipped = 0
    while first is not None and not is_field(first) and skipped < _MAX_LEADING_JUNK:
        if not any(is_field(peek(k)) for k in range(1, _MAX_LEADING_JUNK - skipped + 1)):
            break
        junk = data[first[0] : first[1]]
        if junk.startswith(b"From ") and first[0] == 0:
            token = junk[5:].split(None, 1)
            if token and b"@" in token[0]:
                block.envelope = token[0].decode("ascii", errors="replace").strip("<>")
        elif junk.strip():
            block.defects.append("text before the header block skipped")
        next_line()
        skipped += 1
        first = peek(0)
    if not is_field(first):
        raise MailParseError("no headers: not an RFC 5322 message")

    # 2. the fields
    out: list[bytes] = []
    current: list[bytes] = []
    count = total = dropped = dropped_bytes = 0
    seen_essential: set[bytes] = set()
    body_start = len(data)
    malformed = 0

    def close() -> None:
        nonlocal count, total, dropped, dropped_bytes
        if not current:
            return
        raw = b"".join(current)
        current.clear()
        m = _FIELD_NAME.match(raw)
        assert m is not None
        name = m.group(1).lower()
        if m.end() != len(m.group(1)) + 1:  # "Name : value"
            raw = m.group(1) + b":" + raw[m.end() :]
        if not raw.endswith(b"\n"):
            raw += b"\n"
        essential = name.decode("ascii", "replace") in _ESSENTIAL and name not in seen_essential
        if count < max_count and total + len(raw) <= max_bytes:
            pass
        elif essential:
            if len(raw) > ESSENTIAL_FIELD_MAX:
                raw = raw[: ESSENTIAL_FIELD_MAX - 1] + b"\n"
        else:
            dropped += 1
            dropped_bytes += len(raw)
            return
        if essential:
            seen_essential.add(name)
        count += 1
        total += len(raw)
        out.append(raw)

    while True:
        line = next_line()
        if line is None:
            break
        start, end = line
        text = data[start:end]
        if text in (b"\n", b""):
            body_start = end
            break
        if text[0] in b" \t" and text.strip(b" \t\r\x0b\x0c\n"):
            if current:
                current.append(text)
            continue
        if _BLANKISH.fullmatch(text.rstrip(b"\n")) is not None or not is_field(line):
            if any(is_field(peek(k)) for k in range(_LOOKAHEAD)):
                malformed += 1
                continue
            if _BLANKISH.fullmatch(text.rstrip(b"\n")) is not None:
                body_start = end  # a line that only looks empty ends the block
            else:
                body_start = start  # no blank line before the body
                block.defects.append("no blank line between header and body")
            break
        close()
        current.append(text)
    close()
    if malformed:
        block.defects.append(f"{malformed} malformed header line(s) skipped")
    if dropped:
        block.defects.append(
            f"header cap: {dropped} header field(s) ({dropped_bytes} bytes) beyond "
            f"{max_count} fields or {max_bytes} bytes dropped"
        )
    out.append(b"\n")
    out.append(data[body_start:])
    block.data = b"".join(out)
    return block


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


#: the characters that change the state of an address list: everything else is skipped at C
#: speed (a backslash takes the character after it with it)
_ADDRESS_SPECIALS = re.compile(r'\\.?|["(),<>]', re.DOTALL)


def _split_addresses(values: list[str], cap: int) -> tuple[list[str], int]:
    """The first ``cap`` address items of header values, and how many more there are.

    One linear scan: items end at a comma outside quotes, comments and angle brackets.
    The stdlib's address parser (and any per-address work) then only ever sees the kept
    items, each short, so a header of 100,000 addresses costs time in proportion to its
    size. A group's name and its closing ``;`` stay with its first and last member,
    which :func:`email.utils.getaddresses` reads the same way.
    """
    items: list[str] = []
    extra = 0
    for value in values:
        start = 0
        depth_comment = 0
        in_quote = angle = False
        for m in _ADDRESS_SPECIALS.finditer(value):
            c = m.group()
            if c[0] == "\\":
                continue
            if in_quote:
                if c == '"':
                    in_quote = False
            elif c == '"':
                in_quote = True
            elif c == "(":
                depth_comment += 1
            elif c == ")" and depth_comment:
                depth_comment -= 1
            elif depth_comment:
                pass
            elif c == "<":
                angle = True
            elif c == ">":
                angle = False
            elif c == "," and not angle:
                i = m.start()
                if value[start:i].strip():
                    if len(items) < cap:
                        items.append(value[start:i])
                    else:
                        extra += 1
                start = i + 1
        if value[start:].strip():
            if len(items) < cap:
                items.append(value[start:])
            else:
                extra += 1
    return items, extra


def _address_pairs(
    values: list[str], cap: int = DEFAULT_MAX_ADDRESSES, charset: str | None = None
) -> tuple[list[tuple[str, str]], int]:
    """``(name, address)`` pairs of address header values, at most ``cap``; and the count of
    the addresses beyond the cap (counted, not parsed)."""
    texts = [_unsurrogate(v, charset) for v in values]
    items, extra = _split_addresses(texts, cap)
    if len(items) <= 64:
        pairs = _addresses(texts if not extra else items)
    else:
        pairs = []
        for item in items:  # short items: the stdlib's parser stays linear on each
            pairs.extend(_addresses([item]))
    if len(pairs) > cap:  # an item the stdlib reads as several addresses
        extra += len(pairs) - cap
        pairs = pairs[:cap]
    return pairs, extra


def _bare_list(values: list[str], cap: int = DEFAULT_MAX_ADDRESSES) -> tuple[list[str], int]:
    """Lower-case bare addresses, without duplicates, at most ``cap``; and how many more."""
    pairs, extra = _address_pairs(values, cap)
    out: dict[str, None] = {}
    for _, addr in pairs:
        bare = _bare(addr)
        if bare:
            out.setdefault(bare)
    return list(out), extra


_LOCAL_OK = re.compile(r"[!-~]+")
_DOMAIN_OK = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def usable_address(addr: str) -> tuple[str, str | None]:
    """``(address, None)`` for an address mail can be sent to, else ``("", reason)``.

    The address is lower-case with an ASCII domain (an internationalised domain is
    written in IDNA). Unusable: no ``@``, an empty local part (``@kunde.example``), a local
    part with 8-bit or control characters or blanks, a domain that is empty or not a
    host name.
    """
    bare = _bare(addr)
    if not bare:
        return "", "no address"
    local, at, domain = bare.rpartition("@")
    if not at:
        return "", "an address without a domain"
    if not local:
        return "", "an address with an empty local part"
    if not _LOCAL_OK.fullmatch(local):
        return "", "an address with 8-bit or blank characters in its local part"
    if not domain:
        return "", "an address without a domain"
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return "", "an address with an unreadable domain"
    domain = domain.rstrip(".")
    if not _DOMAIN_OK.fullmatch(domain) or len(domain) > 253:
        return "", "an address whose domain is not a host name"
    return f"{local}@{domain}", None


#: Where the sender is looked for, in order: what real clients and servers put there when
#: there is no usable From (Zammad reads From, Reply-To, Return-Path, Sender likewise).
SENDER_SOURCES = ("from", "sender", "reply-to", "mbox", "return-path")
_SENDER_LABEL = {
    "from": "From header",
    "sender": "Sender header",
    "reply-to": "Reply-To header",
    "mbox": "mbox From line",
    "return-path": "Return-Path header",
}


def _find_sender(
    first: dict[str, str], envelope: str | None, charset: str | None
) -> tuple[str, str, str, str, str | None]:
    """``(name, address, raw address, source, problem)`` of the message's sender.

    The first usable address of :data:`SENDER_SOURCES`; ``address`` is "" and ``problem``
    says why when there is none (the From header's problem when it had one).
    """
    problem: str | None = None
    raw_addr = ""
    raw_name = ""
    for source in SENDER_SOURCES:
        value = envelope if source == "mbox" else first.get(source)
        if value is None or not value.strip("<> \t\n"):
            if source == "from" and value is not None:
                problem = "the From header is empty"
            continue
        pairs, _ = _address_pairs([value], 20, charset)
        if not any(addr for _, addr in pairs):
            # the stdlib gives no address for "<@kunde.example>" or "Anna <anna@>": take
            # what is written, to say what is wrong with it
            text = _fold(_unsurrogate(value, charset))
            m = _MSGID_BRACKETED.search(text)
            pairs = [("", m.group(1) if m else text.split()[-1] if text.split() else "")]
        for name, addr in pairs:
            if not raw_addr and not raw_name:
                raw_addr, raw_name = _bare(addr), name
            usable, why = usable_address(addr)
            if usable:
                return decode_header_value(name, charset), usable, raw_addr, source, None
            if problem is None and why is not None:
                problem = f"the {_SENDER_LABEL[source]} has {why}"
        if not pairs and problem is None:
            problem = f"the {_SENDER_LABEL[source]} holds no address"
    return (
        decode_header_value(raw_name, charset),
        "",
        raw_addr,
        "",
        "no usable sender: " + (problem or "no From, Sender, Reply-To or Return-Path"),
    )


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


def _payload(part: Message) -> Any:
    """The payload as parsed: sub-messages or the raw string (8-bit bytes surrogate-escaped).

    ``get_payload()`` decodes 8-bit text in the part's charset label and raises on labels
    such as ``idna``; the raw string is what the decoding here works on anyway.
    """
    try:
        return part.get_payload()
    except (UnicodeError, LookupError):
        return getattr(part, "_payload", "")


def _decoded_payload(part: Message) -> bytes:
    span = getattr(part, "_hdcli_span", None)
    if span is not None:
        return _b64_decode(span)
    try:
        data = part.get_payload(decode=True)
    except (UnicodeError, LookupError):  # a charset label such as idna or punycode
        data = None
    if isinstance(data, bytes):
        return data
    if data is None:
        payload = _payload(part)
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
    subs = _subparts(_payload(part))
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
    payload = _payload(msg)
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

    def __init__(
        self, max_size: int, max_count: int, max_bytes: int, lifted: _Lifted | None = None
    ) -> None:
        self.lifted = lifted if lifted is not None else _Lifted(b"")
        self.max_size = max_size
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.text_parts: list[tuple[str, Message]] = []
        self.attachments: list[Attachment] = []
        self.skipped: list[str] = []
        self.embedded_ids: list[str] = []
        self.defects: list[str] = []
        self.dropped = self.dropped_bytes = 0

    def cap_headers(self, part: Message) -> None:
        """Apply the header caps to a MIME part's own header block (the top level's was capped
        before parsing): fields beyond them are dropped, except the first of each field hdcli
        reads (:data:`_ESSENTIAL`), so a flood of fields never costs a part its type. Linear in
        the number of fields; the stdlib's lookups on the part are linear in what is kept."""
        fields: list[tuple[str, Any]] = getattr(part, "_headers", [])
        if len(fields) <= self.max_count and sum(len(n) + len(str(v)) for n, v in fields) <= (
            self.max_bytes
        ):
            return
        kept: list[tuple[str, Any]] = []
        seen: set[str] = set()
        total = 0
        for name, value in fields:
            size = len(name) + len(str(value)) + 3
            lname = name.lower()
            essential = lname in _ESSENTIAL and lname not in seen
            if essential:
                seen.add(lname)
            if essential or (len(kept) < self.max_count and total + size <= self.max_bytes):
                kept.append((name, value))
                total += size
            else:
                self.dropped += 1
                self.dropped_bytes += size
        part._headers = kept  # type: ignore[attr-defined]

    def walk(self, part: Message, depth: int = 0) -> None:
        for defect in getattr(part, "defects", ()):
            self.defects.append(type(defect).__name__)
        if depth > 0:
            self.cap_headers(part)
        if depth > 50:
            self.defects.append("MIME nesting too deep: inner parts ignored")
            return
        self.lifted.resolve(part)
        ctype = _part_type(part)
        payload = _payload(part)
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
            self.lifted.restore_tree(part)
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
    max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_addresses: int = DEFAULT_MAX_ADDRESSES,
) -> ParsedMail:
    """Parse the bytes of one message.

    ``max_header_count`` and ``max_header_bytes`` cap the top-level header block (see
    :data:`DEFAULT_MAX_HEADER_COUNT`); ``max_addresses`` the addresses kept per address
    header (the rest are counted in :attr:`ParsedMail.addresses_not_kept`). Time is linear
    in the size of the message.

    Raises:
        MailParseError: the input is not a mail (empty, binary, no header block) or could
            not be read; ``.reason`` says why in one line. No other exception escapes.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MailParseError(f"expected bytes, got {type(raw).__name__}")
    caps = (max(1, max_header_count), max(1024, max_header_bytes), max(1, max_addresses))
    try:
        return _parse(bytes(raw), max_attachment_size, loop_header, caps)
    except MailParseError:
        raise
    except RecursionError as exc:
        raise MailParseError("MIME structure nested too deeply") from exc
    except Exception as exc:
        raise MailParseError(f"unreadable message: {type(exc).__name__}: {exc}") from exc


def _check_header_block(data: bytes, start: int = 0) -> None:
    """Refuse input that cannot be a mail, with a reason, before the parser sees it.

    Looks at ``data[start:]`` without copying it."""
    if _ALL_BLANK.match(data, start):
        raise MailParseError("empty message")
    end = data.find(b"\n\n", start)
    if data.find(b"\x00", start, len(data) if end < 0 else end) >= 0:
        raise MailParseError("binary data in the header block: not an RFC 5322 message")


def _header_charset(msg: Message, text_parts: list[tuple[str, Message]]) -> str | None:
    """The charset the message declares for its text: raw 8-bit headers are read in it."""
    for part in (msg, *(p for _, p in text_parts[:3])):
        try:
            charset = part.get_content_charset()
        except Exception:
            charset = None
        if isinstance(charset, str) and _lookup_charset(charset) not in (None, "ascii"):
            return charset
    return None


def _eight_bit_sample(msg: Message, limit: int = 4096) -> bytes:
    """The raw 8-bit bytes of the top-level header values: more text for the detector."""
    chunks: list[bytes] = []
    size = 0
    for _, value in msg.raw_items():
        if isinstance(value, str) and not value.isascii():
            try:
                chunk = value.encode("utf-8", errors="surrogateescape")
            except UnicodeEncodeError:
                continue
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    return b" ".join(chunks)


def _parse(raw: bytes, max_size: int, loop_header: str, caps: tuple[int, int, int]) -> ParsedMail:
    # compat32 is the parser's default policy; naming it would import email.policy (and its
    # header registry), which the MTA pipe pays for on every message.
    from email.parser import BytesParser

    max_count, max_bytes, max_addresses = caps
    # Big base64 bodies are cut out first: what is left is copied and parsed, they are
    # decoded from the raw bytes when asked for (see _Lifted).
    small, lifted = _lift_bodies(raw, LIFT_MIN_BYTES)
    data, bare_cr = _normalise_eol(small)
    del small
    m = _MBOX_FROM.match(data)
    body_start = m.end() if m else 0
    del m  # a match keeps its subject alive
    _check_header_block(data, body_start)
    block = _scan_headers(data, max_count, max_bytes)

    msg = BytesParser().parsebytes(block.data)
    block.data = b""

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
    if not _MAIL_HEADERS.intersection(first) and block.envelope is None:
        raise MailParseError("no mail headers (From, To, Subject, Date …): not an RFC 5322 message")

    message_id = normalise_msgid(first.get("message-id"))
    if message_id is not None:
        key = message_id
    elif not lifted.spans:
        key = "sha256:" + hashlib.sha256(memoryview(data)[body_start:]).hexdigest()
    else:  # the hash of the message as sent, not of what is left of it
        first_line = _FIRST_LINE.match(raw) if body_start else None
        key = "sha256:" + _sha256_normalised(raw, first_line.end() if first_line else 0)
    del data

    walker = _Walker(max_size, max_count, max_bytes, lifted)
    walker.walk(msg)
    if walker.dropped:
        walker.defects.append(
            f"header cap: {walker.dropped} header field(s) ({walker.dropped_bytes} bytes) of MIME "
            f"parts beyond {max_count} fields or {max_bytes} bytes per part dropped"
        )
    charset = _header_charset(msg, walker.text_parts)
    sample = _eight_bit_sample(msg) if charset is None else None

    def text(value: str | None) -> str:
        return decode_header_value(value, charset, sample)

    from_name, from_addr, from_raw, sender_source, sender_problem = _find_sender(
        first, block.envelope, charset
    )

    kept = {h: text(first[h]) for h in KEPT_HEADERS if h in first}
    loop_lname = loop_header.lower()
    if loop_lname in first:
        kept[loop_lname] = text(first[loop_lname])

    has_return_path = "return-path" in first
    return_path: str | None = None
    if has_return_path:
        rp = _unsurrogate(first["return-path"], charset).strip()
        pairs = _address_pairs([rp], 1)[0] if rp.strip("<> \t\n") else []
        return_path = _bare(pairs[0][1]) if pairs else ""

    to, to_extra = _bare_list([_unsurrogate(v, charset) for v in multi["to"]], max_addresses)
    cc, cc_extra = _bare_list([_unsurrogate(v, charset) for v in multi["cc"]], max_addresses)
    not_kept = {k: v for k, v in (("to", to_extra), ("cc", cc_extra)) if v}

    defects = list(dict.fromkeys([*block.defects, *walker.defects]))
    if bare_cr:
        defects.append("bare CR line endings (converted to LF)")
    for name, extra in not_kept.items():
        defects.append(
            f"address cap: {extra} {name.capitalize()} address(es) beyond {max_addresses} "
            "counted, not kept"
        )
    if sender_problem is not None:
        defects.append(sender_problem)
    elif sender_source != "from":
        defects.append(f"no usable From: sender taken from the {_SENDER_LABEL[sender_source]}")

    return ParsedMail(
        key=key,
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        to=to,
        cc=cc,
        subject=text(first.get("subject")),
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
        sender_problem=sender_problem,
        sender_source=sender_source,
        from_raw=from_raw,
        addresses_not_kept=not_kept,
    )
