"""The ASGI application: bearer tokens and roles, resources, errors as JSON.

Every request gets its own :class:`~hdcli.context.Context` (its own connection) acting as the
token's agent: a name the client sends is never the actor. An error is
``{"error": "...", "code": N}`` with the CLI's exit code ``N`` and an HTTP status by its
meaning (2 → 422, 3 → 404, 4 → 409, 5/75 → 503; a role's denial 403, no valid token 401).
Denied calls are logged; an address with too many failed authentications in a minute gets 429.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hdcli.errors import EXIT_UNEXPECTED, HdcliError, NotFound, UsageError
from hdcli.ops import CONTRACT_FIELDS, EDIT_FIELDS, RECORDS

if TYPE_CHECKING:
    from hdcli.config import Config
    from hdcli.context import Context
    from hdcli.mail.outbound import OutAttachment
    from hdcli.models import Row

log = logging.getLogger("hdcli.server")

#: HTTP status of each exit code
STATUS = {2: 422, 3: 404, 4: 409, 5: 503, 75: 503}
#: failed authentications an address may have within WINDOW seconds
MAX_FAILURES = 20
WINDOW = 60.0
#: what each role may call: methods, and paths (None: every path)
READ = ("GET", "HEAD")
#: the most a request body may be (a mail above mail.max_message_size is cut by ingest)
MAX_BODY = 64 * 1024 * 1024

Handler = Callable[["Context", Request, "Row"], Any]


class Denied(HdcliError):
    """The token's role does not allow the call (403, exit 4)."""

    exit_code = 4


