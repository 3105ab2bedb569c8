"""Built-in routing: configurable rules preselect the agent of a new ticket.

``[[routing.rules]]`` tables with ``agent`` and any of ``subject`` (regex on the subject),
``body`` (regex on the body) and ``sender_domain``; a rule may also set the new ticket's
``impact`` and ``priority``. The subject rules are tried first, then the
body rules, then the sender domains; the first matching rule wins. A plugin's ``route_message``
runs before this one and may decide instead.
"""

from __future__ import annotations

import re
from typing import Any

from hdcli import hookimpl
from hdcli.errors import ConfigError


def _rules(config: Any) -> list[dict[str, Any]]:
    rules = config.get("routing.rules", []) or []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ConfigError("routing.rules must be an array of tables ([[routing.rules]])")
    for rule in rules:
        if not rule.get("agent"):
            raise ConfigError("every [[routing.rules]] entry needs an agent")
        unknown = set(rule) - {"agent", "subject", "body", "sender_domain", "impact", "priority"}
        if unknown:
            raise ConfigError(f"unknown key(s) in [[routing.rules]]: {', '.join(sorted(unknown))}")
    return rules


def route(subject: str, body: str, sender: str, config: Any) -> str | None:
    """The agent login the rules choose for a message, or None."""
    rule = matching_rule(subject, body, sender, config)
    return str(rule["agent"]) if rule else None


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
