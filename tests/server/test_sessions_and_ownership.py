"""Sessions on the server, ownership by principal id, renewal by the owner, caching and HSTS."""

from __future__ import annotations

import re

import httpx

from llmcert.server._auth import CSRF_COOKIE, SESSION_COOKIE
from llmcert.server._sessions import SessionStore
from tests.server.conftest import Server


def _browser(server: Server, scheme: str = "http") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app), base_url=f"{scheme}://testserver"
    )


async def _login(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return await client.post("/login", data={"token": secret, "csrf_token": token.group(1)})


async def test_the_cookie_is_a_session_not_the_token_and_logout_ends_it(server: Server) -> None:
    secret = server.secrets["assessor"]
    async with _browser(server) as browser:
        assert (await _login(browser, secret)).status_code == 303
        session = browser.cookies[SESSION_COOKIE]
        assert session != secret
        assert secret not in session
        assert (await browser.get("/review")).status_code == 200
        page = await browser.get("/review")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token is not None
        assert (
            await browser.post("/logout", data={"csrf_token": token.group(1)})
        ).status_code == 303
        csrf = browser.cookies[CSRF_COOKIE]
    async with _browser(server) as replay:  # the old cookie, kept by an attacker
        replay.cookies.set(SESSION_COOKIE, session)
        replay.cookies.set(CSRF_COOKIE, csrf)
        assert (await replay.get("/review")).status_code == 401
    async with _browser(server) as raw:  # the raw API token is no session
        raw.cookies.set(SESSION_COOKIE, secret)
        assert (await raw.get("/review")).status_code == 401


async def test_revoking_the_token_ends_its_sessions(server: Server) -> None:
    async with _browser(server) as browser:
        await _login(browser, server.secrets["assessor"])
        assert (await browser.get("/review")).status_code == 200
        me = server.registry.authenticate(server.secrets["assessor"])
        assert me is not None
        server.registry.revoke_token(me.id, actor="admin:test")
        assert (await browser.get("/review")).status_code == 401


def test_sessions_expire_when_idle_and_after_their_lifetime() -> None:
    now = [0.0]
    store = SessionStore(lifetime=100, idle=10, clock=lambda: now[0])
    session = store.open("t1")
    now[0] = 9
    assert store.resolve(session) == "t1"
    now[0] = 20
    assert store.resolve(session) is None  # idle for 11 s
    kept = store.open("t1")  # opened at 20: lives until 120 however busy
    for moment in range(29, 120, 9):
        now[0] = moment
        assert store.resolve(kept) == "t1"
    now[0] = 121
    assert store.resolve(kept) is None


async def test_ownership_is_by_principal_id_not_by_name(server: Server) -> None:
    certificate = await server.certified("smollm2")
    model_id = server.registry.get_filing(certificate["filing_id"]).model_id
    owner = server.registry.get_model(model_id).owner
    me = server.registry.authenticate(server.secrets["applicant"])
    assert me is not None
    assert owner == me.id  # recorded by id …
    page = await server.client.get(f"/certificates/{certificate['id']}")
    assert "<dd>applicant-1</dd>" in page.text  # … and shown by name
    _, twin = server.registry.create_token("applicant-1", "applicant", actor="test")  # same name
    twin_auth = {"Authorization": f"Bearer {twin}"}
    assert (
        await server.client.get(f"/api/v1/models/{model_id}", headers=twin_auth)
    ).status_code == 404
    filing = await server.client.get(
        f"/api/v1/filings/{certificate['filing_id']}", headers=twin_auth
    )
    assert filing.status_code == 404
    assert (await server.client.get("/api/v1/filings", headers=twin_auth)).json() == []
    renew = await server.client.post(
        f"/api/v1/certificates/{certificate['id']}/renew", headers=twin_auth
    )
    assert renew.status_code == 404


async def test_only_the_owner_may_file_a_renewal(server: Server) -> None:
    certificate = await server.certified("smollm2")
    _, other = server.registry.create_token("mallory", "applicant", actor="test")
    other_auth = {"Authorization": f"Bearer {other}"}
    identity = server.worker.identities["smollm2"]
    own = await server.client.post(
        "/api/v1/models",
        json={"name": "copy", "ref": identity.ref, "identity_digest": identity.digest},
        headers=other_auth,
    )
    assert own.status_code == 201
    before = len(server.registry.list_filings())
    response = await server.client.post(
        "/api/v1/filings",
        data={
            "model_id": own.json()["id"],
            "standard_ref": certificate["standard_ref"],
            "renews": certificate["id"],
        },
        headers=other_auth,
    )
    assert response.status_code == 404
    assert len(server.registry.list_filings()) == before
    mine = await server.client.post(
        f"/api/v1/certificates/{certificate['id']}/renew", headers=server.auth("applicant")
    )
    assert mine.status_code == 202


async def test_answers_are_not_cached_and_https_gets_hsts(server: Server) -> None:
    page = await server.client.get("/api/v1/filings", headers=server.auth("admin"))
    assert page.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in page.headers
    async with _browser(server, "https") as secure:
        answer = await secure.get("/")
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["strict-transport-security"].startswith("max-age=")
