"""The configuration's schema: every key, its type, its default and the values it allows.

Three kinds of keys:

- the fixed keys of :data:`SCHEMA` (``storage.url``, ``mail.outbound.port`` …);
- ``[mail.sources.NAME]`` tables: :data:`SOURCE_KEYS` for every source, plus the settings of
  its type (:data:`SOURCE_TYPES`: ``imap`` and ``maildir``); a source type that a plugin
  registers brings settings of its own, which are the plugin's to check;
- ``[[routing.rules]]`` tables: :data:`RULE_KEYS`.

``[plugins.NAME]`` tables belong to the plugins and are free-form.

:func:`validate` checks a whole configuration (the layers already merged) and returns the
converted values with every problem as an :class:`Issue` naming the key. It runs at every
start, so it stays cheap: a value equal to its default is not checked again, a time zone is
looked up (importing :mod:`zoneinfo`) only when set to another value, and names that plugins
register (ticket-number formats, mail transports, source types, storage schemes) are checked
only for their form; :func:`unregistered` asks the plugins about them (``hdcli config
check``, ``hdcli config set``), and using an unknown one raises ConfigError as well.

At import this module needs only :mod:`hdcli.models` (and, through it, :mod:`hdcli.errors`);
the few checks that need more import it when they run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from hdcli.models import (
    CLOSED_POLICIES,
    IMAP_ON_SUCCESS,
    IMPACTS,
    MAILDIR_ON_SUCCESS,
    PRIORITIES,
    TLS_SECURITIES,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


class Invalid(ValueError):
    """A value that is not allowed; the message says what is."""


def shown(value: Any) -> str:
    """A value as a message shows it: short, on one line."""
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- rules: what a value of a key may be ------------------------------------------------------
class Rule:
    """A check beyond the type; ``allowed`` says in words what passes."""

    allowed = ""

    def __call__(self, value: Any) -> None:
        raise NotImplementedError

    def fail(self, value: Any) -> Invalid:
        return Invalid(f"expected {self.allowed}, not {shown(value)}")


class Pattern(Rule):
    """Text matching a regular expression (whole; compiled on first use, not at start-up)."""

    def __init__(self, pattern: str, allowed: str) -> None:
        self.pattern = pattern
        self.allowed = allowed

    def __call__(self, value: Any) -> None:
        if not re.fullmatch(self.pattern, value):
            raise self.fail(value)


class Choice(Rule):
    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.allowed = "one of " + ", ".join(values)

    def __call__(self, value: Any) -> None:
        if value not in self.values:
            raise self.fail(value)


class Port(Rule):
    """A TCP port; 0 (or leaving the key out) picks the protocol's usual port."""

    allowed = "a port 1-65535, or 0 for the usual port"

    def __call__(self, value: Any) -> None:
        if not 0 <= value <= 65535:
            raise self.fail(value)


class AtLeast(Rule):
    def __init__(self, least: int) -> None:
        self.least = least
        self.allowed = f"a whole number, {least} or more"

    def __call__(self, value: Any) -> None:
        if value < self.least:
            raise self.fail(value)


class Positive(Rule):
    allowed = "a number of seconds above 0"

    def __call__(self, value: Any) -> None:
        if not value > 0:
            raise self.fail(value)


class NotEmpty(Rule):
    def __init__(self, allowed: str = "text, not empty") -> None:
        self.allowed = allowed

    def __call__(self, value: Any) -> None:
        if not value.strip():
            raise self.fail(value)


class Address(Rule):
    """A bare mail address (``local@domain``), the same test as for contacts."""

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional
        self.allowed = "a mail address such as helpdesk@example.com" + (
            ", or nothing" if optional else ""
        )

    def __call__(self, value: Any) -> None:
        from hdcli.util import valid_email

        if self.optional and value == "":
            return
        if not valid_email(value):
            raise self.fail(value)


class TimeZone(Rule):
    allowed = "an IANA time zone such as Europe/Berlin"

    def __call__(self, value: Any) -> None:
        load_zone(value)


