"""The customer side: ``organisations`` with their ``org_domains``, ``contracts``,
``contacts`` and ``agents``.

Contact roles are stored as a comma-separated list (``main,approver``); a role is matched as a
whole word of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row

#: The contract columns read on their own (by the features that follow a contract's policy).
ContractColumn = Literal["approval", "billing", "closed_policy", "empty_reports", "report_to"]


def _update(
    store: SqlStorage,
    table: Literal["organisations", "contracts", "contacts", "agents"],
    row_id: int,
    cols: Mapping[str, Any],
) -> None:
    if not cols:
        return
    sets = ", ".join(f"{c} = ?" for c in cols)
    store.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*cols.values(), row_id))


# -- organisations -----------------------------------------------------------------------------
def org(store: SqlStorage, org_id: int) -> Row | None:
    """The organisation with this id, or None."""
    return store.query_one("SELECT * FROM organisations WHERE id = ?", (org_id,))


def org_by_key(store: SqlStorage, key: str) -> Row | None:
    """The organisation with this name, or with this id (as text), or None."""
    return store.query_one(
        "SELECT * FROM organisations WHERE name = ? OR CAST(id AS TEXT) = ?", (key, key)
    )


def org_by_domain(store: SqlStorage, domain: str) -> Row | None:
    """The organisation that owns the mail domain, or None."""
    return store.query_one(
        "SELECT o.* FROM organisations o JOIN org_domains d ON d.org_id = o.id WHERE d.domain = ?",
        (domain,),
    )


def org_exists(store: SqlStorage, name: str) -> bool:
    """Whether an organisation has this name."""
    return store.query_one("SELECT id FROM organisations WHERE name = ?", (name,)) is not None


def orgs(store: SqlStorage) -> list[Row]:
    """Every organisation by name: ``id``, ``name``, ``kind``, ``language``, ``created_at``."""
    return store.query(
        "SELECT id, name, kind, language, created_at FROM organisations ORDER BY name"
    )


def insert_org(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new organisation; returns its id."""
    return store.insert("organisations", dict(row))


def update_org(store: SqlStorage, org_id: int, cols: Mapping[str, Any]) -> None:
    """Write columns of an organisation (nothing for no columns)."""
    _update(store, "organisations", org_id, cols)


def delete_org(store: SqlStorage, org_id: int) -> None:
    """Delete an organisation (its domains, contracts and contacts go with it)."""
    store.execute("DELETE FROM organisations WHERE id = ?", (org_id,))


def domains_of(store: SqlStorage, org_id: int) -> list[str]:
    """The organisation's mail domains, sorted."""
    return [
        r["domain"]
        for r in store.query(
            "SELECT domain FROM org_domains WHERE org_id = ? ORDER BY domain", (org_id,)
        )
    ]


def domains_by_org(store: SqlStorage) -> dict[int, list[str]]:
    """Every organisation's mail domains, sorted, by organisation id (one query)."""
    domains: dict[int, list[str]] = {}
    for r in store.query("SELECT org_id, domain FROM org_domains ORDER BY domain"):
        domains.setdefault(int(r["org_id"]), []).append(r["domain"])
    return domains


def domain_owner(store: SqlStorage, domain: str, other_than: int) -> str | None:
    """The name of the organisation other than ``other_than`` that owns ``domain``, or None."""
    row = store.query_one(
        "SELECT o.name FROM org_domains d JOIN organisations o ON o.id = d.org_id "
        "WHERE d.domain = ? AND d.org_id <> ?",
        (domain, other_than),
    )
    return str(row["name"]) if row else None


def set_domains(store: SqlStorage, org_id: int, domains: Iterable[str]) -> None:
    """Make ``domains`` (distinct) the organisation's mail domains."""
    store.execute("DELETE FROM org_domains WHERE org_id = ?", (org_id,))
    store.executemany(
        "INSERT INTO org_domains (org_id, domain) VALUES (?, ?)",
        [(org_id, d) for d in dict.fromkeys(domains)],
    )


# -- contracts ---------------------------------------------------------------------------------
def contract(store: SqlStorage, contract_id: int | None) -> Row | None:
    """The contract with this id, or None."""
    return store.query_one("SELECT * FROM contracts WHERE id = ?", (contract_id,))