class _Failures:
    """Failed authentications per client address within the last WINDOW seconds."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        with self._lock:
            seen = self._seen.get(address)
            if not seen:
                return False
            cutoff = time.monotonic() - WINDOW
            while seen and seen[0] < cutoff:
                seen.popleft()
            return len(seen) >= MAX_FAILURES

    def add(self, address: str) -> None:
        with self._lock:
            self._seen[address].append(time.monotonic())


def _error(message: str, code: int, status: int | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": message, "code": code}, status_code=status or STATUS.get(code, 500)
    )


#: resources only an admin token may change (the helpdesk's customers, contracts and staff)
ADMIN_WRITES = ("/orgs", "/contracts", "/contacts", "/agents")
#: resources only an admin token may read or change (quarantined mail: strangers' data)
ADMIN_ONLY = ("/mail/quarantine",)
#: resources an agent token may change (and ``POST /mail``, incoming mail): ticket work, time
#: entries, approvals, reports by mail
AGENT_WRITES = ("/tickets", "/time/", "/approvals", "/reports/")


def allowed(role: str, method: str, path: str) -> bool:
    """Whether a token of ``role`` may call ``method path`` (path below ``/api``): admin
    everything, agent every read and the changes of :data:`AGENT_WRITES` (never those of
    :data:`ADMIN_WRITES`), readonly every read, gateway only ``POST /mail``."""
    if role == "admin":
        return True
    if role == "gateway":
        return method == "POST" and path == "/mail"
    if path.startswith(ADMIN_ONLY):
        return False
    if method in READ:
        return role in ("agent", "readonly")
    if role != "agent" or path.startswith(ADMIN_WRITES):
        return False
    return path == "/mail" or path.startswith(AGENT_WRITES)


class Server:
    """The application's state: configuration and the failed-authentication counter."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.failures = _Failures()
        #: each worker thread's open store, kept from one request to the next
        self._pool = threading.local()

    def context(self) -> Context:
        """A request's context, on the store this thread kept open (connecting, with the
        schema check, costs more than most requests)."""
        from hdcli.context import Context

        ctx = Context(self.config)
        store = getattr(self._pool, "store", None)
        if store is not None:
            ctx.__dict__["store"] = store
        return ctx

    def release(self, ctx: Context, healthy: bool) -> None:
        """The request is over: its store is kept for the thread's next request, unless the
        request failed on the server's side (then the next one connects afresh)."""
        store = ctx.__dict__.pop("store", None)
        ctx.close()
        if store is None:
            return
        if healthy and not store.in_transaction:
            self._pool.store = store
        else:
            self._pool.store = None
            with contextlib.suppress(Exception):
                store.close()

    def endpoint(
        self, handler: Handler, *, write: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            address = request.client.host if request.client else "-"
            if self.failures.blocked(address):
                log.warning(
                    "denied %s %s from %s: too many failed authentications",
                    request.method,
                    request.url.path,
                    address,
                )
                return _error("too many failed authentications; try again later", 4, 429)
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                self.failures.add(address)
                log.warning(
                    "denied %s %s from %s: no bearer token",
                    request.method,
                    request.url.path,
                    address,
                )
                return _error("a bearer token is required (hdcli token create)", 4, 401)
            body = await request.body()
            if len(body) > MAX_BODY:
                return _error("request body too large", 2, 413)
            return await run_in_threadpool(
                self._call, handler, request, token.strip(), body, address
            )

        return run

    def _call(
        self, handler: Handler, request: Request, token: str, body: bytes, address: str
    ) -> Response:
        ctx = self.context()
        path = request.url.path.removeprefix("/api")
        response: Response | None = None
        try:
            response = self._respond(ctx, handler, request, token, body, address, path)
            return response
        finally:
            self.release(ctx, healthy=response is not None and response.status_code < 500)

    def _respond(
        self,
        ctx: Context,
        handler: Handler,
        request: Request,
        token: str,
        body: bytes,
        address: str,
        path: str,
    ) -> Response:
        from hdcli.tokens import Unauthorized, authenticate
        from hdcli.unit import DryRun

        try:
            try:
                who = authenticate(ctx.store, token)
            except Unauthorized as exc:
                self.failures.add(address)
                log.warning(
                    "denied %s %s from %s: %s", request.method, request.url.path, address, exc
                )
                return _error(str(exc), 4, 401)
            if not allowed(who["role"], request.method, path):
                log.warning(
                    "denied %s %s to token %s (%s, %s)",
                    request.method,
                    request.url.path,
                    who["prefix"],
                    who["login"],
                    who["role"],
                )
                return _error(f"a {who['role']} token may not {request.method} {path}", 4, 403)
            ctx.act_as(str(who["login"]))
            ctx.dry_run = request.query_params.get("dry_run") == "true"
            payload: Any = body
            if request.headers.get("content-type", "").startswith("application/json") or (
                body[:1] in (b"{", b"[")
            ):
                try:
                    payload = json.loads(body) if body else {}
                except ValueError:
                    return _error("the request body is no JSON", 2)
            try:
                data = handler(ctx, request, payload if path != "/mail" else {"raw": body})
            except DryRun:
                return JSONResponse({"dry_run": True})
            created = request.method == "POST" and path in ("/tickets", *ADMIN_WRITES)
            return _json(data, 201 if created else 200)
        except HdcliError as exc:
            return _error(str(exc), exc.exit_code)
        except (TypeError, KeyError) as exc:
            return _error(f"bad request: {exc}", 2)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return _error("internal error (see the server's log)", EXIT_UNEXPECTED, 500)


def _json(data: Any, status: int = 200) -> Response:
    """``data`` encoded as the CLI's ``--format json`` encodes it."""
    from hdcli.output import to_json

    return Response(to_json(data), status_code=status, media_type="application/json")


# -- resources -------------------------------------------------------------------------------
def _body(payload: Any) -> Row:
    if not isinstance(payload, dict):
        raise UsageError("the request body must be a JSON object")
    return payload


def _fields(payload: Any, allowed: dict[str, type | tuple[type, ...]]) -> Row:
    body = _body(payload)
    for key, value in body.items():
        if key not in allowed:
            raise UsageError(f"unknown field {key!r} (allowed: {', '.join(allowed)})")
        if (value is not None and not isinstance(value, allowed[key])) or (
            isinstance(value, bool) and allowed[key] is int
        ):
            raise UsageError(f"bad {key} {value!r}")
        if allowed[key] is int and isinstance(value, int) and not 0 < value <= MAX_ID:
            raise UsageError(f"bad {key} {value!r}")
    return body


def _number(request: Request) -> str:
    return str(request.path_params["number"])


#: the most an id in a path may be (a larger one is no row: NotFound, not a driver's overflow)
MAX_ID = 2**53


def _path_value(request: Request, name: str) -> Any:
    """A path parameter: ``entry`` (and every ``…id``) an integer, the others text."""
    value = str(request.path_params[name])
    if name != "entry":
        return value
    if not (value.isdigit() and 0 < int(value) <= MAX_ID):
        raise NotFound(f"no time entry {value!r} (see `hdcli time list NUMBER`)")
    return int(value)


def _query(request: Request, spec: dict[str, str], rename: dict[str, str]) -> Row:
    """The query's parameters by ``spec`` (name → ``str``, ``int`` (1 … 100000) or ``bool``
    (``true``/``false``)), as keyword arguments (a name through ``rename``); an unknown one is
    a usage error."""
    q = request.query_params
    unknown = sorted(set(q) - set(spec) - {"dry_run"})
    if unknown:
        raise UsageError(f"unknown parameter {unknown[0]!r}")
    args: Row = {}
    for name, kind in spec.items():
        value = q.get(name)
        if value is None:
            continue
        if kind == "int":
            if not (value.isdigit() and 0 < int(value) <= 100000):
                raise UsageError(f"bad {name} {value!r}")
            args[rename.get(name, name)] = int(value)
        elif kind == "bool":
            if value not in ("true", "false"):
                raise UsageError(f"bad {name} {value!r}: true or false")
            args[rename.get(name, name)] = value == "true"
        else:
            args[rename.get(name, name)] = value
    return args


def resource(
    op: str,
    *,
    path: tuple[str, ...] = (),
    query: dict[str, str] | None = None,
    body: dict[str, type | tuple[type, ...]] | None = None,
    required: tuple[str, ...] = (),
    rename: dict[str, str] | None = None,
    fixed: Row | None = None,
    dry_run: bool = True,
) -> Handler:
    """The handler that calls :mod:`hdcli.ops` function ``op`` with the path parameters
    ``path`` (in order), then as keywords the ``fixed`` values, the query parameters of
    ``query`` (see :func:`_query`) and the fields of a JSON ``body`` (their types checked;
    nulls left out, so the operation's defaults hold). ``required`` names the parameters or
    fields that must be given; without ``dry_run`` the operation has none (``?dry_run=true``
    is refused)."""

    def handle(ctx: Context, request: Request, payload: Any) -> Any:
        import hdcli.ops as ops

        if ctx.dry_run and not dry_run:
            raise UsageError(f"{request.method} {request.url.path} has no dry run")
        args: Row = {**(fixed or {}), **_query(request, query or {}, rename or {})}
        if body is not None:
            given = _fields(payload, body)
            if "minutes" in given:
                _minutes(given)
            args.update({k: v for k, v in given.items() if v is not None})
        for name in required:
            if args.get(name) in (None, ""):
                raise UsageError(f"{request.method} {request.url.path} needs {name!r}")
        return getattr(ops, op)(ctx, *(_path_value(request, p) for p in path), **args)

    return handle


def list_tickets(ctx: Context, request: Request, payload: Any) -> Any:
    from hdcli.ops import list_tickets as run

    q = request.query_params
    known = {
        "status",
        "assignee",
        "org",
        "since",
        "requester",
        "preselected",
        "search",
        "priority",
        "limit",
        "dry_run",
    }
    unknown = sorted(set(q) - known)
    if unknown:
        raise UsageError(f"unknown parameter {unknown[0]!r}")
    limit = q.get("limit")
    if limit is not None and not (limit.isdigit() and 0 < int(limit) <= 100000):
        raise UsageError(f"bad limit {limit!r}")
    preselected = q.get("preselected")
    if preselected not in (None, "true", "false"):
        raise UsageError(f"bad preselected {preselected!r}: true or false")
    return run(
        ctx,
        status=q.get("status"),
        assignee=q.get("assignee"),
        org=q.get("org"),
        since=q.get("since"),
        requester=q.get("requester"),
        preselected=None if preselected is None else preselected == "true",
        search=q.get("search"),
        priority=q.get("priority"),
        limit=int(limit) if limit else None,
    )


def open_ticket(ctx: Context, request: Request, payload: Any) -> Any:
    from hdcli.ops import open_ticket as run

    return run(ctx, _body(payload))


def show(ctx: Context, request: Request, payload: Any) -> Any:
    from hdcli.ops import show as run

    return run(ctx, _number(request), history=request.query_params.get("history") != "false")


def reply(ctx: Context, request: Request, payload: Any) -> Any:
    from hdcli.ops import reply as run

    b = _fields(
        payload,
        {
            "body": str,
            "minutes": int,
            "wait": bool,
            "answer": str,
            "attachments": list,
            "force": bool,
        },
    )
    return run(
        ctx,
        _number(request),
        b.get("body") or "",
        _minutes(b),
        wait=b.get("wait") is not False,
        attachments=_attachments(b.get("attachments") or []),
        answer=b.get("answer"),
        force=b.get("force") is True,
    )


def _attachments(items: list[Any]) -> list[OutAttachment]:
    """Files of a reply as ``{"name", "type", "data": base64}`` objects; the name is
    sanitised as a mailed one is."""
    import base64
    import binascii

    from hdcli.mail.outbound import OutAttachment
    from hdcli.mail.parse import sanitize_filename

    files = []
    for item in items:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("name", "type", "data")
        ):
            raise UsageError("each attachment is an object with name, type and data (base64)")
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            raise UsageError(f"attachment {item['name']!r}: data is not base64") from None
        files.append(OutAttachment(sanitize_filename(item["name"]), item["type"], data))
    return files


