"""API tokens: created random and shown once, stored as a hash, listed, revoked, expired;
creation and revocation in the history (in process on both backends, and through the CLI)."""

from __future__ import annotations

import hashlib

import pytest

from hdcli import tokens
from hdcli.context import Context
from hdcli.errors import NotFound, UsageError


def _history(ctx: Context) -> list[tuple[str, str, str]]:
    rows = ctx.store.query(
        "SELECT actor, entity_key, action FROM history WHERE entity = 'token' ORDER BY id"
    )
    return [(r["actor"], r["entity_key"], r["action"]) for r in rows]


def test_token_is_random_hashed_and_authenticates_until_revoked(any_ctx: Context) -> None:
    token, row = tokens.create(any_ctx, "mmueller", "readonly", "30d")
    other, _ = tokens.create(any_ctx, "mmueller")
    assert token != other and token.startswith(f"hdt_{row['prefix']}_")
    stored = any_ctx.store.query("SELECT token_hash FROM api_tokens ORDER BY id")
    assert stored[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(r) for r in any_ctx.store.query("SELECT * FROM api_tokens"))
    assert tokens.authenticate(any_ctx.store, token)["role"] == "readonly"
    listed = tokens.tokens(any_ctx.store)
    assert listed[0]["prefix"] == row["prefix"] and "token_hash" not in listed[0]
    tokens.revoke(any_ctx, row["prefix"])
    with pytest.raises(tokens.Unauthorized, match="revoked"):
        tokens.authenticate(any_ctx.store, token)
    with pytest.raises(tokens.Unauthorized, match="invalid"):
        tokens.authenticate(any_ctx.store, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert tokens.authenticate(any_ctx.store, other)["login"] == "mmueller"
    assert _history(any_ctx)[0][1:] == (row["prefix"], "created")
    assert _history(any_ctx)[-1] == (any_ctx.actor, row["prefix"], "revoked")


def test_expired_token_is_refused_and_bad_input_is_usage(ctx: Context) -> None:
    token, row = tokens.create(ctx, "mmueller", expires="1d")
    assert row["expires_at"] is not None
    tokens.authenticate(ctx.store, token)
    with pytest.raises(tokens.Unauthorized, match="expired"):
        tokens.authenticate(ctx.store, token, now="2999-01-01T00:00:00Z")
    with pytest.raises(UsageError):
        tokens.create(ctx, "mmueller", role="root")
    with pytest.raises(UsageError):
        tokens.create(ctx, "mmueller", expires="soon")
    with pytest.raises(NotFound):
        tokens.create(ctx, "nobody")
    with pytest.raises(NotFound):
        tokens.revoke(ctx, "deadbeef")


def test_token_commands(hd) -> None:  # type: ignore[no-untyped-def]
    hd.seed()
    made = hd("token", "create", "mmueller", "--role", "gateway", "--expires", "never")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("hdt_") and "not shown again" in made.stderr
    listed = hd.json("token", "list")
    assert [(r["login"], r["role"], r["expires_at"]) for r in listed] == [
        ("mmueller", "gateway", None)
    ]
    assert token not in hd.ok("token", "list")
    assert hd("token", "create", "mmueller", "--role", "root").returncode == 2
    assert hd("token", "create", "nobody").returncode == 3
    assert hd("token", "revoke", "00000000").returncode == 3
    hd.ok("token", "revoke", token)
    assert hd.json("token", "list")[0]["revoked_at"] is not None