def contract_value(store: SqlStorage, contract_id: int | None, column: ContractColumn) -> Any:
    """One column of the contract with this id; None without the contract."""
    row = store.query_one(f"SELECT {column} FROM contracts WHERE id = ?", (contract_id,))
    return row[column] if row else None


def contract_by_number(store: SqlStorage, number: str) -> Row | None:
    """The contract with this number and its ``organisation``'s name, or None."""
    return store.query_one(
        "SELECT c.*, o.name AS organisation FROM contracts c JOIN organisations o "
        "ON o.id = c.org_id WHERE c.number = ?",
        (number,),
    )


def contract_exists(store: SqlStorage, number: str) -> bool:
    """Whether a contract has this number."""
    return store.query_one("SELECT id FROM contracts WHERE number = ?", (number,)) is not None


def contracts(store: SqlStorage, org_id: int | None = None) -> list[Row]:
    """The contracts (of ``org_id``, by number; else all, by organisation and number), as
    ``hdcli contract list`` shows them."""
    sql = (
        "SELECT c.number, o.name AS organisation, c.billing, c.rate, c.increment_minutes, "
        "c.minimum_minutes, c.included_minutes, c.approval, c.closed_policy, c.report_to, "
        "c.empty_reports, c.valid_from, c.valid_to "
        "FROM contracts c JOIN organisations o ON o.id = c.org_id"
    )
    if org_id is not None:
        return store.query(sql + " WHERE c.org_id = ? ORDER BY c.number", (org_id,))
    return store.query(sql + " ORDER BY o.name, c.number")


def active_contract(store: SqlStorage, org_id: int, day: str) -> Row | None:
    """The organisation's contract valid on ``day`` (ISO date): the one that started last."""
    return store.query_one(
        "SELECT * FROM contracts WHERE org_id = ? AND (valid_from IS NULL OR valid_from <= ?) "
        "AND (valid_to IS NULL OR valid_to >= ?) ORDER BY valid_from DESC, id DESC LIMIT 1",
        (org_id, day, day),
    )


