"""Control, escape and bidi characters: refused at input with a 4xx, never a 500, on every route."""

from __future__ import annotations

import pytest

from tests.server.conftest import Server

HOSTILE = ["evil\x1b[2K\rVALID", "rev\u202eerse", "zero\u200bwidth", "nul\x00byte", "bell\x07"]


@pytest.mark.parametrize("name", HOSTILE)
async def test_a_model_name_with_control_characters_is_refused(server: Server, name: str) -> None:
    before = len(server.registry.audit_entries(limit=10_000))
    response = await server.client.post(
        "/api/v1/models",
        json={"name": name, "ref": "llamacpp:m.gguf", "identity_digest": "sha256:" + "a" * 64},
        headers=server.auth("applicant"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert len(server.registry.audit_entries(limit=10_000)) == before


@pytest.mark.parametrize("name", HOSTILE)
async def test_a_token_name_with_control_characters_is_refused(server: Server, name: str) -> None:
    response = await server.client.post(
        "/api/v1/tokens", json={"name": name, "role": "applicant"}, headers=server.auth("admin")
    )
    assert response.status_code == 422


async def test_a_comment_may_have_lines_but_no_escapes(server: Server) -> None:
    model = await server.register("smollm2")
    filing = (await server.file(model["id"])).json()
    await server.drain()
    url = f"/api/v1/filings/{filing['id']}/reject"
    bad = await server.client.post(
        url, json={"comment": "no\x1b[31m"}, headers=server.auth("assessor")
    )
    assert bad.status_code == 422
    good = await server.client.post(
        url, json={"comment": "missing:\n\tthe agreement"}, headers=server.auth("assessor")
    )
    assert good.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/certificates?q=%00",
        "/api/v1/certificates?standard=a%00b",
        "/api/v1/certificates/%00",
        "/api/v1/filings?status=%1b",
        "/certificates/abc%00",
        "/?q=%00",
    ],
)
async def test_nul_and_controls_in_urls_are_refused_before_the_database(
    server: Server, url: str
) -> None:
    response = await server.client.get(url, headers=server.auth("admin"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_characters"


async def test_nul_in_form_fields_is_a_4xx(server: Server) -> None:
    model = await server.register("smollm2")
    for data in (
        {"model_id": "abc\x00", "standard_ref": "gbt-45654-2025"},
        {"model_id": model["id"], "standard_ref": "gbt\x00"},
        {"model_id": model["id"], "standard_ref": "gbt-45654-2025", "renews": "x\x00"},
    ):
        response = await server.client.post(
            "/api/v1/filings", data=data, headers=server.auth("applicant")
        )
        assert 400 <= response.status_code < 500, (data, response.text)
    assert server.registry.list_filings() == []


async def test_an_attachment_name_with_controls_is_refused(server: Server) -> None:
    model = await server.register("smollm2")
    response = await server.file(
        model["id"], files=[("attachments", ("a\x1b[2K.txt", b"x", "text/plain"))]
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_characters"
