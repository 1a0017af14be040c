"""A filing appears with all its attachments or not at all, and a retried submission is not a second."""

from __future__ import annotations

from typing import Any

import pytest

from llmcert.registry import Registry, RegistryError
from tests.server.conftest import Server

FILES = [("attachments", (f"doc{i}.txt", f"part {i}".encode(), "text/plain")) for i in range(3)]


async def test_a_failure_midway_through_the_attachments_leaves_nothing(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = await server.register("smollm2")
    before = len(server.registry.audit_entries(limit=10_000))
    original = Registry._add_attachment_row
    calls = 0

    def failing(self: Registry, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RegistryError("disk full")  # the crash the pen test provoked, injected
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "_add_attachment_row", failing)
    response = await server.file(model["id"], files=FILES)
    assert response.status_code == 400
    assert calls == 3
    assert server.registry.list_filings() == []
    assert len(server.registry.audit_entries(limit=10_000)) == before
    assert server.worker.seen == []


async def test_a_retry_with_the_same_key_returns_the_first_filing(server: Server) -> None:
    model = await server.register("smollm2")
    key = {"Idempotency-Key": "submit-7f3e-0001"}
    responses = []
    for _ in range(3):
        responses.append(
            await server.client.post(
                "/api/v1/filings",
                data={"model_id": model["id"], "standard_ref": "gbt-45654-2025"},
                files=FILES,
                headers={**server.auth("applicant"), **key},
            )
        )
    assert [r.status_code for r in responses] == [202, 202, 202]
    assert len({r.json()["id"] for r in responses}) == 1
    await server.drain()
    filings = server.registry.list_filings()
    assert len(filings) == 1
    assert len(server.registry.list_attachments(filings[0].id)) == 3
    assert server.worker.seen == [filings[0].id]  # assessed once


async def test_keys_are_per_applicant(server: Server) -> None:
    model = await server.register("smollm2")
    _, other_secret = server.registry.create_token("applicant-2", "applicant", actor="test")
    other_model = await server.client.post(
        "/api/v1/models",
        json={
            "name": "other",
            "ref": "llamacpp:other.gguf",
            "identity_digest": "sha256:" + "e" * 64,
        },
        headers={"Authorization": f"Bearer {other_secret}"},
    )
    ids = set()
    for secret, model_id in (
        (server.secrets["applicant"], model["id"]),
        (other_secret, other_model.json()["id"]),
    ):
        response = await server.client.post(
            "/api/v1/filings",
            data={"model_id": model_id, "standard_ref": "gbt-45654-2025"},
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "same-key"},
        )
        assert response.status_code == 202, response.text
        ids.add(response.json()["id"])
    assert len(ids) == 2


@pytest.mark.parametrize("key", ["", "k" * 201, "has space", "tab\there"])
async def test_a_malformed_key_is_refused(server: Server, key: str) -> None:
    model = await server.register("smollm2")
    response = await server.client.post(
        "/api/v1/filings",
        data={"model_id": model["id"], "standard_ref": "gbt-45654-2025"},
        headers={**server.auth("applicant"), "Idempotency-Key": key},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert server.registry.list_filings() == []
