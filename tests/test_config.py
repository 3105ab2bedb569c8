"""Configuration: file, profiles, environment overrides, secrets, and `hdcli config`."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpdesk import Helpdesk

from hdcli.config import Config, mask_url, resolve_secret, set_value, unset_value
from hdcli.errors import ConfigError

COMMENTED = """\
# Our helpdesk. Keep this comment.
user = "mmueller"   # the default acting agent

[storage]
# where tickets live
url = "sqlite:///tmp/x.db"

[mail]
from_address = "helpdesk@smartwork.example"

[profiles.staging]
storage.url = "sqlite:///tmp/staging.db"
"""


def test_precedence_defaults_file_profile_env(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    plain = Config.load(path, env={})
    assert plain.storage_url == "sqlite:///tmp/x.db"
    assert plain.get("mail.from_name") == "Helpdesk"  # default
    assert plain.origin["storage.url"] == "file"
    staging = Config.load(path, env={"HDCLI_PROFILE": "staging"})
    assert staging.storage_url == "sqlite:///tmp/staging.db"
    env = Config.load(
        path,
        "staging",
        env={
            "HDCLI_STORAGE__URL": "sqlite:///env.db",
            "HDCLI_MAIL__OUTBOUND__PORT": "2525",
            "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false",
        },
    )
    assert env.storage_url == "sqlite:///env.db"
    assert env.get("mail.outbound.port") == 2525
    assert env.get("mail.outbound.send_now") is False
    assert env.origin["storage.url"] == "env"


def test_no_config_at_all_uses_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    config = Config.load(env={})
    assert config.path == tmp_path / "cfg" / "hdcli" / "config.toml"
    assert config.storage_url == f"sqlite:///{tmp_path / 'data' / 'hdcli' / 'hdcli.db'}"
    assert config.outbox_path == tmp_path / "data" / "hdcli" / "outbox"


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("colour = 'red'\n", {}, r"config.toml:1: colour: unknown key"),
        ("[mail]\nauto_reply_limit = 'many'\n", {}, r"toml:2: mail.auto_reply_limit: expected"),
        ("[tickets]\nclosed_policy = 'ignore'\n", {}, "one of new_ticket, reject_with_notice"),
        ("", {"HDCLI_STORAGE__URLL": "x"}, "HDCLI_STORAGE__URLL: storage.urll: unknown key"),
        ("", {"HDCLI_MAIL__OUTBOUND__PORT": "twenty"}, "HDCLI_MAIL__OUTBOUND__PORT: mail.outbound"),
        ("[storage\n", {}, "config.toml:1: not valid TOML"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        Config.load(path, env=env)


def test_unknown_profile(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown profile 'prod'.*staging"):
        Config.load(path, "prod", env={})


def test_set_and_unset_keep_comments_and_order(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    assert set_value(path, "mail.outbound.port", "2525").value == 2525
    set_value(path, "storage.url", "sqlite:///tmp/y.db")
    text = path.read_text(encoding="utf-8")
    assert "# Our helpdesk. Keep this comment." in text
    assert "# the default acting agent" in text and "# where tickets live" in text
    assert text.index("[storage]") < text.index("[mail]")
    assert 'url = "sqlite:///tmp/y.db"' in text
    assert Config.load(path, env={}).get("mail.outbound.port") == 2525
    assert unset_value(path, "mail.outbound.port")
    assert Config.load(path, env={}).get("mail.outbound.port") == 0
    with pytest.raises(ConfigError):
        set_value(path, "mail.outbound.portt", "1")
    with pytest.raises(ConfigError):
        set_value(path, "mail.outbound.port", "x")


def test_secrets_from_env_or_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PW", "s3cret")
    assert resolve_secret({"password_env": "SMTP_PW"}) == "s3cret"
    script = tmp_path / "pw.py"
    script.write_text("print('from-cmd')\n", encoding="utf-8")
    assert resolve_secret({"password_cmd": f"{sys.executable} {script}"}) == "from-cmd"
    with pytest.raises(ConfigError, match="NOPE_PW"):
        resolve_secret({"password_env": "NOPE_PW"})
    assert (
        mask_url("postgresql://hd:topsecret@db:5432/helpdesk")
        == "postgresql://hd:***@db:5432/helpdesk"
    )


def test_config_commands(hd: Helpdesk) -> None:
    hd.config.parent.mkdir(parents=True)
    hd.config.write_text("# mine\n[mail]\nfax_number = '+49 621 53817 40'\n", encoding="utf-8")
    assert hd.ok("config", "path").strip() == str(hd.config)
    assert hd.ok("config", "get", "mail.fax_number").strip() == "+49 621 53817 40"
    hd.ok("config", "set", "mail.auto_reply_limit", "3")
    assert hd.ok("config", "get", "mail.auto_reply_limit").strip() == "3"
    assert "# mine" in hd.config.read_text(encoding="utf-8")
    shown = hd.json("config", "show")
    assert shown["config_file"] == str(hd.config)
    assert shown["mail.outbound.path"] == str(hd.outbox)
    bad = hd("config", "set", "mail.nonsense", "1")
    assert bad.returncode == 2 and "mail.nonsense: unknown key" in bad.stderr
    hd.ok("config", "unset", "mail.auto_reply_limit")
    assert hd.ok("config", "get", "mail.auto_reply_limit").strip() == "10"


def test_profile_from_the_command_line(hd: Helpdesk) -> None:
    other = hd.root / "staging.db"
    hd.config.parent.mkdir(parents=True)
    hd.config.write_text(
        f"[profiles.staging]\nstorage.url = 'sqlite:///{other}'\n", encoding="utf-8"
    )
    env = {k: v for k, v in hd.env.items() if k != "HDCLI_STORAGE__URL"}
    hd.env = env
    hd.ok("--profile", "staging", "org", "add", "Staging AG", "--domain", "staging.example")
    assert other.exists()
    assert "Staging AG" in hd.ok("--profile", "staging", "org", "list")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://hd:top@secret@db:5432/helpdesk", "postgresql://hd:***@db:5432/helpdesk"),
        (
            "postgresql://bob@db/hd?password=QSECRET&sslmode=require",
            "postgresql://bob@db/hd?password=***&sslmode=require",
        ),
        ("sqlite:////var/lib/hdcli/hdcli.db", "sqlite:////var/lib/hdcli/hdcli.db"),
    ],
)
def test_passwords_in_urls_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_config_never_prints_a_password(hd: Helpdesk) -> None:
    hd.config.parent.mkdir(parents=True)
    hd.config.write_text(
        "[mail.sources.inbox]\ntype = 'imap'\nhost = 'imap.example'\npassword = 'QSECRET1'\n"
        "[storage]\nurl = 'postgresql://bob:QSECRET2@db/hd?password=QSECRET3'\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in hd.env.items() if k != "HDCLI_STORAGE__URL"}
    hd.env = env
    shown = hd.ok("config", "show", "--format", "json") + hd.ok(
        "config", "get", "mail.sources.inbox.password"
    )
    assert "QSECRET" not in shown


# -- the schema: each validator, good and bad values ---------------------------------------------
def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return Config.load(path, env=env or {})


GOOD = [
    ("[mail.outbound]\nport = 0", "mail.outbound.port", 0),
    ("[mail.outbound]\nport = 1", "mail.outbound.port", 1),
    ("[mail.outbound]\nport = 65535", "mail.outbound.port", 65535),
    ("[mail]\nfrom_address = 'helpdesk@smartwork.example'", "mail.from_address", None),
    ("[mail]\nbilling_address = ''", "mail.billing_address", ""),
    ("[mail]\naddresses = ['a@smartwork.example', 'b@smartwork.example']", "mail.addresses", None),
    ("[mail]\ndomain = 'mail.smartwork.example'", "mail.domain", None),
    ("[mail]\nloop_header = 'X-Our-Loop'", "mail.loop_header", None),
    ("[billing]\ntimezone = 'Europe/Vienna'", "billing.timezone", None),
    ("[billing]\ntimezone = 'UTC'", "billing.timezone", None),
    ("[billing]\ncurrency = 'CHF'", "billing.currency", None),
    ("[tickets]\nsystem_id = '07'", "tickets.system_id", "07"),
    ("[tickets]\nclosed_policy = 'reopen'", "tickets.closed_policy", None),
    ("[tickets]\nnumber_format = 'increment'", "tickets.number_format", None),
    ("[tickets]\nformer_hooks = ['Anfrage#', 'Call#']", "tickets.former_hooks", None),
    ("[mail]\nauto_reply_limit = 0", "mail.auto_reply_limit", 0),
    ("[mail]\nmax_attachment_size = 0", "mail.max_attachment_size", 0),
    ("[mail.outbound]\nretry_base = 0", "mail.outbound.retry_base", 0),
    ("[mail.outbound]\ntimeout = 5", "mail.outbound.timeout", 5.0),
    ("[mail.outbound]\nsecurity = 'ssl'", "mail.outbound.security", None),
    ("[mail.outbound]\ntls_verify = false", "mail.outbound.tls_verify", False),
    ("[mail.outbound]\npassword_env = 'SMTP_PW'", "mail.outbound.password_env", None),
    ("[storage]\nurl = 'postgresql://hd@db/helpdesk'", "storage.url", None),
    (
        "[mail.sources.in]\ntype = 'imap'\nhost = 'imap.example'\nport = 993",
        "mail.sources.in",
        None,
    ),
    ("[mail.sources.in]\ntype = 'imap'\nhost = 'h'\nport = 0\non_success = 'flag'", "", None),
    ("[mail.sources.box]\ntype = 'maildir'\npath = '/srv/mail'\nbilling = true", "", None),
    ("[mail.sources.off]\ntype = 'maildir'\nenabled = false", "", None),  # incomplete, unused
    ("[mail.sources.x]\ntype = 'carrier'\npigeons = 3", "mail.sources.x.pigeons", 3),  # plugin's
    ("[[routing.rules]]\nagent = 'mm'\nsubject = '(?i)drucker'", "", None),
    ("[[routing.rules]]\nagent = 'mm'\nsender_domain = 'muster.example'", "", None),
    ("[[routing.rules]]\nbody = '(?i)alle'\nimpact = 'everyone'", "", None),
    ("[[routing.rules]]\nsubject = 'Ausfall'\npriority = 'urgent'", "", None),
    ("[plugins.webhook]\nurl = 'https://chat.example/hook'\nanything = {deep = 1}", "", None),
]


@pytest.mark.parametrize(("text", "key", "expected"), GOOD)
def test_good_values_load(tmp_path: Path, text: str, key: str, expected: object) -> None:
    config = load_text(tmp_path, text + "\n")
    if key and expected is not None:
        assert config.get(key) == expected


BAD = [
    ("[mail.outbound]\nport = 65536", "mail.outbound.port", "1-65535"),
    ("[mail.outbound]\nport = -1", "mail.outbound.port", "1-65535"),
    ("[mail.outbound]\nport = '25'", "mail.outbound.port", "whole number"),
    ("[mail.outbound]\nport = true", "mail.outbound.port", "whole number"),
    ("[mail.sources.in]\ntype = 'imap'\nhost = 'h'\nport = 70000", "mail.sources.in.port", "1-"),
    ("[mail]\nfrom_address = 'nope'", "mail.from_address", "mail address"),
    ("[mail]\nfrom_address = 'Helpdesk <h@smartwork.example>'", "mail.from_address", "address"),
    ('[mail]\nfrom_address = "h@smartwork.example\\r\\nBcc: x@evil.example"', "from_address", ""),
    ("[mail]\nbilling_address = 'billing'", "mail.billing_address", "mail address"),
    ("[mail]\naddresses = ['a@smartwork.example', 'b']", "mail.addresses", "item 2"),
    ('[mail]\nfrom_name = "Helpdesk\\r\\nBcc: x@evil.example"', "mail.from_name", "one line"),
    ('[mail]\nfax_number = "+49\\n621"', "mail.fax_number", "one line"),
    ('[tickets]\nsubject_hook = "Ticket#\\n"', "tickets.subject_hook", "one line"),
    ("[tickets]\nsubject_hook = ''", "tickets.subject_hook", "not empty"),
    ("[tickets]\nformer_hooks = ['ok', \"x\\ny\"]", "tickets.former_hooks", "item 2"),
    ('user = "mm\\u001b[2J"', "user", "one line"),
    ("[mail]\ndomain = 'bad domain'", "mail.domain", "domain"),
    ("[mail]\nloop_header = 'X Loop'", "mail.loop_header", "header name"),
    ("[mail]\nloop_header = 'X-Loop:'", "mail.loop_header", "header name"),
    ("[billing]\ntimezone = 'Mars/Base'", "billing.timezone", "unknown time zone 'Mars/Base'"),
    ("[billing]\ntimezone = '../../etc/passwd'", "billing.timezone", "unknown time zone"),
    ("[billing]\ntimezone = ''", "billing.timezone", "unknown time zone"),
    ("[billing]\ncurrency = 'eur'", "billing.currency", "three-letter"),
    ("[tickets]\nsystem_id = 'abc'", "tickets.system_id", 'two digits such as "10"'),
    ("[tickets]\nsystem_id = '1'", "tickets.system_id", "two digits"),
    ("[tickets]\nsystem_id = '100'", "tickets.system_id", "two digits"),
    ("[tickets]\nsystem_id = '\u0661\u0662'", "tickets.system_id", "two digits"),
    ("[tickets]\nsystem_id = 10", "tickets.system_id", "text"),
    ("[tickets]\nclosed_policy = 'ignore'", "tickets.closed_policy", "new_ticket, reject_with"),
    ("[tickets]\nnumber_format = 'no such'", "tickets.number_format", "a name"),
    ("[mail]\nauto_reply_limit = -1", "mail.auto_reply_limit", "0 or more"),
    ("[mail]\nmax_attachment_size = -5", "mail.max_attachment_size", "0 or more"),
    ("[mail.outbound]\nmax_attempts = 0", "mail.outbound.max_attempts", "1 or more"),
    ("[mail.outbound]\ntimeout = 0", "mail.outbound.timeout", "above 0"),
    ("[mail.outbound]\nsecurity = 'tls'", "mail.outbound.security", "ssl, starttls, none"),
    ("[mail.outbound]\npassword_env = 'SMTP PW'", "mail.outbound.password_env", "environment"),
    ("[mail.outbound]\nsend_now = 'yes'", "mail.outbound.send_now", "true or false"),
    ("[storage]\nurl = 'hdcli.db'", "storage.url", "URL"),
    ("mail = 3", "mail", "expected a table"),
    ("[mail.sources.in]\nhost = 'h'", "mail.sources.in.type", "required"),
    ("[mail.sources.in]\ntype = 'imap'", "mail.sources.in.host", "required for imap"),
    ("[mail.sources.in]\ntype = 'maildir'", "mail.sources.in.path", "required for maildir"),
    ("[mail.sources.in]\ntype = 'imap'\nhost = 'h'\nusernmae = 'x'", "in.usernmae", "username?"),
    ("[mail.sources.in]\ntype = 'maildir'\npath = '/m'\non_success = 'flag'", "on_success", "move"),
    ("[mail.sources.in]\ntype = 'imap'\nhost = 'h'\nflag = 'two words'", "in.flag", "keyword"),
    ("[mail.sources.in]\ntype = 'imap'\nhost = 'h'\nsecurity = 'tls'", "in.security", "ssl"),
    ("[mail.sources.in]\ntype = 'imap'\nhost = 'h'\nbilling = 'yes'", "in.billing", "true or"),
    ("[mail.sources.in]\ntype = 'imap'\nhost = \"h\\nx\"", "mail.sources.in.host", "one line"),
    ("[mail.sources]\nin = 'imap'", "mail.sources.in", "expected a table"),
    ("[routing]\nrules = 'mm'", "routing.rules", "[[routing.rules]]"),
    ("[routing]\nagents = ['mm']", "routing.agents", "unknown key"),
    ("[[routing.rules]]\nsubject = 'drucker'", "routing.rules[0]", "agent, impact or priority"),
    ("[[routing.rules]]\nagent = 'mm'", "routing.rules[0]", "subject, body or sender_domain"),
    ("[[routing.rules]]\nagent = 'mm'\nsubject = '(unclosed'", "rules[0].subject", "regular"),
    ("[[routing.rules]]\nagent = 'mm'\nsender_domain = 'a b'", "rules[0].sender_domain", "domain"),
    (
        "[[routing.rules]]\nagent = 'mm'\nbody = 'x'\nteam = 'it'",
        "routing.rules[0].team",
        "unknown",
    ),
    ("[plugins]\nwebhook = 'https://x.example'", "plugins.webhook", "expected a table"),
]


@pytest.mark.parametrize(("text", "key", "message"), BAD)
def test_bad_values_are_refused_naming_the_key(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text + "\n")
    error = str(caught.value)
    assert "\n" not in error and "\r" not in error
    assert f"{key}: " in error and message in error


def test_environment_values_are_converted_and_checked(tmp_path: Path) -> None:
    source = "[mail.sources.in]\ntype = 'imap'\nhost = 'h'\n"
    config = load_text(
        tmp_path,
        source,
        {"HDCLI_MAIL__SOURCES__IN__PORT": "1993", "HDCLI_MAIL__SOURCES__IN__BILLING": "yes"},
    )
    assert config.get("mail.sources.in.port") == 1993
    assert config.get("mail.sources.in.billing") is True
    with pytest.raises(ConfigError, match=r"^HDCLI_BILLING__TIMEZONE: billing.timezone: unknown"):
        load_text(tmp_path, "", {"HDCLI_BILLING__TIMEZONE": "Mars/Base"})
    with pytest.raises(ConfigError, match=r"^HDCLI_MAIL__SOURCES__IN__PORT: mail\.sources\.in"):
        load_text(tmp_path, source, {"HDCLI_MAIL__SOURCES__IN__PORT": "imaps"})


def test_a_profile_is_checked_when_it_is_used(tmp_path: Path) -> None:
    text = "[profiles.staging]\nbilling.timezone = 'Mars/Base'\n"
    assert load_text(tmp_path, text).get("billing.timezone") == "Europe/Berlin"
    with pytest.raises(ConfigError, match=r"config.toml:2: profiles.staging.billing.timezone: "):
        Config.load(tmp_path / "config.toml", "staging", env={})


def test_the_schema_shares_the_vocabularies_of_the_models() -> None:
    from hdcli import models
    from hdcli.config_schema import SCHEMA, SOURCE_TYPES, Choice

    policy = SCHEMA["tickets.closed_policy"].rule
    assert isinstance(policy, Choice) and policy.values is models.CLOSED_POLICIES
    for rule in (SCHEMA["mail.outbound.security"].rule, SOURCE_TYPES["imap"]["security"].rule):
        assert isinstance(rule, Choice) and rule.values is models.TLS_SECURITIES
    on_success = SOURCE_TYPES["maildir"]["on_success"].rule
    assert isinstance(on_success, Choice) and on_success.values is models.MAILDIR_ON_SUCCESS


def test_every_default_passes_its_own_rule() -> None:
    from hdcli.config_schema import RULE_KEYS, SCHEMA, SOURCE_KEYS, SOURCE_TYPES

    tables = [SCHEMA, SOURCE_KEYS, RULE_KEYS, *SOURCE_TYPES.values()]
    for spec in (spec for table in tables for spec in table.values()):
        if spec.default is None or spec.rule is None:
            continue
        for item in spec.default if isinstance(spec.default, list) else [spec.default]:
            if item != "" or "nothing" in spec.rule.allowed:
                spec.rule(item)


def test_loading_stays_cheap(tmp_path: Path) -> None:
    """No zoneinfo while the time zone is the default, no email package, no difflib."""
    import json
    import subprocess

    path = tmp_path / "config.toml"
    path.write_text(
        "[mail]\nfrom_address = 'helpdesk@smartwork.example'\naddresses = ['b@x.example']\n"
        "[mail.outbound]\nport = 587\nsecurity = 'starttls'\n"
        "[mail.sources.in]\ntype = 'imap'\nhost = 'imap.example'\n"
        "[[routing.rules]]\nagent = 'mm'\nsubject = 'drucker'\n",
        encoding="utf-8",
    )
    probe = (
        "import json, sys\nfrom hdcli.config import Config\n"
        f"Config.load({str(path)!r}, env={{}})\nprint(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    mods = set(json.loads(done.stdout))
    assert not {m for m in mods if m.split(".")[0] in ("zoneinfo", "email", "difflib", "tomlkit")}
    assert "hdcli.plugins" not in mods  # registered names are checked lazily


# -- hdcli config set: refusals, secrets, file modes -------------------------------------------
def test_config_set_refuses_a_bad_value_with_one_line_and_writes_nothing(hd: Helpdesk) -> None:
    hd.config.parent.mkdir(parents=True)
    hd.config.write_text("# keep\n[billing]\ncurrency = 'EUR'\n", encoding="utf-8")
    before = hd.config.read_text(encoding="utf-8")
    for key, value, allowed in [
        ("billing.timezone", "Mars/Base", "IANA time zone"),
        ("tickets.system_id", "abc", "two digits"),
        ("mail.outbound.port", "70000", "1-65535"),
        ("mail.from_address", "helpdesk", "mail address"),
        ("tickets.closed_policy", "ignore", "new_ticket, reject_with_notice, reopen"),
        ("mail.outbound.transport", "pigeon", "known: file, maildir, sendmail, smtp"),
        ("tickets.number_format", "pigeon", "known: date_checksum, increment"),
    ]:
        proc = hd("config", "set", key, value)
        assert proc.returncode == 2, (key, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hdcli: error: {key}: "), lines
        assert allowed in lines[0]
    assert hd.config.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("mail.sources.in", "mail.sources.in holds a table"),
        ("mail.sources", "mail.sources holds a table"),
        ("routing", "routing holds a table"),
        ("routing.rules", "routing.rules holds a list of tables"),
        ("mail.outbound", "mail.outbound holds a table"),
        ("plugins.webhook", "plugins.webhook holds a table"),
    ],
)
def test_config_set_refuses_a_value_for_a_table(hd: Helpdesk, key: str, message: str) -> None:
    hd.config.parent.mkdir(parents=True)
    text = "[mail.sources.in]\ntype = 'maildir'\npath = '/srv/mail'\n[plugins.webhook]\nurl = 'x'\n"
    hd.config.write_text(text, encoding="utf-8")
    proc = hd("config", "set", key, "imap")
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert hd.config.read_text(encoding="utf-8") == text


def test_config_set_fills_a_source_key_by_key(hd: Helpdesk) -> None:
    early = hd("config", "set", "mail.sources.in.port", "993")
    assert early.returncode == 2 and "set mail.sources.in.type first" in early.stderr
    typed = hd("config", "set", "mail.sources.in.type", "imap")
    assert typed.returncode == 0 and "mail.sources.in.host: required" in typed.stderr
    hd.ok("config", "set", "mail.sources.in.host", "imap.smartwork.example")
    hd.ok("config", "set", "mail.sources.in.port", "993")
    wrong = hd("config", "set", "mail.sources.in.path", "/srv/mail")
    assert wrong.returncode == 2 and "mail.sources.in.path: unknown key" in wrong.stderr
    config = Config.load(hd.config, env={})
    assert config.get("mail.sources.in") == {
        "type": "imap",
        "host": "imap.smartwork.example",
        "port": 993,
    }
    assert hd("config", "check").returncode == 0


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_config_set_password_warns_and_the_file_is_private(hd: Helpdesk) -> None:
    with umask(0o022):
        proc = hd("config", "set", "mail.outbound.password", "QSECRET")
    assert proc.returncode == 0, proc.stderr
    assert "QSECRET" not in proc.stderr + proc.stdout
    warning = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1
    assert "mail.outbound.password_env" in warning[0] and "password_cmd" in warning[0]
    assert stat.S_IMODE(hd.config.stat().st_mode) == 0o600  # created fresh
    for folder in (hd.config.parent, hd.config.parent.parent):  # config/hdcli: both created
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert 'password = "QSECRET"' in hd.config.read_text(encoding="utf-8")
    hd.config.chmod(0o644)
    with umask(0o022):
        quiet = hd("config", "set", "mail.outbound.username", "helpdesk")
    assert quiet.returncode == 0 and "warning" not in quiet.stderr
    assert stat.S_IMODE(hd.config.stat().st_mode) == 0o600  # an existing file is made private
    with umask(0o077):
        hd.ok("config", "set", "mail.sources.in.type", "imap")
        hd.ok("config", "set", "mail.sources.in.host", "imap.smartwork.example")
        warned = hd("config", "set", "mail.sources.in.password", "QSECRET2")
    assert "mail.sources.in.password_env" in warned.stderr
    assert stat.S_IMODE(hd.config.stat().st_mode) == 0o600


def test_set_value_keeps_a_symlinked_config_where_it_points(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "hdcli.toml"
    real.parent.mkdir()
    real.write_text("# mine\n", encoding="utf-8")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    set_value(link, "mail.from_name", "Helpdesk")
    assert link.is_symlink() and "from_name" in real.read_text(encoding="utf-8")


def test_unset_removes_what_is_there_even_an_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[mail]\ncolour = 'red'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="colour"):
        Config.load(path, env={})
    assert unset_value(path, "mail.colour")
    Config.load(path, env={})
    with pytest.raises(ConfigError, match=r"mail\.colour: unknown key"):
        unset_value(path, "mail.colour")
    path.write_text("[mail.sources.in]\ntype = 'maildir'\npath = '/m'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mail\.sources\.in\.type: required"):
        unset_value(path, "mail.sources.in.type")
    assert unset_value(path, "mail.sources.in")


@pytest.mark.parametrize(
    "value", [None, "", "  ", "/srv/xdg"], ids=["unset", "empty", "blank", "set"]
)
def test_the_inline_xdg_rule_gives_platformdirs_folders(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    import platformdirs

    from hdcli.config import default_config_path, default_data_dir

    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    assert default_config_path() == Path(platformdirs.user_config_dir("hdcli")) / "config.toml"
    assert default_data_dir() == Path(platformdirs.user_data_dir("hdcli"))
