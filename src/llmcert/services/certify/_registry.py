"""Record a certification run in the registry as a filing that walks the workflow.

The filing goes submitted → assessing → awaiting_review, then approved (the
caller adds the certificate, which makes it certified) or rejected with the
reasons. A model already registered under the same identity digest is reused,
so every certification of one model collects under one record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcert.models._types import ModelIdentity
    from llmcert.registry import FilingRecord, Registry
    from llmcert.report._assessment import Assessment

SCAN_ATTACHMENT = "supply-chain-scan.json"


def file_certification(
    registry: Registry,
    *,
    identity: ModelIdentity,
    standard_ref: str,
    applicant: str,
    actor: str,
    scan_json: bytes | None,
    assessment: Assessment | None,
    review_note: str,
    approve: bool,
    decision_note: str,
) -> FilingRecord:
    """The filing, left ``approved`` (awaiting its certificate) or ``rejected``."""
    from llmcert.certificates._statement import default_subject_name
    from llmcert.report._assessment_io import assessment_data, assessment_digest

    model_id = find_model(registry, identity.digest)
    if model_id is None:
        model_id = registry.register_model(
            name=default_subject_name(identity.to_dict())[:200],
            ref=identity.ref,
            identity_digest=identity.digest,
            owner=applicant,
            actor=actor,
        ).id
    filing = registry.submit_filing(model_id, standard_ref, applicant=applicant, actor=actor)
    registry.transition_filing(
        filing.id, "assessing", actor=actor, note="supply-chain scan and assessment"
    )
    if scan_json is not None:
        registry.add_attachment(
            filing.id,
            SCAN_ATTACHMENT,
            media_type="application/json",
            actor=actor,
            content=scan_json,
        )
    if assessment is not None:
        registry.record_assessment(
            filing.id,
            digest=assessment_digest(assessment),
            verdict=assessment.verdict,
            body=assessment_data(assessment),
            actor=actor,
        )
    registry.transition_filing(filing.id, "awaiting_review", actor=actor, note=review_note)
    final = "approved" if approve else "rejected"
    return registry.transition_filing(filing.id, final, actor=actor, note=decision_note)


def find_model(registry: Registry, identity_digest: str) -> str | None:
    """The id of the first model registered with this identity digest, if any."""
    found = registry.find_model(identity_digest)
    return None if found is None else found.id
