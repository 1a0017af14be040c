"""The certification service: scan, assess, decide, sign, and file in the registry.

A certificate is only worth what stands behind it, so one is issued only when
the model's local artefacts have no blocking supply-chain finding *and* the
assessment's overall verdict is PASS. Every other outcome is written down as
well: ``decision.json`` names the failing or inconclusive requirements and the
blocking findings, so a refusal can be read and argued with like a verdict.

The issuer key comes from the request. When none is configured, an issuer key
pair is made once under the output directory (``issuer-key.pem``, mode 0600,
encrypted with ``$LLMCERT_KEY_PASSPHRASE`` when that is set, and
``issuer-key.pub.pem`` to hand to verifiers) and reused by later runs.

With a registry, the filing is recorded once the outcome is known (so an
interrupted run leaves no filing stuck half-way) and walks the whole workflow:
submitted, assessing, awaiting review, then approved with the certificate
added — a command-line certification is an automated assessor approval by
``cli:<issuer>`` — or rejected with the reasons.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcert._fileio import write_atomic, write_json_atomic
from llmcert._hashing import digest_bytes, short
from llmcert.errors import IdentityChanged, SpecError
from llmcert.models import ModelBackend, ModelRef, open_backend
from llmcert.services._sync import run_sync
from llmcert.services.assess import (
    AssessOutcome,
    AssessRequest,
    ProgressFactory,
    assess,
)
from llmcert.services.certify._keys import ISSUER_KEY_FILE, ISSUER_PUBLIC_KEY_FILE
from llmcert.services.certify._registry import SCAN_ATTACHMENT
from llmcert.services.certify._scan import Reason, SupplyChainCheck, scan_model, scan_reasons

if TYPE_CHECKING:
    from llmcert.models._types import ModelIdentity
    from llmcert.registry import Registry

DECISION_SCHEMA = "llmcert.decision/1"
DEFAULT_ISSUER = "self-assessment"
CERTIFICATE_FILE = "certificate.dsse.json"
SUPERSEDED_FILE = "superseded-certificate.dsse.json"
DECISION_FILE = "decision.json"
SCAN_FILE = SCAN_ATTACHMENT
_SEVERITIES = ("critical", "high", "medium", "low", "info")


class Decision(StrEnum):
    ISSUED = "issued"
    FAILED = "failed"  # overall FAIL: not issued
    INCONCLUSIVE = "inconclusive"  # not issued; more evidence could settle it
    REFUSED = "refused"  # the supply-chain check stopped it before assessment


@dataclass(frozen=True)
class CertifyRequest:
    #: The assessment to run (model, standard, evidence, output folder, …).
    assess: AssessRequest = field(default_factory=AssessRequest)
    #: Issuer private key (PEM); None makes or reuses a key pair under the output folder.
    key: Path | None = None
    issuer: str = DEFAULT_ISSUER
    validity_days: int = 365
    #: Registry database URL; None files nothing.
    registry: str | None = None
    #: Lowest scan severity that blocks certification.
    scan_fail_on: str = "high"


@dataclass(frozen=True)
class FilingInfo:
    model_id: str
    filing_id: str
    status: str


@dataclass(frozen=True)
class CertifyOutcome:
    decision: Decision
    reasons: tuple[Reason, ...]
    identity: ModelIdentity
    supply_chain: SupplyChainCheck
    assessment: AssessOutcome | None
    decision_path: Path
    certificate_path: Path | None = None
    certificate_id: str | None = None
    #: Public key of an issuer key pair made by this run, to give to verifiers.
    generated_public_key: Path | None = None
    filing: FilingInfo | None = None

    @property
    def issued(self) -> bool:
        return self.decision is Decision.ISSUED


async def certify(
    request: CertifyRequest,
    *,
    backend: ModelBackend | None = None,
    progress: ProgressFactory | None = None,
) -> CertifyOutcome:
    """Certify a model against a standard, or record precisely why not."""
    from llmcert.registry import open_registry
    from llmcert.services.certify._keys import issuer_key
    from llmcert.standards._catalog import load_standard
    from llmcert.supplychain.signing._keys import load_private_key

    _check_request(request)
    spec = load_standard(request.assess.standard)
    # An unusable key fails now, not after hours of testing; a missing one is made now.
    key, public_key = issuer_key(request.key, request.assess.output)
    load_private_key(key)
    registry = open_registry(request.registry) if request.registry is not None else None
    try:
        model = (
            backend if backend is not None else open_backend(ModelRef.parse(request.assess.model))
        )
        try:
            identity = await model.identify()
            check = await asyncio.to_thread(scan_model, identity, request.scan_fail_on)
            outcome = None
            if not check.blocks:
                outcome = await assess(request.assess, backend=model, progress=progress)
        finally:
            if backend is None:
                await model.aclose()
        if outcome is not None and outcome.assessment.model.get("digest") != identity.digest:
            raise IdentityChanged(
                "the model's identity changed between the supply-chain scan and the assessment"
            )
        return _conclude(request, spec, identity, check, outcome, registry, (key, public_key))
    finally:
        if registry is not None:
            registry.close()


def certify_sync(request: CertifyRequest, **kwargs: Any) -> CertifyOutcome:
    return run_sync(certify(request, **kwargs))


def _check_request(request: CertifyRequest) -> None:
    from llmcert.certificates import MAX_VALIDITY_DAYS

    if not 1 <= request.validity_days <= MAX_VALIDITY_DAYS:
        raise SpecError(
            f"validity must be 1 to {MAX_VALIDITY_DAYS} days, not {request.validity_days}"
        )
    if request.scan_fail_on not in _SEVERITIES:
        raise SpecError(
            f"scan threshold must be one of {', '.join(_SEVERITIES)}, not {request.scan_fail_on!r}"
        )
    if not request.issuer.strip() or len(request.issuer) > 150:
        raise SpecError("the issuer name must be 1 to 150 characters")


# -- deciding, issuing, filing ------------------------------------------------


@dataclass(frozen=True)
class _Issued:
    certificate_id: str
    envelope: dict[str, Any]
    issued_at: datetime
    expires_at: datetime


def _conclude(
    request: CertifyRequest,
    spec: Any,
    identity: ModelIdentity,
    check: SupplyChainCheck,
    outcome: AssessOutcome | None,
    registry: Registry | None,
    keys: tuple[Path, Path | None],
) -> CertifyOutcome:
    from llmcert.certificates import write_certificate
    from llmcert.services.certify._registry import file_certification

    if outcome is None:
        decision, reasons = Decision.REFUSED, scan_reasons(check)
        out_dir = request.assess.output / f"certify-{spec.id}-{short(identity.digest, 8)}"
    else:
        decision = _DECISIONS[outcome.assessment.verdict]
        reasons = [
            Reason("requirement", r.id, r.verdict, r.explanation)
            for r in outcome.assessment.requirements
            if r.verdict in ("fail", "inconclusive")
        ]
        out_dir = outcome.json_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    scan_json = check.report.to_json().encode("utf-8") if check.report is not None else None
    if scan_json is not None:
        write_atomic(out_dir / SCAN_FILE, scan_json + b"\n")

    issued = None
    if decision is Decision.ISSUED:
        assert outcome is not None
        issued = _issue(request, outcome, check.detail, scan_json, keys[0])

    filing = None
    if registry is not None:
        filing = file_certification(
            registry,
            identity=identity,
            standard_ref=spec.ref,
            applicant=request.issuer,
            actor=_actor(request),
            scan_json=scan_json,
            assessment=outcome.assessment if outcome is not None else None,
            review_note=check.detail,
            approve=issued is not None,
            decision_note=_decision_note(decision, reasons),
        )
        if issued is not None:
            registry.add_certificate(
                filing.id,
                certificate_id=issued.certificate_id,
                envelope=issued.envelope,
                issued_at=issued.issued_at,
                expires_at=issued.expires_at,
                actor=_actor(request),
            )
            filing = registry.get_filing(filing.id)

    cert_path = None
    if issued is not None:
        cert_path = write_certificate(issued.envelope, out_dir / CERTIFICATE_FILE)
    elif (out_dir / CERTIFICATE_FILE).exists():
        # An earlier run's certificate must not sit beside an assessment it does not bind.
        (out_dir / CERTIFICATE_FILE).replace(out_dir / SUPERSEDED_FILE)
    result = CertifyOutcome(
        decision=decision,
        reasons=tuple(reasons),
        identity=identity,
        supply_chain=check,
        assessment=outcome,
        decision_path=out_dir / DECISION_FILE,
        certificate_path=cert_path,
        certificate_id=issued.certificate_id if issued is not None else None,
        generated_public_key=keys[1],
        filing=(
            FilingInfo(filing.model_id, filing.id, filing.status.value)
            if filing is not None
            else None
        ),
    )
    write_json_atomic(result.decision_path, _decision_document(result, spec.ref, issued))
    return result


_DECISIONS = {
    "pass": Decision.ISSUED,
    "fail": Decision.FAILED,
    "inconclusive": Decision.INCONCLUSIVE,
}


def _decision_note(decision: Decision, reasons: list[Reason]) -> str:
    if decision is Decision.ISSUED:
        return "automated assessor approval: overall PASS, no blocking supply-chain finding"
    listed = "; ".join(f"{r.id} ({r.status}): {r.explanation}" for r in reasons[:20])
    more = f"; and {len(reasons) - 20} more" if len(reasons) > 20 else ""
    return f"{decision.value}: {listed or 'see the assessment'}{more}"


def _decision_document(
    result: CertifyOutcome, standard_ref: str, issued: _Issued | None
) -> dict[str, Any]:
    """What ``decision.json`` holds: the outcome, its reasons, and where the evidence is."""
    from llmcert.report import assessment_digest

    base = result.decision_path.parent
    check, outcome, filing = result.supply_chain, result.assessment, result.filing
    findings = check.report.findings if check.report is not None else []
    return {
        "schema": DECISION_SCHEMA,
        "decision": result.decision.value,
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "standard": standard_ref,
        "model": result.identity.to_dict(),
        "verdict": outcome.assessment.verdict if outcome is not None else None,
        "reasons": [r.to_dict() for r in result.reasons],
        "supply_chain": {
            "status": check.status,
            "detail": check.detail,
            "report": SCAN_FILE if check.report is not None else None,
            "findings": [
                {"id": f.id, "severity": f.severity.value, "blocking": f.blocking, "file": f.file}
                for f in findings
            ],
        },
        "assessment": None
        if outcome is None
        else {
            "path": os.path.relpath(outcome.json_path, base),
            "digest": assessment_digest(outcome.assessment),
            "explanation": outcome.assessment.explanation,
        },
        "certificate": None
        if issued is None
        else {
            "id": issued.certificate_id,
            "path": CERTIFICATE_FILE,
            "issued_at": issued.issued_at.isoformat(),
            "expires_at": issued.expires_at.isoformat(),
        },
        "registry": None
        if filing is None
        else {"model": filing.model_id, "filing": filing.filing_id, "status": filing.status},
    }


def _actor(request: CertifyRequest) -> str:
    return f"cli:{request.issuer}"


def _issue(
    request: CertifyRequest,
    outcome: AssessOutcome,
    scan_detail: str,
    scan_json: bytes | None,
    key: Path,
) -> _Issued:
    """Sign the certificate; the scan's outcome (and report digest) is signed into its notes."""
    import uuid

    from llmcert.certificates import issue_certificate
    from llmcert.report import assessment_digest, assessment_judges

    a = outcome.assessment
    notes = f"supply-chain check: {scan_detail}"
    if scan_json is not None:
        notes += f" (scan report {digest_bytes(scan_json)})"
    from llmcert.services.assess._perf import certificate_notes

    notes += certificate_notes(a.requirements)
    scope = None
    if request.assess.limit is not None:
        scope = f"trial assessment: at most {request.assess.limit} items per suite"
    certificate_id = uuid.uuid4().hex
    now = datetime.now(UTC).replace(microsecond=0)
    envelope = issue_certificate(
        model_identity=a.model,
        model_digest=str(a.model["digest"]),
        standard_id=a.standard.id,
        standard_version=a.standard.version,
        standard_digest=a.standard.digest,
        assessment_digest=assessment_digest(a),
        verdict=a.verdict,
        issuer=request.issuer,
        private_key_path=key,
        validity_days=request.validity_days,
        now=now,
        scope=scope,
        notes=notes,
        certificate_id=certificate_id,
        judges=assessment_judges(a),
    )
    return _Issued(certificate_id, envelope, now, now + timedelta(days=request.validity_days))


__all__ = [
    "CERTIFICATE_FILE",
    "DECISION_FILE",
    "DEFAULT_ISSUER",
    "ISSUER_KEY_FILE",
    "ISSUER_PUBLIC_KEY_FILE",
    "SCAN_FILE",
    "SUPERSEDED_FILE",
    "CertifyOutcome",
    "CertifyRequest",
    "Decision",
    "FilingInfo",
    "Reason",
    "SupplyChainCheck",
    "certify",
    "certify_sync",
]
