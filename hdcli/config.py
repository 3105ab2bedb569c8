"""Configuration: TOML file, profiles, environment overrides and secrets.

Precedence, lowest first: built-in defaults, the file's top level, the chosen profile
(``[profiles.NAME]``), then environment variables ``HDCLI_<SECTION>__<KEY>`` (double underscore
for nesting). The file is read with :mod:`tomllib` (fast, at every start) and written with
tomlkit (``hdcli config set`` keeps comments and order).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdcli.errors import ConfigError

APP = "hdcli"


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default and allowed values."""

    type: type
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""


# Every known key. Tables of free-form keys: FREE_TABLES.
SCHEMA: dict[str, Key] = {
    "user": Key(str, "", help="acting agent login when --as and HDCLI_USER are not given"),
    "storage.url": Key(str, "", help="storage URL; default sqlite:///<data dir>/hdcli.db"),
    "storage.password_env": Key(str, "", help="environment variable with the database password"),
    "storage.password_cmd": Key(str, "", help="command printing the database password"),
    "storage.lock_timeout": Key(
        float, 30.0, help="PostgreSQL: seconds a statement waits for a lock (0: no limit)"
    ),
    "storage.statement_timeout": Key(
        float, 30.0, help="PostgreSQL: seconds a statement may run (0: no limit)"
    ),
    "tickets.number_format": Key(str, "date_checksum", help="ticket number format"),
    "tickets.system_id": Key(str, "10", help="two-digit system id inside ticket numbers"),
    "tickets.subject_hook": Key(str, "Ticket#", help="marker before the number in subjects"),
    "tickets.former_hooks": Key(list, [], help="hooks of a former setup still recognised"),
    "tickets.closed_policy": Key(
        str,
        "new_ticket",
        ("new_ticket", "reject_with_notice", "reopen"),
        "what a reply to a closed ticket does",
    ),
    "mail.from_address": Key(str, "helpdesk@localhost", help="sender of outbound mail"),
    "mail.from_name": Key(str, "Helpdesk", help="display name of the sender"),
    "mail.domain": Key(str, "", help="domain of Message-IDs; default the sender's domain"),
    "mail.addresses": Key(list, [], help="further addresses of the helpdesk (loop check)"),
    "mail.loop_header": Key(str, "X-hdcli-Loop", help="header marking our own automatic mail"),
    "mail.auto_reply_limit": Key(int, 10, help="automatic mails per address per day"),
    "mail.max_attachment_size": Key(int, 10 * 1024 * 1024, help="bytes per attachment"),
    "mail.billing_address": Key(str, "", help="where approved service reports go back"),
    "mail.fax_number": Key(str, "", help="fax number for signed service reports"),
    "mail.outbound.transport": Key(str, "maildir", help="smtp, sendmail, maildir or file"),
    "mail.outbound.path": Key(str, "", help="folder of the maildir/file transport"),
    "mail.outbound.host": Key(str, "localhost"),
    "mail.outbound.port": Key(int, 0, help="0 = 465 for ssl, 587 for starttls, 25 otherwise"),
    "mail.outbound.security": Key(str, "starttls", ("ssl", "starttls", "none")),
    "mail.outbound.username": Key(str, ""),
    "mail.outbound.password": Key(str, "", help="better: password_env or password_cmd"),
    "mail.outbound.password_env": Key(str, "", help="environment variable with the password"),
    "mail.outbound.password_cmd": Key(str, "", help="command printing the password"),
    "mail.outbound.timeout": Key(float, 30.0),
    "mail.outbound.command": Key(str, "/usr/sbin/sendmail -oi"),
    "mail.outbound.retry_base": Key(int, 60, help="seconds before the first retry"),
    "mail.outbound.max_attempts": Key(int, 12, help="attempts before a mail is failed"),
    "mail.outbound.send_now": Key(bool, True, help="deliver right after a change"),
    "billing.timezone": Key(str, "Europe/Berlin"),
    "billing.currency": Key(str, "EUR"),
    "templates.dir": Key(str, "", help="folder of template overrides"),
}

# Tables whose content is free-form (validated by whoever uses them).
FREE_TABLES = ("mail.sources", "plugins", "routing")


