"""hdcli config: where the configuration is, what it says, and changing it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hdcli.commands._common import STATE, FormatOpt, JsonOpt, fmt_of, out, say

app = typer.Typer(
    help="Show and change the configuration (comments in the file are kept).\n\n"
    "Example: hdcli config get storage.url",
    no_args_is_help=True,
)
if TYPE_CHECKING:
    from hdcli.config import Config

Profile = Annotated[str | None, typer.Option("--profile", "-p", help="write into [profiles.NAME]")]


def _load() -> Config:
    from hdcli.config import Config

    return Config.load(STATE.config_path, STATE.profile)


@app.command("path")
def path() -> None:
    """Print the config file's path (it need not exist).

    Example: hdcli config path
    """
    out(str(_load().path))


@app.command("show")
def show(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """Every key with its value and where it came from (default, file, profile or env).

    Example: hdcli --profile staging config show --json
    """
    from hdcli.config import SCHEMA
    from hdcli.output import render_record, render_rows

    config = _load()
    values = config.effective()
    fmt = fmt_of(fmt, as_json)
    if fmt in ("json", "jsonl"):
        out(
            render_record(
                {
                    "config_file": str(config.path),
                    "profile": config.profile,
                    "data_dir": str(config.data_dir),
                    **values,
                },
                fmt,
            )
        )
        return
    say(f"config file: {config.path}{'' if config.path.exists() else ' (not present)'}")
    say(f"data dir:    {config.data_dir}")
    rows = [
        {"key": k, "value": v, "from": config.origin.get(k, "default")}
        for k, v in values.items()
        if k in SCHEMA
    ]
    out(render_rows(rows, fmt))


@app.command("get")
def get(key: str) -> None:
    """Print one key's value.

    Example: hdcli config get storage.url
    """
    from hdcli.config import SCHEMA
    from hdcli.errors import ConfigError, NotFound

    config = _load()
    if key in SCHEMA:
        value = config.effective()[key]
    else:
        value = config.get(key)
        if value is None:
            if not any(key.startswith(t + ".") for t in ("mail.sources", "plugins", "routing")):
                raise ConfigError(f"unknown configuration key {key!r}")
            raise NotFound(f"{key} is not set")
    if key.rsplit(".", 1)[-1] in ("password", "secret") and value:
        value = "********"  # secrets are never printed; use password_env / password_cmd
    if isinstance(value, list | dict):
        import json

        out(json.dumps(value, ensure_ascii=False))
    else:
        out(str(value).lower() if isinstance(value, bool) else str(value))


@app.command("set")
def set_(key: str, value: str, profile: Profile = None) -> None:
    """Set a key in the config file, keeping its comments and order.

    Example: hdcli config set mail.outbound.transport smtp
    """
    from hdcli.config import set_value

    path = _load().path
    stored = set_value(path, key, value, profile)
    say(f"{key} = {stored!r} in {path}")


@app.command("unset")
def unset(key: str, profile: Profile = None) -> None:
    """Remove a key from the config file (its default applies again).

    Example: hdcli config unset mail.outbound.port --profile staging
    """
    from hdcli.config import unset_value

    path = _load().path
    if unset_value(path, key, profile):
        say(f"removed {key} from {path}")
    else:
        say(f"{key} was not set in {path}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="config")
