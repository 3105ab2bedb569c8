"""API tokens of the remote helpdesk: create (shown once), list, revoke, authenticate.

A token is ``hdt_<prefix>_<secret>``: 32 random bytes from :mod:`secrets`, URL-safe. Only its
SHA-256 is stored (a high-entropy secret needs no slow hash), with the public ``prefix`` that
names the token in ``hdcli token list`` and ``hdcli token revoke``. Creation and revocation are
recorded in the history.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hdcli.customers import get_agent
from hdcli.errors import NotFound, Refused, UsageError
from hdcli.models import TOKEN_ROLES
from hdcli.repo import tokens as token_repo
from hdcli.unit import history
from hdcli.util import now_iso

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.models import Row

_EXPIRES = re.compile(r"(\d{1,5})([dwy])")
_UNIT_DAYS = {"d": 1, "w": 7, "y": 365}
_TOKEN = re.compile(r"hdt_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")
_ISO = "%Y-%m-%dT%H:%M:%SZ"


class Unauthorized(Refused):
    """A token that is unknown, revoked, expired or of an inactive agent."""


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def expiry(text: str, now: datetime | None = None) -> str | None:
    """``90d``, ``12w``, ``1y`` from now as an ISO time; ``never`` as None (exit 2 else)."""
    raw = text.strip().lower()
    if raw == "never":
        return None
    match = _EXPIRES.fullmatch(raw)
    if match is None or int(match[1]) < 1:
        raise UsageError(f"bad expiry {text!r} (e.g. 90d, 12w, 1y or never)")
    days = int(match[1]) * _UNIT_DAYS[match[2]]
    return ((now or datetime.now(UTC)) + timedelta(days=days)).strftime(_ISO)


def create(ctx: Context, login: str, role: str = "agent", expires: str = "90d") -> tuple[str, Row]:
    """A new token for the agent ``login``: the token itself (shown once) and its row."""
    if role not in TOKEN_ROLES:
        raise UsageError(f"bad role {role!r} (allowed: {', '.join(TOKEN_ROLES)})")
    expires_at = expiry(expires)
    store = ctx.store
    with store.transaction():
        agent = get_agent(store, login)
        if not agent["active"]:
            raise Refused(f"agent {login!r} is inactive")
        prefix = secrets.token_hex(4)
        token = f"hdt_{prefix}_{secrets.token_urlsafe(32)}"
        token_repo.insert(
            store,
            {
                "prefix": prefix,
                "token_hash": digest(token),
                "agent_id": agent["id"],
                "role": role,
                "created_at": now_iso(),
                "expires_at": expires_at,
            },
        )
        history(
            store,
            ctx.actor,
            "token",
            prefix,
            "created",
            {"login": login, "role": role, "expires_at": expires_at},
        )
        row = token_repo.by_prefix(store, prefix)
    assert row is not None
    return token, _public(row)


def _public(row: Row) -> Row:
    return {
        k: row[k]
        for k in (
            "prefix",
            "login",
            "role",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        )
    }


def tokens(store: SqlStorage) -> list[Row]:
    """Every token (prefix, agent, role, times), never a secret or hash."""
    return [_public(row) for row in token_repo.every(store)]


def revoke(ctx: Context, prefix: str) -> Row:
    """Revoke the token with this prefix (or the token itself); exit 3 when unknown."""
    key = prefix.strip()
    if match := _TOKEN.fullmatch(key):
        key = match[1]
    store = ctx.store
    with store.transaction():
        row = token_repo.by_prefix(store, key)
        if row is None:
            raise NotFound(f"no token {key!r} (see `hdcli token list`)")
        if row["revoked_at"] is None:
            at = now_iso()
            token_repo.revoke(store, int(row["id"]), at)
            history(store, ctx.actor, "token", key, "revoked", {"login": row["login"]})
            row["revoked_at"] = at
    return _public(row)


def authenticate(store: SqlStorage, token: str, now: str | None = None) -> Row:
    """The token's row (``login``, ``role``) if it is valid now; Unauthorized else."""
    if not _TOKEN.fullmatch(token):
        raise Unauthorized("invalid token")
    row = token_repo.by_hash(store, digest(token))
    at = now or now_iso()
    if row is None:
        raise Unauthorized("invalid token")
    if row["revoked_at"] is not None:
        raise Unauthorized(f"token {row['prefix']} is revoked")
    if row["expires_at"] is not None and row["expires_at"] <= at:
        raise Unauthorized(f"token {row['prefix']} has expired")
    if not row["active"]:
        raise Unauthorized(f"agent {row['login']!r} is inactive")
    return _public(row)
