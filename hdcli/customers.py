"""Organisations, contracts, contacts and agents: the customer side of the helpdesk.

Every change writes a history event. Lookups accept a name, number, login or e-mail address
(whatever identifies the record to a human) as well as the numeric id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from hdcli.errors import NotFound, Refused, UsageError
from hdcli.models import (
    APPROVAL_POLICIES,
    BILLING_MODES,
    CLOSED_POLICIES,
    EMPTY_REPORTS,
    LANGUAGES,
    ORG_KINDS,
    ROLES,
)
from hdcli.models import choice as _choice
from hdcli.repo import customers as customer_repo
from hdcli.repo import tickets as ticket_repo
from hdcli.unit import history
from hdcli.util import norm_email, now_iso, one_line, valid_email

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.context import Context
    from hdcli.models import Row


def _email(value: str) -> str:
    address = norm_email(value)
    if not valid_email(address):
        raise UsageError(f"not an e-mail address: {value!r}")
    return address


def _domain(value: str) -> str:
    domain = value.strip().lower().lstrip("@")
    if not domain or "." not in domain or any(c in domain for c in " /\\@"):
        raise UsageError(f"not a mail domain: {value!r}")
    return domain


def _date(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise UsageError(f"bad date {value!r} (use YYYY-MM-DD)") from None


#: amounts (rates, minimums) stay below this: a figure a contract can really hold
MAX_AMOUNT = Decimal(10) ** 9


def _money(value: str | None) -> str:
    if value in (None, ""):
        return "0"
    try:
        amount = Decimal(str(value).replace(",", "."))
        if not amount.is_finite() or amount >= MAX_AMOUNT:
            raise InvalidOperation
        if amount < 0:
            raise UsageError("an amount cannot be negative")
        return str(amount.quantize(Decimal("0.01")))
    except InvalidOperation:
        raise UsageError(f"bad amount {value!r} (e.g. 95 or 95.50)") from None


def _minutes(value: str | int | None, what: str) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, int):
        return value
    from hdcli.durations import parse_duration

    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise UsageError(f"bad {what}: {exc}") from None


# -- organisations -----------------------------------------------------------------------------
def get_org(store: SqlStorage, key: str | int) -> Row:
    """The organisation with this name or id and its ``domains``; NotFound (exit 3) else."""
    row = customer_repo.org_by_key(store, str(key))
    if row is None:
        raise NotFound(f"no organisation {key!r} (see `hdcli org list`)")
    row["domains"] = customer_repo.domains_of(store, row["id"])
    return row


def show_org(store: SqlStorage, key: str) -> Row:
    """The organisation as ``hdcli org show`` shows it: :func:`get_org` with the numbers of
    its ``contracts`` and the addresses of its ``contacts``."""
    org = get_org(store, key)
    org["contracts"] = [c["number"] for c in list_contracts(store, str(org["id"]))]
    org["contacts"] = [c["email"] for c in list_contacts(store, str(org["id"]))]
    return org


def add_org(
    ctx: Context, name: str, kind: str, domains: Iterable[str] = (), language: str = "de"
) -> Row:
    store = ctx.store
    name = one_line(name)
    if not name:
        raise UsageError("an organisation needs a name")
    _choice(kind, ORG_KINDS, "organisation kind")
    _choice(language, LANGUAGES, "language")
    doms = [_domain(d) for d in domains]
    with store.transaction():
        if customer_repo.org_exists(store, name):
            raise Refused(f"organisation {name!r} exists already")
        org_id = customer_repo.insert_org(
            store, {"name": name, "kind": kind, "language": language, "created_at": now_iso()}
        )
        _set_domains(store, org_id, doms)
        history(
            store,
            ctx.actor,
            "organisation",
            name,
            "created",
            {"kind": kind, "domains": doms, "language": language},
        )
    return get_org(store, org_id)


def _set_domains(store: SqlStorage, org_id: int, domains: list[str]) -> None:
    for domain in domains:
        other = customer_repo.domain_owner(store, domain, org_id)
        if other:
            raise Refused(f"domain {domain} belongs to {other} already")
    customer_repo.set_domains(store, org_id, domains)


def edit_org(
    ctx: Context,
    key: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    language: str | None = None,
    domains: list[str] | None = None,
    add_domains: Iterable[str] = (),
    remove_domains: Iterable[str] = (),
) -> Row:
    store = ctx.store
    with store.transaction():
        org = get_org(store, key)
        changes: dict[str, Any] = {}
        if name is not None and one_line(name) != org["name"]:
            if not one_line(name):
                raise UsageError("an organisation needs a name")
            if customer_repo.org_exists(store, one_line(name)):
                raise Refused(f"organisation {one_line(name)!r} exists already")
            changes["name"] = one_line(name)
        if kind is not None:
            changes["kind"] = _choice(kind, ORG_KINDS, "organisation kind")
        if language is not None:
            changes["language"] = _choice(language, LANGUAGES, "language")
        customer_repo.update_org(store, org["id"], changes)
        doms = list(org["domains"]) if domains is None else [_domain(d) for d in domains]
        doms += [_domain(d) for d in add_domains]
        drop = {_domain(d) for d in remove_domains}
        doms = [d for d in doms if d not in drop]
        if doms != org["domains"]:
            _set_domains(store, org["id"], doms)
            changes["domains"] = doms
        history(store, ctx.actor, "organisation", org["name"], "edited", changes)
    return get_org(store, org["id"])


def remove_org(ctx: Context, key: str) -> Row:
    store = ctx.store
    with store.transaction():
        org = get_org(store, key)
        if ticket_repo.referenced(store, "org_id", org["id"]):
            raise Refused(f"organisation {org['name']!r} has tickets and cannot be removed")
        customer_repo.delete_org(store, org["id"])
        history(store, ctx.actor, "organisation", org["name"], "removed")
    return org


def list_orgs(store: SqlStorage) -> list[Row]:
    """Every organisation by name, with its ``domains``."""
    rows = customer_repo.orgs(store)
    domains = customer_repo.domains_by_org(store)
    for row in rows:
        row["domains"] = domains.get(int(row["id"]), [])
    return rows


# -- contracts ---------------------------------------------------------------------------------
def get_contract(store: SqlStorage, number: str) -> Row:
    """The contract with this number and its ``organisation``; NotFound (exit 3) else."""
    row = customer_repo.contract_by_number(store, number)
    if row is None:
        raise NotFound(f"no contract {number!r} (see `hdcli contract list`)")
    return row


@dataclass
class ContractFields:
    billing: str | None = None
    rate: str | None = None
    increment: str | None = None
    minimum: str | None = None
    included: str | None = None
    approval: str | None = None
    closed_policy: str | None = None
    report_to: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    empty_reports: str | None = None

    def columns(self) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        if self.billing is not None:
            cols["billing"] = _choice(self.billing, BILLING_MODES, "billing mode")
        if self.rate is not None:
            cols["rate"] = _money(self.rate)
        if self.increment is not None:
            cols["increment_minutes"] = _minutes(self.increment, "increment")
        if self.minimum is not None:
            cols["minimum_minutes"] = _minutes(self.minimum, "minimum")
        if self.included is not None:
            cols["included_minutes"] = _minutes(self.included, "included hours")
        if self.approval is not None:
            cols["approval"] = _choice(self.approval, APPROVAL_POLICIES, "approval policy")
        if self.closed_policy is not None:
            cols["closed_policy"] = (
                _choice(self.closed_policy, CLOSED_POLICIES, "closed-ticket policy")
                if self.closed_policy
                else None
            )
        if self.report_to is not None:
            cols["report_to"] = _email(self.report_to) if self.report_to else None
        if self.valid_from is not None:
            cols["valid_from"] = _date(self.valid_from)
        if self.valid_to is not None:
            cols["valid_to"] = _date(self.valid_to)
        if self.empty_reports is not None:
            cols["empty_reports"] = _choice(
                self.empty_reports, EMPTY_REPORTS, "service reports without time"
            )
        return cols


def _check_contract(row: Mapping[str, Any]) -> None:
    if row.get("valid_from") and row.get("valid_to") and row["valid_to"] < row["valid_from"]:
        raise UsageError("a contract cannot end before it starts (--valid-to < --valid-from)")
    if row.get("billing") == "hourly" and Decimal(str(row.get("rate") or "0")) <= 0:
        raise UsageError("an hourly contract needs --rate")
    if row.get("billing") == "included_hours" and not row.get("included_minutes"):
        raise UsageError("an included_hours contract needs --included (e.g. 2h)")


def add_contract(ctx: Context, org_key: str, number: str, fields: ContractFields) -> Row:
    store = ctx.store
    number = one_line(number)
    if not number:
        raise UsageError("a contract needs a number")
    if fields.billing is None:
        raise UsageError("a contract needs --billing")
    if fields.increment is None:
        fields.increment = "15m"
    cols = fields.columns()
    _check_contract(cols)
    with store.transaction():
        org = get_org(store, org_key)
        if customer_repo.contract_exists(store, number):
            raise Refused(f"contract {number!r} exists already")
        customer_repo.insert_contract(
            store, {"org_id": org["id"], "number": number, **cols, "created_at": now_iso()}
        )
        history(store, ctx.actor, "contract", number, "created", {"org": org["name"], **cols})
    return get_contract(store, number)


def edit_contract(ctx: Context, number: str, fields: ContractFields) -> Row:
    store = ctx.store
    cols = fields.columns()
    with store.transaction():
        row = get_contract(store, number)
        _check_contract({**row, **cols})
        customer_repo.update_contract(store, row["id"], cols)
        history(store, ctx.actor, "contract", number, "edited", cols)
    return get_contract(store, number)


def remove_contract(ctx: Context, number: str) -> Row:
    store = ctx.store
    with store.transaction():
        row = get_contract(store, number)
        if ticket_repo.referenced(store, "contract_id", row["id"]):
            raise Refused(f"contract {number!r} has tickets; end it with --valid-to instead")
        customer_repo.delete_contract(store, row["id"])
        history(store, ctx.actor, "contract", number, "removed")
    return row


def list_contracts(store: SqlStorage, org_key: str | None = None) -> list[Row]:
    """The contracts (of the organisation ``org_key``), as ``hdcli contract list`` shows them."""
    if org_key:
        org = get_org(store, org_key)
        return customer_repo.contracts(store, org["id"])
    return customer_repo.contracts(store)


def active_contract(store: SqlStorage, org_id: int, today: date) -> Row | None:
    """The organisation's contract valid on ``today`` (the one that started last)."""
    return customer_repo.active_contract(store, org_id, today.isoformat())


