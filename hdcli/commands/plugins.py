"""hdcli plugins: what is loaded and which hooks each implements."""

from __future__ import annotations

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, fmt_of, out


def plugins(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """List loaded plugins (built-in and installed) with their hooks and registrations.

    HDCLI_LOAD_PLUGINS='' loads no installed plugin; HDCLI_LOAD_PLUGINS=a,b only those.

    Example: hdcli plugins --json
    """
    from hdcli.output import render_rows
    from hdcli.plugins import REGISTRIES, plugin_table

    rows = plugin_table()
    provides: dict[str, list[str]] = {}
    for registry in REGISTRIES:
        for name in registry.names():
            provides.setdefault(registry.owner(name), []).append(f"{registry.kind}:{name}")
    for row in rows:
        row["provides"] = provides.get(row["name"], [])
    out(
        render_rows(rows, fmt_of(fmt, as_json), ["name", "builtin", "version", "hooks", "provides"])
    )


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins)
