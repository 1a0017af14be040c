"""Builders shared by the registry tests: a model, a filing driven to any status."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from llmcert.registry import (
    CertificateRecord,
    CertificateStatus,
    FilingRecord,
    FilingStatus,
    Registry,
)

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRES = ISSUED + timedelta(days=365)


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def audit_count(registry: Registry) -> int:
    return len(registry.audit_entries(limit=10_000))


def new_filing(
    registry: Registry,
    *,
    name: str = "smollm2-135m",
    standard: str = "tc260-003@2024",
    renews: str | None = None,
) -> FilingRecord:
    model = registry.register_model(
        name=name,
        ref=f"llamacpp:{name}.gguf",
        identity_digest=digest_of(name),
        owner="Acme Labs",
        actor="applicant-1",
    )
    return registry.submit_filing(
        model.id, standard, applicant="Acme Labs", actor="applicant-1", renews=renews
    )


def certify(
    registry: Registry, filing: FilingRecord, *, certificate_id: str | None = None
) -> CertificateRecord:
    for step in (FilingStatus.ASSESSING, FilingStatus.AWAITING_REVIEW, FilingStatus.APPROVED):
        registry.transition_filing(filing.id, step, actor="assessor-1")
    return registry.add_certificate(
        filing.id,
        certificate_id=certificate_id or f"cert-{filing.id[:12]}",
        envelope={
            "payloadType": "application/vnd.in-toto+json",
            "payload": "e30=",
            "signatures": [],
        },
        issued_at=ISSUED,
        expires_at=EXPIRES,
        actor="assessor-1",
    )


_CERTIFICATE_FOR = {
    FilingStatus.SUSPENDED: CertificateStatus.SUSPENDED,
    FilingStatus.REVOKED: CertificateStatus.REVOKED,
    FilingStatus.EXPIRED: CertificateStatus.EXPIRED,
}


def filing_in(registry: Registry, status: FilingStatus, *, name: str = "m") -> FilingRecord:
    """A new filing brought to ``status`` by legal moves only."""
    filing = new_filing(registry, name=name)
    path = {
        FilingStatus.SUBMITTED: [],
        FilingStatus.ASSESSING: [FilingStatus.ASSESSING],
        FilingStatus.AWAITING_REVIEW: [FilingStatus.ASSESSING, FilingStatus.AWAITING_REVIEW],
        FilingStatus.APPROVED: [
            FilingStatus.ASSESSING,
            FilingStatus.AWAITING_REVIEW,
            FilingStatus.APPROVED,
        ],
        FilingStatus.REJECTED: [
            FilingStatus.ASSESSING,
            FilingStatus.AWAITING_REVIEW,
            FilingStatus.REJECTED,
        ],
    }.get(status)
    if path is not None:
        for step in path:
            filing = registry.transition_filing(filing.id, step, actor="assessor-1")
        return filing
    certificate = certify(registry, filing)
    if status in _CERTIFICATE_FOR:
        registry.set_certificate_status(
            certificate.id, _CERTIFICATE_FOR[status], reason="test", actor="admin-1"
        )
    return registry.get_filing(filing.id)
