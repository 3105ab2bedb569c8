"""schemathesis against the served OpenAPI document: at a bounded example count per operation,
no generated request makes the server answer 5xx or an answer outside its documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpdesk import Helpdesk
from hypothesis import HealthCheck, settings
from test_server import served, token

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from hdcli.server.openapi import document  # noqa: E402

SCHEMA = schemathesis.openapi.from_dict(document())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A served, seeded helpdesk with one open ticket, and an admin token."""
    hd = Helpdesk(tmp_path_factory.mktemp("served"))
    hd.seed_by_commands()
    hd.open()
    secret = token(hd, "admin")
    with served(hd) as url:
        yield url, secret


@SCHEMA.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_error(case: Any, api: tuple[str, str]) -> None:
    url, secret = api
    case.call_and_validate(
        base_url=url, headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS
    )
