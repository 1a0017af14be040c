"""What the registry hands out: frozen snapshots, never live ORM rows.

A snapshot cannot lazy-load after its session is gone, nor be changed behind
the state machine's back, so callers (services, the server) may keep it freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llmcert.registry._schema import (
    AssessmentRow,
    AttachmentRow,
    AuditRow,
    CertificateRow,
    FilingRow,
    ModelRow,
    TokenRow,
)
from llmcert.registry._states import CertificateStatus, FilingStatus, Role


@dataclass(frozen=True, slots=True)
class ModelRecord:
    id: str
    name: str
    ref: str
    identity_digest: str
    owner: str
    created_at: datetime

    @classmethod
    def of(cls, row: ModelRow) -> ModelRecord:
        return cls(row.id, row.name, row.ref, row.identity_digest, row.owner, row.created_at)


@dataclass(frozen=True, slots=True)
class FilingRecord:
    id: str
    model_id: str
    standard_ref: str
    status: FilingStatus
    applicant: str
    renews_certificate_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: FilingRow) -> FilingRecord:
        return cls(
            row.id,
            row.model_id,
            row.standard_ref,
            FilingStatus(row.status),
            row.applicant,
            row.renews_certificate_id,
            row.created_at,
            row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    """``content`` is left out: it is read on demand, not carried in every listing."""

    id: str
    filing_id: str
    name: str
    sha256: str
    size: int
    media_type: str
    path: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: AttachmentRow) -> AttachmentRecord:
        return cls(
            row.id,
            row.filing_id,
            row.name,
            row.sha256,
            row.size,
            row.media_type,
            row.path,
            row.created_at,
        )


@dataclass(frozen=True, slots=True)
class AssessmentRecord:
    id: str
    filing_id: str
    digest: str
    verdict: str
    body: dict[str, Any]
    recorded_at: datetime

    @classmethod
    def of(cls, row: AssessmentRow) -> AssessmentRecord:
        return cls(row.id, row.filing_id, row.digest, row.verdict, row.body, row.recorded_at)


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    id: str
    filing_id: str
    model_digest: str
    standard_ref: str
    envelope: dict[str, Any]
    issued_at: datetime
    expires_at: datetime
    status: CertificateStatus
    reason: str | None
    status_changed_at: datetime | None

    @classmethod
    def of(cls, row: CertificateRow) -> CertificateRecord:
        return cls(
            row.id,
            row.filing_id,
            row.model_digest,
            row.standard_ref,
            row.envelope,
            row.issued_at,
            row.expires_at,
            CertificateStatus(row.status),
            row.reason,
            row.status_changed_at,
        )


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token as seen after authentication: who it is and what it may do, no secret."""

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def of(cls, row: TokenRow) -> TokenRecord:
        return cls(row.id, row.name, Role(row.role), row.created_at, row.revoked_at)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: AuditRow) -> AuditRecord:
        return cls(
            row.seq,
            row.at,
            row.actor,
            row.action,
            row.subject,
            row.payload,
            row.prev_hash,
            row.hash,
        )
