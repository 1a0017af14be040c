"""Every endpoint × every principal (anonymous, applicant, assessor, admin), read from the matrix."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from llmcert.server import ACCESS, ANONYMOUS, PRINCIPALS, RouteInfo, routes_of
from llmcert.server._auth import CSRF_COOKIE, SESSION_COOKIE
from tests.server.conftest import Server

_PARAM = re.compile(r"\{[^}]+\}")
FORGED = "llmc_" + "0" * 32 + "_" + "A" * 43


def concrete(path: str) -> str:
    return _PARAM.sub("0" * 32, path)


def code_of(response: httpx.Response) -> str | None:
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        return body.get("error", {}).get("code") if isinstance(body, dict) else None
    found = re.search(r'data-code="([^"]+)"', response.text)
    return found.group(1) if found else None


@pytest.fixture
async def csrf(server: Server) -> tuple[str, str]:
    """A CSRF cookie and the form token that goes with it, as a browser would get them."""
    page = await server.client.get("/login")
    cookie = page.cookies[CSRF_COOKIE]
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return cookie, token.group(1)


def session_for(server: Server, secret: str) -> str:
    """What signing in with ``secret`` puts in the cookie (an invalid secret stays as it is)."""
    principal = server.registry.authenticate(secret)
    return server.app.state.sessions.open(principal.id) if principal is not None else secret


async def call(
    server: Server, route: RouteInfo, secret: str | None, csrf: tuple[str, str]
) -> httpx.Response:
    api = route.path.startswith("/api/")
    cookies = {CSRF_COOKIE: csrf[0]}
    headers: dict[str, str] = {}
    if secret is not None:
        if api:
            headers["Authorization"] = f"Bearer {secret}"
        else:
            cookies[SESSION_COOKIE] = session_for(server, secret)
    data = {"csrf_token": csrf[1]} if not api and route.method == "POST" else None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app), base_url="http://testserver", cookies=cookies
    ) as client:
        return await client.request(route.method, concrete(route.path), headers=headers, data=data)


@pytest.fixture
async def routes(server: Server) -> AsyncIterator[tuple[RouteInfo, ...]]:
    yield routes_of(server.app)
    await server.drain()


def test_matrix_names_exactly_the_routes_and_only_known_principals(server: Server) -> None:
    names = {r.name for r in routes_of(server.app)}
    assert names == set(ACCESS)
    for name, allowed in ACCESS.items():
        assert allowed, name
        assert allowed <= set(PRINCIPALS), name
    assert len(routes_of(server.app)) >= 40
    # the JSON API's write endpoints are never public
    for route in routes_of(server.app):
        api_write = route.path.startswith("/api/") and route.method == "POST"
        if api_write and route.name != "verify_certificate":
            assert ANONYMOUS not in ACCESS[route.name], route.name


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_every_endpoint_for_every_principal(
    server: Server, routes: tuple[RouteInfo, ...], csrf: tuple[str, str], principal: str
) -> None:
    secret = None if principal == ANONYMOUS else server.secrets[principal]
    for route in routes:
        response = await call(server, route, secret, csrf)
        allowed = principal in ACCESS[route.name]
        where = f"{principal} {route.method} {route.path} -> {response.status_code}"
        if allowed:
            assert response.status_code not in (401, 403), where
        elif principal == ANONYMOUS:
            assert response.status_code == 401, where
            assert code_of(response) == "unauthenticated", where
        else:
            assert response.status_code == 403, where
            assert code_of(response) == "forbidden", where


@pytest.mark.parametrize("secret", [FORGED, "nonsense", "Bearer"])
async def test_forged_tokens_get_401_on_every_protected_endpoint(
    server: Server, routes: tuple[RouteInfo, ...], csrf: tuple[str, str], secret: str
) -> None:
    for route in routes:
        response = await call(server, route, secret, csrf)
        where = f"{route.method} {route.path} -> {response.status_code}"
        if ANONYMOUS in ACCESS[route.name]:
            assert response.status_code != 401, where  # public: a bad credential is ignored
        else:
            assert response.status_code == 401, where
            if route.path.startswith("/api/"):
                assert response.headers["www-authenticate"].startswith("Bearer"), where


async def test_api_ignores_the_session_cookie_and_pages_ignore_the_header(server: Server) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: session_for(server, server.secrets["admin"])},
    ) as browser:
        assert (await browser.get("/api/v1/whoami")).status_code == 401
        assert (await browser.get("/filings")).status_code == 200
    header_only = await server.client.get("/filings", headers=server.auth("admin"))
    assert header_only.status_code == 401


async def test_a_revoked_token_is_refused_everywhere(server: Server) -> None:
    token = server.registry.list_tokens()[0]
    server.registry.revoke_token(token.id, actor="test")
    secret = server.secrets[token.role.value]
    response = await server.client.get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid or revoked token"
