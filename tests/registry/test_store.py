"""The registry's service API on SQLite and PostgreSQL: workflow, certificates, evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llmcert._hashing import digest_bytes
from llmcert.registry import (
    FILING_TRANSITIONS,
    CertificateStatus,
    FilingStatus,
    IllegalTransition,
    RecordNotFound,
    Registry,
    RegistryError,
    open_registry,
)
from tests.registry._helpers import (
    EXPIRES,
    ISSUED,
    audit_count,
    certify,
    digest_of,
    filing_in,
    new_filing,
)

WORKFLOW = {
    FilingStatus.SUBMITTED,
    FilingStatus.ASSESSING,
    FilingStatus.AWAITING_REVIEW,
    FilingStatus.APPROVED,
    FilingStatus.REJECTED,
}


def test_register_and_read_back_a_model(registry: Registry) -> None:
    model = registry.register_model(
        name="smollm2", ref="embedded", identity_digest=digest_of("x"), owner="Acme", actor="a"
    )
    assert registry.get_model(model.id) == model
    assert model.created_at.tzinfo is not None
    entry = registry.audit_entries()[-1]
    assert (entry.action, entry.subject, entry.actor) == (
        "model.register",
        f"model:{model.id}",
        "a",
    )


def test_find_model_by_identity_digest(registry: Registry) -> None:
    first = registry.register_model(
        name="a", ref="embedded", identity_digest=digest_of("x"), owner="o", actor="a"
    )
    registry.register_model(
        name="b", ref="embedded", identity_digest=digest_of("x"), owner="o", actor="a"
    )
    assert registry.find_model(digest_of("x")) == first
    assert registry.find_model(digest_of("y")) is None


def test_refused_input_changes_nothing(registry: Registry) -> None:
    before = audit_count(registry)
    with pytest.raises(RegistryError, match="sha256"):
        registry.register_model(name="m", ref="r", identity_digest="md5:00", owner="o", actor="a")
    with pytest.raises(RecordNotFound):
        registry.submit_filing("nope", "tc260-003@2024", applicant="o", actor="a")
    with pytest.raises(RegistryError, match="actor"):
        registry.register_model(
            name="m", ref="r", identity_digest=digest_of("m"), owner="o", actor=" "
        )
    assert audit_count(registry) == before


def test_happy_path_from_filing_to_certificate(registry: Registry) -> None:
    filing = new_filing(registry)
    assert filing.status is FilingStatus.SUBMITTED
    certificate = certify(registry, filing, certificate_id="c-1")
    assert registry.get_filing(filing.id).status is FilingStatus.CERTIFIED
    assert certificate.status is CertificateStatus.VALID
    assert certificate.model_digest == digest_of("smollm2-135m")
    assert certificate.standard_ref == "tc260-003@2024"
    assert (certificate.issued_at, certificate.expires_at) == (ISSUED, EXPIRES)
    assert registry.find_certificate("c-1") == certificate
    assert registry.find_certificate("c-2") is None
    view = registry.certificate_view("c-1")
    assert view == (
        certificate,
        registry.get_filing(filing.id),
        registry.get_model(filing.model_id),
    )
    assert registry.certificate_view("c-2") is None
    actions = [e.action for e in registry.audit_entries()]
    assert actions == ["model.register", "filing.submit"] + ["filing.transition"] * 3 + [
        "certificate.add"
    ]


def test_every_workflow_move_is_allowed_or_refused_as_the_table_says(registry: Registry) -> None:
    for n, source in enumerate(FilingStatus):
        filing = filing_in(registry, source, name=f"m{n}")
        legal = FILING_TRANSITIONS[source] & WORKFLOW
        for target in FilingStatus:
            if target in legal:
                continue
            before = audit_count(registry)
            with pytest.raises(IllegalTransition) as caught:
                registry.transition_filing(filing.id, target, actor="x")
            assert caught.value.current == source
            assert caught.value.target == target
            assert registry.get_filing(filing.id) == filing
            assert audit_count(registry) == before
        for k, target in enumerate(sorted(legal)):
            fresh = filing_in(registry, source, name=f"m{n}-{k}")
            moved = registry.transition_filing(fresh.id, target, actor="x", note="ok")
            assert moved.status is target
            assert registry.audit_entries()[-1].payload == {
                "from": source.value,
                "to": target.value,
                "note": "ok",
            }


def test_certificate_bound_statuses_point_to_the_certificate_api(registry: Registry) -> None:
    filing = filing_in(registry, FilingStatus.APPROVED)
    with pytest.raises(IllegalTransition, match="add_certificate"):
        registry.transition_filing(filing.id, FilingStatus.CERTIFIED, actor="x")
    with pytest.raises(RegistryError, match="unknown status"):
        registry.transition_filing(filing.id, "done", actor="x")


def test_certificate_only_for_an_approved_filing(registry: Registry) -> None:
    filing = filing_in(registry, FilingStatus.AWAITING_REVIEW)
    with pytest.raises(IllegalTransition, match="approved"):
        registry.add_certificate(
            filing.id, certificate_id="c", envelope={}, issued_at=ISSUED, expires_at=EXPIRES,
            actor="a",
        )  # fmt: skip
    assert registry.find_certificate("c") is None
    approved = registry.transition_filing(filing.id, FilingStatus.APPROVED, actor="a")
    with pytest.raises(RegistryError, match="expire after"):
        registry.add_certificate(
            approved.id, certificate_id="c", envelope={}, issued_at=EXPIRES, expires_at=ISSUED,
            actor="a",
        )  # fmt: skip
    with pytest.raises(RegistryError, match="JSON"):
        registry.add_certificate(
            approved.id, certificate_id="c", envelope={"x": object()}, issued_at=ISSUED,
            expires_at=EXPIRES, actor="a",
        )  # fmt: skip
    assert registry.get_filing(filing.id).status is FilingStatus.APPROVED


def test_duplicate_certificate_id_is_refused(registry: Registry) -> None:
    certify(registry, new_filing(registry, name="a"), certificate_id="same")
    second = filing_in(registry, FilingStatus.APPROVED, name="b")
    with pytest.raises(RegistryError, match="already registered"):
        registry.add_certificate(
            second.id, certificate_id="same", envelope={}, issued_at=ISSUED, expires_at=EXPIRES,
            actor="a",
        )  # fmt: skip
    assert registry.get_filing(second.id).status is FilingStatus.APPROVED


def test_suspend_reinstate_revoke_and_the_filing_follows(registry: Registry) -> None:
    filing = new_filing(registry)
    cert = certify(registry, filing)
    suspended = registry.set_certificate_status(
        cert.id, "suspended", reason="regression in monitoring", actor="admin"
    )
    assert suspended.status is CertificateStatus.SUSPENDED
    assert suspended.reason == "regression in monitoring"
    assert registry.get_filing(filing.id).status is FilingStatus.SUSPENDED
    assert registry.revocation_reason(cert.id) == "suspended: regression in monitoring"
    registry.set_certificate_status(cert.id, CertificateStatus.VALID, reason="fixed", actor="admin")
    assert registry.get_filing(filing.id).status is FilingStatus.CERTIFIED
    assert registry.revocation_reason(cert.id) is None
    registry.set_certificate_status(cert.id, "revoked", reason="weights changed", actor="admin")
    assert registry.get_filing(filing.id).status is FilingStatus.REVOKED
    assert registry.revocation_reason(cert.id) == "revoked: weights changed"
    before = audit_count(registry)
    with pytest.raises(IllegalTransition):
        registry.set_certificate_status(cert.id, "valid", reason="undo", actor="admin")
    with pytest.raises(RegistryError, match="reason"):
        registry.set_certificate_status(cert.id, "expired", reason="", actor="admin")
    assert audit_count(registry) == before
    assert registry.find_certificate(cert.id).status is CertificateStatus.REVOKED  # type: ignore[union-attr]
    with pytest.raises(RegistryError, match="not in this registry"):
        registry.revocation_reason("unknown")


def test_expiry_follows_the_clock(db_url: str) -> None:
    now = [ISSUED]
    registry = open_registry(db_url, clock=lambda: now[0])
    try:
        cert = certify(registry, new_filing(registry))
        assert registry.expire_certificates(actor="cron") == []
        now[0] = EXPIRES + timedelta(seconds=1)
        assert registry.expire_certificates(actor="cron") == [cert.id]
        assert registry.find_certificate(cert.id).status is CertificateStatus.EXPIRED  # type: ignore[union-attr]
        assert registry.get_filing(cert.filing_id).status is FilingStatus.EXPIRED
        assert registry.expire_certificates(actor="cron") == []
        assert registry.audit_entries()[-1].at == now[0]
    finally:
        registry.close()


def test_renewal_links_a_new_filing_to_the_old_certificate(registry: Registry) -> None:
    old = certify(registry, new_filing(registry))
    renewal = new_filing(registry, name="smollm2-v2", renews=old.id)
    assert renewal.renews_certificate_id == old.id
    assert renewal.status is FilingStatus.SUBMITTED
    assert registry.get_filing(renewal.id).renews_certificate_id == old.id
    with pytest.raises(RecordNotFound):
        new_filing(registry, name="x", renews="no-such-certificate")
    registry.set_certificate_status(old.id, "revoked", reason="bad", actor="admin")
    with pytest.raises(RegistryError, match="revoked"):
        new_filing(registry, name="y", renews=old.id)


def test_search_certificates(registry: Registry) -> None:
    a = certify(registry, new_filing(registry, name="Alpha-7B"), certificate_id="c-alpha")
    b = certify(
        registry,
        new_filing(registry, name="beta", standard="wdta-ai-str-03@1.0"),
        certificate_id="c-b%",
    )
    registry.set_certificate_status(b.id, "revoked", reason="r", actor="admin")
    assert [c.id for c in registry.search_certificates("alpha-7b")] == [a.id]
    assert [c.id for c in registry.search_certificates(a.model_digest[:20])] == [a.id]
    assert [c.id for c in registry.search_certificates(standard="tc260-003")] == [a.id]
    assert [c.id for c in registry.search_certificates(standard="wdta-ai-str-03@1.0")] == [b.id]
    assert [c.id for c in registry.search_certificates(status="revoked")] == [b.id]
    assert [c.id for c in registry.search_certificates("%")] == [b.id]  # no LIKE wildcards
    assert {c.id for c in registry.search_certificates()} == {a.id, b.id}
    assert len(registry.search_certificates(limit=1)) == 1
    assert registry.search_certificates("acme", standard="tc260", status="valid") == []
    with pytest.raises(RegistryError):
        registry.search_certificates(status="bogus")


def test_assessments_are_recorded_while_assessing(registry: Registry) -> None:
    filing = new_filing(registry)
    body = {"verdict": "pass", "requirements": [{"id": "5.1", "rate": 0.97, "n": 300}]}
    with pytest.raises(RegistryError, match="assessing"):
        registry.record_assessment(filing.id, digest=digest_of("a"), verdict="pass", body=body,
                                   actor="assessor")  # fmt: skip
    registry.transition_filing(filing.id, "assessing", actor="assessor")
    recorded = registry.record_assessment(
        filing.id, digest=digest_of("a"), verdict="pass", body=body, actor="assessor"
    )
    assert registry.list_assessments(filing.id) == [recorded]
    assert recorded.body == body


def test_attachments_inline_and_by_path(registry: Registry, tmp_path: Path) -> None:
    filing = new_filing(registry)
    data = b'{"bomFormat": "CycloneDX"}'
    inline = registry.add_attachment(
        filing.id, "bom.json", media_type="application/json", content=data, actor="a"
    )
    assert (inline.sha256, inline.size, inline.path) == (digest_bytes(data), len(data), None)
    assert registry.attachment_content(inline.id) == data
    report = tmp_path / "report.html"
    report.write_bytes(b"<html>ok</html>")
    by_path = registry.add_attachment(
        filing.id, "report.html", media_type="text/html", path=report, actor="a"
    )
    assert by_path.sha256 == digest_bytes(b"<html>ok</html>")
    assert registry.attachment_content(by_path.id) is None
    assert [a.name for a in registry.list_attachments(filing.id)] == ["bom.json", "report.html"]
    with pytest.raises(RegistryError, match="already has"):
        registry.add_attachment(filing.id, "bom.json", media_type="x", content=b"", actor="a")
    with pytest.raises(RegistryError, match="either"):
        registry.add_attachment(filing.id, "z", media_type="x", actor="a")
    with pytest.raises(RegistryError, match="not a file"):
        registry.add_attachment(filing.id, "z", media_type="x", path=tmp_path / "no", actor="a")


def test_list_filings_filters(registry: Registry) -> None:
    first = new_filing(registry, name="a")
    second = filing_in(registry, FilingStatus.ASSESSING, name="b")
    assert [f.id for f in registry.list_filings()] == [first.id, second.id]
    assert [f.id for f in registry.list_filings(status="assessing")] == [second.id]
    assert [f.id for f in registry.list_filings(model_id=first.model_id)] == [first.id]


def test_naive_clock_is_refused(db_url: str) -> None:
    registry = open_registry(db_url, clock=lambda: datetime(2026, 1, 1))  # noqa: DTZ001
    try:
        with pytest.raises(RegistryError, match="timezone"):
            new_filing(registry)
        assert registry.audit_entries() == []
    finally:
        registry.close()


def test_timestamps_read_back_in_utc(registry: Registry) -> None:
    cert = certify(registry, new_filing(registry))
    stored = registry.find_certificate(cert.id)
    assert stored is not None
    assert stored.issued_at.utcoffset() == timedelta(0)
    assert stored.issued_at == ISSUED.astimezone(UTC)