def note(ctx: Context, request: Request, payload: Any) -> Any:
    from hdcli.ops import note as run

    b = _fields(payload, {"text": str, "minutes": int, "kind": str, "force": bool})
    kind = b.get("kind") or "note"
    if kind not in ("note", "phone"):
        raise UsageError(f"bad kind {kind!r} (allowed: note, phone)")
    text, minutes = b.get("text") or "", _minutes(b)
    return run(ctx, _number(request), text, minutes, kind=kind, force=bool(b.get("force")))


def _minutes(b: Row) -> int | None:
    minutes = b.get("minutes")
    if minutes is not None and not 0 < minutes <= 100000:
        raise UsageError(f"bad minutes {minutes!r}")
    return minutes


def log_time(ctx: Context, request: Request, payload: Any) -> Any:
    from hdcli.ops import log_time as run

    b = _fields(
        payload,
        {
            "minutes": int,
            "note": str,
            "date": str,
            "activity": str,
            "billable": bool,
            "force": bool,
        },
    )
    minutes = _minutes(b)
    if minutes is None:
        raise UsageError("log needs 'minutes'")
    return run(
        ctx,
        _number(request),
        minutes,
        note=b.get("note") or "",
        work_date=b.get("date"),
        activity=b.get("activity") or "other",
        billable=b.get("billable") is not False,
        force=bool(b.get("force")),
    )


