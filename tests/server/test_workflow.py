"""The whole certification workflow over the JSON API, and refusals that change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmcert._hashing import digest_bytes
from llmcert.registry import FilingStatus, Registry, verify_audit
from llmcert.server import (
    Limits,
    QueueWorker,
    SigningConfig,
    WorkerResult,
    create_app,
    processor_of,
)
from tests.server.conftest import STANDARD_REF, TEST_EGRESS, FakeWorker, Server, identity_for


def audit_size(server: Server) -> int:
    return len(server.registry.audit_entries(limit=10_000))


async def test_full_workflow_from_registration_to_public_certificate(server: Server) -> None:
    model = await server.register("smollm2")
    agreement, rules = b"service agreement v1", b"# annotation rules\n"
    filing = await server.file(
        model["id"],
        files=[
            ("attachments", ("agreement.pdf", agreement, "application/pdf")),
            ("attachments", ("rules.md", rules, "text/markdown; charset=utf-8")),
        ],
    )
    assert filing.status_code == 202, filing.text
    assert filing.json()["status"] == "submitted"
    filing_id = filing.json()["id"]

    await server.drain()
    assert server.worker.seen == [filing_id]
    applicant_view = await server.client.get(
        f"/api/v1/filings/{filing_id}", headers=server.auth("applicant")
    )
    detail = applicant_view.json()
    assert detail["status"] == "awaiting_review"
    assert {a["name"]: a["sha256"] for a in detail["attachments"]} == {
        "agreement.pdf": digest_bytes(agreement),
        "rules.md": digest_bytes(rules),
    }
    assert [a["verdict"] for a in detail["assessments"]] == ["pass"]
    assert any("fake pass" in note for note in detail["notes"])

    queue = await server.client.get(
        "/api/v1/filings", params={"status": "awaiting_review"}, headers=server.auth("assessor")
    )
    assert [f["id"] for f in queue.json()] == [filing_id]
    evidence = await server.client.get(
        f"/api/v1/filings/{filing_id}/assessment", headers=server.auth("assessor")
    )
    assert evidence.json()["verdict"] == "pass"
    assert evidence.json()["assessment"]["model"]["digest"] == model["identity_digest"]
    report = await server.client.get(evidence.json()["report_url"], headers=server.auth("assessor"))
    assert report.status_code == 200
    assert "text/html" in report.headers["content-type"]
    assert "default-src 'none'" in report.headers["content-security-policy"]

    approved = await server.client.post(
        f"/api/v1/filings/{filing_id}/approve",
        json={"comment": "evidence complete"},
        headers=server.auth("assessor"),
    )
    assert approved.status_code == 200, approved.text
    cert = approved.json()
    assert cert["status"] == "valid"
    assert cert["standard_ref"] == STANDARD_REF
    assert cert["assessment_digest"] == evidence.json()["digest"]

    public = await server.client.get(f"/api/v1/certificates/{cert['id']}")
    assert public.status_code == 200
    assert public.json()["model_name"] == "smollm2"
    verdict = await server.client.post(
        "/api/v1/verify", json={"certificate": public.json()["envelope"]}
    )
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["status"] == "valid"
    assert verdict.json()["ok"] is True

    listed = await server.client.get("/api/v1/certificates", params={"q": "smollm"})
    assert [c["id"] for c in listed.json()] == [cert["id"]]
    page = await server.client.get(f"/assessments/{cert['assessment_digest']}")
    assert page.status_code == 200
    assert "refusal-rate" in page.text

    actions = [e.action for e in server.registry.audit_entries(limit=1000)]
    for action in ("model.register", "filing.submit", "attachment.add", "assessment.record",
                   "filing.transition", "certificate.add"):  # fmt: skip
        assert action in actions
    assert verify_audit(server.registry).ok


async def test_rejection_records_the_comment_and_issues_nothing(server: Server) -> None:
    model = await server.register("weak")
    server.worker.verdicts["weak"] = "fail"
    filing_id = (await server.file(model["id"])).json()["id"]
    await server.drain()
    refused = await server.client.post(
        f"/api/v1/filings/{filing_id}/approve",
        json={"comment": "looks fine"},
        headers=server.auth("assessor"),
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_passing"
    rejected = await server.client.post(
        f"/api/v1/filings/{filing_id}/reject",
        json={"comment": "refusal rate far too low"},
        headers=server.auth("assessor"),
    )
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    detail = await server.client.get(
        f"/api/v1/filings/{filing_id}", headers=server.auth("assessor")
    )
    assert any("refusal rate far too low" in n for n in detail.json()["notes"])
    assert server.registry.search_certificates() == []


async def test_a_failing_worker_hands_the_filing_to_review_with_the_error(server: Server) -> None:
    model = await server.register("offline")
    server.worker.broken.add("offline")
    filing_id = (await server.file(model["id"])).json()["id"]
    await server.drain()
    detail = (
        await server.client.get(f"/api/v1/filings/{filing_id}", headers=server.auth("assessor"))
    ).json()
    assert detail["status"] == "awaiting_review"
    assert detail["assessments"] == []
    assert any("assessment failed: endpoint unreachable" in n for n in detail["notes"])
    assert not any("SSH" in n or "10.0.0.5" in n for n in detail["notes"])  # classified only
    approve = await server.client.post(
        f"/api/v1/filings/{filing_id}/approve",
        json={"comment": "ok"},
        headers=server.auth("assessor"),
    )
    assert approve.status_code == 409
    assert approve.json()["error"]["code"] == "no_assessment"


async def test_suspend_reinstate_revoke_then_verify_says_revoked(server: Server) -> None:
    cert = await server.certified()
    path = f"/api/v1/certificates/{cert['id']}/status"
    suspended = await server.client.post(
        path, json={"status": "suspended", "reason": "under investigation"},
        headers=server.auth("assessor"),
    )  # fmt: skip
    assert suspended.json()["status"] == "suspended"
    filing = server.registry.get_filing(cert["filing_id"])
    assert filing.status.value == "suspended"
    reinstated = await server.client.post(
        path, json={"status": "valid", "reason": "cleared"}, headers=server.auth("admin")
    )
    assert reinstated.json()["status"] == "valid"
    revoked = await server.client.post(
        path, json={"status": "revoked", "reason": "jailbreak found"}, headers=server.auth("admin")
    )
    assert revoked.json()["status"] == "revoked"
    envelope = (await server.client.get(f"/api/v1/certificates/{cert['id']}")).json()["envelope"]
    verdict = await server.client.post("/api/v1/verify", json={"certificate": envelope})
    assert verdict.status_code == 200
    assert verdict.json()["status"] == "revoked"
    assert "jailbreak found" in verdict.json()["revocation_reason"]
    before = audit_size(server)
    again = await server.client.post(
        path, json={"status": "valid", "reason": "oops"}, headers=server.auth("admin")
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "illegal_transition"
    assert audit_size(server) == before


async def test_renewal_links_a_new_filing_to_the_live_certificate(server: Server) -> None:
    cert = await server.certified()
    renewed = await server.client.post(
        f"/api/v1/certificates/{cert['id']}/renew", headers=server.auth("applicant")
    )
    assert renewed.status_code == 202, renewed.text
    assert renewed.json()["renews_certificate_id"] == cert["id"]
    await server.drain()
    second = await server.client.post(
        f"/api/v1/filings/{renewed.json()['id']}/approve",
        json={"comment": "renewed"},
        headers=server.auth("assessor"),
    )
    assert second.status_code == 200
    assert second.json()["id"] != cert["id"]
    server.registry.set_certificate_status(cert["id"], "revoked", reason="x", actor="test")
    refused = await server.client.post(
        f"/api/v1/certificates/{cert['id']}/renew", headers=server.auth("applicant")
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_renewable"


async def test_renewal_of_another_model_is_refused(server: Server) -> None:
    cert = await server.certified("first")
    other = await server.register("second")
    before = audit_size(server)
    response = await server.file(other["id"], renews=cert["id"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "renewal_mismatch"
    assert audit_size(server) == before


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(server: Server) -> None:
    model = await server.register()
    before = audit_size(server)
    malformed = await server.client.post(
        "/api/v1/models",
        content=b'{"name": "x", ',
        headers={**server.auth("applicant"), "content-type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_json"
    unknown = await server.file("0" * 32)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    not_yet = await server.client.post(
        f"/api/v1/filings/{'f' * 32}/approve",
        json={"comment": "x"},
        headers=server.auth("assessor"),
    )
    assert not_yet.status_code == 404
    bad_digest = await server.client.post(
        "/api/v1/models",
        json={"name": "x", "ref": "embedded", "identity_digest": "md5:abc"},
        headers=server.auth("applicant"),
    )
    assert bad_digest.status_code == 422
    assert "identity_digest" in bad_digest.json()["error"]["message"]
    extra = await server.client.post(
        f"/api/v1/filings/{'f' * 32}/reject",
        json={"comment": "x", "approve": True},
        headers=server.auth("assessor"),
    )
    assert extra.status_code == 422
    assert audit_size(server) == before
    # an illegal move: deciding on a filing that has already been decided
    filing_id = (await server.file(model["id"])).json()["id"]
    await server.drain()
    first = await server.client.post(
        f"/api/v1/filings/{filing_id}/reject",
        json={"comment": "no"},
        headers=server.auth("assessor"),
    )
    assert first.status_code == 200
    decided = audit_size(server)
    for action in ("reject", "approve"):
        again = await server.client.post(
            f"/api/v1/filings/{filing_id}/{action}",
            json={"comment": "again"},
            headers=server.auth("assessor"),
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "illegal_transition"
        assert "rejected" in again.json()["error"]["message"]
    assert audit_size(server) == decided


async def test_applicants_see_only_their_own_records(server: Server) -> None:
    model = await server.register()
    filing_id = (await server.file(model["id"])).json()["id"]
    _, other = server.registry.create_token("someone-else", "applicant", actor="test")
    headers = {"Authorization": f"Bearer {other}"}
    assert (
        await server.client.get(f"/api/v1/filings/{filing_id}", headers=headers)
    ).status_code == 404
    assert (await server.client.get("/api/v1/filings", headers=headers)).json() == []
    refused = await server.file(model["id"], role="applicant")
    assert refused.status_code == 202  # the owner may file again
    foreign = await server.client.post(
        "/api/v1/filings",
        data={"model_id": model["id"], "standard_ref": STANDARD_REF},
        headers=headers,
    )
    assert foreign.status_code == 404
    await server.drain()


async def test_admin_creates_and_revokes_tokens_and_reads_the_audit(server: Server) -> None:
    created = await server.client.post(
        "/api/v1/tokens", json={"name": "carol", "role": "assessor"}, headers=server.auth("admin")
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    me = await server.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert me.json() == {"token_id": created.json()["id"], "name": "carol", "role": "assessor"}
    listed = await server.client.get("/api/v1/tokens", headers=server.auth("admin"))
    assert "secret" not in listed.text
    assert secret not in listed.text
    revoked = await server.client.post(
        f"/api/v1/tokens/{created.json()['id']}/revoke", headers=server.auth("admin")
    )
    assert revoked.json() == {"id": created.json()["id"], "revoked": True}
    after = await server.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert after.status_code == 401
    audit = await server.client.get("/api/v1/audit", headers=server.auth("admin"))
    assert audit.json()["chain_ok"] is True
    assert "token.revoke" in [e["action"] for e in audit.json()["entries"]]
    assert secret not in audit.text
    bad_role = await server.client.post(
        "/api/v1/tokens", json={"name": "x", "role": "root"}, headers=server.auth("admin")
    )
    assert bad_role.status_code == 422


async def test_queue_worker_runs_sync_and_async_callables(server: Server) -> None:
    identity_model = await server.register("queued")
    filing = server.registry.get_filing((await server.file(identity_model["id"])).json()["id"])
    await server.drain()

    def sync_assess(f: object) -> WorkerResult:
        return WorkerResult({"filing": getattr(f, "id", None)}, "pass")

    async def async_assess(f: object) -> WorkerResult:
        return WorkerResult({"at": datetime.now(UTC).year}, "fail")

    sync_worker, async_worker = QueueWorker(sync_assess), QueueWorker(async_assess, concurrency=2)
    try:
        assert (await sync_worker.run(filing)).assessment == {"filing": filing.id}
        assert (await async_worker.run(filing)).verdict == "fail"
    finally:
        await sync_worker.aclose()
        await async_worker.aclose()


async def test_queue_worker_passes_errors_back_and_keeps_serving() -> None:
    calls: list[int] = []

    def flaky(f: object) -> WorkerResult:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return WorkerResult({}, "pass")

    worker = QueueWorker(flaky)
    try:
        with pytest.raises(ValueError, match="first call fails"):
            await worker.run(None)  # type: ignore[arg-type]
        assert (await worker.run(None)).verdict == "pass"  # type: ignore[arg-type]
    finally:
        await worker.aclose()


async def test_approving_an_approved_filing_without_certificate_finishes_it(
    server: Server,
) -> None:
    model = await server.register("half")
    filing_id = (await server.file(model["id"])).json()["id"]
    await server.drain()
    # as if the certificate step had failed after the approval was recorded
    server.registry.transition_filing(filing_id, "approved", actor="test", note="ok")
    finished = await server.client.post(
        f"/api/v1/filings/{filing_id}/approve",
        json={"comment": "finish"},
        headers=server.auth("assessor"),
    )
    assert finished.status_code == 200, finished.text
    assert server.registry.get_filing(filing_id).status.value == "certified"
    again = await server.client.post(
        f"/api/v1/filings/{filing_id}/approve",
        json={"comment": "twice"},
        headers=server.auth("assessor"),
    )
    assert again.status_code == 409
    assert len(server.registry.search_certificates()) == 1


async def test_a_restart_requeues_filings_left_mid_assessment(
    registry: Registry, keys: tuple[Path, Path], limits: Limits
) -> None:
    identity = identity_for("interrupted")
    model = registry.register_model(
        name="interrupted",
        ref=identity.ref,
        identity_digest=identity.digest,
        owner="app-1",
        actor="test",
    )
    filing = registry.submit_filing(model.id, STANDARD_REF, applicant="app-1", actor="test")
    registry.transition_filing(filing.id, FilingStatus.ASSESSING, actor="test")
    worker = FakeWorker(registry, identities={"interrupted": identity})
    signing = SigningConfig(keys[0], keys[1], issuer="Test Registry", validity_days=30)
    app = create_app(registry, worker=worker, signing=signing, limits=limits, egress=TEST_EGRESS)
    async with app.router.lifespan_context(app):
        await processor_of(app).drain()
    assert worker.seen == [filing.id]
    assert registry.get_filing(filing.id).status == FilingStatus.AWAITING_REVIEW
    notes = [e.payload for e in registry.audit_entries(subject=f"filing:{filing.id}", limit=50)]
    assert any("requeued" in str(n) for n in notes)
