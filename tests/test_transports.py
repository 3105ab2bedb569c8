"""Outbound transports against a real SMTP server, a real sendmail-like program and the disk."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import SmtpServer, free_port

from hdcli.errors import TransientError, UsageError
from hdcli.mail.transports import (
    FileTransport,
    MaildirTransport,
    PermanentSendError,
    SendError,
    SendmailTransport,
    SmtpTransport,
    TemporarySendError,
)

RAW = (
    "From: Support <support@example.net>\r\n"
    "To: Kunde <kunde@example.com>\r\n"
    "Subject: =?utf-8?q?[Ticket#2026112710000127]_Drucker_druckt_nicht?=\r\n"
    "Message-ID: <1@example.net>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Grüße aus dem Helpdesk.\r\n"
    ".\r\n"
    ".. a line starting with dots\r\n"
    "From the start of a line\r\n"
).encode()


# -- SMTP ------------------------------------------------------------------------------------


def test_smtp_delivers_byte_faithful_messages_over_one_connection(
    smtp_server: SmtpServer,
) -> None:
    transport = SmtpTransport(smtp_server.settings())
    try:
        transport.send("support@example.net", ["kunde@example.com"], RAW)
        transport.send("support@example.net", ["a@example.com", "b@example.com"], RAW + b"2\r\n")
    finally:
        transport.close()
        transport.close()

    first, second = smtp_server.messages
    assert first.raw == RAW
    assert first.envelope_from == "support@example.net"
    assert first.recipients == ["kunde@example.com"]
    assert second.recipients == ["a@example.com", "b@example.com"]
    assert second.raw == RAW + b"2\r\n"


def test_smtp_bare_lf_and_cr_become_crlf_on_the_wire(smtp_server: SmtpServer) -> None:
    with SmtpTransport(smtp_server.settings()) as transport:
        transport.send("support@example.net", ["kunde@example.com"], RAW.replace(b"\r\n", b"\n"))
        transport.send("support@example.net", ["kunde@example.com"], RAW.replace(b"\r\n", b"\r"))
        # A lone "." line in a body with bare LF must not end the message early.
        transport.send("support@example.net", ["kunde@example.com"], b"Subject: x\n\nA\n.\nB")
    assert [m.raw for m in smtp_server.messages] == [RAW, RAW, b"Subject: x\r\n\r\nA\r\n.\r\nB\r\n"]


def test_smtp_down_is_temporary_and_back_delivers(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.settings())
    transport.send("support@example.net", ["kunde@example.com"], RAW)
    smtp_server.stop()
    with pytest.raises(TemporarySendError, match=str(smtp_server.port)) as info:
        transport.send("support@example.net", ["kunde@example.com"], RAW)
    assert isinstance(info.value, TransientError)  # the CLI maps it to exit 75
    smtp_server.start()
    transport.send("support@example.net", ["kunde@example.com"], RAW)
    transport.close()
    assert len(smtp_server.messages) == 2


def test_smtp_nothing_listening_is_temporary() -> None:
    transport = SmtpTransport({"host": "127.0.0.1", "port": free_port(), "security": "none"})
    with pytest.raises(TemporarySendError, match="cannot reach"):
        transport.send("support@example.net", ["kunde@example.com"], RAW)


def test_smtp_550_is_permanent_with_the_server_text(smtp_server: SmtpServer) -> None:
    smtp_server.reject["gone@example.com"] = "550 5.1.1 <gone@example.com>: mailbox unknown"
    with (
        SmtpTransport(smtp_server.settings()) as transport,
        pytest.raises(
            PermanentSendError, match=re.escape("550 5.1.1 <gone@example.com>: mailbox unknown")
        ),
    ):
        transport.send("support@example.net", ["gone@example.com"], RAW)
    assert smtp_server.messages == []


def test_smtp_451_is_temporary(smtp_server: SmtpServer) -> None:
    smtp_server.reject["busy@example.com"] = "451 4.3.0 try again later"
    transport = SmtpTransport(smtp_server.settings())
    with pytest.raises(TemporarySendError, match=re.escape("451 4.3.0 try again later")):
        transport.send("support@example.net", ["busy@example.com"], RAW)
    # The transport recovers for the next message.
    transport.send("support@example.net", ["kunde@example.com"], RAW)
    transport.close()
    assert [m.recipients for m in smtp_server.messages] == [["kunde@example.com"]]


def test_smtp_rejected_data_is_classified_by_code(smtp_server: SmtpServer) -> None:
    smtp_server.data_reply = "554 5.7.1 message refused as spam"
    with pytest.raises(PermanentSendError, match=re.escape("554 5.7.1 message refused as spam")):
        SmtpTransport(smtp_server.settings()).send("s@example.net", ["k@example.com"], RAW)
    smtp_server.data_reply = "452 4.3.1 insufficient storage"
    with pytest.raises(TemporarySendError, match="452"):
        SmtpTransport(smtp_server.settings()).send("s@example.net", ["k@example.com"], RAW)


def test_smtp_partly_refused_names_who_got_it(smtp_server: SmtpServer) -> None:
    smtp_server.reject["gone@example.com"] = "550 5.1.1 no such user"
    with (
        SmtpTransport(smtp_server.settings()) as transport,
        pytest.raises(PermanentSendError, match=re.escape("gone@example.com")) as info,
    ):
        transport.send("s@example.net", ["kunde@example.com", "gone@example.com"], RAW)
    assert info.value.accepted == ["kunde@example.com"]
    assert [m.recipients for m in smtp_server.messages] == [["kunde@example.com"]]


def test_smtp_header_injection_in_addresses_is_refused(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.settings())
    for bad in ("kunde@example.com\r\nRCPT TO:<x@evil.example>", "a b@example.com", ""):
        with pytest.raises(PermanentSendError):
            transport.send("support@example.net", [bad], RAW)
    with pytest.raises(PermanentSendError):
        transport.send("support@example.net", [], RAW)
    assert smtp_server.messages == []


def test_smtp_starttls_with_login(smtp_server_factory: Callable[..., SmtpServer]) -> None:
    server = smtp_server_factory(security="starttls", users={"agent": "s3cret"})
    with SmtpTransport(server.settings(username="agent", password="s3cret")) as transport:
        transport.send("support@example.net", ["kunde@example.com"], RAW)
    assert server.messages[0].raw == RAW


def test_smtp_ssl_and_wrong_password(smtp_server_factory: Callable[..., SmtpServer]) -> None:
    server = smtp_server_factory(security="ssl", users={"agent": "s3cret"})
    with SmtpTransport(server.settings(username="agent", password="s3cret")) as transport:
        transport.send("support@example.net", ["kunde@example.com"], RAW)
    assert server.messages[0].raw == RAW
    # A wrong password is no fault of the message: it stays queued until the config is fixed.
    with pytest.raises(TemporarySendError, match="refused the login"):
        SmtpTransport(server.settings(username="agent", password="nope")).send(
            "support@example.net", ["kunde@example.com"], RAW
        )


def test_smtp_untrusted_certificate_is_refused(
    smtp_server_factory: Callable[..., SmtpServer],
) -> None:
    server = smtp_server_factory(security="starttls")
    with pytest.raises(TemporarySendError, match="TLS"):
        SmtpTransport(server.settings(ca_file=None)).send("s@example.net", ["k@example.com"], RAW)
    assert server.messages == []


def test_smtp_starttls_never_falls_back_to_plain_text(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.settings(security="starttls"))
    with pytest.raises(TemporarySendError, match="STARTTLS"):
        transport.send("s@example.net", ["k@example.com"], RAW)
    assert smtp_server.messages == []


def test_smtp_settings_are_checked() -> None:
    with pytest.raises(UsageError, match="security"):
        SmtpTransport({"security": "tls"})
    assert SmtpTransport({"security": "ssl"}).port == 465
    assert SmtpTransport({}).port == 587


# -- sendmail --------------------------------------------------------------------------------


def fake_sendmail(tmp_path: Path, exit_code: int = 0, message: str = "") -> Path:
    """A real program with sendmail's interface: records its argv and stdin, then exits."""
    script = tmp_path / "sendmail"
    script.write_text(
        "#!/bin/sh\n"
        f'out="{tmp_path}"\n'
        'for a in "$@"; do printf "%s\\n" "$a"; done > "$out/argv"\n'
        'cat > "$out/stdin"\n'
        f'[ -n "{message}" ] && echo "{message}" >&2\n'
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_sendmail_passes_envelope_as_arguments_and_message_on_stdin(tmp_path: Path) -> None:
    script = fake_sendmail(tmp_path)
    transport = SendmailTransport({"command": f"{script} -oi"})
    transport.send("support@example.net", ["kunde@example.com", "-oQ/tmp/evil"], RAW)
    transport.close()
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv == ["-oi", "-f", "support@example.net", "--", "kunde@example.com", "-oQ/tmp/evil"]
    assert (tmp_path / "stdin").read_bytes() == RAW


def test_sendmail_command_as_list_and_no_shell(tmp_path: Path) -> None:
    script = fake_sendmail(tmp_path)
    SendmailTransport({"command": [str(script)]}).send(
        "support@example.net", ["$(touch${IFS}pwned);`touch${IFS}pwned`@example.com"], RAW
    )
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[-1] == "$(touch${IFS}pwned);`touch${IFS}pwned`@example.com"
    assert not (Path.cwd() / "pwned").exists()
    assert not (tmp_path / "pwned").exists()


def test_sendmail_exit_75_is_temporary(tmp_path: Path) -> None:
    script = fake_sendmail(tmp_path, 75, "queue file write error")
    with pytest.raises(TemporarySendError, match="75: queue file write error"):
        SendmailTransport({"command": str(script)}).send("s@example.net", ["k@example.com"], RAW)


def test_sendmail_other_failure_is_permanent(tmp_path: Path) -> None:
    script = fake_sendmail(tmp_path, 67, "User unknown")
    with pytest.raises(PermanentSendError, match="User unknown"):
        SendmailTransport({"command": str(script)}).send("s@example.net", ["k@example.com"], RAW)


def test_sendmail_missing_program_is_temporary(tmp_path: Path) -> None:
    with pytest.raises(TemporarySendError, match="cannot run"):
        SendmailTransport({"command": str(tmp_path / "missing")}).send(
            "s@example.net", ["k@example.com"], RAW
        )


# -- Maildir and files -----------------------------------------------------------------------


def test_maildir_transport_writes_readable_messages(tmp_path: Path) -> None:
    import mailbox

    box = tmp_path / "outbox"
    transport = MaildirTransport({"path": str(box)})
    transport.send("support@example.net", ["kunde@example.com"], RAW)
    transport.send("support@example.net", ["kunde@example.com"], RAW + b"2\r\n")
    transport.close()

    names = sorted(os.listdir(box / "new"))
    assert len(names) == 2
    assert os.listdir(box / "tmp") == []
    assert sorted((box / "new" / n).read_bytes() for n in names) == [RAW, RAW + b"2\r\n"]
    messages = list(mailbox.Maildir(box, create=False))
    assert {m["Message-ID"] for m in messages} == {"<1@example.net>"}


def test_file_transport_writes_eml_files(tmp_path: Path) -> None:
    transport = FileTransport({"path": str(tmp_path / "out")})
    transport.send("support@example.net", ["kunde@example.com"], RAW)
    transport.send("support@example.net", ["kunde@example.com"], b"second")
    names = sorted(os.listdir(tmp_path / "out"))
    assert len(names) == 2
    assert all(n.endswith(".eml") and not n.startswith(".") for n in names)
    assert [(tmp_path / "out" / n).read_bytes() for n in names] == [RAW, b"second"]


def test_maildir_batch_publishes_messages_only_at_sync(tmp_path: Path) -> None:
    box = tmp_path / "outbox"
    transport = MaildirTransport({"path": str(box)})
    transport.begin_batch()
    paths = [transport.deliver(RAW + str(i).encode() + b"\r\n") for i in range(3)]
    # written, but not yet visible to a reader of new/
    assert os.listdir(box / "new") == []
    assert len(os.listdir(box / "tmp")) == 3
    transport.sync()
    assert sorted(os.listdir(box / "new")) == sorted(p.name for p in paths)
    assert os.listdir(box / "tmp") == []
    assert [p.read_bytes() for p in paths] == [RAW + str(i).encode() + b"\r\n" for i in range(3)]
    # the batch goes on after a sync; close publishes what is left
    transport.send("support@example.net", ["kunde@example.com"], b"late")
    transport.close()
    assert len(os.listdir(box / "new")) == 4
    assert os.listdir(box / "tmp") == []


def test_file_transport_batch_publishes_at_sync(tmp_path: Path) -> None:
    out = tmp_path / "out"
    transport = FileTransport({"path": str(out)})
    transport.begin_batch()
    first = transport.deliver(b"one")
    transport.deliver(b"two")
    assert not first.exists()
    assert all(n.startswith(".") for n in os.listdir(out))
    transport.sync()
    names = sorted(os.listdir(out))
    assert len(names) == 2 and not any(n.startswith(".") for n in names)
    assert first.read_bytes() == b"one"


def test_maildir_batch_that_cannot_be_published_is_temporary(tmp_path: Path) -> None:
    import shutil

    box = tmp_path / "outbox"
    transport = MaildirTransport({"path": str(box)})
    transport.begin_batch()
    transport.deliver(RAW)
    shutil.rmtree(box / "new")  # the rename into new/ fails
    with pytest.raises(TemporarySendError):
        transport.sync()
    assert os.listdir(box / "tmp") == []  # nothing half-delivered stays behind


def test_offline_transports_report_unwritable_folders(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for transport in (
        MaildirTransport({"path": str(blocker / "box")}),
        FileTransport({"path": str(blocker / "out")}),
    ):
        with pytest.raises(TemporarySendError):
            transport.send("s@example.net", ["k@example.com"], RAW)
    with pytest.raises(UsageError):
        MaildirTransport({})


def test_errors_share_one_base() -> None:
    assert issubclass(TemporarySendError, SendError)
    assert issubclass(PermanentSendError, SendError)
    assert PermanentSendError("550 no").reason == "550 no"


def test_maildir_queued_mail_is_named_after_its_key_and_a_retry_replaces_it(
    tmp_path: Path,
) -> None:
    box = tmp_path / "outbox"
    key = "0000000042-20261202.abc@smartwork.example"
    # what a run killed in the middle of writing left behind
    (box / "tmp").mkdir(parents=True)
    (box / "tmp" / f"hdcli-{key}").write_bytes(b"half a mess")
    old = box / "tmp" / "1.M1P1.host"  # another crashed writer's file, from long ago
    old.write_bytes(b"x")
    os.utime(old, (1, 1))
    for _ in range(3):  # the first attempt, and two retries after kills
        transport = MaildirTransport({"path": str(box)})
        transport.send_queued(key, "s@example.net", ["k@example.com"], RAW)
        transport.close()
    assert os.listdir(box / "new") == [f"hdcli-{key}"]
    assert (box / "new" / f"hdcli-{key}").read_bytes() == RAW
    assert os.listdir(box / "tmp") == []
    # unkeyed messages keep unique names
    MaildirTransport({"path": str(box)}).send("s@example.net", ["k@example.com"], RAW)
    assert len(os.listdir(box / "new")) == 2


def test_file_transport_queued_mail_is_replaced_by_a_retry(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".0000000007-m@x.example.eml.tmp").write_bytes(b"half")
    for body in (b"first", b"again"):
        transport = FileTransport({"path": str(out)})
        transport.begin_batch()
        transport.send_queued("0000000007-m@x.example", "s@example.net", ["k@example.com"], body)
        transport.sync()
    assert os.listdir(out) == ["0000000007-m@x.example.eml"]
    assert (out / "0000000007-m@x.example.eml").read_bytes() == b"again"


def test_keys_become_safe_file_names(tmp_path: Path) -> None:
    transport = MaildirTransport({"path": str(tmp_path / "box")})
    path = transport.deliver(b"x", key="../1:2,S/<a b>")
    assert path.parent == tmp_path / "box" / "new"
    assert "/" not in path.name and ":" not in path.name and " " not in path.name


def test_transports_without_a_key_of_their_own_send(smtp_server: SmtpServer) -> None:
    with SmtpTransport(smtp_server.settings()) as transport:
        transport.send_queued("0000000001-x@example.net", "s@example.net", ["k@example.com"], RAW)
    assert [m.raw for m in smtp_server.messages] == [RAW]