def mail(ctx: Context, request: Request, payload: Any) -> Any:
    """The raw RFC 5322 message through mail intake; its outcome."""
    from hdcli.mail.ingest import ingest_one

    raw = payload["raw"]
    if not raw:
        raise UsageError("POST /mail needs the raw message as the request body")
    source = request.query_params.get("source") or "gateway"
    billing = request.query_params.get("billing") == "true"
    return ingest_one(ctx, raw, source[:64], billing).as_dict()


def report(ctx: Context, request: Request, payload: Any) -> Any:
    """A registered report with the query's parameters as its options (text, as ``hdcli
    report run -o key=value`` gives them): title, columns, rows, summary."""
    from hdcli.ops import report as run

    options = {k: v for k, v in request.query_params.items() if k != "dry_run"}
    return run(ctx, str(request.path_params["name"]), options).as_dict()


def service_report(ctx: Context, request: Request, payload: Any) -> Any:
    """A ticket's service report: in json the document itself (``hdcli report service
    --format json``), in text, md or pdf ``{"content", "encoding"}``."""
    from hdcli.ops import service_report as run

    fmt = _query(request, {"format": "str"}, {}).get("format", "json")
    data = run(ctx, _number(request), fmt)
    if fmt == "json":
        return json.loads(data)
    if fmt == "pdf":
        import base64

        return {"content": base64.b64encode(data).decode(), "encoding": "base64"}
    return {"content": data.decode("utf-8"), "encoding": "utf-8"}


