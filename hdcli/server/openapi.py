"""The OpenAPI 3.0 document of ``hdcli serve`` (``/openapi.json``; a copy in docs/openapi.json,
checked for drift by the tests)."""

from __future__ import annotations

from typing import Any

from hdcli import __version__
from hdcli.models import (
    ACTIVITIES,
    APPROVAL_KINDS,
    CHANNELS,
    IMPACTS,
    LANGUAGES,
    ORG_KINDS,
    PRIORITIES,
    VIAS,
)
from hdcli.ops import CONTRACT_FIELDS

_ERROR = {"$ref": "#/components/responses/Error"}
_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 1, "maximum": 100000}
_BOOL = {"type": "boolean"}
_NULL_STR = {"type": "string", "nullable": True}
_DONE = {
    "type": "object",
    "required": ["number", "status"],
    "properties": {"number": _STR, "status": _STR, "note": _STR},
}
_NUMBER = {"name": "number", "in": "path", "required": True, "schema": _STR}
_DRY_RUN = {
    "name": "dry_run",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["true", "false"]},
}


def _answers(ok: dict[str, Any], status: str = "200", *codes: str) -> dict[str, Any]:
    answers: dict[str, Any] = {
        status: {"description": "done", "content": {"application/json": {"schema": ok}}},
        "401": _ERROR,
        "403": _ERROR,
        "429": _ERROR,
        "503": _ERROR,
    }
    for code in codes:
        answers[code] = _ERROR
    return answers


def _body(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _change(
    summary: str,
    props: dict[str, Any],
    required: tuple[str, ...] = (),
    ok: dict[str, Any] = _DONE,
) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [_NUMBER, _DRY_RUN],
            "requestBody": _body(props, required),
            "responses": _answers(ok, "200", "404", "409", "422"),
        }
    }


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


_QID = {"name": "qid", "in": "path", "required": True, "schema": _STR}


def _quarantine(summary: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [_QID],
            "requestBody": _body(props),
            "responses": _answers({"type": "object"}, "200", "404", "409", "422"),
        }
    }


def _read(
    summary: str, ok: dict[str, Any], *params: dict[str, Any], missing: bool = True
) -> dict[str, Any]:
    """A GET resource; ``missing``: it may answer 404 (an unknown ticket, record, report)."""
    codes = ("404", "422") if missing else ("422",)
    return {
        "get": {
            "summary": summary,
            "parameters": list(params),
            "responses": _answers(ok, "200", *codes),
        }
    }


_ROWS = {"type": "array", "items": {"type": "object"}}
_RECORD = {"type": "object"}
_ID = {"type": "integer", "minimum": 1, "maximum": 2**53}
_ENTRY = {
    "name": "entry",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**53},
}
_BOOL_Q = {"type": "string", "enum": ["true", "false"]}
_ORG = _query("org", _STR)
_RECORD_KINDS = (
    ("/orgs", "organisations (hdcli org list)", False),
    ("/contracts", "contracts (hdcli contract list)", True),
    ("/contacts", "contacts (hdcli contact list)", True),
    ("/agents", "agents (hdcli agent list)", False),
)


_TEXTS = {"type": "array", "items": _STR}
#: what adding a record takes (admin tokens only): its fields, the required ones
_ADDS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "/orgs": (
        "hdcli org add",
        {
            "name": _STR,
            "kind": {"type": "string", "enum": list(ORG_KINDS)},
            "domains": _TEXTS,
            "language": {"type": "string", "enum": list(LANGUAGES)},
        },
        ("name",),
    ),
    "/contracts": (
        "hdcli contract add",
        {"org": _STR, "number": _STR, **{f: _NULL_STR for f in CONTRACT_FIELDS}},
        ("org", "number"),
    ),
    "/contacts": (
        "hdcli contact add",
        {"org": _STR, "name": _STR, "email": _STR, "phone": _NULL_STR, "roles": _TEXTS},
        ("org", "name", "email"),
    ),
    "/agents": ("hdcli agent add", {"login": _STR, "name": _STR, "email": _STR}, ()),
}


def _add(path: str) -> dict[str, Any]:
    command, props, required = _ADDS[path]
    return {
        "summary": f"add one, admin tokens only ({command}); the new record",
        "requestBody": _body(props, required or tuple(props)),
        "responses": _answers({"type": "object"}, "201", "404", "409", "422"),
    }


