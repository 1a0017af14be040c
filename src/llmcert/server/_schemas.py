"""Request and response bodies of the JSON API (the OpenAPI spec is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from llmcert._safetext import check_name
from llmcert.registry import (
    AssessmentRecord,
    AttachmentRecord,
    CertificateRecord,
    FilingRecord,
    ModelRecord,
    TokenRecord,
)

_DIGEST = r"^sha256:[0-9a-f]{64}$"

#: A name: no control, formatting (bidi, zero-width) or escape characters.
SafeName = Annotated[str, AfterValidator(lambda v: check_name(v, "the value"))]
#: Free text: the same, but newlines and tabs are allowed.
SafeText = Annotated[str, AfterValidator(lambda v: check_name(v, "the value", free_text=True))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable reason, e.g. illegal_transition")
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class WhoAmI(BaseModel):
    token_id: str
    name: str
    role: str


class ModelIn(_In):
    name: SafeName = Field(min_length=1, max_length=200)
    ref: SafeName = Field(
        min_length=1, max_length=2000, description="ModelRef text, e.g. llamacpp:x.gguf"
    )
    identity_digest: str = Field(pattern=_DIGEST, description="ModelIdentity.digest of the model")


class ModelOut(BaseModel):
    id: str
    name: str
    ref: str
    identity_digest: str
    owner: str
    created_at: datetime

    @classmethod
    def of(cls, r: ModelRecord) -> ModelOut:
        return cls(
            id=r.id,
            name=r.name,
            ref=r.ref,
            identity_digest=r.identity_digest,
            owner=r.owner,
            created_at=r.created_at,
        )


class AttachmentOut(BaseModel):
    id: str
    name: str
    sha256: str
    size: int
    media_type: str

    @classmethod
    def of(cls, r: AttachmentRecord) -> AttachmentOut:
        return cls(id=r.id, name=r.name, sha256=r.sha256, size=r.size, media_type=r.media_type)


class AssessmentSummary(BaseModel):
    id: str
    digest: str
    verdict: str
    recorded_at: datetime

    @classmethod
    def of(cls, r: AssessmentRecord) -> AssessmentSummary:
        return cls(id=r.id, digest=r.digest, verdict=r.verdict, recorded_at=r.recorded_at)


class FilingOut(BaseModel):
    id: str
    model_id: str
    standard_ref: str
    status: str
    applicant: str
    renews_certificate_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: FilingRecord) -> FilingOut:
        return cls(
            id=r.id,
            model_id=r.model_id,
            standard_ref=r.standard_ref,
            status=r.status.value,
            applicant=r.applicant,
            renews_certificate_id=r.renews_certificate_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class FilingDetail(FilingOut):
    attachments: list[AttachmentOut]
    assessments: list[AssessmentSummary]
    certificate_id: str | None = None
    notes: list[str] = Field(default_factory=list, description="review notes from the audit log")


class AssessmentOut(BaseModel):
    filing_id: str
    digest: str
    verdict: str
    assessment: dict[str, Any] = Field(description="the Assessment JSON, as recorded")
    report_url: str


class Decision(_In):
    comment: SafeText = Field(min_length=1, max_length=1900)


class CertificateOut(BaseModel):
    id: str
    filing_id: str
    model_digest: str
    standard_ref: str
    status: str
    reason: str | None
    issued_at: datetime
    expires_at: datetime
    assessment_digest: str | None = None

    @classmethod
    def of(cls, r: CertificateRecord, assessment_digest: str | None = None) -> CertificateOut:
        return cls(
            id=r.id,
            filing_id=r.filing_id,
            model_digest=r.model_digest,
            standard_ref=r.standard_ref,
            status=r.status.value,
            reason=r.reason,
            issued_at=r.issued_at,
            expires_at=r.expires_at,
            assessment_digest=assessment_digest,
        )


class CertificateDetail(CertificateOut):
    model_name: str
    envelope: dict[str, Any] = Field(description="the signed DSSE envelope")


class StatusChange(_In):
    status: Literal["suspended", "revoked", "valid"] = Field(
        description="suspend, revoke, or reinstate (valid) a suspended certificate"
    )
    reason: SafeText = Field(min_length=1, max_length=2000)


class VerifyIn(_In):
    certificate: dict[str, Any] = Field(description="the DSSE envelope, as downloaded")


class VerifyOut(BaseModel):
    status: str = Field(
        description="valid, expired, not_yet_valid, revoked, tampered, wrong_key, "
        "unknown_certificate or not_registry_copy"
    )
    ok: bool
    details: str
    certificate_id: str | None
    subject_name: str | None
    revocation_reason: str | None
    registry_status: str | None = None


class TokenIn(_In):
    name: SafeName = Field(min_length=1, max_length=200)
    role: Literal["applicant", "assessor", "admin"]


class TokenOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, r: TokenRecord) -> TokenOut:
        return cls(
            id=r.id,
            name=r.name,
            role=r.role.value,
            created_at=r.created_at,
            revoked_at=r.revoked_at,
        )


class TokenCreated(BaseModel):
    id: str
    name: str
    role: str
    secret: str = Field(description="shown once; only its hash is kept")


class TokenRevoked(BaseModel):
    id: str
    revoked: bool = Field(description="false if it already was")


class IssuerOut(BaseModel):
    name: str
    key_id: str
    public_key_pem: str


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    hash: str


class AuditOut(BaseModel):
    chain_ok: bool
    entries: list[AuditEntryOut]
