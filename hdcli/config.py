"""Configuration: TOML file, profiles, environment overrides and secrets.

Precedence, lowest first: built-in defaults, the file's top level, the chosen profile
(``[profiles.NAME]``), then environment variables ``HDCLI_<SECTION>__<KEY>`` (double underscore
for nesting). The file is read with :mod:`tomllib` (fast, at every start) and written with
tomlkit (``hdcli config set`` keeps comments and order).

Every value is checked against the schema (:mod:`hdcli.config_schema`) when the configuration
is loaded: a bad one raises ConfigError naming where it is and the key
(``config.toml:12: billing.timezone: unknown time zone 'Mars/Base' …``). :func:`check` lists
every problem of a file, its profiles included (``hdcli config check``); :func:`set_value`
refuses a value that would add one. The file hdcli writes is private to its user (0600).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, NamedTuple

from hdcli.config_schema import (
    OPEN_TABLES,
    SCHEMA,
    SECRET_KEYS,
    SOURCE_KEYS,
    SOURCE_TYPES,
    TABLES,
    Checked,
    Invalid,
    Issue,
    Key,
    convert,
    unknown,
    unregistered,
    validate,
)
from hdcli.errors import ConfigError
from hdcli.util import private_dir, private_file

__all__ = [
    "SCHEMA",
    "Config",
    "Key",
    "Problem",
    "Written",
    "check",
    "config_path",
    "mask_url",
    "resolve_secret",
    "set_value",
    "unset_value",
    "write_private",
]

APP = "hdcli"


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


def config_path(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The config file: ``path``, else ``HDCLI_CONFIG``, else the user config dir's."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get("HDCLI_CONFIG") or default_config_path()
    return Path(path).expanduser()


# -- where a problem is ------------------------------------------------------------------------
class Problem(NamedTuple):
    """A problem of the configuration, located: the file and line of the key as it is written
    there (``profiles.staging.billing.timezone`` inside a profile), or the environment variable
    it came from."""

    file: str
    line: int | None
    key: str
    message: str
    variable: str | None = None
    missing: bool = False  # a key that a source or rule needs is not there

    def __str__(self) -> str:
        where = self.variable or (f"{self.file}:{self.line}" if self.line else self.file)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        shown = self._asdict()
        del shown["missing"]
        return shown


class _Layers:
    """Layers merged into one tree, remembering which layer set each leaf (and from which
    environment variable)."""

    def __init__(self, path: Path, text: str, profile: str | None = None) -> None:
        self.path = path
        self.text = text
        self.profile = profile
        self.tree: dict[str, Any] = {}
        self.origin: dict[str, str] = {}  # dotted leaf -> file | profile | env
        self.variables: dict[str, str] = {}  # dotted leaf -> HDCLI_… variable
        self._lines: dict[str, int] | None = None

    def add(self, name: str, layer: Mapping[str, Any]) -> None:
        _merge(self.tree, layer, name, self.origin)

    def add_env(self, env: Mapping[str, str]) -> None:
        layer: dict[str, Any] = {}
        for var, text in env.items():
            key = env_key(var)
            if key is not None:
                _put(layer, key, text)
                self.variables[key] = var
        self.add("env", layer)

    def from_env(self, key: str) -> bool:
        return self.origin.get(key) == "env"

    def validate(self) -> Checked:
        return validate(self.tree, self.from_env)

    def layer_of(self, key: str) -> str:
        """The layer that set ``key`` (or, for a table, the latest one below it)."""
        base = re.sub(r"\[\d+\].*$", "", key)
        if base in self.origin:
            return self.origin[base]
        below = {v for k, v in self.origin.items() if k.startswith(base + ".")}
        for name in ("env", "profile", "file"):
            if name in below:
                return name
        while "." in base:
            base = base.rpartition(".")[0]
            if base in self.origin:
                return self.origin[base]
        return "file"

    def locate(self, issue: Issue) -> Problem:
        layer = self.layer_of(issue.key)
        if layer == "env":
            base = re.sub(r"\[\d+\].*$", "", issue.key)
            var = self.variables.get(base) or next(
                (v for k, v in self.variables.items() if k.startswith(base + ".")), "environment"
            )
            return Problem(str(self.path), None, issue.key, issue.message, var, issue.missing)
        written = issue.key if layer == "file" else f"profiles.{self.profile}.{issue.key}"
        if self._lines is None:
            self._lines = key_lines(self.text)
        line = line_of(self._lines, written)
        return Problem(str(self.path), line, written, issue.message, None, issue.missing)


def env_key(var: str) -> str | None:
    """The dotted key an ``HDCLI_…`` environment variable sets, or None for other variables."""
    if not var.startswith("HDCLI_"):
        return None
    rest = var[6:]
    if "__" not in rest and rest != "USER":
        return None  # HDCLI_CONFIG, HDCLI_PROFILE, HDCLI_DEBUG … are not keys
    return ".".join(p.lower() for p in rest.split("__"))


def _merge(
    target: dict[str, Any],
    layer: Mapping[str, Any],
    name: str,
    origin: dict[str, str],
    prefix: str = "",
) -> None:
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            _merge(target[key], value, name, origin, dotted + ".")
        else:
            target[key] = value  # a list replaces the list below it, as a value does
            origin[dotted] = name


def _put(target: dict[str, Any], dotted: str, value: Any) -> None:
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


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _toml(text: str) -> tuple[dict[str, Any] | None, int | None, str]:
    """The parsed text, or None with the line and message of the syntax error."""
    import tomllib

    try:
        return tomllib.loads(text), None, ""
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        return None, int(found.group(1)) if found else None, f"not valid TOML: {exc}"


def _parse(path: Path, text: str) -> dict[str, Any]:
    raw, line, message = _toml(text)
    if raw is None:
        raise ConfigError(f"{Problem(str(path), line, '', message)}")
    return raw


# -- loading ----------------------------------------------------------------------------------
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
        """Read, merge and check the configuration; ConfigError names the first bad key."""
        env = os.environ if env is None else env
        path = config_path(path, env)
        profile = profile or env.get("HDCLI_PROFILE") or None
        text = _read(path)
        raw = _parse(path, text)
        profiles = raw.pop("profiles", {})
        if not isinstance(profiles, Mapping):
            raise ConfigError(f"{path}: profiles: expected [profiles.NAME] tables")
        layers = _Layers(path, text, profile)
        layers.add("file", raw)
        if profile:
            if profile not in profiles:
                known = ", ".join(sorted(profiles)) or "none"
                raise ConfigError(f"unknown profile {profile!r} in {path} (known: {known})")
            if not isinstance(profiles[profile], Mapping):
                raise ConfigError(f"{path}: profiles.{profile}: expected a table")
            layers.add("profile", profiles[profile])
        layers.add_env(env)
        checked = layers.validate()
        if checked.issues:
            first = layers.locate(checked.issues[0])
            more = len(checked.issues) - 1
            tail = f" ({more} more: hdcli config check)" if more else ""
            raise ConfigError(f"{first}{tail}")
        values = {k: v.default for k, v in SCHEMA.items()}
        values.update(checked.values)
        origin = dict.fromkeys(SCHEMA, "default")
        origin.update({k: layers.origin.get(k, "file") for k in checked.values})
        return cls(path, values, checked.free, profile, origin)

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
                _put(out, k[len(prefix) :], v)
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
    def answers_dir(self) -> Path:
        """Canned answers (Textbausteine): ``answers/<lang>/NAME.txt`` beside the config file."""
        return self.path.parent / "answers"

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


# -- checking a whole file (hdcli config check) --------------------------------------------------
def check(
    path: str | Path | None = None, env: Mapping[str, str] | None = None, *, text: str | None = None
) -> list[Problem]:
    """Every problem of the config file, each profile's and the environment's, in file order.

    Names that plugins register are checked against the loaded plugins too. ``text`` checks
    that text as if it were the file's. An empty list: all is well.
    """
    env = os.environ if env is None else env
    path = config_path(path, env)
    if text is None:
        text = _read(path)
    raw, line, message = _toml(text)
    if raw is None:
        return [Problem(str(path), line, "", message)]
    profiles = raw.pop("profiles", {})
    problems: list[Problem] = []
    runs: list[_Layers] = []
    base = _Layers(path, text)
    base.add("file", raw)
    runs.append(base)
    if isinstance(profiles, Mapping):
        for name, layer in profiles.items():
            run = _Layers(path, text, str(name))
            run.add("file", raw)
            if isinstance(layer, Mapping):
                run.add("profile", layer)
                runs.append(run)
            else:
                problems.append(run.locate(Issue(f"profiles.{name}", "expected a table")))
    else:
        problems.append(base.locate(Issue("profiles", "expected [profiles.NAME] tables")))
    if any(env_key(var) is not None for var in env):
        run = _Layers(path, text)
        run.add("file", raw)
        run.add_env(env)
        runs.append(run)
    seen: set[tuple[Any, ...]] = set()
    for run in runs:
        checked = run.validate()
        for issue in [*checked.issues, *unregistered(checked)]:
            problem = run.locate(issue)
            ident = (problem.line, problem.key, problem.message, problem.variable)
            if ident not in seen:
                seen.add(ident)
                problems.append(problem)
    problems.sort(key=lambda p: (p.variable is not None, p.line or 0))
    return problems


def key_lines(text: str) -> dict[str, int]:
    """The line of every key and table header of a TOML text, by dotted path (elements of an
    array of tables as ``name[0]``, ``name[1]`` …). For messages only: tomllib keeps no
    positions, and this reads just enough TOML to find them."""
    found: dict[str, int] = {}
    table = ""
    counts: dict[str, int] = {}
    closing = ""  # the delimiter of an open multi-line string
    depth = 0  # brackets still open of a multi-line array or inline table
    for number, line in enumerate(text.splitlines(), start=1):
        if closing:
            if closing not in line:
                continue
            line = line.split(closing, 1)[1]
            closing = ""
            depth, closing = _scan(line, depth)
            continue
        if depth:
            depth, closing = _scan(line, depth)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[["):
            name = ".".join(_key_parts(stripped[2:].split("]]", 1)[0]))
            index = counts.get(name, 0)
            counts[name] = index + 1
            table = f"{name}[{index}]"
            found.setdefault(name, number)
            found[table] = number
        elif stripped.startswith("["):
            table = ".".join(_key_parts(stripped[1:].split("]", 1)[0]))
            found.setdefault(table, number)
        else:
            key, rest = _split_key(stripped)
            if rest is None:
                continue
            parts = _key_parts(key)
            for n in range(1, len(parts) + 1):
                dotted = ".".join(parts[:n])
                found.setdefault(f"{table}.{dotted}" if table else dotted, number)
            depth, closing = _scan(rest, 0)
    return found


def line_of(lines: Mapping[str, int], key: str) -> int | None:
    """The line of ``key``, else of the nearest table or list around it."""
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[: max(cut, 0)]
    return None


def _split_key(line: str) -> tuple[str, str | None]:
    """``key = rest`` split at the first ``=`` outside quotes; rest None when there is none."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return line[:i], line[i + 1 :]
    return line, None