_KEY = {"name": "key", "in": "path", "required": True, "schema": _STR}
_NULL_TEXTS = {"type": "array", "items": _STR, "nullable": True}
#: what changing a record takes (admin tokens only): its command, its key and its fields
_EDITS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "/orgs": (
        "org",
        "name or id",
        {
            "name": _NULL_STR,
            "kind": {"type": "string", "enum": list(ORG_KINDS), "nullable": True},
            "language": {"type": "string", "enum": list(LANGUAGES), "nullable": True},
            "add_domains": _TEXTS,
            "remove_domains": _TEXTS,
        },
    ),
    "/contracts": ("contract", "number", {f: _NULL_STR for f in CONTRACT_FIELDS}),
    "/contacts": (
        "contact",
        "address or id",
        {
            "name": _NULL_STR,
            "email": _NULL_STR,
            "phone": _NULL_STR,
            "roles": _NULL_TEXTS,
            "org": _NULL_STR,
        },
    ),
    "/agents": (
        "agent",
        "login",
        {"name": _NULL_STR, "email": _NULL_STR, "active": {"type": "boolean", "nullable": True}},
    ),
}


def _one(path: str) -> dict[str, Any]:
    """The resource of one record: show (every reader), change and remove (admin tokens)."""
    group, key, props = _EDITS[path]
    changed = _answers(_RECORD, "200", "404", "409", "422")
    return {
        "get": {
            "summary": f"one record by its {key} (hdcli {group} show --format json)",
            "parameters": [_KEY],
            "responses": _answers(_RECORD, "200", "404", "422"),
        },
        "post": {
            "summary": f"change it, admin tokens only (hdcli {group} edit); the record",
            "parameters": [_KEY],
            "requestBody": _body(props),
            "responses": changed,
        },
        "delete": {
            "summary": f"remove it, admin tokens only (hdcli {group} remove); the record as it "
            "was" + (" (one with work on record is deactivated)" if group == "agent" else ""),
            "parameters": [_KEY],
            "responses": changed,
        },
    }


