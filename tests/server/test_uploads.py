"""Upload limits on filings: size (413), count (413), media type (415), names; nothing half-filed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llmcert._hashing import digest_bytes
from tests.server.conftest import STANDARD_REF, Server


def audit_size(server: Server) -> int:
    return len(server.registry.audit_entries(limit=10_000))


@pytest.mark.parametrize(
    ("files", "status", "code"),
    [
        ([("attachments", ("big.pdf", b"x" * 1025, "application/pdf"))], 413, "too_large"),
        (
            [("attachments", (f"f{i}.txt", b"x", "text/plain")) for i in range(4)],
            413,
            "too_many_files",
        ),
        ([("attachments", ("page.html", b"<p>", "text/html"))], 415, "unsupported_media_type"),
        ([("attachments", ("run.exe", b"MZ", "application/octet-stream"))], 415, None),
        (
            [
                ("attachments", ("same.txt", b"a", "text/plain")),
                ("attachments", ("same.txt", b"b", "text/plain")),
            ],
            400,
            "bad_attachment",
        ),
    ],
)
async def test_refused_uploads_file_nothing(
    server: Server,
    files: list[tuple[str, tuple[str, bytes, str]]],
    status: int,
    code: str | None,
) -> None:
    model = await server.register()
    before = audit_size(server)
    response = await server.file(model["id"], files=files)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code
    assert audit_size(server) == before
    assert server.registry.list_filings() == []


async def test_exactly_the_limit_is_accepted_and_hashed(server: Server) -> None:
    model = await server.register()
    content = bytes(range(256)) * 4  # 1024 bytes: the limit itself
    response = await server.file(
        model["id"], files=[("attachments", ("../../etc/annotation.csv", content, "text/csv"))]
    )
    assert response.status_code == 202, response.text
    attachments = server.registry.list_attachments(response.json()["id"])
    assert [(a.name, a.sha256, a.size) for a in attachments] == [
        ("annotation.csv", digest_bytes(content), 1024)
    ]
    download = await server.client.get(
        f"/api/v1/filings/{response.json()['id']}/attachments/{attachments[0].id}",
        headers=server.auth("assessor"),
    )
    assert download.content == content
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-checksum-sha256"] == digest_bytes(content)
    await server.drain()


async def test_a_request_body_over_the_total_limit_is_cut_off_with_413(server: Server) -> None:
    limit = server.app.state.server.limits.request_bytes
    declared = await server.client.post(
        "/api/v1/filings",
        content=b"x" * (limit + 1),
        headers={**server.auth("applicant"), "content-type": "multipart/form-data; boundary=b"},
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="attachments"; '
            b'filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n'
        )
        for _ in range(limit // 1000 + 2):
            yield b"y" * 1000

    streamed = await server.client.post(
        "/api/v1/filings",
        content=chunks(),
        headers={**server.auth("applicant"), "content-type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413
    assert server.registry.list_filings() == []


async def test_form_fields_are_validated(server: Server) -> None:
    model = await server.register()
    missing = await server.client.post(
        "/api/v1/filings", data={"model_id": model["id"]}, headers=server.auth("applicant")
    )
    assert missing.status_code == 422
    assert "standard_ref" in missing.json()["error"]["message"]
    too_long = await server.client.post(
        "/api/v1/filings",
        data={"model_id": model["id"], "standard_ref": "s" * 201},
        headers=server.auth("applicant"),
    )
    assert too_long.status_code == 422
    no_files = await server.client.post(
        "/api/v1/filings",
        data={"model_id": model["id"], "standard_ref": STANDARD_REF},
        headers=server.auth("applicant"),
    )
    assert no_files.status_code == 202
    await server.drain()
