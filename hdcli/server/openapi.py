"""The OpenAPI 3.0 document of ``hdcli serve`` (``/openapi.json``; a copy in docs/openapi.json,
checked for drift by the tests)."""

from __future__ import annotations

from typing import Any

from hdcli import __version__
from hdcli.models import ACTIVITIES, CHANNELS, IMPACTS, PRIORITIES

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


def _change(summary: str, props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [_NUMBER, _DRY_RUN],
            "requestBody": _body(props, required),
            "responses": _answers(_DONE, "200", "404", "409", "422"),
        }
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
                        for n in ("status", "assignee", "org", "since", "requester")
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