def document() -> dict[str, Any]:
    ticket = {
        "type": "object",
        "required": ["number", "status", "subject"],
        "additionalProperties": True,
    }
    listed = {"type": "array", "items": {"type": "object", "required": ["number", "status"]}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "hdcli remote helpdesk", "version": __version__},
        "servers": [{"url": "/api"}],
        "security": [{"bearer": []}],
        "paths": {
            "/tickets": {
                "get": {
                    "summary": "tickets newest first (hdcli list)",
                    "parameters": [
                        {"name": n, "in": "query", "required": False, "schema": _STR}
                        for n in ("status", "assignee", "org", "since", "requester", "search")
                    ]
                    + [
                        {
                            "name": "preselected",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "boolean"},
                        },
                        {
                            "name": "priority",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": list(PRIORITIES)},
                        },
                        {"name": "limit", "in": "query", "required": False, "schema": _INT},
                    ],
                    "responses": _answers(listed, "200", "404", "422"),
                },
                "post": {
                    "summary": "open a ticket (hdcli open)",
                    "requestBody": _body(
                        {
                            "contact": _STR,
                            "subject": _STR,
                            "body": _STR,
                            "channel": {"type": "string", "enum": list(CHANNELS)},
                            "impact": {"type": "string", "enum": list(IMPACTS)},
                            "external_id": _NULL_STR,
                            "notify": _BOOL,
                        },
                        ("contact", "subject"),
                    ),
                    "responses": _answers(ticket, "201", "404", "409", "422"),
                },
            },
            "/tickets/{number}": {
                "get": {
                    "summary": "the whole ticket (hdcli show --format json)",
                    "parameters": [
                        _NUMBER,
                        {
                            "name": "history",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["true", "false"]},
                        },
                    ],
                    "responses": _answers(ticket, "200", "404", "422"),
                }
            },
            "/tickets/{number}/assign": _change(
                "assign (hdcli assign)", {"to": _STR, "start": _BOOL}, ("to",)
            ),
            "/tickets/{number}/start": _change(
                "start work (hdcli start)", {"override": _BOOL, "reason": _NULL_STR}
            ),
            "/tickets/{number}/reply": _change(
                "answer the requester (hdcli reply)",
                {
                    "body": _STR,
                    "minutes": {**_INT, "nullable": True},
                    "wait": _BOOL,
                    "answer": _NULL_STR,
                    "force": _BOOL,
                    "attachments": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"name": _STR, "type": _STR, "data": _STR},
                            "required": ["name", "type", "data"],
                        },
                    },
                },
                ("body",),
            ),
            "/tickets/{number}/note": _change(
                "an internal or phone note (hdcli note)",
                {
                    "text": _STR,
                    "minutes": {**_INT, "nullable": True},
                    "kind": {"type": "string", "enum": ["note", "phone"]},
                    "force": _BOOL,
                },
                ("text",),
            ),
            "/tickets/{number}/log": _change(
                "log time (hdcli log)",
                {
                    "minutes": _INT,
                    "note": _STR,
                    "date": {"type": "string", "format": "date", "nullable": True},
                    "activity": {"type": "string", "enum": list(ACTIVITIES)},
                    "billable": _BOOL,
                    "force": _BOOL,
                },
                ("minutes",),
            ),
            "/tickets/{number}/close": _change(
                "close (hdcli close)", {"reason": _NULL_STR, "notify": _BOOL}
            ),
            "/tickets/{number}/reopen": _change("reopen (hdcli reopen)", {"reason": _NULL_STR}),
            "/tickets/{number}/edit": _change(
                "correct subject, impact, requester, contract or priority (hdcli edit)",
                {
                    "subject": _NULL_STR,
                    "impact": {"type": "string", "enum": list(IMPACTS), "nullable": True},
                    "requester": _NULL_STR,
                    "contract": _NULL_STR,
                    "priority": {"type": "string", "enum": list(PRIORITIES), "nullable": True},
                    "force": _BOOL,
                    "reason": _NULL_STR,
                },
            ),
            "/tickets/{number}/approvals": _change(
                "ask the organisation's approvers; the ticket waits (hdcli approval request); "
                "the approval",
                {"change": _STR, "kind": {"type": "string", "enum": list(APPROVAL_KINDS)}},
                ("change",),
                ok=_RECORD,
            ),
            "/tickets/{number}/approvals/decide": _change(
                "an approver's decision (hdcli approval grant, deny); the approval",
                {
                    "decision": {"type": "string", "enum": ["granted", "denied"]},
                    "by": _STR,
                    "via": {"type": "string", "enum": list(VIAS)},
                    "note": _NULL_STR,
                    "kind": {"type": "string", "enum": list(APPROVAL_KINDS), "nullable": True},
                    "approval_id": {**_ID, "nullable": True},
                },
                ("decision", "by", "via"),
                ok=_RECORD,
            ),
            "/tickets/{number}/approvals/apply": _change(
                "record an important change (hdcli approval apply)",
                {"message": _STR, "override": _BOOL, "reason": _NULL_STR},
                ("message",),
            ),
            "/tickets/{number}/report/decide": _change(
                "the customer's answer to the service report (hdcli report approve, dispute); "
                "the report's status",
                {
                    "status": {"type": "string", "enum": ["approved", "disputed"]},
                    "by": _STR,
                    "via": {"type": "string", "enum": list(VIAS)},
                    "reason": _NULL_STR,
                },
                ("status",),
            ),
            "/tickets/{number}/billable": _change(
                "override whether the ticket is billable, null: as the contract says "
                "(hdcli report billable)",
                {"billable": {"type": "boolean", "nullable": True}, "force": _BOOL},
            ),
            "/reports/{name}/send": {
                "post": {
                    "summary": "run a registered report and mail it, CSV attached, through the "
                    "outbound queue (hdcli report billing|run --send-to); title, summary, "
                    "message_id",
                    "parameters": [
                        {"name": "name", "in": "path", "required": True, "schema": _STR}
                    ],
                    "requestBody": _body(
                        {
                            "to": _STR,
                            "language": {"type": "string", "enum": list(LANGUAGES)},
                            "options": {"type": "object"},
                        },
                        ("to", "options"),
                    ),
                    "responses": _answers(
                        {
                            "type": "object",
                            "required": ["title", "summary", "message_id"],
                            "properties": {
                                "title": _STR,
                                "summary": _STR,
                                "message_id": _STR,
                            },
                        },
                        "200",
                        "404",
                        "409",
                        "422",
                    ),
                }
            },
            "/approvals": _read(
                "approvals newest first (hdcli approval list --format json)",
                _ROWS,
                _query("pending", _BOOL_Q),
                _query("ticket", _STR),
                missing=False,
            ),
            "/tickets/{number}/time": _read(
                "a ticket's time entries (hdcli time list --format json)", _ROWS, _NUMBER
            ),
            "/time/{entry}": {
                "post": {
                    "summary": "correct a time entry (hdcli time edit)",
                    "parameters": [_ENTRY, _DRY_RUN],
                    "requestBody": _body(
                        {
                            "minutes": {**_INT, "nullable": True},
                            "note": _NULL_STR,
                            "date": {"type": "string", "format": "date", "nullable": True},
                            "activity": {
                                "type": "string",
                                "enum": list(ACTIVITIES),
                                "nullable": True,
                            },
                            "charge": {"type": "boolean", "nullable": True},
                            "force": _BOOL,
                            "reason": _NULL_STR,
                        }
                    ),
                    "responses": _answers(_DONE, "200", "404", "409", "422"),
                },
                "delete": {
                    "summary": "remove a time entry (hdcli time remove)",
                    "parameters": [
                        _ENTRY,
                        _DRY_RUN,
                        _query("force", _BOOL_Q),
                        _query("reason", _STR),
                    ],
                    "responses": _answers(_DONE, "200", "404", "409", "422"),
                },
            },
            "/search": _read(
                "full text over tickets, best match first (hdcli search --format json)",
                _ROWS,
                _query("q", _STR, required=True),
                _query("status", _STR),
                _ORG,
                _query("since", _STR),
                _query("limit", _INT),
            ),
            **{
                path: {
                    **_read(summary, _ROWS, *([_ORG] if by_org else []), missing=by_org),
                    "post": _add(path),
                }
                for path, summary, by_org in _RECORD_KINDS
            },
            **{path + "/{key}": _one(path) for path, _, _ in _RECORD_KINDS},
            "/reports/{name}": _read(
                "a registered report (hdcli report billing, tickets, run); every other query "
                "parameter is an option (billing: month, org, detail)",
                {
                    "type": "object",
                    "required": ["title", "columns", "rows", "summary"],
                    "properties": {
                        "title": _STR,
                        "columns": {"type": "array", "items": _STR},
                        "rows": _ROWS,
                        "summary": _STR,
                        "filename": _STR,
                    },
                },
                {"name": "name", "in": "path", "required": True, "schema": _STR},
                _query("month", _STR),
                _ORG,
                _query("detail", _BOOL_Q),
                _query("by", _STR),
            ),
            "/reports/service/{number}": _read(
                "a ticket's service report: the document of hdcli report service --format "
                "json; with format text, md or pdf {content, encoding}",
                {"type": "object"},
                _NUMBER,
                _query("format", {"type": "string", "enum": ["json", "text", "md", "pdf"]}),
            ),
            "/mail/queue": _read(
                "the outbound queue, newest first (hdcli mail queue --format json)",
                _ROWS,
                _query("status", _STR),
                _query("all", _BOOL_Q),
                _query("limit", _INT),
                missing=False,
            ),
            "/mail/quarantine": _read(
                "quarantined messages, newest first (hdcli mail quarantine list --format "
                "json; admin tokens only)",
                _ROWS,
                missing=False,
            ),
            "/mail/quarantine/{qid}": _read(
                "a quarantined message's reason and headers (hdcli mail quarantine show)",
                {"type": "object"},
                _QID,
            ),
            "/mail/quarantine/{qid}/raw": _read(
                "a quarantined message's original bytes, base64 (hdcli mail quarantine show --raw)",
                {
                    "type": "object",
                    "required": ["content", "encoding"],
                    "properties": {"content": _STR, "encoding": _STR},
                },
                _QID,
            ),
            "/mail/quarantine/{qid}/retry": _quarantine(
                "run a quarantined message through ingest again (hdcli mail quarantine retry)",
                {"billing": {"type": "boolean", "nullable": True}, "dry_run": _BOOL},
            ),
            "/mail/quarantine/{qid}/drop": _quarantine(
                "remove a quarantined message (hdcli mail quarantine drop)", {"dry_run": _BOOL}
            ),
            "/mail": {
                "post": {
                    "summary": "a raw RFC 5322 message to mail intake (hdcli-mailgate --url)",
                    "parameters": [
                        {"name": "source", "in": "query", "required": False, "schema": _STR},
                        {
                            "name": "billing",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["true", "false"]},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    "responses": _answers(
                        {"type": "object", "required": ["outcome"]}, "200", "422"
                    ),
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "an error with the CLI's exit code",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["error", "code"],
                                "properties": {"error": _STR, "code": {"type": "integer"}},
                            }
                        }
                    },
                }
            },
        },
    }


if __name__ == "__main__":  # python -m hdcli.server.openapi > docs/openapi.json
    import json

    print(json.dumps(document(), indent=2, ensure_ascii=False))