# -- contacts ----------------------------------------------------------------------------------
def _roles(roles: Iterable[str]) -> str:
    out = []
    for role in roles:
        for r in str(role).replace(";", ",").split(","):
            r = r.strip()
            if r:
                out.append(_choice(r, ROLES, "role"))
    return ",".join(dict.fromkeys(out))


def get_contact(store: SqlStorage, key: str) -> Row:
    """The contact with this address or id and its ``organisation``; NotFound (exit 3) else."""
    row = customer_repo.contact_by_key(store, norm_email(key), key)
    if row is None:
        raise NotFound(f"no contact {key!r} (see `hdcli contact list`)")
    return row


def add_contact(
    ctx: Context,
    org_key: str,
    name: str,
    email: str,
    phone: str | None = None,
    roles: Iterable[str] = (),
) -> Row:
    store = ctx.store
    address = _email(email)
    with store.transaction():
        org = get_org(store, org_key)
        if customer_repo.contact_by_email(store, address):
            raise Refused(f"contact {address} exists already")
        cols = {
            "org_id": org["id"],
            "name": one_line(name) or address,
            "email": address,
            "phone": one_line(phone) if phone else None,
            "roles": _roles(roles),
            "created_at": now_iso(),
        }
        customer_repo.insert_contact(store, cols)
        history(
            store,
            ctx.actor,
            "contact",
            address,
            "created",
            {"org": org["name"], "name": cols["name"], "roles": cols["roles"]},
        )
    return get_contact(store, address)


