"""Verify a certificate offline: signature, validity period, revocation, model.

The checks run in that order and stop at the first failure. Nothing in the
payload is looked at before the signature over it has been checked against the
verifier's own public key, so a forged date or certificate id can never turn
into a misleading "expired" or "revoked": it is reported as tampered.

A bad certificate is an outcome, not an exception: every way a certificate can
fail has its own :class:`CertificateStatus`. Exceptions are kept for requests
that cannot be carried out (unreadable key, certificate or model path).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmcert._hashing import short
from llmcert.certificates._errors import CertificateError
from llmcert.certificates._statement import CertificatePredicate, format_timestamp, read_statement
from llmcert.supplychain.identity import digest_tree
from llmcert.supplychain.signing._dsse import open_envelope
from llmcert.supplychain.signing._keys import key_id, load_public_key

#: A certificate is a few kilobytes; anything far larger is not one.
MAX_CERTIFICATE_BYTES = 4 << 20

RevocationLookup = Callable[[str], str | None]


class CertificateStatus(StrEnum):
    """The outcome of a verification; only ``valid`` means the certificate holds."""

    VALID = "valid"
    TAMPERED = "tampered"
    WRONG_KEY = "wrong_key"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    WRONG_MODEL = "wrong_model"


@dataclass(frozen=True)
class CertificateCheck:
    """A verification's status and reason, with the signed predicate once it could be trusted.

    ``predicate`` is set only when the signature verified (every status but
    ``tampered`` and ``wrong_key``): an unverified payload is never handed out.
    """

    status: CertificateStatus
    details: str
    predicate: CertificatePredicate | None = None
    subject_name: str | None = None
    revocation_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is CertificateStatus.VALID

    @property
    def certificate_id(self) -> str | None:
        return self.predicate.certificate_id if self.predicate is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "ok": self.ok,
            "details": self.details,
            "certificate_id": self.certificate_id,
            "subject_name": self.subject_name,
            "revocation_reason": self.revocation_reason,
            "predicate": (
                self.predicate.model_dump(mode="json", exclude_none=True)
                if self.predicate is not None
                else None
            ),
        }


def read_certificate(path: Path | str) -> Any:
    """The JSON in a certificate file (not yet verified); CertificateError if unreadable."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_CERTIFICATE_BYTES + 1)
    except OSError as exc:
        raise CertificateError(f"cannot read certificate {p}: {exc.strerror}") from None
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise CertificateError(
            f"{p} is larger than {MAX_CERTIFICATE_BYTES} bytes: not a certificate"
        )
    return json.loads(data)


def _now(now: datetime | None) -> datetime:
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CertificateError("'now' must be timezone-aware (naive times are ambiguous)")
    return moment.astimezone(UTC)


def _model_mismatch(
    predicate: CertificatePredicate, model_path: Path | str | None, model_digest: str | None
) -> str | None:
    """Why the model at hand is not the certified one, or None if it is (or was not given)."""
    certified = predicate.model_digest
    artefact = predicate.artefact_digest
    if model_digest is not None and model_digest not in {certified, artefact}:
        return (
            f"model digest {short(model_digest)} is neither the certified identity "
            f"{short(certified)} nor its artefact {short(artefact or '')}"
        )
    if model_path is not None:
        if artefact is None:
            kind = predicate.model_identity.get("kind", "?")
            return f"the certificate is for a {kind} model with no artefact digest to compare files with"
        actual = digest_tree(model_path).root
        if actual != artefact:
            return (
                f"{model_path} has sha256 {short(actual)}, the certified artefact {short(artefact)}"
            )
    return None


def verify_certificate(
    envelope_or_path: Mapping[str, Any] | Path | str,
    *,
    public_key_path: Path | str,
    model_path: Path | str | None = None,
    model_digest: str | None = None,
    now: datetime | None = None,
    is_revoked: RevocationLookup | None = None,
) -> CertificateCheck:
    """Check a certificate against the issuer's public key, offline.

    ``model_path`` (a model file or folder) is digested and compared with the
    certified artefact digest; ``model_digest`` may be either the model's
    identity digest or its artefact digest. ``is_revoked`` maps a certificate id
    to a revocation reason, or None when not revoked; an exception from it
    propagates, since an unknown revocation state must not read as valid.
    """
    moment = _now(now)
    key = load_public_key(Path(public_key_path))
    envelope: Any = envelope_or_path
    if isinstance(envelope_or_path, str | os.PathLike):
        try:
            envelope = read_certificate(envelope_or_path)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return CertificateCheck(CertificateStatus.TAMPERED, f"certificate is not JSON ({exc})")

    opened = open_envelope(envelope, key)
    if opened.statement is None:
        status = (
            CertificateStatus.WRONG_KEY
            if opened.kind == "wrong-key"
            else CertificateStatus.TAMPERED
        )
        return CertificateCheck(status, opened.problem or "signature does not verify")
    try:
        predicate, subject_name = read_statement(opened.statement)
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) or "predicate"
            for e in exc.errors(include_input=False)
        )
        return CertificateCheck(
            CertificateStatus.TAMPERED, f"signed payload is not a valid certificate ({fields})"
        )
    except ValueError as exc:
        return CertificateCheck(
            CertificateStatus.TAMPERED, f"signed payload is not a valid certificate: {exc}"
        )
    verifier = key_id(key)
    if predicate.issuer.key_id != verifier:
        return CertificateCheck(
            CertificateStatus.TAMPERED,
            f"signed by key {verifier[:16]}… but names issuer key {predicate.issuer.key_id[:16]}…",
        )

    def result(
        status: CertificateStatus, details: str, reason: str | None = None
    ) -> CertificateCheck:
        return CertificateCheck(status, details, predicate, subject_name, reason)

    if moment < predicate.issued_at:
        return result(
            CertificateStatus.NOT_YET_VALID,
            f"valid from {format_timestamp(predicate.issued_at)}, it is {format_timestamp(moment)}",
        )
    if moment >= predicate.expires_at:
        return result(
            CertificateStatus.EXPIRED,
            f"expired at {format_timestamp(predicate.expires_at)}, it is {format_timestamp(moment)}",
        )
    if is_revoked is not None:
        reason = is_revoked(predicate.certificate_id)
        if reason is not None:
            return result(
                CertificateStatus.REVOKED,
                f"certificate {predicate.certificate_id} was revoked: {reason or 'no reason given'}",
                reason,
            )
    mismatch = _model_mismatch(predicate, model_path, model_digest)
    if mismatch is not None:
        return result(CertificateStatus.WRONG_MODEL, mismatch)
    return result(
        CertificateStatus.VALID,
        f"{predicate.standard.id} {predicate.standard.version} certificate "
        f"{predicate.certificate_id} issued by {predicate.issuer.name} "
        f"(key {verifier[:16]}…), valid until {format_timestamp(predicate.expires_at)}",
    )
