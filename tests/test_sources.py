"""Inbound sources: a Maildir on disk and a real Dovecot over IMAP."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from servers import DovecotServer, free_port

from hdcli.errors import ConfigError, TransientError
from hdcli.mail.sources import ImapSource, MaildirSource, SourceMessage


def message(n: int) -> bytes:
    return (
        f"From: customer{n}@example.com\r\n"
        f"To: support@example.net\r\n"
        f"Subject: Drucker {n} druckt nicht\r\n"
        f"Message-ID: <msg{n}@example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"Grüße, Nachricht {n}\r\n"
    ).encode()


def make_maildir(path: Path, new: list[bytes], cur: list[bytes] = ()) -> None:
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(new):
        (path / "new" / f"100{i}.M1P1.host").write_bytes(raw)
    for i, raw in enumerate(cur):
        (path / "cur" / f"200{i}.M1P1.host:2,S").write_bytes(raw)


def files(folder: Path) -> list[bytes]:
    return [
        (folder / sub / name).read_bytes()
        for sub in ("new", "cur")
        if (folder / sub).is_dir()
        for name in sorted(os.listdir(folder / sub))
    ]


# -- Maildir ---------------------------------------------------------------------------------


def test_maildir_source_reads_new_and_cur(tmp_path: Path) -> None:
    make_maildir(tmp_path / "in", [message(1), message(2)], [message(3)])
    source = MaildirSource("box", {"path": str(tmp_path / "in")})
    got = list(source.messages())
    assert [m.raw for m in got] == [message(1), message(2), message(3)]
    assert len({m.ref for m in got}) == 3


def test_maildir_done_moves_to_processed_and_rejected_to_review(tmp_path: Path) -> None:
    box = tmp_path / "in"
    make_maildir(box, [message(1), message(2), message(3)])
    source = MaildirSource("box", {"path": str(box)})
    msgs = list(source.messages())
    source.done(msgs[0].ref, "new")
    source.done(msgs[1].ref, "rejected")
    source.done(msgs[2].ref, "quarantined")

    assert files(box) == []
    assert files(box / ".Processed") == [message(1)]
    assert files(box / ".Review") == [message(2)]
    assert files(box / ".Quarantine") == [message(3)]
    assert (box / ".Processed" / "maildirfolder").exists()
    # Processed mail is not read again, and the subfolders are not sources themselves.
    assert list(source.messages()) == []


def test_maildir_delete_and_custom_folders(tmp_path: Path) -> None:
    box = tmp_path / "in"
    make_maildir(box, [message(1), message(2)])
    source = MaildirSource(
        "box", {"path": str(box), "on_success": "delete", "review_folder": str(tmp_path / "rev")}
    )
    first, second = source.messages()
    source.done(first.ref, "duplicate")
    source.done(second.ref, "rejected")
    assert files(box) == []
    assert files(tmp_path / "rev") == [message(2)]
    assert not (box / ".Processed").exists()


def test_maildir_message_taken_by_another_run_is_skipped(tmp_path: Path) -> None:
    box = tmp_path / "in"
    make_maildir(box, [message(1), message(2)])
    source = MaildirSource("box", {"path": str(box)})
    stream = source.messages()
    first = next(stream)
    # Another run takes the second message between our listing and our reading.
    (box / "new" / "1001.M1P1.host").unlink()
    assert list(stream) == []
    source.done(first.ref, "new")
    # ... and a message finished by another run before our done() is no error either.
    source.done(first.ref, "new")
    assert files(box / ".Processed") == [message(1)]


def test_maildir_done_finds_message_a_reader_moved_to_cur(tmp_path: Path) -> None:
    box = tmp_path / "in"
    make_maildir(box, [message(1)])
    source = MaildirSource("box", {"path": str(box)})
    (msg,) = source.messages()
    os.rename(box / "new" / msg.ref, box / "cur" / (msg.ref + ":2,S"))
    source.done(msg.ref, "followup")
    assert files(box / ".Processed") == [message(1)]


def test_maildir_source_refuses_unknown_outcome_and_missing_maildir(tmp_path: Path) -> None:
    make_maildir(tmp_path / "in", [message(1)])
    source = MaildirSource("box", {"path": str(tmp_path / "in")})
    (msg,) = source.messages()
    with pytest.raises(ValueError, match="outcome"):
        source.done(msg.ref, "eaten")
    with pytest.raises(ConfigError, match="not a Maildir"):
        list(MaildirSource("x", {"path": str(tmp_path / "nothing")}).messages())
    with pytest.raises(ConfigError):
        MaildirSource("x", {"path": str(tmp_path), "on_success": "flag"})


# -- IMAP (real Dovecot) ---------------------------------------------------------------------


@pytest.mark.imap
def test_imap_source_streams_and_moves(imap_mailbox: DovecotServer) -> None:
    for n in (1, 2, 3):
        imap_mailbox.append(message(n))
    source = ImapSource("imap", imap_mailbox.settings())
    try:
        seen: list[SourceMessage] = []
        for msg in source.messages():
            seen.append(msg)
            outcome = "rejected" if len(seen) == 2 else "new"
            source.done(msg.ref, outcome)
    finally:
        source.close()

    assert [m.raw for m in seen] == [message(1), message(2), message(3)]
    assert imap_mailbox.list_folder("INBOX") == []
    assert imap_mailbox.list_folder("Processed") == [message(1), message(3)]
    assert imap_mailbox.list_folder("Review") == [message(2)]
    # Reading does not mark anything as seen: only done() decides what happens.
    assert all("\\Seen" not in flags for flags in imap_mailbox.list_flags("Processed"))


@pytest.mark.imap
def test_imap_source_quarantine_delete_and_restart(imap_mailbox: DovecotServer) -> None:
    for n in (1, 2, 3):
        imap_mailbox.append(message(n))
    settings = imap_mailbox.settings(on_success="delete", quarantine_folder="Broken Mail")
    source = ImapSource("imap", settings)
    first = next(source.messages())
    source.done(first.ref, "quarantined")
    source.close()  # as if the run was stopped here: the rest stays waiting

    again = ImapSource("imap", settings)
    rest = list(again.messages())
    assert [m.raw for m in rest] == [message(2), message(3)]
    for msg in rest:
        again.done(msg.ref, "duplicate")
    again.close()
    again.close()

    assert imap_mailbox.list_folder("INBOX") == []
    assert imap_mailbox.list_folder("Broken Mail") == [message(1)]
    assert "Processed" not in imap_mailbox.folders()


@pytest.mark.imap
def test_imap_flag_mode_skips_flagged_messages(imap_mailbox: DovecotServer) -> None:
    for n in (1, 2, 3):
        imap_mailbox.append(message(n))
    source = ImapSource("imap", imap_mailbox.settings(on_success="flag"))
    try:
        first = list(source.messages())
        for msg in first[:2]:
            source.done(msg.ref, "followup")
        second = list(source.messages())
    finally:
        source.close()

    assert [m.raw for m in first] == [message(1), message(2), message(3)]
    assert [m.raw for m in second] == [message(3)]
    flags = imap_mailbox.list_flags("INBOX")
    assert flags[0] >= {"\\Seen", "$hdcli"}
    assert flags[1] >= {"\\Seen", "$hdcli"}
    assert "$hdcli" not in flags[2]
    assert len(imap_mailbox.list_folder("INBOX")) == 3


@pytest.mark.imap
def test_imap_message_expunged_by_another_client_is_skipped(imap_mailbox: DovecotServer) -> None:
    for n in (1, 2):
        imap_mailbox.append(message(n))
    source = ImapSource("imap", imap_mailbox.settings())
    stream = source.messages()
    first = next(stream)
    with imap_mailbox.connect() as other:
        other.select("INBOX")
        other.store("1:*", "+FLAGS", "(\\Deleted)")
        other.expunge()
    assert list(stream) == []
    source.done(first.ref, "new")  # already gone: nothing to do, no error
    source.close()
    assert imap_mailbox.list_folder("Processed") == []


@pytest.mark.imap
def test_imap_server_without_move_and_uidplus(imap_mailbox: DovecotServer) -> None:
    legacy = imap_mailbox.legacy
    assert legacy is not None
    legacy.clear()
    with legacy.connect() as conn:
        announced = conn.capability()[1][-1].split()
    assert b"MOVE" not in announced
    assert b"UIDPLUS" not in announced
    for n in (1, 2, 3):
        legacy.append(message(n))

    source = ImapSource("old", legacy.settings())
    try:
        for msg, outcome in zip(source.messages(), ["new", "rejected", "ignored"], strict=True):
            source.done(msg.ref, outcome)
    finally:
        source.close()

    assert legacy.list_folder("INBOX") == []
    assert legacy.list_folder("Processed") == [message(1), message(3)]
    assert legacy.list_folder("Review") == [message(2)]
    assert imap_mailbox.list_folder("Processed") == []  # another user's mailbox


@pytest.mark.imap
def test_imap_folder_names_beyond_ascii(imap_mailbox: DovecotServer) -> None:
    imap_mailbox.append(message(1))
    source = ImapSource("imap", imap_mailbox.settings(review_folder="Prüfung & Co"))
    (msg,) = source.messages()
    source.done(msg.ref, "rejected")
    source.close()
    # IMAP names folders in modified UTF-7 (RFC 3501 5.1.3).
    assert "Pr&APw-fung &- Co" in imap_mailbox.folders()
    assert imap_mailbox.list_folder("Pr&APw-fung &- Co") == [message(1)]


@pytest.mark.imap
def test_imap_wrong_password_is_a_config_error(imap_server: DovecotServer) -> None:
    source = ImapSource("imap", imap_server.settings(password="wrong"))
    with pytest.raises(ConfigError, match="refused the login"):
        list(source.messages())


def test_imap_server_down_is_transient() -> None:
    source = ImapSource(
        "imap", {"host": "127.0.0.1", "port": free_port(), "security": "none", "timeout": 5}
    )
    with pytest.raises(TransientError, match=re.escape("127.0.0.1")):
        list(source.messages())
    source.close()