def edit_contact(
    ctx: Context,
    key: str,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    roles: list[str] | None = None,
    org: str | None = None,
) -> Row:
    store = ctx.store
    with store.transaction():
        row = get_contact(store, key)
        cols: dict[str, Any] = {}
        if name is not None:
            cols["name"] = one_line(name)
        if email is not None:
            cols["email"] = _email(email)
        if phone is not None:
            cols["phone"] = one_line(phone) or None
        if roles is not None:
            cols["roles"] = _roles(roles)
        if org is not None:
            cols["org_id"] = get_org(store, org)["id"]
        customer_repo.update_contact(store, row["id"], cols)
        if "name" in cols or "email" in cols:
            from hdcli.repo.search import of_contact
            from hdcli.search import refresh

            refresh(store, of_contact(store, int(row["id"])))  # their tickets are found by it
        history(store, ctx.actor, "contact", row["email"], "edited", cols)
    return get_contact(store, str(row["id"]))


def remove_contact(ctx: Context, key: str) -> Row:
    store = ctx.store
    with store.transaction():
        row = get_contact(store, key)
        if ticket_repo.referenced(store, "requester_id", row["id"]):
            raise Refused(
                f"contact {row['email']} has tickets and cannot be removed "
                f"(to erase the person: hdcli privacy erase {row['email']})"
            )
        customer_repo.delete_contact(store, row["id"])
        history(store, ctx.actor, "contact", row["email"], "removed")
    return row