def _key_parts(key: str) -> list[str]:
    """The parts of a dotted TOML key (``a."b.c".d`` → a, b.c, d)."""
    parts: list[str] = []
    current = ""
    quote = ""
    for ch in key:
        if quote:
            if ch == quote:
                quote = ""
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def _scan(text: str, depth: int) -> tuple[int, str]:
    """Follow a value over brackets and strings: (brackets still open, delimiter of a
    multi-line string still open)."""
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith(('"""', "'''"), i):
            delim = text[i : i + 3]
            end = text.find(delim, i + 3)
            if end < 0:
                return depth, delim
            i = end + 3
            continue
        if ch in "\"'":
            i += 1
            while i < len(text) and text[i] != ch:
                i += 2 if ch == '"' and text[i] == "\\" else 1
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return depth, ""


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
def _table_refusal(key: str) -> str | None:
    """Why ``key`` cannot be set to a value (it holds a table, or is in a profile), or None."""
    parts = key.split(".")
    if parts[0] == "profiles":
        return f"{key}: write into a profile with --profile NAME and the key itself"
    if key == "routing.rules":
        return (
            "routing.rules holds a list of tables ([[routing.rules]]): edit them in the file, "
            "then run hdcli config check"
        )
    if key == "mail.sources" or (key.startswith("mail.sources.") and len(parts) == 3):
        example = "mail.sources.NAME.type" if len(parts) == 2 else f"{key}.type"
        return f"{key} holds a table ([{key}]); set one of its keys, e.g. {example}"
    if key == "plugins" or (key.startswith("plugins.") and len(parts) == 2):
        example = "plugins.NAME.KEY" if len(parts) == 1 else f"{key}.KEY"
        return f"{key} holds a table ([{key}]); set one of its keys, e.g. {example}"
    if key in TABLES:
        inner = next((k for k in SCHEMA if k.startswith(key + ".")), "routing.rules")
        return f"{key} holds a table ([{key}]); set one of its keys, e.g. {inner}"
    return None


