"""The certification steps the API and the pages share, each checked before anything changes.

Every state change goes through :class:`~llmcert.registry.Registry`, which
audits it. Checks that only the server can make (upload limits, ownership, a
passing assessment for the model and standard filed) run first, and the
certificate is signed before the filing moves, so a refused step leaves the
registry as it was.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from llmcert._hashing import canonical_json
from llmcert._safetext import first_unsafe
from llmcert.certificates import CertificateCheck, CertificateStatus, verify_certificate
from llmcert.egress import Egress, OutboundRefused
from llmcert.registry import (
    AssessmentRecord,
    CertificateRecord,
    FilingQuota,
    FilingRecord,
    FilingStatus,
    ModelRecord,
    NewAttachment,
    Registry,
    Role,
    TokenRecord,
)
from llmcert.registry import CertificateStatus as RegistryStatus
from llmcert.server._config import Limits, SigningConfig
from llmcert.server._http import ApiError
from llmcert.server._standards import StandardCatalog


@dataclass(frozen=True)
class Upload:
    """One uploaded evidence file, read into memory within the size limit."""

    name: str
    media_type: str
    content: bytes


def actor_of(principal: TokenRecord) -> str:
    return f"{principal.role.value}:{principal.name}"


def clean_filename(raw: str | None) -> str:
    """The last path component only: an upload's name is a label, never a path."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name.strip()
    if first_unsafe(name) is not None:
        raise ApiError(400, "invalid_characters", "an attachment's name holds a control character")
    return name[:300]


def base_media_type(raw: str | None) -> str:
    return (raw or "").split(";", 1)[0].strip().lower()


def check_uploads(uploads: list[Upload], limits: Limits) -> None:
    if len(uploads) > limits.max_attachments:
        raise ApiError(413, "too_many_files", f"at most {limits.max_attachments} attachments")
    seen: set[str] = set()
    for upload in uploads:
        if len(upload.content) > limits.max_attachment_bytes:
            raise ApiError(
                413,
                "too_large",
                f"attachment {upload.name!r} exceeds {limits.max_attachment_bytes} bytes",
            )
        if upload.media_type not in limits.allowed_media_types:
            allowed = ", ".join(sorted(limits.allowed_media_types))
            raise ApiError(
                415,
                "unsupported_media_type",
                f"attachment {upload.name!r} is {upload.media_type or 'untyped'}; "
                f"allowed: {allowed}",
            )
        if not upload.name:
            raise ApiError(400, "bad_attachment", "every attachment needs a file name")
        if upload.name in seen:
            raise ApiError(400, "bad_attachment", f"two attachments are named {upload.name!r}")
        seen.add(upload.name)


# -- visibility ------------------------------------------------------------------


def is_applicant(principal: TokenRecord) -> bool:
    return principal.role is Role.APPLICANT


def visible_model(registry: Registry, principal: TokenRecord, model_id: str) -> ModelRecord:
    model = registry.get_model(model_id)
    if is_applicant(principal) and model.owner != principal.id:
        raise ApiError(404, "not_found", f"no model with id {model_id!r} among yours")
    return model


def visible_filing(registry: Registry, principal: TokenRecord, filing_id: str) -> FilingRecord:
    filing = registry.get_filing(filing_id)
    if is_applicant(principal) and filing.applicant != principal.id:
        raise ApiError(404, "not_found", f"no filing with id {filing_id!r} among yours")
    return filing


def filings_for(
    registry: Registry, principal: TokenRecord, status: str | None = None
) -> list[FilingRecord]:
    filings = registry.list_filings(status=status)
    if is_applicant(principal):
        filings = [f for f in filings if f.applicant == principal.id]
    return filings


# -- filing ------------------------------------------------------------------------


def register_model(
    registry: Registry,
    principal: TokenRecord,
    *,
    name: str,
    ref: str,
    identity_digest: str,
    egress: Egress,
) -> ModelRecord:
    """Register a model whose reference this server may act on (checked before anything is stored)."""
    try:
        egress.check_reference(ref)
    except OutboundRefused as exc:
        raise ApiError(400, exc.code, str(exc)) from None
    return registry.register_model(
        name=name,
        ref=ref,
        identity_digest=identity_digest,
        owner=principal.id,  # a principal id: token names need not be unique
        actor=actor_of(principal),
    )


