"""Issue a certificate: sign a certificate statement into a DSSE envelope.

Signing reuses the supply-chain DSSE code and keys, so a certificate and a
model attestation are checked the same way. The envelope carries the public key
id only; the private key and its passphrase (read from the environment by the
key loader) never reach the document or an error message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmcert._fileio import write_json_atomic
from llmcert._safetext import first_unsafe
from llmcert.certificates._errors import CertificateError, VerdictNotCertifiable
from llmcert.certificates._statement import (
    CertificatePredicate,
    certificate_statement,
    default_subject_name,
    utc_timestamp,
)
from llmcert.supplychain.signing._dsse import sign_envelope
from llmcert.supplychain.signing._keys import key_id, load_private_key

#: Longest validity accepted; renewal (re-assessment) is expected well before.
MAX_VALIDITY_DAYS = 5 * 366


def _explain(exc: ValidationError) -> str:
    """Field and reason only: input values may hold what must not be printed."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "certificate"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def issue_certificate(
    *,
    model_identity: Mapping[str, Any],
    model_digest: str,
    standard_id: str,
    standard_version: str,
    standard_digest: str | None = None,
    assessment_digest: str,
    verdict: str,
    issuer: str,
    private_key_path: Path | str,
    validity_days: int = 365,
    now: datetime | None = None,
    model_name: str | None = None,
    scope: str | None = None,
    notes: str | None = None,
    certificate_id: str | None = None,
    judges: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Sign a certificate for a passing assessment and return its DSSE envelope.

    ``model_identity`` is ``ModelIdentity.to_dict()`` and must carry
    ``model_digest``; ``assessment_digest`` is the sha256 of the assessment it
    certifies. Validity starts at ``now`` (default: the current UTC time) and
    lasts ``validity_days``. Raises :class:`VerdictNotCertifiable` for any
    verdict but pass, :class:`CertificateError` for inconsistent inputs and
    ``SigningError`` for an unusable key.
    """
    if str(verdict).strip().lower() != "pass":
        raise VerdictNotCertifiable(str(verdict))
    if not 1 <= validity_days <= MAX_VALIDITY_DAYS:
        raise CertificateError(
            f"validity_days must be between 1 and {MAX_VALIDITY_DAYS}, not {validity_days}"
        )
    signed_text = {
        "issuer": issuer,
        "model name": model_name,
        "standard id": standard_id,
        "standard version": standard_version,
        "scope": scope,
    }
    for field, value in signed_text.items():
        if value is not None and (bad := first_unsafe(str(value))) is not None:
            raise CertificateError(f"{field} holds the control or formatting character {bad}")
    if notes is not None and (bad := first_unsafe(notes, free_text=True)) is not None:
        raise CertificateError(f"notes hold the control or formatting character {bad}")
    identity = dict(model_identity)
    identity.setdefault("digest", model_digest)
    if identity["digest"] != model_digest:
        raise CertificateError(
            f"model digest {model_digest} is not the digest of the model identity given "
            f"({identity['digest']})"
        )
    try:
        issued = utc_timestamp(now if now is not None else datetime.now(UTC))
    except ValueError as exc:
        raise CertificateError(str(exc)) from None
    key = load_private_key(Path(private_key_path))
    try:
        predicate = CertificatePredicate.model_validate(
            {
                "certificate_id": certificate_id or uuid.uuid4().hex,
                "standard": {
                    "id": standard_id,
                    "version": standard_version,
                    "digest": standard_digest,
                },
                "assessment_digest": assessment_digest,
                "verdict": "pass",
                "issuer": {"name": issuer, "key_id": key_id(key.public_key())},
                "issued_at": issued,
                "expires_at": issued + timedelta(days=validity_days),
                "model_identity": identity,
                "scope": scope,
                "notes": notes,
                "judges": [dict(j) for j in judges],
            }
        )
    except ValidationError as exc:
        raise CertificateError(f"cannot issue certificate: {_explain(exc)}") from None
    subject = model_name or default_subject_name(identity)
    return sign_envelope(certificate_statement(subject, predicate), key)


def write_certificate(envelope: Mapping[str, Any], path: Path | str) -> Path:
    """Write the envelope as JSON, atomically: a reader never sees half a certificate."""
    target = Path(path)
    write_json_atomic(target, dict(envelope))
    return target