#: the optional text of a change's body
_CHANGE: dict[str, type | tuple[type, ...]] = {"force": bool, "reason": str}
#: the resources that are one :mod:`hdcli.ops` call each: (method, path, handler)
RESOURCES: list[tuple[str, str, Handler]] = [
    (
        "POST",
        "/tickets/{number}/assign",
        resource("assign", path=("number",), body={"to": str, "start": bool}, required=("to",)),
    ),
    (
        "POST",
        "/tickets/{number}/start",
        resource("start", path=("number",), body={"override": bool, "reason": str}),
    ),
    (
        "POST",
        "/tickets/{number}/close",
        resource("close", path=("number",), body={"reason": str, "notify": bool}),
    ),
    (
        "POST",
        "/tickets/{number}/reopen",
        resource("reopen", path=("number",), body={"reason": str}),
    ),
    (
        "POST",
        "/tickets/{number}/edit",
        resource("edit", path=("number",), body={**dict.fromkeys(EDIT_FIELDS, str), **_CHANGE}),
    ),
    (
        "GET",
        "/search",
        resource(
            "search",
            query={"q": "str", "status": "str", "org": "str", "since": "str", "limit": "int"},
            rename={"q": "query"},
            required=("query",),
        ),
    ),
    ("GET", "/tickets/{number}/time", resource("time_entries", path=("number",))),
    (
        "POST",
        "/time/{entry}",
        resource(
            "time_edit",
            path=("entry",),
            body={
                "minutes": int,
                "note": str,
                "date": str,
                "activity": str,
                "charge": bool,
                **_CHANGE,
            },
        ),
    ),
    (
        "DELETE",
        "/time/{entry}",
        resource("time_remove", path=("entry",), query={"force": "bool", "reason": "str"}),
    ),
    *(
        (
            "GET",
            where,
            resource(
                "records",
                query={"org": "str"} if kind in ("contract", "contact") else {},
                fixed={"kind": kind},
            ),
        )
        for kind, (where, *_) in RECORDS.items()
    ),
    *(
        row
        for kind, (where, *_) in RECORDS.items()
        for row in (
            ("GET", where + "/{key:path}", resource("record", path=("key",), fixed={"kind": kind})),
            (
                "DELETE",
                where + "/{key:path}",
                resource("remove_record", path=("key",), fixed={"kind": kind}, dry_run=False),
            ),
        )
    ),
    (
        "POST",
        "/orgs/{key:path}",
        resource(
            "edit_org",
            path=("key",),
            body={
                "name": str,
                "kind": str,
                "language": str,
                "add_domains": list,
                "remove_domains": list,
            },
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/contracts/{key:path}",
        resource(
            "edit_contract",
            path=("key",),
            body=dict.fromkeys(CONTRACT_FIELDS, str),
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/contacts/{key:path}",
        resource(
            "edit_contact",
            path=("key",),
            body={"name": str, "email": str, "phone": str, "roles": list, "org": str},
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/agents/{key:path}",
        resource(
            "edit_agent",
            path=("key",),
            body={"name": str, "email": str, "active": bool},
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/orgs",
        resource(
            "add_org",
            body={"name": str, "kind": str, "domains": list, "language": str},
            required=("name",),
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/contracts",
        resource(
            "add_contract",
            body={"org": str, "number": str, **dict.fromkeys(CONTRACT_FIELDS, str)},
            required=("org", "number"),
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/contacts",
        resource(
            "add_contact",
            body={"org": str, "name": str, "email": str, "phone": str, "roles": list},
            required=("org", "name", "email"),
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/agents",
        resource(
            "add_agent",
            body={"login": str, "name": str, "email": str},
            required=("login", "name", "email"),
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/tickets/{number}/approvals",
        resource("approval_request", path=("number",), body={"change": str, "kind": str}),
    ),
    (
        "POST",
        "/tickets/{number}/approvals/decide",
        resource(
            "approval_decide",
            path=("number",),
            body={
                "decision": str,
                "by": str,
                "via": str,
                "note": str,
                "kind": str,
                "approval_id": int,
            },
        ),
    ),
    (
        "POST",
        "/tickets/{number}/approvals/apply",
        resource(
            "approval_apply",
            path=("number",),
            body={"message": str, "override": bool, "reason": str},
        ),
    ),
    ("GET", "/approvals", resource("approvals", query={"pending": "bool", "ticket": "str"})),
    (
        "POST",
        "/tickets/{number}/report/decide",
        resource(
            "report_decide",
            path=("number",),
            body={"status": str, "by": str, "via": str, "reason": str},
        ),
    ),
    (
        "POST",
        "/tickets/{number}/billable",
        resource("set_billable", path=("number",), body={"billable": bool, "force": bool}),
    ),
    (
        "POST",
        "/reports/{name}/send",
        resource(
            "send_report",
            path=("name",),
            body={"to": str, "language": str, "options": dict},
            required=("to",),
            dry_run=False,
        ),
    ),
    ("GET", "/reports/service/{number}", service_report),
    ("GET", "/reports/{name}", report),
    (
        "GET",
        "/mail/queue",
        resource(
            "mail_queue",
            query={"status": "str", "all": "bool", "limit": "int"},
            rename={"all": "everything"},
        ),
    ),
    ("GET", "/mail/quarantine", resource("quarantine_list")),
    ("GET", "/mail/quarantine/{qid}", resource("quarantine_show", path=("qid",))),
    ("GET", "/mail/quarantine/{qid}/raw", resource("quarantine_raw_b64", path=("qid",))),
    (
        "POST",
        "/mail/quarantine/{qid}/retry",
        resource(
            "quarantine_retry",
            path=("qid",),
            body={"billing": bool, "dry_run": bool},
            dry_run=False,
        ),
    ),
    (
        "POST",
        "/mail/quarantine/{qid}/drop",
        resource("quarantine_drop", path=("qid",), body={"dry_run": bool}, dry_run=False),
    ),
]


def openapi_document() -> dict[str, Any]:
    from hdcli.server.openapi import document

    return document()


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


def build(
    config: Config | None = None, config_path: Path | None = None, profile: str | None = None
) -> Starlette:
    """The application over ``config`` (loaded from ``config_path``/``profile`` when None)."""
    if config is None:
        from hdcli.config import Config

        config = Config.load(config_path, profile)
    server = Server(config)
    e = server.endpoint
    routes = [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/tickets", e(list_tickets), methods=["GET"]),
        Route("/api/tickets", e(open_ticket), methods=["POST"]),
        Route("/api/tickets/{number}", e(show), methods=["GET"]),
        Route("/api/tickets/{number}/reply", e(reply), methods=["POST"]),
        Route("/api/tickets/{number}/note", e(note), methods=["POST"]),
        Route("/api/tickets/{number}/log", e(log_time), methods=["POST"]),
        Route("/api/mail", e(mail), methods=["POST"]),
        *(
            Route("/api" + path, e(handler), methods=[method])
            for method, path, handler in RESOURCES
        ),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(f"no resource {request.method} {request.url.path}", 3)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _error(f"{request.method} is not allowed on {request.url.path}", 2, 405)

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


def app_from_env() -> Starlette:
    """The factory uvicorn's workers call (the configuration of ``HDCLI_CONFIG`` and
    ``HDCLI_PROFILE``, as ``hdcli serve`` set them)."""
    return build()
