"""The plugin manager: built-in plugins, entry-point loading and a typed facade.

Built-in features are ordinary plugins in :mod:`hdcli.default_plugins`, registered through the
same hooks as third-party ones. ``HDCLI_LOAD_PLUGINS`` controls entry-point loading: unset loads
every installed plugin of the ``hdcli`` group, an empty value loads none, a comma-separated list
loads only those names.

Entry points are found by reading the ``entry_points.txt`` of the distributions on ``sys.path``
directly (what :mod:`importlib.metadata` does, without importing it: it pulls in the ``email``
package and costs tens of milliseconds at every start). A ``sys.path`` entry that is not a
folder (a zip file) makes the loader fall back to :mod:`importlib.metadata`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import pluggy

from hdcli import hookspecs
from hdcli.errors import UsageError
from hdcli.util import logger

DEFAULT_PLUGINS = (
    "hdcli.default_plugins.storage",
    "hdcli.default_plugins.mail",
    "hdcli.default_plugins.numbers",
    "hdcli.default_plugins.reports",
    "hdcli.default_plugins.templates",
    "hdcli.default_plugins.routing",
    "hdcli.default_plugins.approvals",
    "hdcli.default_plugins.billing",
)

pm = pluggy.PluginManager("hdcli")
pm.add_hookspecs(hookspecs)

_loaded = False

#: Version of each plugin loaded from an entry point, by plugin name (for ``hdcli plugins``).
_versions: dict[str, str | None] = {}

EntryPointRow = tuple[str, str, str, "str | None"]
"""(entry-point name, ``module:attr`` target, distribution name, version or None)."""


def _parse_entry_points(text: str, group: str) -> list[tuple[str, str]]:
    """(name, target) of ``group`` in an ``entry_points.txt`` (INI; extras like ``[x]`` dropped)."""
    found: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[" and line[-1] == "]":
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append((name.strip(), value.split("[", 1)[0].strip()))
    return found


def _pkg_info_version(folder: str) -> str | None:
    """The ``Version:`` of an ``.egg-info`` folder's PKG-INFO (its name carries none)."""
    try:
        with open(os.path.join(folder, "PKG-INFO"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Version:"):
                    return line[8:].strip() or None
                if not line.strip():
                    break
    except (OSError, UnicodeDecodeError):
        pass
    return None


def scan_entry_points(group: str) -> list[EntryPointRow] | None:
    """Entry points of ``group`` of every distribution on ``sys.path``, in path order.

    None when a ``sys.path`` entry is a file (a zip), which only :mod:`importlib.metadata`
    can read.
    """
    rows: list[EntryPointRow] = []
    marker = f"[{group}]"
    seen: set[str] = set()
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except NotADirectoryError:
            return None
        except OSError:
            continue
        for fname in names:
            if not fname.endswith((".dist-info", ".egg-info")):
                continue
            stem = fname.rpartition(".")[0]
            dist, _, version = stem.partition("-")
            key = dist.lower().replace("-", "_").replace(".", "_")
            if key in seen:
                continue  # an earlier sys.path entry has this distribution (it wins)
            seen.add(key)
            try:
                with open(os.path.join(folder, fname, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError):
                continue
            if marker not in text:
                continue
            found = _parse_entry_points(text, group)
            known = version.partition("-")[0] or _pkg_info_version(os.path.join(folder, fname))
            rows.extend((name, target, dist, known) for name, target in found)
    return rows


def _entry_points(group: str) -> list[EntryPointRow]:
    rows = scan_entry_points(group)
    if rows is None:
        from importlib.metadata import entry_points

        rows = [
            (
                ep.name,
                ep.value,
                ep.dist.name if ep.dist else "",
                ep.dist.version if ep.dist else None,
            )
            for ep in entry_points(group=group)
        ]
    return rows


def _load_entry_points(only: set[str] | None) -> None:
    """Register the ``hdcli`` entry points (only those named in ``only``, when given)."""
    for name, target, _dist, version in _entry_points("hdcli"):
        if only is not None and name not in only:
            continue
        if pm.get_plugin(name) is not None or pm.is_blocked(name):
            continue  # the first distribution on sys.path wins, as with importlib.metadata
        try:
            plugin = resolve(target)
        except Exception as exc:
            raise UsageError(
                f"plugin {name!r} ({target}) failed to load: {exc}; "
                "HDCLI_LOAD_PLUGINS='' starts hdcli without installed plugins"
            ) from exc
        pm.register(plugin, name)
        _versions[name] = version


def load_plugins() -> None:
    """Register the built-in plugins and those installed under the ``hdcli`` entry-point group."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in DEFAULT_PLUGINS:
        mod = importlib.import_module(name)
        if not pm.is_registered(mod):
            pm.register(mod, name)
    wanted = os.environ.get("HDCLI_LOAD_PLUGINS")
    if wanted is None:
        _load_entry_points(None)
    elif wanted.strip():
        _load_entry_points({n.strip() for n in wanted.split(",") if n.strip()})
    pm.check_pending()


def reset() -> None:
    """Undo :func:`load_plugins`: unregister the plugins it loaded from entry points and
    forget what the registries collected, so that the next use loads again as a fresh process
    would (with the ``HDCLI_LOAD_PLUGINS`` of that time).

    The built-in plugins stay registered, and so do plugins registered by hand.
    """
    global _loaded
    for name in list(_versions):
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
    _versions.clear()
    _loaded = False
    reset_registries()


def resolve(target: Any) -> Any:
    """Import a ``"module:attr"`` target (anything else is returned as it is)."""
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
        return obj
    return target


class Registry:
    """Named targets collected from one registration hook; resolved (imported) on use."""

    def __init__(self, kind: str, hook: str) -> None:
        self.kind = kind
        self.hook = hook
        self._targets: dict[str, Any] | None = None
        self._owner: dict[str, str] = {}

    def _collect(self) -> dict[str, Any]:
        if self._targets is None:
            load_plugins()
            targets: dict[str, Any] = {}

            # hook implementations in pluggy's order (tryfirst/trylast respected)
            for impl in reversed(getattr(pm.hook, self.hook).get_hookimpls()):
                owner = impl.plugin_name

                def register(name: str, target: Any = None, _owner: str = owner) -> None:
                    if name in targets and self._owner.get(name) != _owner:
                        raise UsageError(
                            f"{self.kind} {name!r} registered twice "
                            f"({self._owner[name]} and {_owner})"
                        )
                    targets[name] = target
                    self._owner[name] = _owner

                impl.function(register=register)
            self._targets = targets
        return self._targets

    def names(self) -> list[str]:
        return sorted(self._collect())

    def owner(self, name: str) -> str:
        self._collect()
        return self._owner.get(name, "")

    def get(self, name: str) -> Any:
        targets = self._collect()
        if name not in targets:
            known = ", ".join(sorted(targets)) or "none"
            raise UsageError(f"unknown {self.kind} {name!r} (known: {known})")
        return resolve(targets[name])

    def reset(self) -> None:
        self._targets = None
        self._owner = {}


storage_backends = Registry("storage scheme", "register_storage")
transports = Registry("mail transport", "register_transports")
sources = Registry("mail source type", "register_sources")
number_formats = Registry("ticket number format", "register_number_formats")
reports = Registry("report", "register_reports")

REGISTRIES = (storage_backends, transports, sources, number_formats, reports)


def reset_registries() -> None:
    """Forget collected registrations (after registering or unregistering a plugin)."""
    for registry in REGISTRIES:
        registry.reset()


def template_dirs() -> list[str]:
    """Template folders from plugins, lowest precedence first."""
    load_plugins()
    dirs: list[str] = []
    pm.hook.register_template_dirs(register=dirs.append)
    return dirs


class Hooks:
    """Typed facade over ``pm.hook`` so the rest of the code calls functions, not hooks."""

    @staticmethod
    def route_message(mail: Any, config: Any) -> str | None:
        load_plugins()
        result: str | None = pm.hook.route_message(mail=mail, config=config)
        return result

    @staticmethod
    def prepare_outbound(message: Any, context: dict[str, Any]) -> None:
        load_plugins()
        pm.hook.prepare_outbound(message=message, context=context)

    @staticmethod
    def guard_change(change: Any) -> str | None:
        load_plugins()
        result: str | None = pm.hook.guard_change(change=change)
        return result

    @staticmethod
    def ticket_changing(change: Any, ticket: Any, ctx: Any) -> str | None:
        load_plugins()
        result: str | None = pm.hook.ticket_changing(change=change, ticket=ticket, ctx=ctx)
        return result

    @staticmethod
    def ticket_changed(event: Any, ticket: Any, ctx: Any) -> None:
        load_plugins()
        pm.hook.ticket_changed(event=event, ticket=ticket, ctx=ctx)

    @staticmethod
    def handle_inbound_mail(
        mail: Any, ticket: Any, ctx: Any, candidates: list[Any], mailbox: str
    ) -> Any:
        load_plugins()
        return pm.hook.handle_inbound_mail(
            mail=mail, ticket=ticket, ctx=ctx, candidates=candidates, mailbox=mailbox
        )

    @staticmethod
    def ticket_event(event: Any, config: Any) -> None:
        """Call every ``ticket_event`` implementation; failures are logged, never raised."""
        load_plugins()
        for impl in reversed(pm.hook.ticket_event.get_hookimpls()):
            try:
                given = {"event": event, "config": config}
                impl.function(*[given[name] for name in impl.argnames])
            except Exception as exc:  # a failing plugin never fails the command
                logger("hdcli.plugins").warning(
                    "plugin %s failed on %s: %s", impl.plugin_name, event.event, exc
                )

    @staticmethod
    def register_commands(app: Any) -> None:
        load_plugins()
        pm.hook.register_commands(app=app)


hooks = Hooks()


def plugin_table() -> list[dict[str, Any]]:
    """Loaded plugins with the hooks each implements (for ``hdcli plugins``)."""
    load_plugins()
    rows: list[dict[str, Any]] = []
    dists = {plugin: dist for plugin, dist in pm.list_plugin_distinfo()}
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        hooks_of = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist = dists.get(plugin)
        version = getattr(dist, "version", None) if dist else _versions.get(name)
        rows.append(
            {
                "name": name,
                "builtin": name in DEFAULT_PLUGINS,
                "version": version,
                "hooks": hooks_of,
            }
        )
    # built-in plugins first, each group by name: the same order on every run
    return sorted(rows, key=lambda r: (not r["builtin"], r["name"]))


Register = Callable[[str, Any], None]