def _source_type(plain: Mapping[str, Any], name: str, profile: str | None) -> Any:
    tables = [plain]
    if profile:
        tables.insert(0, plain.get("profiles", {}).get(profile, {}))
    for table in tables:
        source = table.get("mail", {}).get("sources", {}).get(name, {})
        if isinstance(source, Mapping) and "type" in source:
            return source["type"]
    return None


def _spec_for(key: str, plain: Mapping[str, Any], profile: str | None, text: str) -> Key | None:
    """The schema of a key that may be set (None: free-form text), or ConfigError."""
    if key in SCHEMA:
        return SCHEMA[key]
    refusal = _table_refusal(key)
    if refusal:
        raise ConfigError(refusal)
    parts = key.split(".")
    if key.startswith("mail.sources.") and len(parts) >= 4:
        name, setting = parts[2], ".".join(parts[3:])
        kind = text if setting == "type" else _source_type(plain, name, profile)
        if kind is None and setting not in SOURCE_KEYS:
            raise ConfigError(
                f"{key}: set mail.sources.{name}.type first ({SOURCE_KEYS['type'].help})"
            )
        typed = SOURCE_TYPES.get(kind) if isinstance(kind, str) else None
        specs = {**SOURCE_KEYS, **(typed or SECRET_KEYS)}
        if setting in specs:
            return specs[setting]
        if typed is None:
            return None  # a plugin's source type (or none yet): its settings are its own
        raise ConfigError(f"{key}: {unknown(key, specs)} for {kind} sources")
    if key.startswith("plugins.") and len(parts) >= 3:
        return None
    known = [*SCHEMA, *TABLES]
    raise ConfigError(f"{key}: {unknown(key, known)} (hdcli config show lists the keys)")


