"""Configuration: file, profiles, environment overrides, secrets, and `hdcli config`."""

from __future__ import annotations

import sys
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
        ("colour = 'red'\n", {}, "unknown configuration key 'colour'"),
        ("[mail]\nauto_reply_limit = 'many'\n", {}, "bad value for mail.auto_reply_limit"),
        ("[tickets]\nclosed_policy = 'ignore'\n", {}, "allowed: new_ticket"),
        ("", {"HDCLI_STORAGE__URLL": "x"}, "unknown configuration key 'storage.urll'"),
        ("", {"HDCLI_MAIL__OUTBOUND__PORT": "twentyfive"}, "bad value for mail.outbound.port"),
        ("[storage\n", {}, "cannot read"),
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
    assert set_value(path, "mail.outbound.port", "2525") == 2525
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
    assert bad.returncode == 2 and "unknown configuration key" in bad.stderr
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
        "[mail.sources.inbox]\ntype = 'imap'\npassword = 'QSECRET1'\n"
        "[storage]\nurl = 'postgresql://bob:QSECRET2@db/hd?password=QSECRET3'\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in hd.env.items() if k != "HDCLI_STORAGE__URL"}
    hd.env = env
    shown = hd.ok("config", "show", "--format", "json") + hd.ok(
        "config", "get", "mail.sources.inbox.password"
    )
    assert "QSECRET" not in shown
