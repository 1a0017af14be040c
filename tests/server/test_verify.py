"""``POST /api/v1/verify``: a verdict for genuine certificates, a 4xx for anything else."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llmcert.certificates import issue_certificate
from llmcert.registry import FilingStatus
from tests.conftest import make_keypair
from tests.server.conftest import STANDARD_ID, STANDARD_VERSION, Server, identity_for


async def envelope_of(server: Server, certificate_id: str) -> dict[str, Any]:
    response = await server.client.get(f"/api/v1/certificates/{certificate_id}")
    return dict(response.json()["envelope"])


async def verify(server: Server, envelope: Any) -> tuple[int, dict[str, Any]]:
    response = await server.client.post("/api/v1/verify", json={"certificate": envelope})
    return response.status_code, dict(response.json())


def sign(
    private_key: Path, name: str, *, now: datetime, days: int = 30, cid: str | None = None
) -> dict[str, Any]:
    identity = identity_for(name)
    return issue_certificate(
        model_identity=identity.to_dict(),
        model_digest=identity.digest,
        standard_id=STANDARD_ID,
        standard_version=STANDARD_VERSION,
        assessment_digest="sha256:" + "ab" * 32,
        verdict="pass",
        issuer="Test Registry",
        private_key_path=private_key,
        validity_days=days,
        now=now,
        certificate_id=cid,
    )


async def test_valid_then_revoked(server: Server) -> None:
    cert = await server.certified()
    envelope = await envelope_of(server, cert["id"])
    status, body = await verify(server, envelope)
    assert (status, body["status"], body["ok"], body["registry_status"]) == (
        200,
        "valid",
        True,
        "valid",
    )
    server.registry.set_certificate_status(cert["id"], "revoked", reason="withdrawn", actor="t")
    status, body = await verify(server, envelope)
    assert (status, body["status"], body["ok"]) == (200, "revoked", False)
    assert "withdrawn" in body["revocation_reason"]


async def test_edited_certificate_is_a_422_naming_tampering(server: Server) -> None:
    cert = await server.certified()
    envelope = await envelope_of(server, cert["id"])
    edited = copy.deepcopy(envelope)
    edited["payload"] = edited["payload"][:-12] + "QUFBQUFBQUE="
    before = len(server.registry.audit_entries(limit=1000))
    status, body = await verify(server, edited)
    assert status == 422
    assert body["error"]["code"] == "certificate_tampered"
    assert body["verdict"]["status"] == "tampered"
    assert len(server.registry.audit_entries(limit=1000)) == before


async def test_another_issuers_key_is_a_422(server: Server, tmp_path: Path) -> None:
    other_private, _ = make_keypair(tmp_path / "other", "rogue")
    status, body = await verify(server, sign(other_private, "m", now=datetime.now(UTC)))
    assert status == 422
    assert body["error"]["code"] == "certificate_wrong_key"


async def test_a_certificate_this_registry_never_issued_is_a_422(server: Server) -> None:
    forged = sign(server.signing.private_key_path, "m", now=datetime.now(UTC))
    status, body = await verify(server, forged)
    assert status == 422
    assert body["error"]["code"] == "unknown_certificate"
    assert body["verdict"]["ok"] is False


async def test_a_re_signed_copy_under_a_live_id_is_a_422(server: Server) -> None:
    cert = await server.certified()
    # same id, signed again with the right key: not the copy the registry keeps
    replayed = sign(
        server.signing.private_key_path, "smollm2", now=datetime.now(UTC), cid=cert["id"]
    )
    status, body = await verify(server, replayed)
    assert status == 422
    assert body["error"]["code"] == "not_registry_copy"


async def test_expired_by_date_and_by_the_registry(server: Server) -> None:
    model = await server.register("old")
    filing_id = (await server.file(model["id"])).json()["id"]
    await server.drain()
    server.registry.transition_filing(filing_id, FilingStatus.APPROVED, actor="t")
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)
    envelope = sign(server.signing.private_key_path, "old", now=issued, cid="e" * 32)
    server.registry.add_certificate(
        filing_id,
        certificate_id="e" * 32,
        envelope=envelope,
        issued_at=issued,
        expires_at=issued + timedelta(days=30),
        actor="t",
    )
    status, body = await verify(server, envelope)
    assert (status, body["status"]) == (200, "expired")

    cert = await server.certified("current")
    server.registry.expire_certificates(actor="t", now=datetime.now(UTC) + timedelta(days=365))
    status, body = await verify(server, await envelope_of(server, cert["id"]))
    assert (status, body["status"], body["registry_status"]) == (200, "expired", "expired")


async def test_malformed_requests(server: Server) -> None:
    not_object = await server.client.post("/api/v1/verify", json={"certificate": [1, 2]})
    assert not_object.status_code == 422
    junk = await server.client.post(
        "/api/v1/verify", content=b"{{", headers={"content-type": "application/json"}
    )
    assert junk.status_code == 400
    assert junk.json()["error"]["code"] == "malformed_json"
    empty = await server.client.post("/api/v1/verify", json={"certificate": {}})
    assert empty.status_code == 422
    assert empty.json()["error"]["code"] == "certificate_tampered"


async def test_issuer_endpoint_publishes_the_verification_key(server: Server) -> None:
    response = await server.client.get("/api/v1/issuer")
    body = response.json()
    assert body["name"] == "Test Registry"
    assert body["public_key_pem"] == server.signing.public_key_path.read_text()
    assert len(body["key_id"]) == 64