def _check_renewal(
    registry: Registry, principal: TokenRecord, model: ModelRecord, certificate_id: str
) -> None:
    """A renewal is the certificate owner's only: another applicant learns nothing of it."""
    old = registry.find_certificate(certificate_id)
    if old is None or registry.get_filing(old.filing_id).applicant != principal.id:
        raise ApiError(404, "not_found", f"no certificate with id {certificate_id!r} among yours")
    if old.model_digest != model.identity_digest:
        raise ApiError(409, "renewal_mismatch", "a renewal must file the certified model")
    if old.status not in (RegistryStatus.VALID, RegistryStatus.SUSPENDED):
        raise ApiError(409, "not_renewable", f"certificate is {old.status.value}")
    if old.expires_at <= datetime.now(UTC):
        raise ApiError(409, "not_renewable", "certificate has expired: file anew instead")


def submit_filing(
    registry: Registry,
    principal: TokenRecord,
    *,
    model_id: str,
    standard_ref: str,
    uploads: list[Upload],
    limits: Limits,
    standards: StandardCatalog,
    renews: str | None = None,
    submission_key: str | None = None,
) -> tuple[FilingRecord, bool]:
    """File with every attachment in one registry transaction; (filing, whether it is new).

    A retry with the same ``submission_key`` (the ``Idempotency-Key`` header)
    returns the filing the first attempt made.
    """
    check_uploads(uploads, limits)
    standard = standards.resolve(standard_ref)
    if standard is None:
        known = ", ".join(standards.refs)
        raise ApiError(
            400,
            "unknown_standard",
            f"not a standard this registry certifies against (known: {known})",
        )
    model = visible_model(registry, principal, model_id)
    if renews:
        _check_renewal(registry, principal, model, renews)
    return registry.file(
        model.id,
        standard,
        applicant=principal.id,
        actor=actor_of(principal),
        renews=renews or None,
        attachments=[NewAttachment(u.name, u.media_type, u.content) for u in uploads],
        submission_key=submission_key,
        quota=FilingQuota(limits.max_open_filings, limits.max_applicant_attachment_bytes),
    )


def renew(
    registry: Registry, principal: TokenRecord, certificate_id: str, standards: StandardCatalog
) -> FilingRecord:
    old = registry.find_certificate(certificate_id)
    if old is None:
        raise ApiError(404, "not_found", f"no certificate with id {certificate_id!r}")
    previous = visible_filing(registry, principal, old.filing_id)
    filing, _ = submit_filing(
        registry,
        principal,
        model_id=previous.model_id,
        standard_ref=previous.standard_ref,
        uploads=[],
        limits=Limits(),
        standards=standards,
        renews=certificate_id,
    )
    return filing


# -- review ------------------------------------------------------------------------


def latest_assessment(registry: Registry, filing_id: str) -> AssessmentRecord | None:
    found = registry.list_assessments(filing_id)
    return found[-1] if found else None


def review_notes(registry: Registry, filing_id: str) -> list[str]:
    notes = []
    for entry in registry.audit_entries(subject=f"filing:{filing_id}", limit=1000):
        note = entry.payload.get("note") if entry.action == "filing.transition" else None
        if note:
            notes.append(f"{entry.payload.get('to')}: {note} ({entry.actor})")
    return notes


def _awaiting_review(registry: Registry, filing_id: str) -> FilingRecord:
    filing = registry.get_filing(filing_id)
    if filing.status is not FilingStatus.AWAITING_REVIEW:
        raise ApiError(
            409, "illegal_transition", f"filing is {filing.status.value}, not awaiting_review"
        )
    return filing


def approve(
    registry: Registry,
    signing: SigningConfig,
    principal: TokenRecord,
    filing_id: str,
    comment: str,
) -> CertificateRecord:
    """Sign a certificate over the filing's passing assessment, then record approval and it.

    Approval and the certificate are two registry steps; if the second failed, the
    filing stays ``approved`` with no certificate, and approving again finishes it.
    """
    from llmcert.certificates import issue_certificate
    from llmcert.report import Assessment

    filing = registry.get_filing(filing_id)
    finishing = filing.status is FilingStatus.APPROVED
    if not finishing:
        filing = _awaiting_review(registry, filing_id)
    record = latest_assessment(registry, filing_id)
    if record is None:
        raise ApiError(409, "no_assessment", "no assessment was recorded: reject the filing")
    if record.verdict != "pass":
        raise ApiError(
            409, "not_passing", f"the assessment says {record.verdict}: only a pass is certified"
        )
    assessment = Assessment.model_validate(record.body)
    model = registry.get_model(filing.model_id)
    if assessment.model.get("digest") != model.identity_digest:
        raise ApiError(409, "wrong_model", "the assessment is of another model than the one filed")
    std_id, _, std_version = filing.standard_ref.partition("@")
    if assessment.standard.id != std_id or (
        std_version and assessment.standard.version != std_version
    ):
        raise ApiError(
            409, "wrong_standard", "the assessment is against another standard than filed"
        )
    now = datetime.now(UTC).replace(microsecond=0)
    certificate_id = uuid.uuid4().hex
    envelope = issue_certificate(
        model_identity=assessment.model,
        model_digest=model.identity_digest,
        standard_id=assessment.standard.id,
        standard_version=assessment.standard.version,
        standard_digest=assessment.standard.digest or None,
        assessment_digest=record.digest,
        verdict=record.verdict,
        issuer=signing.issuer,
        private_key_path=signing.private_key_path,
        validity_days=signing.validity_days,
        now=now,
        model_name=model.name,
        certificate_id=certificate_id,
    )
    actor = actor_of(principal)
    if not finishing:
        registry.transition_filing(filing_id, FilingStatus.APPROVED, actor=actor, note=comment)
    return registry.add_certificate(
        filing_id,
        certificate_id=certificate_id,
        envelope=envelope,
        issued_at=now,
        expires_at=now + timedelta(days=signing.validity_days),
        actor=actor,
    )