def list_contacts(store: SqlStorage, org_key: str | None = None) -> list[Row]:
    """The contacts (of the organisation ``org_key``), as ``hdcli contact list`` shows them."""
    if org_key:
        org = get_org(store, org_key)
        return customer_repo.contacts(store, org["id"])
    return customer_repo.contacts(store)


# -- agents ------------------------------------------------------------------------------------
def get_agent(store: SqlStorage, login: str) -> Row:
    """The agent with this login, active or not; NotFound (exit 3) else."""
    row = customer_repo.agent_by_login(store, login)
    if row is None:
        raise NotFound(f"no agent {login!r} (see `hdcli agent list`)")
    return row


def add_agent(ctx: Context, login: str, name: str, email: str) -> Row:
    store = ctx.store
    login = one_line(login)
    if not login or any(c.isspace() for c in login):
        raise UsageError(f"bad agent login {login!r}")
    address = _email(email)
    with store.transaction():
        if customer_repo.agent_by_login(store, login):
            raise Refused(f"agent {login!r} exists already")
        customer_repo.insert_agent(
            store,
            {
                "login": login,
                "name": one_line(name) or login,
                "email": address,
                "active": 1,
                "created_at": now_iso(),
            },
        )
        history(store, ctx.actor, "agent", login, "created", {"name": name, "email": address})
    return get_agent(store, login)


def edit_agent(
    ctx: Context,
    login: str,
    *,
    name: str | None = None,
    email: str | None = None,
    active: bool | None = None,
) -> Row:
    store = ctx.store
    with store.transaction():
        row = get_agent(store, login)
        cols: dict[str, Any] = {}
        if name is not None:
            cols["name"] = one_line(name)
        if email is not None:
            cols["email"] = _email(email)
        if active is not None:
            cols["active"] = int(active)
        customer_repo.update_agent(store, row["id"], cols)
        history(store, ctx.actor, "agent", login, "edited", cols)
    return get_agent(store, login)


def remove_agent(ctx: Context, login: str) -> Row:
    """Agents with history are deactivated, not deleted (their work stays attributed)."""
    store = ctx.store
    with store.transaction():
        row = get_agent(store, login)
        if customer_repo.agent_in_use(store, row["id"]):
            customer_repo.deactivate_agent(store, row["id"])
            history(store, ctx.actor, "agent", login, "deactivated")
            row["active"] = 0
        else:
            customer_repo.delete_agent(store, row["id"])
            history(store, ctx.actor, "agent", login, "removed")
    return row


def list_agents(store: SqlStorage) -> list[Row]:
    """Every agent by login, as ``hdcli agent list`` shows them."""
    return customer_repo.agents(store)


# -- the contract gate -------------------------------------------------------------------------
@dataclass
class Requester:
    contact: Row
    org: Row
    contract: Row


def find_requester(
    store: SqlStorage,
    email: str,
    today: date,
    contacts: Mapping[str, Row] | None = None,
) -> tuple[Requester | None, str]:
    """Who may be served: a contact (or an address of an organisation's mail domain) whose
    organisation has a contract valid today. Returns (requester, "") or (None, reason).

    ``contacts``: the contacts of a batch's addresses read at once
    (:func:`hdcli.repo.customers.contacts_by_email`); an address missing from it has none."""
    address = norm_email(email)
    if contacts is not None:
        found = contacts.get(address)
        contact = dict(found) if found is not None else None
    else:
        contact = customer_repo.contact_by_email(store, address)
    if contact is not None:
        org = customer_repo.org(store, contact["org_id"])
    else:
        org = customer_repo.org_by_domain(store, address.rpartition("@")[2])
        if org is None:
            return None, "sender is no contact of a contracted organisation"
    assert org is not None
    contract = active_contract(store, int(org["id"]), today)
    if contract is None:
        return None, f"organisation {org['name']} has no contract valid today"
    if contact is None:
        contact = {"id": None, "org_id": org["id"], "name": "", "email": address, "roles": ""}
    return Requester(contact, org, contract), ""


def ensure_contact(store: SqlStorage, requester: Requester, name: str, actor: str) -> Row:
    """Create the contact record of a domain-matched requester on first contact."""
    if requester.contact.get("id") is not None:
        return requester.contact
    address = requester.contact["email"]
    cols = {
        "org_id": requester.org["id"],
        "name": one_line(name) or address,
        "email": address,
        "phone": None,
        "roles": "",
        "created_at": now_iso(),
    }
    cols["id"] = customer_repo.insert_contact(store, cols)
    history(
        store, actor, "contact", address, "created", {"org": requester.org["name"], "via": "domain"}
    )
    requester.contact = cols
    return cols
