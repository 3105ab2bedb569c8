"""Start-up stays cheap: building the CLI imports no heavy module, and the shortcuts taken for
speed (``--version`` without Typer, one command module per run, the template fast path, the
entry-point scan) give the same answers as the long way round."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hdcli import templates

HEAVY = (
    "requests",
    "psycopg",
    "jinja2",
    "tabulate",
    "fpdf",
    "email.parser",
    "email.message",
    "platformdirs",
    "importlib.metadata",
    "zoneinfo",
    "starlette",
    "uvicorn",
    "babel",
)
TEMPLATE_DIR = Path(templates.__file__).parent / "templates"


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDCLI_")}
    env.update(
        HDCLI_CONFIG=str(tmp_path / "config.toml"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        HDCLI_LOAD_PLUGINS="",
        **extra,
    )
    return env


def imported_after(code: str, env: dict[str, str]) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("plugins", ["", None], ids=["no-entry-points", "entry-points"])
def test_building_the_app_imports_no_heavy_module(tmp_path: Path, plugins: str | None) -> None:
    env = env_for(tmp_path)
    if plugins is None:
        del env["HDCLI_LOAD_PLUGINS"]  # the default: every installed plugin is loaded
    mods = imported_after("import hdcli.cli\nhdcli.cli.build()", env)
    heavy = sorted(m for m in mods if m.split(".")[0] in HEAVY or m in HEAVY)
    if plugins is None:
        # a third-party plugin may import what it likes; hdcli's own loading must not
        heavy = [m for m in heavy if m not in ("requests",) and not m.startswith("requests.")]
    assert heavy == []
    assert "sqlite3" not in mods  # not even the store is opened to build the app


def test_version_is_answered_without_typer_or_pluggy(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    mods = imported_after(
        "import hdcli.cli\ntry:\n    hdcli.cli.main(['--version'])\nexcept SystemExit:\n    pass",
        env,
    )
    assert "typer" not in mods and "pluggy" not in mods
    done = subprocess.run(
        [sys.executable, "-m", "hdcli", "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("hdcli ")


def test_a_command_gives_the_same_answer_with_root_options(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    run = [sys.executable, "-m", "hdcli"]
    for setup in (
        ["db", "upgrade"],
        ["agent", "add", "mmueller", "--name", "M", "--email", "m@x.example"],
    ):
        subprocess.run([*run, *setup], capture_output=True, env=env, check=True)
    a = subprocess.run(
        [*run, "list", "--limit", "1", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    b = subprocess.run(
        [*run, "--config", env["HDCLI_CONFIG"], "--as=mmueller", "list", "--limit", "1", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert a.returncode == b.returncode == 0
    assert json.loads(a.stdout) == json.loads(b.stdout) == []
    unknown = subprocess.run(
        [*run, "nosuchcommand"], capture_output=True, text=True, env=env, check=False
    )
    assert unknown.returncode == 2 and "No such command" in unknown.stderr
    helped = subprocess.run([*run, "--help"], capture_output=True, text=True, env=env, check=False)
    assert helped.returncode == 0
    for name in ("open", "list", "show", "report", "mail", "doctor"):
        assert f"  {name} " in helped.stdout


def test_invoked_command_finds_the_command_behind_root_options() -> None:
    from hdcli.cli import invoked_command

    assert invoked_command(["list", "--limit", "1"]) == "list"
    args = ["--config", "x.toml", "--profile=staging", "--as", "a", "open"]
    assert invoked_command(args) == "open"
    assert invoked_command(["--help"]) is None
    assert invoked_command(["--version"]) is None
    assert invoked_command([]) is None
    assert invoked_command(["webhook"]) is None  # not built in: the whole app, with plugins


def test_entry_point_scan_agrees_with_importlib_metadata() -> None:
    from importlib.metadata import entry_points

    from hdcli.plugins import scan_entry_points

    for group in ("console_scripts", "hdcli"):
        ours = scan_entry_points(group)
        assert ours is not None
        theirs = entry_points(group=group)
        assert sorted((n, t) for n, t, _, _ in ours) == sorted((e.name, e.value) for e in theirs)


#: A value each filter of hdcli.formats takes, for the variables a template filters.
FILTER_SAMPLES = {
    "money": "3230.5",
    "hours": 90,
    "date": "2026-11-27",
    "datetime": "2026-11-27T13:05:00Z",
    "number": "1.5",
}
_FILTERED: dict[tuple[str, ...], str] = {}


def _paths(nodes: list[Any], found: dict[tuple[str, ...], bool]) -> None:
    for node in nodes:
        if isinstance(node, str):
            continue
        if node[0] == "var":
            found.setdefault(tuple(node[1]), False)
            if node[2] is not None:
                _FILTERED[tuple(node[1])] = node[2]
        else:
            found[tuple(node[1])] = True
            _paths(node[2], found)
            _paths(node[3], found)


def _context(
    paths: dict[tuple[str, ...], bool], truth: dict[tuple[str, ...], bool]
) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for path in paths:
        node = ctx
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = "Jürgen Öztürk <ä@ß.example> {{ x }}" if truth.get(path, True) else ""
        if path in _FILTERED:
            node[path[-1]] = FILTER_SAMPLES[_FILTERED[path]]
    return ctx


def _jinja(source: str, ctx: dict[str, Any]) -> str:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from hdcli.formats import jinja_filters

    env.filters.update(jinja_filters())
    return env.from_string(source).render(**ctx)


SYNTHETIC = [
    "a {{ x }} b\n",
    "no trailing newline {{ x }}",
    "  {% if x %}\n  indented\n  {% endif %}\nend\n",
    "inline{% if x %}, yes{% else %}, no{% endif %}.\n",
    "{% if x %}\n{% if y.z %}both\n{% else %}x only\n{% endif %}\n{% endif %}tail\n",
    "\t{% if x %}tab{% endif %}\n\n",
    "{{ a.amount | money }} {{ a.minutes|hours }} {{ a.day | date }} {{ a.n | number }}\n",
]


@pytest.mark.parametrize(
    "source",
    [
        *(p.read_text(encoding="utf-8") for p in sorted(TEMPLATE_DIR.glob("*/*.txt"))),
        *SYNTHETIC,
    ],
)
def test_template_fast_path_renders_exactly_like_jinja(source: str) -> None:
    nodes = templates._parse_simple(source)
    assert nodes is not None, "a shipped template left the fast path (start-up cost)"
    paths: dict[tuple[str, ...], bool] = {}
    _paths(nodes, paths)
    conds = [p for p, is_cond in paths.items() if is_cond]
    for values in itertools.product((True, False), repeat=len(conds)):
        ctx = _context(paths, dict(zip(conds, values, strict=True)))
        assert templates.render_simple(source, ctx) == _jinja(source, ctx)


@pytest.mark.parametrize(
    ("source", "ctx"),
    [
        ("{{ x|upper }}", {"x": "a"}),  # filters other than hdcli.formats': Jinja's
        ("{% for a in x %}{{ a }}{% endfor %}", {"x": "ab"}),
        ("{{ d.items }}", {"d": {"items": 1}}),  # a dict method name: Jinja's lookup order
        ("{{ missing }}", {}),  # undefined: Jinja raises
        ("{{ o.real }}", {"o": 3}),  # not a dict: the sandbox decides
        ("{# comment #}{{ x }}", {"x": 1}),
        ("{% if x %}open", {"x": 1}),
    ],
)
def test_template_fast_path_leaves_everything_else_to_jinja(
    source: str, ctx: dict[str, Any]
) -> None:
    assert templates.render_simple(source, ctx) is None


# What a real command run imports, at the end of the process (atexit: after the command's
# output, its commit and the mail queued by it). Every run loads no plugin from entry points.
_RUN_AND_DUMP = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: open(sys.argv[1], 'w').write(json.dumps(sorted(sys.modules))))\n"
    "import hdcli.cli\n"
    "hdcli.cli.main(sys.argv[2:])\n"
)
NEVER = (
    "requests",
    "psycopg",
    "jinja2",
    "fpdf",
    "babel",
    "tomlkit",
    "platformdirs",
    "importlib.metadata",
    "charset_normalizer",
    "ssl",
    "smtplib",
)
MAIL_PARSING = ("email.parser", "email.feedparser", "email.message")


def imported_by_run(hd: Any, args: list[str], input: bytes | None = None) -> set[str]:
    dump = hd.root / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _RUN_AND_DUMP, str(dump), *args],
        input=input,
        capture_output=True,
        env=hd.env,
        cwd=hd.root,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(dump.read_text()))


def heavy_in(mods: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in mods if any(m == n or m.startswith(n + ".") for n in names))


def test_real_command_runs_import_only_what_they_need(hd: Any) -> None:
    hd.seed()
    opened = imported_by_run(
        hd, ["open", "-c", "anna.schmidt@muster.example", "-s", "Drucker", "-m", "Hilfe", "-q"]
    )
    assert [m["To"].addresses[0].addr_spec for m in hd.mails()] == ["anna.schmidt@muster.example"]
    number = hd.json("list")[0]["number"]
    listed = imported_by_run(hd, ["list", "--limit", "1"])
    shown = imported_by_run(hd, ["show", str(number)])
    reply = (
        "From: anna.schmidt@muster.example\nTo: helpdesk@smartwork.example\n"
        f"Subject: Re: [#{number}] Drucker\nMessage-ID: <r1@muster.example>\n\nNoch da.\n"
    ).encode()
    ingested = imported_by_run(hd, ["mail", "ingest", "-"], input=reply)
    assert len(hd.json("show", str(number))["articles"]) == 2
    for mods in (opened, listed, shown, ingested):
        assert heavy_in(mods, NEVER) == []
    for mods in (opened, listed, shown):
        assert heavy_in(mods, MAIL_PARSING) == []
    assert "email.parser" in ingested or "email.feedparser" in ingested  # the probe sees imports
    assert "tabulate" not in opened  # -q prints the number only
    for mods in (opened, listed, shown):  # nothing to log, and a Message-ID needs no hmac
        assert heavy_in(mods, ("logging", "secrets", "hmac")) == []


_LOG_LATE = """
import sys
from hdcli.util import RunLog

run_log = RunLog(sys.stderr, debug=False)
assert "logging" not in sys.modules
import logging

log = logging.getLogger("hdcli.probe")
log.info("not shown")
log.warning("kept %s", "queued")
run_log.close()
log.warning("after the run")
assert run_log not in sys.meta_path
"""


def test_the_run_log_is_set_up_when_logging_is_first_imported() -> None:
    """A run that logs nothing does not import logging; a run that does gets its
    ``hdcli: LEVEL: message`` lines all the same, and only for the run's duration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDCLI_")}
    done = subprocess.run(
        [sys.executable, "-c", _LOG_LATE], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["hdcli: WARNING: kept queued", "after the run"]