def reject(
    registry: Registry, principal: TokenRecord, filing_id: str, comment: str
) -> FilingRecord:
    _awaiting_review(registry, filing_id)
    return registry.transition_filing(
        filing_id, FilingStatus.REJECTED, actor=actor_of(principal), note=comment
    )


def set_certificate_status(
    registry: Registry, principal: TokenRecord, certificate_id: str, status: str, reason: str
) -> CertificateRecord:
    return registry.set_certificate_status(
        certificate_id, status, reason=reason, actor=actor_of(principal)
    )


# -- public ------------------------------------------------------------------------


def signed_payload(envelope: dict[str, Any]) -> dict[str, Any]:
    """The statement inside a stored envelope (the registry's own copy, already verified)."""
    try:
        data = json.loads(base64.b64decode(envelope.get("payload", "")))
        return data if isinstance(data, dict) else {}
    except (ValueError, TypeError):
        return {}


def assessment_digest_of(record: CertificateRecord) -> str | None:
    predicate = signed_payload(record.envelope).get("predicate")
    digest = predicate.get("assessment_digest") if isinstance(predicate, dict) else None
    return digest if isinstance(digest, str) else None


def public_assessment(registry: Registry, digest: str) -> AssessmentRecord | None:
    """An assessment is public once a certificate has been issued over it."""
    for certificate in registry.search_certificates(limit=1000):
        if assessment_digest_of(certificate) != digest:
            continue
        for record in registry.list_assessments(certificate.filing_id):
            if record.digest == digest:
                return record
    return None


@dataclass(frozen=True)
class Verification:
    check: CertificateCheck
    registry_status: str | None = None
    problem: tuple[str, str] | None = None  # (code, message) when the document proves nothing


def verify(registry: Registry, signing: SigningConfig, document: Any) -> Verification:
    """Check a certificate against this server's key and this registry's records.

    The registry's record is read once, after the signature holds, and that one
    snapshot answers both the revocation question and the registry-copy check.
    """
    if not isinstance(document, dict):
        check = CertificateCheck(CertificateStatus.TAMPERED, "a certificate is a JSON object")
        return Verification(check, problem=("certificate_tampered", check.details))
    records: dict[str, CertificateRecord | None] = {}

    def record_of(certificate_id: str) -> CertificateRecord | None:
        if certificate_id not in records:
            records[certificate_id] = registry.find_certificate(certificate_id)
        return records[certificate_id]

    check = verify_certificate(
        document, public_key_path=signing.public_key_path, is_revoked=_revocation(record_of)
    )
    if check.status in (CertificateStatus.TAMPERED, CertificateStatus.WRONG_KEY):
        return Verification(check, problem=(f"certificate_{check.status.value}", check.details))
    record = record_of(check.certificate_id or "")
    if record is None:
        message = "signed with this registry's key, but this registry never issued it"
        return Verification(check, problem=("unknown_certificate", message))
    if canonical_json(record.envelope) != canonical_json(document):
        message = "signed, but not the copy this registry issued (replayed or re-wrapped)"
        return Verification(check, record.status.value, ("not_registry_copy", message))
    if record.status is RegistryStatus.EXPIRED and check.status is CertificateStatus.VALID:
        check = replace(
            check,
            status=CertificateStatus.EXPIRED,
            details=f"marked expired in the registry: {record.reason or 'no reason given'}",
        )
    return Verification(check, record.status.value)


def _revocation(
    record_of: Callable[[str], CertificateRecord | None],
) -> Callable[[str], str | None]:
    def lookup(certificate_id: str) -> str | None:
        record = record_of(certificate_id)
        if record is None or record.status not in (
            RegistryStatus.REVOKED,
            RegistryStatus.SUSPENDED,
        ):
            return None
        return f"{record.status.value}: {record.reason or 'no reason given'}"

    return lookup