def insert_contract(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new contract; returns its id."""
    return store.insert("contracts", dict(row))


def update_contract(store: SqlStorage, contract_id: int, cols: Mapping[str, Any]) -> None:
    """Write columns of a contract (nothing for no columns)."""
    _update(store, "contracts", contract_id, cols)


def delete_contract(store: SqlStorage, contract_id: int) -> None:
    """Delete a contract."""
    store.execute("DELETE FROM contracts WHERE id = ?", (contract_id,))


# -- contacts ----------------------------------------------------------------------------------
def contact(store: SqlStorage, contact_id: int | None) -> Row | None:
    """The contact with this id, or None."""
    return store.query_one("SELECT * FROM contacts WHERE id = ?", (contact_id,))


def contact_by_email(store: SqlStorage, email: str) -> Row | None:
    """The contact with this (normalised) address, or None."""
    return store.query_one("SELECT * FROM contacts WHERE email = ?", (email,))


def contacts_by_email(store: SqlStorage, emails: Sequence[str]) -> dict[str, Row]:
    """The contacts with these (normalised) addresses, by address (unknown ones left out)."""
    found: dict[str, Row] = {}
    addresses = list(dict.fromkeys(emails))
    for start in range(0, len(addresses), 500):
        part = addresses[start : start + 500]
        marks = ",".join("?" * len(part))
        for row in store.query(f"SELECT * FROM contacts WHERE email IN ({marks})", part):
            found[str(row["email"])] = row
    return found


def contact_by_key(store: SqlStorage, email: str, key: str) -> Row | None:
    """The contact with the address ``email`` or the id ``key`` (as text) and its
    ``organisation``'s name, or None."""
    return store.query_one(
        "SELECT c.*, o.name AS organisation FROM contacts c JOIN organisations o "
        "ON o.id = c.org_id WHERE c.email = ? OR CAST(c.id AS TEXT) = ?",
        (email, key),
    )


def contacts(store: SqlStorage, org_id: int | None = None) -> list[Row]:
    """The contacts (of ``org_id``, by address; else all, by organisation and address):
    ``email``, ``name``, ``organisation``, ``phone``, ``roles``."""
    sql = (
        "SELECT c.email, c.name, o.name AS organisation, c.phone, c.roles FROM contacts c "
        "JOIN organisations o ON o.id = c.org_id"
    )
    if org_id is not None:
        return store.query(sql + " WHERE c.org_id = ? ORDER BY c.email", (org_id,))
    return store.query(sql + " ORDER BY o.name, c.email")


def with_role(store: SqlStorage, org_id: int, role: str) -> list[Row]:
    """The organisation's contacts with ``role``, by address: ``id``, ``name``, ``email``,
    ``phone``."""
    return store.query(
        "SELECT id, name, email, phone FROM contacts WHERE org_id = ? AND (',' || roles || ',') "
        "LIKE ? ORDER BY email",
        (org_id, f"%,{role},%"),
    )


def first_with_role(store: SqlStorage, org_id: int, role: str) -> Row | None:
    """``name`` and ``email`` of the organisation's oldest contact with ``role``, or None."""
    return store.query_one(
        "SELECT name, email FROM contacts WHERE org_id = ? AND (',' || roles || ',') LIKE ? "
        "ORDER BY id LIMIT 1",
        (org_id, f"%,{role},%"),
    )


def in_org(store: SqlStorage, org_id: int, email: str) -> bool:
    """Whether the (normalised) address is a contact of the organisation."""
    return (
        store.query_one("SELECT id FROM contacts WHERE org_id = ? AND email = ?", (org_id, email))
        is not None
    )


def receives_reports(store: SqlStorage, contract_id: int | None, org_id: int, email: str) -> bool:
    """Whether the (normalised) address is the contract's report address or a contact of the
    organisation with the role main or billing (one round trip)."""
    row = store.query_one(
        "SELECT 1 AS x FROM contracts WHERE id = ? AND lower(report_to) = ? "
        "UNION ALL SELECT 1 AS x FROM contacts WHERE org_id = ? AND email = ? "
        "AND ((',' || roles || ',') LIKE ? OR (',' || roles || ',') LIKE ?) LIMIT 1",
        (contract_id, email, org_id, email, "%,main,%", "%,billing,%"),
    )
    return row is not None


def insert_contact(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new contact; returns its id."""
    return store.insert("contacts", dict(row))


def update_contact(store: SqlStorage, contact_id: int, cols: Mapping[str, Any]) -> None:
    """Write columns of a contact (nothing for no columns)."""
    _update(store, "contacts", contact_id, cols)


def delete_contact(store: SqlStorage, contact_id: int) -> None:
    """Delete a contact."""
    store.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))


# -- agents ------------------------------------------------------------------------------------
def agent(store: SqlStorage, agent_id: int | None) -> Row | None:
    """The agent with this id, or None."""
    return store.query_one("SELECT * FROM agents WHERE id = ?", (agent_id,))


def agent_by_login(store: SqlStorage, login: str) -> Row | None:
    """The agent with this login, active or not, or None."""
    return store.query_one("SELECT * FROM agents WHERE login = ?", (login,))


def active_agent(store: SqlStorage, login: str) -> Row | None:
    """The active agent with this login, or None."""
    return store.query_one("SELECT * FROM agents WHERE login = ? AND active = 1", (login,))


def agents(store: SqlStorage) -> list[Row]:
    """Every agent by login: ``login``, ``name``, ``email``, ``active`` (0 or 1)."""
    return store.query("SELECT login, name, email, active FROM agents ORDER BY login")


def agent_in_use(store: SqlStorage, agent_id: int) -> bool:
    """Whether the agent is assigned a ticket, logged time or has an API token, revoked or not
    (one round trip)."""
    row = store.query_one(
        "SELECT 1 AS x FROM tickets WHERE assignee_id = ? UNION SELECT 1 FROM time_entries "
        "WHERE agent_id = ? UNION SELECT 1 FROM api_tokens WHERE agent_id = ? LIMIT 1",
        (agent_id, agent_id, agent_id),
    )
    return row is not None


def insert_agent(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new agent; returns its id."""
    return store.insert("agents", dict(row))


def update_agent(store: SqlStorage, agent_id: int, cols: Mapping[str, Any]) -> None:
    """Write columns of an agent (nothing for no columns)."""
    _update(store, "agents", agent_id, cols)


def deactivate_agent(store: SqlStorage, agent_id: int) -> None:
    """Mark an agent inactive (their work stays attributed to them)."""
    store.execute("UPDATE agents SET active = 0 WHERE id = ?", (agent_id,))


def delete_agent(store: SqlStorage, agent_id: int) -> None:
    """Delete an agent."""
    store.execute("DELETE FROM agents WHERE id = ?", (agent_id,))
