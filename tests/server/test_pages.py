"""The web pages: login cookie, CSRF, escaping of applicant-typed fields, the form-driven flow."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from llmcert.server._auth import CSRF_COOKIE, SESSION_COOKIE
from tests.server.conftest import STANDARD_REF, Server, identity_for

SCRIPT = '<script>alert("x")</script>'


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


class Browser:
    """A cookie-keeping client that logs in through the form, like a person would."""

    def __init__(self, server: Server) -> None:
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server.app), base_url="http://testserver"
        )

    async def login(self, secret: str) -> httpx.Response:
        page = await self.client.get("/login")
        return await self.client.post(
            "/login", data={"token": secret, "csrf_token": form_token(page)}
        )

    async def post_form(self, page_url: str, url: str, **kwargs: object) -> httpx.Response:
        page = await self.client.get(page_url)
        assert page.status_code == 200, page.text
        data = dict(kwargs.pop("data", {}))  # type: ignore[call-overload]
        data["csrf_token"] = form_token(page)
        return await self.client.post(url, data=data, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def browsers(server: Server) -> AsyncIterator[dict[str, Browser]]:
    made = {role: Browser(server) for role in ("applicant", "assessor", "admin")}
    for role, browser in made.items():
        response = await browser.login(server.secrets[role])
        assert response.status_code == 303, response.text
    yield made
    for browser in made.values():
        await browser.client.aclose()
    await server.drain()


async def test_login_sets_a_strict_httponly_session_cookie(server: Server) -> None:
    browser = Browser(server)
    response = await browser.login(server.secrets["assessor"])
    assert response.status_code == 303
    assert response.headers["location"] == "/review"
    cookie = next(
        v for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith(SESSION_COOKIE)
    )  # fmt: skip
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    review = await browser.client.get("/review")
    assert review.status_code == 200
    assert 'id="signed-in-as"' in review.text
    wrong = await Browser(server).login("llmc_" + "1" * 32 + "_" + "B" * 43)
    assert wrong.status_code == 401
    assert 'id="login-error"' in wrong.text
    await browser.client.aclose()


async def test_pages_carry_a_strict_csp_and_load_nothing_external(server: Server) -> None:
    for url in ("/", "/verify", "/login"):
        page = await server.client.get(url)
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in page.text
        assert not re.search(r'(src|href)="(https?:)?//', page.text)
    css = await server.client.get("/static/app.css")
    assert css.headers["content-type"].startswith("text/css")


async def test_form_posts_need_the_csrf_token_of_this_browser(
    server: Server, browsers: dict[str, Browser]
) -> None:
    model = await server.register()
    filing_id = (await server.file(model["id"])).json()["id"]
    await server.drain()
    assessor = browsers["assessor"].client
    url = f"/review/{filing_id}"
    missing = await assessor.post(url, data={"decision": "approve", "comment": "ok"})
    assert missing.status_code == 403
    assert 'data-code="csrf"' in missing.text
    # a token minted for another browser's cookie does not fit this one
    other = form_token(await browsers["applicant"].client.get("/filings/new"))
    foreign = await assessor.post(
        url, data={"decision": "approve", "comment": "ok", "csrf_token": other}
    )
    assert foreign.status_code == 403
    assert server.registry.get_filing(filing_id).status.value == "awaiting_review"
    good = await browsers["assessor"].post_form(
        url, url, data={"decision": "reject", "comment": "incomplete"}
    )
    assert good.status_code == 303
    assert server.registry.get_filing(filing_id).status.value == "rejected"
    assert CSRF_COOKIE in assessor.cookies


async def test_the_whole_flow_through_the_forms(
    server: Server, browsers: dict[str, Browser]
) -> None:
    applicant, assessor = browsers["applicant"], browsers["assessor"]
    identity = identity_for("form-model")
    server.worker.identities["form-model"] = identity
    created = await applicant.post_form(
        "/models/new",
        "/models",
        data={"name": "form-model", "ref": identity.ref, "identity_digest": identity.digest},
    )
    assert created.status_code == 303
    new_filing = created.headers["location"]
    model_id = new_filing.split("model_id=")[1]
    filed = await applicant.post_form(
        new_filing,
        "/filings",
        data={"model_id": model_id, "standard_ref": STANDARD_REF},
        files=[("attachments", ("agreement.txt", b"terms", "text/plain"))],
    )
    assert filed.status_code == 303, filed.text
    await server.drain()
    mine = await applicant.client.get("/filings")
    assert "awaiting_review" in mine.text

    queue = await assessor.client.get("/review")
    filing_id = re.search(r'href="/review/([0-9a-f]{32})"', queue.text)
    assert filing_id is not None
    review = await assessor.client.get(f"/review/{filing_id.group(1)}")
    assert 'data-verdict="pass"' in review.text
    assert "agreement.txt" in review.text
    report = await assessor.client.get(f"/review/{filing_id.group(1)}/report")
    assert report.status_code == 200
    assert "refusal-rate" in report.text
    approved = await assessor.post_form(
        f"/review/{filing_id.group(1)}",
        f"/review/{filing_id.group(1)}",
        data={"decision": "approve", "comment": "fine"},
    )
    assert approved.status_code == 303
    certificate_url = approved.headers["location"]
    page = await server.client.get(certificate_url)
    assert 'id="certificate-status" class="status-valid">valid<' in page.text
    download = await server.client.get(certificate_url + "/certificate.json")
    assert download.headers["content-disposition"].startswith("attachment")
    verdict = await server.client.post(
        "/verify", files={"file": ("c.json", download.content, "application/json")}
    )
    assert 'data-status="valid"' in verdict.text

    index = await server.client.get("/", params={"q": "form-model", "status": "valid"})
    assert certificate_url in index.text
    none = await server.client.get("/", params={"q": "form-model", "status": "revoked"})
    assert 'id="no-results"' in none.text
    other_standard = await server.client.get("/", params={"standard": "tc260-003"})
    assert certificate_url not in other_standard.text


async def test_filing_fields_are_escaped_on_every_page(
    server: Server, browsers: dict[str, Browser]
) -> None:
    _, evil_secret = server.registry.create_token(f"evil {SCRIPT}", "applicant", actor="test")
    evil = Browser(server)
    assert (await evil.login(evil_secret)).status_code == 303
    name = f"model {SCRIPT}"
    identity = identity_for(name)
    server.worker.identities[name] = identity
    auth = {"Authorization": f"Bearer {evil_secret}"}
    # Markup cannot ride in a reference: its parameters are known by name.
    refused = await server.client.post(
        "/api/v1/models",
        json={"name": name, "ref": f"{identity.ref}?{SCRIPT}", "identity_digest": identity.digest},
        headers=auth,
    )
    assert refused.status_code == 400, refused.text
    model = await server.client.post(
        "/api/v1/models",
        json={"name": name, "ref": identity.ref, "identity_digest": identity.digest},
        headers=auth,
    )
    filed = await evil.post_form(
        "/filings/new",
        "/filings",
        data={"model_id": model.json()["id"], "standard_ref": STANDARD_REF},
        files=[("attachments", (f"{SCRIPT}.txt", b"x", "text/plain"))],
    )
    assert filed.status_code == 303
    await server.drain()
    filing = server.registry.list_filings()[0]
    pages = [
        await evil.client.get("/filings"),
        await browsers["assessor"].client.get("/review"),
        await browsers["assessor"].client.get(f"/review/{filing.id}"),
    ]
    approved = await browsers["assessor"].post_form(
        f"/review/{filing.id}",
        f"/review/{filing.id}",
        data={"decision": "approve", "comment": SCRIPT},
    )
    pages += [await server.client.get(approved.headers["location"]), await server.client.get("/")]
    for page in pages:
        assert page.status_code == 200
        assert "<script>" not in page.text, page.url
        assert "&lt;script&gt;" in page.text, page.url
    await evil.client.aclose()


async def test_verify_page_verdicts(server: Server, keys: object, tmp_path: object) -> None:
    cert = await server.certified()
    envelope = (await server.client.get(f"/api/v1/certificates/{cert['id']}")).json()["envelope"]

    async def verdict(text: str) -> str:
        page = await server.client.post("/verify", data={"certificate": text})
        found = re.search(r'id="verdict"[^>]*data-status="([a-z_]+)"', page.text)
        assert found is not None, page.text
        return found.group(1)

    assert await verdict(json.dumps(envelope)) == "valid"
    tampered = dict(envelope, payload=envelope["payload"][:-8] + "AAAAAAA=")
    assert await verdict(json.dumps(tampered)) == "tampered"
    assert await verdict("{not json") == "not_json"
    server.registry.set_certificate_status(cert["id"], "suspended", reason="probe", actor="t")
    assert await verdict(json.dumps(envelope)) == "revoked"
    empty = await server.client.post("/verify", data={"certificate": "  "})
    assert empty.status_code == 422
