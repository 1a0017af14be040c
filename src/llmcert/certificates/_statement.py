"""A certificate is an in-toto Statement v1 whose subject is the model.

The subject names the model by the digest of its :class:`ModelIdentity`, so a
certificate covers exactly the identity the assessment ran against; the
artefact digest inside the predicate lets anyone holding the model file check
it with ``sha256sum`` alone. The predicate is validated on the way in and on
the way out with one pydantic model, so an issuer cannot sign what a verifier
would refuse to read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from llmcert.models._types import ModelIdentity
from llmcert.supplychain.signing._dsse import STATEMENT_TYPE, statement

CERTIFICATE_PREDICATE_TYPE = "https://llmcert.dev/certificate/v1"

_SHA256 = r"^sha256:[0-9a-f]{64}$"
_SHA256_RE = re.compile(_SHA256)
#: URL query parameters whose values are credentials, never to be signed.
_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "credential", "signature")
_IDENTITY_FIELDS = (
    "kind",
    "ref",
    "artefact_digest",
    "artefact_path",
    "endpoint",
    "reported_model",
    "fingerprint",
    "chat_template_digest",
    "engine",
    "details",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StandardRef(_Frozen):
    """Which standard, at which version, the model was certified against."""

    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    digest: str | None = Field(None, pattern=_SHA256, description="sha256 of the canonical spec")


class IssuerInfo(_Frozen):
    """Who signed: a human-readable name and the sha256 of the signing public key."""

    name: str = Field(min_length=1)
    key_id: str = Field(pattern=r"^[0-9a-f]{64}$")


def utc_timestamp(moment: datetime) -> datetime:
    """Whole seconds in UTC: certificates state validity to the second, never in local time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a certificate time must be timezone-aware (naive times are ambiguous)")
    return moment.astimezone(UTC).replace(microsecond=0)


def format_timestamp(moment: datetime) -> str:
    return utc_timestamp(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


class CertificatePredicate(_Frozen):
    """What the issuer asserts about the subject model (predicate of ``certificate/v1``)."""

    certificate_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="uuid4 hex")
    standard: StandardRef
    assessment_digest: str = Field(pattern=_SHA256, description="sha256 of the assessment JSON")
    verdict: Literal["pass"] = Field(description="only a passing assessment is ever certified")
    issuer: IssuerInfo
    issued_at: datetime = Field(description="ISO-8601 UTC; also the start of validity")
    expires_at: datetime = Field(description="ISO-8601 UTC; end of validity")
    model_identity: dict[str, Any] = Field(description="ModelIdentity.to_dict() of the model")
    scope: str | None = Field(None, description="what the certificate covers, if narrower")
    notes: str | None = None
    judges: tuple[dict[str, Any], ...] = Field(
        (),
        description=(
            "each judge behind a judged verdict: name, version, digest, data_digest, "
            "calibration_digest and the requirements it decided"
        ),
    )

    @field_validator("issued_at", "expires_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return utc_timestamp(value)

    @field_serializer("issued_at", "expires_at")
    def _iso(self, value: datetime) -> str:
        return format_timestamp(value)

    @field_validator("model_identity")
    @classmethod
    def _identity(cls, value: dict[str, Any]) -> dict[str, Any]:
        digest = value.get("digest")
        if not isinstance(digest, str) or not _SHA256_RE.match(digest):
            raise ValueError("model identity needs its 'digest' (sha256:<hex>)")
        recomputed = identity_digest(value)
        if recomputed is not None and recomputed != digest:
            raise ValueError("model identity 'digest' does not match its own fields")
        leak = find_secret(value)
        if leak is not None:
            raise ValueError(f"model identity carries a credential in {leak}; remove it")
        return value

    @model_validator(mode="after")
    def _period(self) -> CertificatePredicate:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be later than issued_at")
        return self

    @property
    def model_digest(self) -> str:
        return str(self.model_identity["digest"])

    @property
    def artefact_digest(self) -> str | None:
        value = self.model_identity.get("artefact_digest")
        return value if isinstance(value, str) else None


def identity_digest(identity: Mapping[str, Any]) -> str | None:
    """Recompute ``ModelIdentity.digest`` from its dict form (None if it is not one)."""
    try:
        fields = {k: identity[k] for k in _IDENTITY_FIELDS if k in identity}
        return ModelIdentity(**fields).digest
    except (TypeError, ValueError):
        return None


def find_secret(value: Any, where: str = "model identity") -> str | None:
    """Name the first place a credential would be signed into a public document, if any.

    Endpoint URLs are the usual culprit: ``https://user:pass@host`` or
    ``?api_key=...``. A certificate is published, so such values are refused.
    """
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = find_secret(v, f"{where}.{k}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = find_secret(v, f"{where}[{i}]")
            if found is not None:
                return found
    elif isinstance(value, str) and "://" in value:
        try:
            url = urlsplit(value)
        except ValueError:
            return None
        if url.password:
            return where
        for name, _ in parse_qsl(url.query, keep_blank_values=True):
            if any(w in name.lower() for w in _SECRET_WORDS):
                return where
    return None


def default_subject_name(identity: Mapping[str, Any]) -> str:
    """A readable name for the subject; the digest, not the name, is what binds."""
    details = identity.get("details")
    if isinstance(details, Mapping) and details.get("name"):
        return str(details["name"])
    for key in ("reported_model", "ref"):
        if identity.get(key):
            return str(identity[key])
    return "model"


def certificate_statement(subject_name: str, predicate: CertificatePredicate) -> dict[str, Any]:
    """The in-toto Statement v1 for a certificate (unsigned)."""
    return statement(
        subject_name,
        predicate.model_digest,
        CERTIFICATE_PREDICATE_TYPE,
        predicate.model_dump(mode="json", exclude_none=True),
    )


def read_statement(stmt: Mapping[str, Any]) -> tuple[CertificatePredicate, str]:
    """The predicate and subject name of a (verified) statement; ValueError if it is no certificate."""
    if stmt.get("_type") != STATEMENT_TYPE:
        raise ValueError("not an in-toto Statement v1")
    if stmt.get("predicateType") != CERTIFICATE_PREDICATE_TYPE:
        raise ValueError(f"predicate type {stmt.get('predicateType')!r} is not a certificate")
    subjects = stmt.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise ValueError("a certificate has exactly one subject")
    digest = subjects[0].get("digest")
    if not isinstance(digest, dict) or set(digest) != {"sha256"}:
        raise ValueError("the subject must carry exactly one sha256 digest")
    predicate = CertificatePredicate.model_validate(stmt.get("predicate"))
    if f"sha256:{digest['sha256']}" != predicate.model_digest:
        raise ValueError("subject digest differs from the model identity in the predicate")
    return predicate, str(subjects[0].get("name", ""))
