"""Property-based fuzzing of the JSON API from its own OpenAPI document.

Schemathesis generates requests (valid and invalid) for every operation and
sends them to a live server of their own, on loopback, as an anonymous caller
and with each role's token (the admin reaches the token and audit endpoints,
only an applicant gets past the access check into the filing upload, only an
assessor into the decision bodies). Whatever it sends, the server must never
answer 5xx, and every answer must be one the document promises: a documented
status code, the documented content type, a body that fits the response schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from tests.e2e.conftest import LiveServer, serving
from tests.registry.conftest import BACKENDS, PostgresServer, postgres_server  # noqa: F401

SEED = 20261120
MAX_EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server of its own, on each database: what one accepts the other must too (NUL, …)."""
    if request.param == "sqlite":
        with serving(tmp_path_factory.mktemp("fuzzed-server")) as server:
            yield server
        return
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    name = "fuzz_" + uuid.uuid4().hex[:12]
    with postgres.admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with serving(
            tmp_path_factory.mktemp("fuzzed-pg"), database_url=postgres.url(name)
        ) as server:
            yield server
    finally:
        with postgres.admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def api_schema(fuzzed: LiveServer) -> Any:
    document = fuzzed.http.get("/openapi.json")
    assert document.status_code == 200
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": fuzzed.base_url,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "mode": "all"},
        }
    )
    return schemathesis.openapi.from_dict(document.json(), config=config)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """Ignores any proxy settings of the environment: the fuzzer talks to loopback only."""
    with requests.Session() as opened:
        opened.trust_env = False
        yield opened


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def exercise(case: Any, fuzzed: LiveServer, session: requests.Session, role: str | None) -> None:
    headers = fuzzed.auth(role) if role else {}
    case.call_and_validate(
        base_url=fuzzed.base_url, session=session, headers=headers, checks=CHECKS
    )


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_admin(case: Any, fuzzed: LiveServer, session: requests.Session) -> None:
    exercise(case, fuzzed, session, "admin")


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_anonymous(case: Any, fuzzed: LiveServer, session: requests.Session) -> None:
    exercise(case, fuzzed, session, None)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_applicant(case: Any, fuzzed: LiveServer, session: requests.Session) -> None:
    exercise(case, fuzzed, session, "applicant")


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_assessor(case: Any, fuzzed: LiveServer, session: requests.Session) -> None:
    exercise(case, fuzzed, session, "assessor")


def fresh_get(fuzzed: LiveServer, path: str, role: str | None) -> httpx.Response:
    """One request on its own connection (the server drops a connection after a 500)."""
    with httpx.Client(base_url=fuzzed.base_url, timeout=30, trust_env=False) as client:
        return client.get(path, headers=fuzzed.auth(role) if role else {})


@pytest.mark.parametrize(
    ("path", "role"),
    [
        (f"/api/v1/certificates?offset={2**63}", None),
        (f"/api/v1/certificates?limit=5&offset={10**30}", "admin"),
        (f"/api/v1/audit?after_seq={2**63}", "admin"),
    ],
)
def test_paging_numbers_past_64_bits_are_answered_not_crashed(
    fuzzed: LiveServer, path: str, role: str | None
) -> None:
    """Found by the fuzzer: SQLite cannot bind such an integer, so it must be refused first."""
    response = fresh_get(fuzzed, path, role)
    assert response.status_code in (200, 422), (path, response.status_code, response.text)


def test_errors_of_the_html_report_are_documented_as_json(fuzzed: LiveServer) -> None:
    """Found by the fuzzer: the report's 401/404 answers are JSON; the document must say so."""
    spec = fresh_get(fuzzed, "/openapi.json", None).json()
    documented = spec["paths"]["/api/v1/filings/{filing_id}/assessment.html"]["get"]["responses"]
    for role, code in ((None, "401"), ("admin", "404")):
        response = fresh_get(fuzzed, "/api/v1/filings/0/assessment.html", role)
        assert str(response.status_code) == code
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in documented[code]["content"], (code, media_type, documented[code])
