"""Anonymous denial of service, as a class: bounded bodies, bounded parsing, rates, quotas."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from llmcert.server import Limits
from llmcert.server._ratelimit import RateLimiter
from tests.server.conftest import Server


@pytest.fixture
def limits() -> Limits:
    return Limits(
        max_attachment_bytes=1024,
        max_attachments=3,
        anonymous_rate=1.0,
        anonymous_burst=5,
        max_open_filings=2,
        max_applicant_attachment_bytes=2000,
    )


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("/api/v1/verify", 40 << 20),  # the pen test's 40 MiB certificate
        ("/api/v1/verify", 256 << 10),
        ("/api/v1/models", 64 << 10),
        ("/verify", 1 << 20),
        ("/login", 64 << 10),
    ],
)
async def test_each_endpoint_refuses_a_body_beyond_its_own_limit(
    server: Server, path: str, size: int
) -> None:
    response = await server.client.post(
        path, content=b"{" + b" " * size, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_a_streamed_body_is_cut_off_while_it_is_read(server: Server) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):
            sent += 65536
            yield b" " * 65536

    response = await server.client.post(
        "/api/v1/verify", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert sent < 1000 * 65536  # the server stopped reading long before the end


def test_a_certificate_envelope_fits_the_verify_limit_with_room() -> None:
    limits = Limits()
    assert limits.body_bytes("POST", "/api/v1/verify") < 256 << 10
    assert limits.body_bytes("POST", "/api/v1/models") == limits.max_small_body_bytes
    assert limits.body_bytes("POST", "/api/v1/filings") == limits.request_bytes


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 12_000,
        b'{"certificate": ' + b"[" * 12_000 + b"]" * 12_000 + b"}",
        b'{"certificate": {"a": ' * 1500 + b"1" + b"}}" * 1500,
        b"\xff\xfe{}",
    ],
)
async def test_hostile_json_within_the_limit_gets_a_4xx(server: Server, body: bytes) -> None:
    response = await server.client.post(
        "/api/v1/verify", content=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert "code" in response.json()["error"]


async def test_anonymous_callers_are_rate_limited_per_client(server: Server) -> None:
    statuses = [(await server.client.get("/api/v1/certificates")).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]
    limited = await server.client.get("/api/v1/certificates")
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    signed_in = await server.client.get("/api/v1/certificates", headers=server.auth("assessor"))
    assert signed_in.status_code == 200  # a valid token is not throttled


async def test_failed_sign_ins_count_against_the_client(server: Server) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    statuses = [
        (await server.client.get("/api/v1/whoami", headers=bad)).status_code for _ in range(8)
    ]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses[5:]


def test_the_limiter_refills_and_forgets_idle_clients() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 2, max_clients=3, clock=lambda: now[0])
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is None
    wait = limiter.acquire("a")
    assert wait is not None
    assert wait == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire("a") is None
    for client in ("b", "c", "d"):
        limiter.acquire(client)
    assert len(limiter._buckets) == 3


async def test_an_applicant_may_hold_only_so_many_open_filings(server: Server) -> None:
    model = await server.register("smollm2")
    server.worker.verdicts["smollm2"] = "pass"
    for _ in range(2):
        assert (await server.file(model["id"])).status_code == 202
    await server.drain()  # assessed and awaiting review: still open
    before = len(server.registry.audit_entries(limit=10_000))
    third = await server.file(model["id"])
    assert third.status_code == 409
    assert third.json()["error"]["code"] == "quota_exceeded"
    assert len(server.registry.audit_entries(limit=10_000)) == before
    assert len(server.registry.list_filings()) == 2


async def test_an_applicant_may_store_only_so_many_attachment_bytes(server: Server) -> None:
    model = await server.register("smollm2")
    first = await server.file(
        model["id"], files=[("attachments", ("a.txt", b"x" * 1000, "text/plain"))]
    )
    assert first.status_code == 202
    await server.drain()
    await server.client.post(
        f"/api/v1/filings/{first.json()['id']}/reject",
        json={"comment": "incomplete"},
        headers=server.auth("assessor"),
    )
    too_much = await server.file(
        model["id"],
        files=[
            ("attachments", ("b.txt", b"y" * 600, "text/plain")),
            ("attachments", ("c.txt", b"z" * 600, "text/plain")),
        ],
    )
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "quota_exceeded"
    assert len(server.registry.list_filings()) == 1


def test_the_verify_limit_is_enough_for_a_real_envelope() -> None:
    envelope = {"payloadType": "application/vnd.in-toto+json", "payload": "x" * 6000}
    assert len(json.dumps({"certificate": envelope})) < Limits().body_bytes(
        "POST", "/api/v1/verify"
    )
