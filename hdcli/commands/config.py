"""hdcli config: where the configuration is, what it says, checking and changing it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hdcli.commands._common import STATE, FormatOpt, JsonOpt, error_line, fmt_of, out, say

app = typer.Typer(
    help="Show, check and change the configuration (comments in the file are kept).\n\n"
    "Example: hdcli config check",
    no_args_is_help=True,
)
if TYPE_CHECKING:
    from hdcli.config import Config

Profile = Annotated[str | None, typer.Option("--profile", "-p", help="write into [profiles.NAME]")]


def _load() -> Config:
    from hdcli.config import Config

    return Config.load(STATE.config_path, STATE.profile)


def _path() -> Path:
    """The config file, without reading it: path, check, set and unset work on a broken one."""
    from hdcli.config import config_path

    return config_path(STATE.config_path)


def _secret(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in ("password", "secret")


@app.command("path")
def path() -> None:
    """Print the config file's path (it need not exist).

    Example: hdcli config path
    """
    out(str(_path()))


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
    from hdcli.config_schema import OPEN_TABLES
    from hdcli.errors import ConfigError, NotFound

    config = _load()
    if key in SCHEMA:
        value = config.effective()[key]
    else:
        value = config.get(key)
        if value is None:
            if not any(key.startswith(t + ".") for t in OPEN_TABLES):
                raise ConfigError(f"{key}: unknown key")
            raise NotFound(f"{key} is not set")
    if _secret(key) and value:
        value = "********"  # secrets are never printed; use password_env / password_cmd
    if isinstance(value, list | dict):
        import json

        out(json.dumps(value, ensure_ascii=False))
    else:
        out(str(value).lower() if isinstance(value, bool) else str(value))


@app.command("check")
def check(
    config: Annotated[
        Path | None, typer.Option("--config", help="the file to check (default: the one in use)")
    ] = None,
    fmt: FormatOpt = "table",
    as_json: JsonOpt = False,
) -> None:
    """Check the whole config file, every profile and the HDCLI_… environment variables.

    Prints each problem as FILE:LINE: KEY: MESSAGE (--format json: objects with file, line,
    key, message and variable) and exits 2 when there is any, 0 otherwise.

    Example: hdcli config check --config /etc/hdcli/config.toml
    """
    from hdcli.config import check as check_file
    from hdcli.config import config_path
    from hdcli.output import render_rows

    fmt = fmt_of(fmt, as_json)
    where = config_path(config if config is not None else STATE.config_path)
    problems = check_file(where)
    if fmt == "table":
        for problem in problems:
            out(str(problem))
    else:
        fields = ("file", "line", "key", "message", "variable")
        out(render_rows([p.as_dict() for p in problems], fmt, fields))
    if problems:
        error_line(f"{len(problems)} problem(s) in the configuration", 2)
        raise typer.Exit(2)
    present = "" if where.exists() else " (not present: the defaults apply)"
    say(f"{where}{present}: OK")


@app.command("set")
def set_(key: str, value: str, profile: Profile = None) -> None:
    """Set a key in the config file, keeping its comments and order.

    The value is checked first: one the key does not allow is refused (exit 2) and nothing
    is written. The file is kept readable by you only (0600).

    Example: hdcli config set mail.outbound.transport smtp
    """
    import json

    from hdcli.config import set_value

    where = _path()
    written = set_value(where, key, value, profile)
    shown = json.dumps("********" if _secret(key) else written.value, ensure_ascii=False)
    say(f"{key} = {shown} in {where}")
    for problem in written.missing:
        say(f"hdcli: note: {problem.key}: {problem.message}; set it next")
    if key.rsplit(".", 1)[-1] == "password":
        stem = key.rsplit(".", 1)[0]
        say(
            f"hdcli: warning: the password is in {where} in plain text; {stem}.password_env "
            f"(an environment variable) or {stem}.password_cmd (a command printing it) "
            "keep it out of the file"
        )


@app.command("unset")
def unset(key: str, profile: Profile = None) -> None:
    """Remove a key from the config file (its default applies again).

    Example: hdcli config unset mail.outbound.port --profile staging
    """
    from hdcli.config import unset_value

    where = _path()
    if unset_value(where, key, profile):
        say(f"removed {key} from {where}")
    else:
        say(f"{key} was not set in {where}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="config")
