"""What a certificate was issued on, read back from the registry.

The certificate's signed predicate names the assessment by digest; the
assessment itself is the body the registry recorded against the filing. The
envelope's signature is not re-checked here: the registry is the monitor's own
trusted store, and the issuer's public key is not needed to re-test a model.
The assessment body is re-digested, though, so that a record edited after
issuance is reported instead of being used as the baseline.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from llmcert._hashing import digest_bytes
from llmcert.certificates._statement import CertificatePredicate, read_statement
from llmcert.registry import CertificateRecord, ModelRecord, Registry, RegistryError
from llmcert.report._assessment import Assessment


class CertifiedStateError(RegistryError):
    """The registry does not hold a usable record of what a certificate was issued on."""


@dataclass(frozen=True)
class Certified:
    """A certificate with its model, its signed predicate and its assessment."""

    certificate: CertificateRecord
    model: ModelRecord
    predicate: CertificatePredicate
    assessment: Assessment

    @property
    def not_applicable(self) -> dict[str, str]:
        """Clauses declared not applicable at certification, kept so for the re-test."""
        return {
            c.id: c.justification for c in self.assessment.clauses if c.status == "not_applicable"
        }


def predicate_of(envelope: Mapping[str, Any]) -> CertificatePredicate:
    """The certificate predicate inside a DSSE envelope (signature not checked)."""
    try:
        payload = base64.b64decode(str(envelope.get("payload", "")), validate=True)
        stmt = json.loads(payload.decode("utf-8"))
        if not isinstance(stmt, dict):
            raise ValueError("the payload is not a JSON object")
        predicate, _ = read_statement(stmt)
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) or "predicate"
            for e in exc.errors(include_input=False)
        )
        raise CertifiedStateError(
            f"the certificate predicate does not validate ({fields})"
        ) from None
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CertifiedStateError(f"the certificate envelope cannot be read: {exc}") from None
    return predicate


def digests_of(assessment: Assessment) -> set[str]:
    """The digests an assessment may be bound by: of its canonical JSON, or of its file."""
    from llmcert.report._assessment_io import assessment_digest, dump_assessment

    return {assessment_digest(assessment), digest_bytes(dump_assessment(assessment).encode())}


def load_certified(registry: Registry, certificate: CertificateRecord) -> Certified:
    """Everything the monitor compares against; CertifiedStateError when something is missing."""
    predicate = predicate_of(certificate.envelope)
    if predicate.certificate_id != certificate.id:
        raise CertifiedStateError(
            f"the registry holds certificate {certificate.id} with an envelope for "
            f"{predicate.certificate_id}"
        )
    filing = registry.get_filing(certificate.filing_id)
    model = registry.get_model(filing.model_id)
    wanted = predicate.assessment_digest
    records = [r for r in registry.list_assessments(filing.id) if r.digest == wanted]
    if not records:
        raise CertifiedStateError(
            f"filing {filing.id} has no recorded assessment with the certified digest {wanted}"
        )
    try:
        assessment = Assessment.model_validate(records[-1].body)
    except ValidationError as exc:
        raise CertifiedStateError(
            f"the recorded assessment {wanted} is not a valid assessment "
            f"({exc.error_count()} problem(s))"
        ) from None
    if wanted not in digests_of(assessment):
        raise CertifiedStateError(
            f"the recorded assessment no longer digests to the certified {wanted}"
        )
    return Certified(certificate, model, predicate, assessment)


__all__ = ["Certified", "CertifiedStateError", "digests_of", "load_certified", "predicate_of"]