def _node_path(key: str, profile: str | None) -> list[str]:
    return (["profiles", profile] if profile else []) + key.split(".")


class Written(NamedTuple):
    """What :func:`set_value` wrote: the value (converted) and the keys that the table it
    went into still needs (a source's host, say: set it next)."""

    value: Any
    missing: list[Problem]


def _new_problems(path: Path, before: str, after: str) -> list[Problem]:
    """The keys ``after`` still needs that ``before`` did not; ConfigError with the first
    other problem that ``after`` has and ``before`` had not."""
    old = {(p.key, p.message) for p in check(path, {}, text=before)}
    missing = []
    for problem in check(path, {}, text=after):
        if (problem.key, problem.message) in old:
            continue
        if not problem.missing:
            raise ConfigError(f"{problem.key}: {problem.message}")
        missing.append(problem)
    return missing


def set_value(path: Path, key: str, text: str, profile: str | None = None) -> Written:
    """Set ``key`` to ``text`` (converted to the key's type) in the file, keeping comments.

    Refuses (ConfigError, nothing written) an unknown key, a key that holds a table, and a
    value that the schema does not allow or that makes the file wrong otherwise (a source
    setting its type does not have, a name no plugin registered). A table may be filled one
    key after the other: what it still needs comes back in ``missing``.
    """
    import tomlkit

    before = _read(path)
    plain = _parse(path, before)
    spec = _spec_for(key, plain, profile, text)
    value: Any = text
    if spec is not None:
        try:
            value = convert(spec, text, text=True)
        except Invalid as exc:
            raise ConfigError(f"{key}: {exc}") from None
    doc = tomlkit.parse(before)
    parts = _node_path(key, profile)
    node: Any = doc
    for n, part in enumerate(parts[:-1]):
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
        if not isinstance(node, Mapping):
            where = ".".join(parts[: n + 1])
            raise ConfigError(f"{where} is a value in {path}, not a table; unset it first")
    if isinstance(node.get(parts[-1]), Mapping | list) and spec is None:
        raise ConfigError(f"{key} holds a table in {path}; set one of its keys instead")
    node[parts[-1]] = value
    after = tomlkit.dumps(doc)
    missing = _new_problems(path, before, after)
    write_private(path, after)
    return Written(value, missing)


def unset_value(path: Path, key: str, profile: str | None = None) -> bool:
    """Remove ``key`` (a value or a whole table) from the file; True when it was there.

    Any key present in the file may be removed, an unknown one too; removing one that another
    needs (the type of a source) is refused.
    """
    import tomlkit

    before = _read(path)
    doc = tomlkit.parse(before)
    parts = _node_path(key, profile)
    node: Any = doc
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, Mapping) else None
    if not isinstance(node, MutableMapping) or parts[-1] not in node:
        opened = key.startswith(tuple(t + "." for t in OPEN_TABLES))
        if not (key in SCHEMA or key in TABLES or opened):
            raise ConfigError(f"{key}: {unknown(key, [*SCHEMA, *TABLES])}")
        return False
    del node[parts[-1]]
    after = tomlkit.dumps(doc)
    if missing := _new_problems(path, before, after):
        raise ConfigError(f"{missing[0].key}: {missing[0].message}")
    write_private(path, after)
    return True


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its user only (0600, whatever the umask), through
    a temporary file renamed over it; folders created on the way are 0700. A symbolic link is
    followed: the file it points to is replaced."""
    target = path.resolve() if path.is_symlink() else path
    try:
        private_dir(target.parent)
    except OSError as exc:
        where = exc.filename or target.parent
        raise ConfigError(f"cannot create {where}: {exc.strerror}") from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = private_file(tmp)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