def load_zone(name: str) -> ZoneInfo:
    """The time zone ``name``; Invalid when the system's time zone data lacks it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid(f"unknown time zone {name!r} (expected {TimeZone.allowed})") from None


class Regex(Rule):
    allowed = "a regular expression (Python syntax, not empty)"

    def __call__(self, value: Any) -> None:
        if not value:
            raise self.fail(value)
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise Invalid(f"not a regular expression: {exc} in {shown(value)}") from None


class Url(Rule):
    allowed = "a URL such as sqlite:///path/hdcli.db or postgresql://user@host/db"

    def __call__(self, value: Any) -> None:
        if value and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value):
            raise self.fail(value)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}\.)*{_LABEL}"

NAME = Pattern(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", "a name of letters, digits, '_', '-' or '.'")
DOMAIN = Pattern(_DOMAIN, "a domain such as example.com")
OPTIONAL_DOMAIN = Pattern(f"(?:{_DOMAIN})?", "a domain such as example.com, or nothing")
ENV_NAME = Pattern(
    r"(?:[A-Za-z_][A-Za-z0-9_]*)?", "the name of an environment variable (letters, digits, _)"
)
HEADER_NAME = Pattern(r"[A-Za-z0-9][A-Za-z0-9-]*", "a header name such as X-hdcli-Loop")
TWO_DIGITS = Pattern(r"[0-9]{2}", 'two digits such as "10"')
CURRENCY = Pattern(r"[A-Z]{3}", "a three-letter currency code such as EUR")
IMAP_FLAG = Pattern(r"\$?[A-Za-z0-9_.-]+|\\Flagged", "an IMAP keyword such as $hdcli, or \\Flagged")
HOST = Pattern(r"[^\s/@]+", "a host name or address")


# -- keys -------------------------------------------------------------------------------------
class Key:
    """One configuration key: its type, default, meaning and what values it allows.

    ``rule`` checks the value beyond its type (each item, for a list); ``registry`` names the
    plugin registry (:mod:`hdcli.plugins`) that must know the value; ``required`` is for the
    keys of a source or a routing rule. (A plain class: a dataclass costs start-up time.)
    """

    __slots__ = ("default", "help", "registry", "required", "rule", "type")

    def __init__(
        self,
        type: type,
        default: Any = None,
        help: str = "",
        rule: Rule | None = None,
        registry: str = "",
        required: bool = False,
    ) -> None:
        self.type = type
        self.default = default
        self.help = help
        self.rule = rule
        self.registry = registry
        self.required = required

    @property
    def allowed(self) -> str:
        """What may be given, in words (for messages and the documentation)."""
        if self.rule is not None:
            return self.rule.allowed
        return TYPE_WORDS[self.type]


TYPE_WORDS: dict[type, str] = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list of text",
}


class Duration(Rule):
    allowed = "a duration such as 12h, 90m or 1:30"

    def __call__(self, value: Any) -> None:
        from hdcli.durations import parse_duration

        try:
            parse_duration(str(value))
        except ValueError:
            raise self.fail(value) from None


DURATION = Duration()
_SECURITY = Choice(TLS_SECURITIES)
AUTOMATIC = Choice(("ticket", "ignore"))
AUTOMATIC_KIND = Choice(("", "ticket", "ignore"))

# Every fixed key. Tables of other keys: mail.sources, routing, plugins (below).
SCHEMA: dict[str, Key] = {
    "user": Key(str, "", "acting agent login when --as is not given (HDCLI_USER)"),
    "storage.url": Key(str, "", "storage URL; default sqlite:///<data dir>/hdcli.db", Url()),
    "storage.password_env": Key(
        str, "", "environment variable with the database password", ENV_NAME
    ),
    "storage.password_cmd": Key(str, "", "command printing the database password"),
    "storage.token_env": Key(
        str, "", "remote helpdesk: environment variable with the API token", ENV_NAME
    ),
    "storage.token_cmd": Key(str, "", "remote helpdesk: command printing the API token"),
    "storage.lock_timeout": Key(
        float, 30.0, "PostgreSQL: seconds a statement waits for a lock (0: no limit)", AtLeast(0)
    ),
    "storage.statement_timeout": Key(
        float, 30.0, "PostgreSQL: seconds a statement may run (0: no limit)", AtLeast(0)
    ),
    "tickets.number_format": Key(
        str, "date_checksum", "ticket number format", NAME, registry="number_formats"
    ),
    "tickets.system_id": Key(str, "10", "two-digit system id inside ticket numbers", TWO_DIGITS),
    "tickets.subject_hook": Key(str, "Ticket#", "marker before the number in subjects", NotEmpty()),
    "tickets.former_hooks": Key(
        list, [], "hooks of a former setup still recognised", NotEmpty("markers, not empty")
    ),
    "tickets.closed_policy": Key(
        str, "new_ticket", "what a reply to a closed ticket does", Choice(CLOSED_POLICIES)
    ),
    "time.max_entry": Key(str, "12h", "longest single time entry without --force", DURATION),
    "mail.from_address": Key(str, "helpdesk@localhost", "sender of outbound mail", Address()),
    "mail.from_name": Key(str, "Helpdesk", "display name of the sender"),
    "mail.domain": Key(str, "", "domain of Message-IDs; default the sender's", OPTIONAL_DOMAIN),
    "mail.addresses": Key(list, [], "further addresses of the helpdesk (loop check)", Address()),
    "mail.loop_header": Key(str, "X-hdcli-Loop", "header marking our automatic mail", HEADER_NAME),
    "mail.auto_reply_limit": Key(int, 10, "automatic mails per address per day", AtLeast(0)),
    "mail.max_attachment_size": Key(int, 10 * 1024 * 1024, "bytes per attachment", AtLeast(0)),
    "mail.max_outbound_attachments_size": Key(
        int, 20 * 1024 * 1024, "bytes of all files attached to one reply", AtLeast(0)
    ),
    "mail.quarantine_days": Key(
        int, 30, "days a quarantined message keeps its bytes (0: for ever)", AtLeast(0)
    ),
    "privacy.closed_years": Key(
        int, 10, "years a closed ticket's billing figures stay (§ 147 AO)", AtLeast(1)
    ),
    "privacy.content_years": Key(
        int, 0, "years closed tickets keep their content (0: privacy.closed_years)", AtLeast(0)
    ),
    "privacy.rejected_log_days": Key(int, 90, "days rejected-mail log rows stay", AtLeast(1)),
    "privacy.outbound_body_days": Key(
        int, 30, "days delivered outbound mail keeps its raw body", AtLeast(1)
    ),
    "privacy.access_trail_days": Key(int, 365, "days access trail rows stay", AtLeast(1)),
    "mail.max_message_size": Key(
        int, 25 * 1024 * 1024, "bytes per inbound message; above: headers only", AtLeast(0)
    ),
    "mail.max_header_count": Key(
        int, 1000, "header fields per header block (message and each MIME part)", AtLeast(1)
    ),
    "mail.max_header_bytes": Key(
        int, 4 * 1024 * 1024, "bytes per header block (message and each MIME part)", AtLeast(1024)
    ),
    "mail.automatic_new": Key(
        str, "ticket", "automatic mail of a served customer: ticket or ignore", AUTOMATIC
    ),
    "mail.automatic.generated": Key(
        str,
        "",
        "Auto-Submitted/null-sender mail: ticket or ignore (default automatic_new)",
        AUTOMATIC_KIND,
    ),
    "mail.automatic.list": Key(
        str,
        "",
        "Precedence bulk/list/junk mail: ticket or ignore (default automatic_new)",
        AUTOMATIC_KIND,
    ),
    "mail.billing_address": Key(
        str, "", "where approved service reports go back", Address(optional=True)
    ),
    "mail.fax_number": Key(str, "", "fax number for signed service reports"),
    "mail.outbound.transport": Key(
        str, "maildir", "smtp, sendmail, maildir or file", NAME, registry="transports"
    ),
    "mail.outbound.path": Key(str, "", "folder of the maildir/file transport"),
    "mail.outbound.host": Key(str, "localhost", "SMTP server", HOST),
    "mail.outbound.port": Key(int, 0, "0 = 465 for ssl, 587 for starttls, 25 otherwise", Port()),
    "mail.outbound.security": Key(str, "starttls", "TLS of the SMTP connection", _SECURITY),
    "mail.outbound.username": Key(str, "", "SMTP login"),
    "mail.outbound.password": Key(str, "", "better: password_env or password_cmd"),
    "mail.outbound.password_env": Key(str, "", "environment variable with the password", ENV_NAME),
    "mail.outbound.password_cmd": Key(str, "", "command printing the password"),
    "mail.outbound.timeout": Key(float, 30.0, "seconds", Positive()),
    "mail.outbound.tls_verify": Key(bool, True, "verify the server's certificate"),
    "mail.outbound.ca_file": Key(str, "", "CA certificates to verify it with (PEM)"),
    "mail.outbound.local_hostname": Key(str, "", "name given in EHLO; default this host's"),
    "mail.outbound.command": Key(str, "/usr/sbin/sendmail -oi", "the sendmail command", NotEmpty()),
    "mail.outbound.retry_base": Key(int, 60, "seconds before the first retry", AtLeast(0)),
    "mail.outbound.max_attempts": Key(int, 12, "attempts before a mail is failed", AtLeast(1)),
    "mail.outbound.send_now": Key(bool, True, "deliver right after a change"),
    "billing.timezone": Key(
        str, "Europe/Berlin", "days and months of billing; times in tables", TimeZone()
    ),
    "billing.currency": Key(str, "EUR", "currency of amounts", CURRENCY),
    "provider.name": Key(str, "", "letterhead of service reports: name (default mail.from_name)"),
    "provider.address": Key(list, [], "letterhead: address lines", NotEmpty("lines, not empty")),
    "provider.phone": Key(str, "", "letterhead: phone number (the fax is mail.fax_number)"),
    "templates.dir": Key(str, "", "folder of template overrides"),
}

#: Keys of every ``[mail.sources.NAME]`` table, whatever its type.
SOURCE_KEYS: dict[str, Key] = {
    "type": Key(
        str, None, "imap, maildir or a plugin's source type", NAME, "sources", required=True
    ),
    "billing": Key(bool, False, "the billing mailbox (answers to service reports)"),
    "enabled": Key(bool, True, "false: mail fetch leaves the source alone"),
}

#: The secret of a source (or a transport): from the environment, a command or the file.
SECRET_KEYS: dict[str, Key] = {
    "password": Key(str, "", "better: password_env or password_cmd"),
    "password_env": Key(str, "", "environment variable with the password", ENV_NAME),
    "password_cmd": Key(str, "", "command printing the password"),
}

_FOLDER = NotEmpty("a folder name, not empty")

#: The settings of the built-in source types (hdcli.mail.sources), by type.
SOURCE_TYPES: dict[str, dict[str, Key]] = {
    "imap": {
        "host": Key(str, None, "IMAP server", HOST, required=True),
        "port": Key(int, 0, "0 = 993 for ssl, else 143", Port()),
        "security": Key(str, "ssl", "TLS of the IMAP connection", _SECURITY),
        "username": Key(str, "", "IMAP login"),
        **SECRET_KEYS,
        "folder": Key(str, "INBOX", "the folder read", _FOLDER),
        "on_success": Key(
            str, "move", "what happens to a handled message", Choice(IMAP_ON_SUCCESS)
        ),
        "move_to": Key(str, "Processed", "folder of handled messages", _FOLDER),
        "flag": Key(str, "$hdcli", "keyword set by on_success = flag", IMAP_FLAG),
        "review_folder": Key(str, "Review", "folder of rejected messages", _FOLDER),
        "quarantine_folder": Key(str, "Quarantine", "folder of quarantined messages", _FOLDER),
        "timeout": Key(float, 60.0, "seconds", Positive()),
        "tls_verify": Key(bool, True, "verify the server's certificate"),
        "ca_file": Key(str, "", "CA certificates to verify it with (PEM)"),
    },
    "maildir": {
        "path": Key(str, None, "the Maildir", NotEmpty("a folder, not empty"), required=True),
        "on_success": Key(
            str, "move", "what happens to a handled message", Choice(MAILDIR_ON_SUCCESS)
        ),
        "move_to": Key(str, ".Processed", "folder of handled messages", _FOLDER),
        "review_folder": Key(str, ".Review", "folder of rejected messages", _FOLDER),
        "quarantine_folder": Key(str, ".Quarantine", "folder of quarantined messages", _FOLDER),
    },
}

#: Keys of a ``[[routing.rules]]`` table; a rule needs one of MATCH_FIELDS and one of RULE_SETS.
RULE_KEYS: dict[str, Key] = {
    "agent": Key(str, None, "login of the agent the rule preselects", NotEmpty()),
    "subject": Key(str, None, "regular expression searched in the subject", Regex()),
    "body": Key(str, None, "regular expression searched in the body", Regex()),
    "sender_domain": Key(str, None, "the sender's mail domain (or a subdomain)", DOMAIN),
    "impact": Key(str, None, "impact of the new ticket", Choice(IMPACTS)),
    "priority": Key(str, None, "priority of the new ticket", Choice(PRIORITIES)),
}
MATCH_FIELDS = ("subject", "body", "sender_domain")
RULE_SETS = ("agent", "impact", "priority")

#: Tables whose keys are not fixed: sources, routing rules, plugin settings.
OPEN_TABLES = ("mail.sources", "routing", "plugins")

#: Every table of the configuration (a key that holds one cannot be set to a value).
TABLES = frozenset(
    {k.rsplit(".", i)[0] for k in SCHEMA for i in range(1, k.count(".") + 1)} | set(OPEN_TABLES)
)


# -- checking -----------------------------------------------------------------------------------
class Issue(NamedTuple):
    """One problem: the key (dotted; ``routing.rules[0].agent`` inside a list) and what is
    wrong. ``missing``: a key that a source or a rule needs is not there (yet)."""

    key: str
    message: str
    missing: bool = False


_CONTROL = r"[\x00-\x08\x0a-\x1f\x7f]"


def from_text(kind: type, text: str) -> Any:
    """A value of type ``kind`` from text (the environment, ``hdcli config set``)."""
    if kind is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise Invalid(f"expected true or false, not {shown(text)}")
    try:
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise Invalid(f"expected {TYPE_WORDS[kind]}, not {shown(text)}") from None
    if kind is list:
        return [v.strip() for v in text.split(",") if v.strip()]
    return text


def convert(spec: Key, value: Any, *, text: bool = False) -> Any:
    """``value`` checked against ``spec`` (converted from text first when ``text``).

    Raises Invalid saying what is allowed. Strings must be one line: no line break or other
    control character (tabs aside) may reach a mail header, a subject or a terminal.
    """
    expected = TYPE_WORDS[spec.type]
    if spec.rule is not None and spec.type is not list:
        expected += f" ({spec.rule.allowed})"
    if text and isinstance(value, str):
        try:
            value = from_text(spec.type, value)
        except Invalid:
            raise Invalid(f"expected {expected}, not {shown(value)}") from None
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, spec.type) or (spec.type is not bool and isinstance(value, bool)):
        raise Invalid(f"expected {expected}, not {shown(value)}")
    if value == spec.default:
        return value  # defaults are valid; checking them again (a time zone) costs start-up
    for n, item in enumerate(value if isinstance(value, list) else [value], start=1):
        where = f"item {n}: " if isinstance(value, list) else ""
        if isinstance(value, list) and not isinstance(item, str):
            raise Invalid(f"{where}expected text, not {shown(item)}")
        if isinstance(item, str) and re.search(_CONTROL, item):
            raise Invalid(f"{where}expected one line of text, not {shown(item)}")
        if spec.rule is not None:
            try:
                spec.rule(item)
            except Invalid as exc:
                raise Invalid(f"{where}{exc}") from None
    return value


def unknown(key: str, known: Any) -> str:
    """The message for an unknown key, with the nearest known one when there is one."""
    import difflib  # only when something is wrong

    leaf = key.rpartition(".")[2]
    near = difflib.get_close_matches(leaf, [k.rpartition(".")[2] for k in known], n=1)
    return f"unknown key (did you mean {near[0]}?)" if near else "unknown key"


class Checked(NamedTuple):
    """What :func:`validate` found: the fixed keys that were set, converted; the open tables
    (``mail``→``sources``, ``routing``, ``plugins``), converted; and the problems."""

    values: dict[str, Any]
    free: dict[str, Any]
    issues: list[Issue]


def validate(tree: Mapping[str, Any], text: Callable[[str], bool] = lambda key: False) -> Checked:
    """Check a whole configuration, its layers merged (``profiles`` already taken out).

    ``text(key)`` tells whether the value of ``key`` is text still to be converted (it came from
    the environment). Values that fail are left out of the result.
    """
    walk = _Walk(text)
    walk.table("", tree)
    return Checked(walk.values, walk.free, walk.issues)


class _Walk:
    def __init__(self, text: Callable[[str], bool]) -> None:
        self.text = text
        self.values: dict[str, Any] = {}
        self.free: dict[str, Any] = {}
        self.issues: list[Issue] = []

    def issue(self, key: str, message: str, missing: bool = False) -> None:
        self.issues.append(Issue(key, message, missing))

    def value(self, key: str, spec: Key, value: Any) -> Any:
        try:
            return convert(spec, value, text=self.text(key))
        except Invalid as exc:
            self.issue(key, str(exc))
            return _FAILED

    def table(self, prefix: str, node: Mapping[str, Any]) -> None:
        for name, value in node.items():
            key = f"{prefix}{name}"
            if key in SCHEMA:
                converted = self.value(key, SCHEMA[key], value)
                if converted is not _FAILED:
                    self.values[key] = converted
            elif key == "mail.sources":
                self.free.setdefault("mail", {})["sources"] = self.sources(value)
            elif key == "routing":
                self.free["routing"] = self.routing(value)
            elif key == "plugins":
                self.free["plugins"] = self.plugins(value)
            elif key in TABLES:
                if isinstance(value, Mapping):
                    self.table(key + ".", value)
                else:
                    self.issue(key, f"expected a table ([{key}]), not {shown(value)}")
            else:
                known = [k for k in [*SCHEMA, *TABLES] if k.startswith(prefix)]
                self.issue(key, unknown(key, known))

    def keys(
        self, prefix: str, node: Mapping[str, Any], specs: Mapping[str, Key], free: bool = False
    ) -> dict[str, Any]:
        """The keys of a source or rule table, checked; unknown ones kept when ``free``."""
        out: dict[str, Any] = {}
        for name, value in node.items():
            key = f"{prefix}.{name}"
            spec = specs.get(name)
            if spec is None:
                if free:
                    out[name] = value
                else:
                    self.issue(key, unknown(key, specs))
                continue
            converted = self.value(key, spec, value)
            if converted is not _FAILED:
                out[name] = converted
        return out

    def sources(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.issue("mail.sources", f"expected [mail.sources.NAME] tables, not {shown(value)}")
            return {}
        out: dict[str, Any] = {}
        for name, settings in value.items():
            prefix = f"mail.sources.{name}"
            if not isinstance(settings, Mapping):
                self.issue(prefix, f"expected a table ([{prefix}]), not {shown(settings)}")
                continue
            kind = settings.get("type")
            typed = SOURCE_TYPES.get(kind) if isinstance(kind, str) else None
            specs = {**SOURCE_KEYS, **(typed or SECRET_KEYS)}
            # A plugin's source type has settings of its own; a bad type says enough alone.
            checked = self.keys(prefix, settings, specs, free=typed is None)
            if "type" not in settings:
                self.issue(f"{prefix}.type", f"required: {SOURCE_KEYS['type'].help}", True)
            elif typed is not None and checked.get("enabled", True):
                for key, spec in typed.items():
                    if spec.required and key not in settings:
                        self.issue(f"{prefix}.{key}", f"required for {kind} sources", True)
            out[str(name)] = checked
        return out

    def routing(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.issue("routing", f"expected a table ([routing]), not {shown(value)}")
            return {}
        out: dict[str, Any] = {}
        for name, rules in value.items():
            if name != "rules":
                self.issue(f"routing.{name}", unknown(f"routing.{name}", ["rules"]))
                continue
            if not isinstance(rules, list):
                self.issue(
                    "routing.rules", f"expected [[routing.rules]] tables, not {shown(rules)}"
                )
                continue
            out["rules"] = []
            for n, rule in enumerate(rules):
                prefix = f"routing.rules[{n}]"
                if not isinstance(rule, Mapping):
                    self.issue(prefix, f"expected a table ([[routing.rules]]), not {shown(rule)}")
                    continue
                checked = self.keys(prefix, rule, RULE_KEYS)
                if not any(field in rule for field in RULE_SETS):
                    self.issue(prefix, "needs agent, impact or priority to set anything", True)
                if not any(field in rule for field in MATCH_FIELDS):
                    self.issue(prefix, "needs subject, body or sender_domain to match anything")
                out["rules"].append(checked)
        return out

    def plugins(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.issue("plugins", f"expected [plugins.NAME] tables, not {shown(value)}")
            return {}
        for name, settings in value.items():
            if not isinstance(settings, Mapping):
                key = f"plugins.{name}"
                self.issue(key, f"expected a table ([{key}]), not {shown(settings)}")
        return dict(value)


_FAILED = object()


def unregistered(checked: Checked) -> list[Issue]:
    """Names no plugin registered: ticket-number format, transport, storage scheme and source
    types, where set. Loads the plugins (their registrations, not their drivers)."""
    from hdcli import plugins

    issues: list[Issue] = []

    def check(key: str, registry: plugins.Registry, name: str) -> None:
        known = registry.names()
        if name not in known:
            issues.append(
                Issue(key, f"unknown {registry.kind} {name!r} (known: {', '.join(known)})")
            )

    for key in ("tickets.number_format", "mail.outbound.transport"):
        if key in checked.values:
            check(key, getattr(plugins, SCHEMA[key].registry), str(checked.values[key]))
    url = str(checked.values.get("storage.url") or "")
    if "://" in url and not url.startswith(("http://", "https://")):  # http(s): hdcli serve
        check("storage.url", plugins.storage_backends, url.split("://", 1)[0].split("+", 1)[0])
    for name, settings in checked.free.get("mail", {}).get("sources", {}).items():
        if isinstance(settings.get("type"), str):
            check(f"mail.sources.{name}.type", plugins.sources, settings["type"])
    return issues