def _coerce(key: str, spec: Key, value: Any, *, from_text: bool = False) -> Any:
    """Check (and, for text from the environment or the CLI, convert) one value."""
    try:
        if from_text and isinstance(value, str):
            if spec.type is bool:
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    value = True
                elif low in ("0", "false", "no", "off"):
                    value = False
                else:
                    raise ValueError("expected true or false")
            elif spec.type is int:
                value = int(value)
            elif spec.type is float:
                value = float(value)
            elif spec.type is list:
                value = [v.strip() for v in value.split(",") if v.strip()]
        if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
            raise ValueError(f"expected {spec.type.__name__}, got {type(value).__name__}")
    except ValueError as exc:
        raise ConfigError(f"bad value for {key}: {exc}") from None
    if spec.choices and value not in spec.choices:
        raise ConfigError(f"bad value for {key}: {value!r} (allowed: {', '.join(spec.choices)})")
    return value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        dotted = f"{prefix}{k}"
        if dotted in FREE_TABLES or dotted == "profiles":
            out[dotted] = v
        elif isinstance(v, Mapping) and dotted not in SCHEMA:
            out.update(_flatten(v, dotted + "."))
        else:
            out[dotted] = v
    return out


def _merge_free(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Put a value at ``dotted`` inside a nested dict, creating tables on the way."""
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def _xdg_dir(variable: str, fallback: str) -> Path:
    """The XDG base directory rule (as platformdirs applies it on Linux), joined with APP."""
    base = os.environ.get(variable, "").strip() or os.path.expanduser(fallback)
    return Path(base) / APP


def default_config_path() -> Path:
    if sys.platform.startswith("linux"):
        # The XDG rule inline: platformdirs costs ~10 ms of import at every start.
        return _xdg_dir("XDG_CONFIG_HOME", "~/.config") / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_data_dir() -> Path:
    if sys.platform.startswith("linux"):
        return _xdg_dir("XDG_DATA_HOME", "~/.local/share")
    import platformdirs

    return Path(platformdirs.user_data_dir(APP))


class Config:
    """The resolved configuration of one run. ``get("storage.url")`` reads a key."""

    def __init__(
        self,
        path: Path,
        values: dict[str, Any],
        free: dict[str, Any],
        profile: str | None,
        sources: dict[str, str],
    ) -> None:
        self.path = path
        self.profile = profile
        self._values = values
        self._free = free
        self.origin = sources  # key -> "default" | "file" | "profile" | "env"

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Config:
        env = os.environ if env is None else env
        if path is None:
            path = env.get("HDCLI_CONFIG") or default_config_path()
        path = Path(path).expanduser()
        profile = profile or env.get("HDCLI_PROFILE") or None
        raw: dict[str, Any] = {}
        if path.exists():
            import tomllib

            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read {path}: {exc}") from None
            except OSError as exc:
                raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        profiles = raw.pop("profiles", {})
        layers: list[tuple[str, Mapping[str, Any]]] = [("file", raw)]
        if profile:
            if profile not in profiles:
                known = ", ".join(sorted(profiles)) or "none"
                raise ConfigError(f"unknown profile {profile!r} in {path} (known: {known})")
            layers.append(("profile", profiles[profile]))
        values = {k: v.default for k, v in SCHEMA.items()}
        origin = dict.fromkeys(SCHEMA, "default")
        free: dict[str, Any] = {}
        for name, layer in layers:
            for key, value in _flatten(layer).items():
                if key in FREE_TABLES:
                    if not isinstance(value, Mapping | list):
                        raise ConfigError(f"{key} must be a table")
                    _deep_update(free, key, value)
                    continue
                if key not in SCHEMA:
                    raise ConfigError(f"unknown configuration key {key!r} in {path}")
                values[key] = _coerce(key, SCHEMA[key], value)
                origin[key] = name
        for var, text in env.items():
            if not var.startswith("HDCLI_"):
                continue
            rest = var[6:]
            if "__" not in rest and rest != "USER":
                continue
            key = ".".join(p.lower() for p in rest.split("__"))
            if key in SCHEMA:
                values[key] = _coerce(key, SCHEMA[key], text, from_text=True)
                origin[key] = "env"
            elif any(key.startswith(t + ".") for t in FREE_TABLES):
                _merge_free(free, key, text)
            else:
                raise ConfigError(f"unknown configuration key {key!r} (from {var})")
        return cls(path, values, free, profile, origin)

    # -- reading -------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        if key in self._values:
            return self._values[key]
        node: Any = self._free
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def table(self, key: str) -> dict[str, Any]:
        """All keys below ``key`` as a nested dict (e.g. ``mail.outbound``)."""
        prefix = key + "."
        out: dict[str, Any] = {}
        for k, v in self._values.items():
            if k.startswith(prefix):
                _merge_free(out, k[len(prefix) :], v)
        extra = self.get(key)
        if isinstance(extra, Mapping):
            for k, v in extra.items():
                out[k] = v
        return out

    @property
    def data_dir(self) -> Path:
        return default_data_dir()

    @property
    def storage_url(self) -> str:
        url: str = self._values["storage.url"]
        return url or f"sqlite:///{self.data_dir / 'hdcli.db'}"

    @property
    def outbox_path(self) -> Path:
        path: str = self._values["mail.outbound.path"]
        return Path(path).expanduser() if path else self.data_dir / "outbox"

    @property
    def template_dir(self) -> Path:
        path: str = self._values["templates.dir"]
        return Path(path).expanduser() if path else self.path.parent / "templates"

    @property
    def mail_domain(self) -> str:
        domain: str = self._values["mail.domain"]
        if domain:
            return domain
        return str(self._values["mail.from_address"]).rpartition("@")[2] or "localhost"

    def effective(self) -> dict[str, Any]:
        """Every key with its value, for ``config show`` (secrets masked)."""
        shown: dict[str, Any] = {}
        for key in SCHEMA:
            value = self._values[key]
            if key.endswith(".password") and value:
                value = "********"
            shown[key] = value
        shown["storage.url"] = mask_url(self.storage_url)
        shown["mail.outbound.path"] = str(self.outbox_path)
        shown["templates.dir"] = str(self.template_dir)
        return shown


def _deep_update(target: dict[str, Any], dotted: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _deep_update(target, f"{dotted}.{k}", v)
    else:
        _merge_free(target, dotted, value)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and ``config show``):
    the one in the user info (up to the last ``@`` before the path) and ``password=`` in the
    query."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        creds, _, host = authority.rpartition("@")
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        authority = f"{creds}@{host}"
    path, qmark, query = tail.partition("?")
    if qmark:
        parts = []
        for item in query.split("&"):
            key, eq, _value = item.partition("=")
            parts.append(f"{key}=***" if eq and key.lower() in ("password", "pass") else item)
        query = "&".join(parts)
    return f"{scheme}://{authority}{slash}{path}{qmark}{query}"


def resolve_secret(settings: Mapping[str, Any], what: str = "password") -> str:
    """The secret of a settings table: ``password_env``, then ``password_cmd``, then ``password``.

    Secrets never need to sit in the file: the environment variable or the command (run without a
    shell, its output's trailing newline removed) are read at the moment of use.
    """
    env_name = settings.get(f"{what}_env") or ""
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise ConfigError(f"environment variable {env_name} (for the {what}) is not set")
        return value
    cmd = settings.get(f"{what}_cmd") or ""
    if cmd:
        import shlex
        import subprocess

        try:
            done = subprocess.run(
                shlex.split(cmd), capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"{what}_cmd failed: {exc}") from None
        if done.returncode != 0:
            raise ConfigError(f"{what}_cmd exited with {done.returncode}")
        return done.stdout.rstrip("\r\n")
    return str(settings.get(what) or "")


# -- writing (hdcli config set/unset) -----------------------------------------------------
def _key_spec(key: str) -> Key | None:
    if key in SCHEMA:
        return SCHEMA[key]
    if any(key.startswith(t + ".") for t in FREE_TABLES):
        return None
    raise ConfigError(f"unknown configuration key {key!r}")


def set_value(path: Path, key: str, text: str, profile: str | None = None) -> Any:
    """Set ``key`` to ``text`` (converted to the key's type) in the file, keeping comments."""
    import tomlkit

    spec = _key_spec(key)
    value: Any = _coerce(key, spec, text, from_text=True) if spec else text
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    parts = (["profiles", profile] if profile else []) + key.split(".")
    node: Any = doc
    for part in parts[:-1]:
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
    node[parts[-1]] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return value


def unset_value(path: Path, key: str, profile: str | None = None) -> bool:
    """Remove ``key`` from the file; True when it was there."""
    import tomlkit

    _key_spec(key)
    if not path.exists():
        return False
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    parts = (["profiles", profile] if profile else []) + key.split(".")
    node: Any = doc
    for part in parts[:-1]:
        if part not in node:
            return False
        node = node[part]
    if parts[-1] not in node:
        return False
    del node[parts[-1]]
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return True
