"""Built-in routing: configurable rules preselect the agent, impact and priority of a new
ticket.

``[[routing.rules]]`` tables with any of ``subject`` (regex on the subject), ``body`` (regex
on the body) and ``sender_domain``, and at least one of what they set: ``agent`` (preselected),
the new ticket's ``impact`` and ``priority``. The subject rules are tried first, then the body
rules, then the sender domains; the first matching rule wins, and a rule without ``agent``
preselects none. A plugin's ``route_message`` runs before this one and may decide the agent
instead.
"""

from __future__ import annotations

import re
from typing import Any

from hdcli import hookimpl
from hdcli.errors import ConfigError

#: What a rule sets for the new ticket; a rule sets at least one of them.
SETS = ("agent", "impact", "priority")


def _rules(config: Any) -> list[dict[str, Any]]:
    rules = config.get("routing.rules", []) or []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ConfigError("routing.rules must be an array of tables ([[routing.rules]])")
    for rule in rules:
        if not any(rule.get(key) for key in SETS):
            raise ConfigError("every [[routing.rules]] entry needs an agent, impact or priority")
        unknown = set(rule) - {"agent", "subject", "body", "sender_domain", "impact", "priority"}
        if unknown:
            raise ConfigError(f"unknown key(s) in [[routing.rules]]: {', '.join(sorted(unknown))}")
    return rules


def route(subject: str, body: str, sender: str, config: Any) -> str | None:
    """The agent login the rules choose for a message, or None (also when the matching rule
    sets only impact or priority)."""
    rule = matching_rule(subject, body, sender, config)
    return str(rule["agent"]) if rule and rule.get("agent") else None


def route_fields(subject: str, body: str, sender: str, config: Any) -> dict[str, str]:
    """The ``impact`` and ``priority`` the matching rule sets for a new ticket (those it sets)."""
    rule = matching_rule(subject, body, sender, config) or {}
    return {k: str(rule[k]) for k in ("impact", "priority") if rule.get(k)}


def matching_rule(subject: str, body: str, sender: str, config: Any) -> dict[str, Any] | None:
    """The first rule matching a message (subject rules, then body, then sender domain)."""
    rules = _rules(config)
    domain = sender.rpartition("@")[2].lower()
    for field, text in (("subject", subject), ("body", body)):
        for rule in rules:
            pattern = rule.get(field)
            if pattern:
                try:
                    if re.search(str(pattern), text, re.IGNORECASE):
                        return rule
                except re.error as exc:
                    raise ConfigError(f"bad regex in routing rule {pattern!r}: {exc}") from None
    for rule in rules:
        wanted = str(rule.get("sender_domain") or "").lower()
        if wanted and (domain == wanted or domain.endswith("." + wanted)):
            return rule
    return None


@hookimpl(trylast=True)
def route_message(mail: Any, config: Any) -> str | None:
    return route(mail.subject, mail.body_text, mail.from_addr, config)
