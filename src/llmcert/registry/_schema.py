"""The registry's tables, as SQLAlchemy 2 typed declarative models.

One schema serves SQLite (embedded) and PostgreSQL (shared server), so only
portable types are used: strings for ids and statuses (checked by CHECK
constraints), JSON for documents, and a UTC timestamp type that reads back
exactly what was written on both back ends (the audit chain hashes it).
Constraint names come from a naming convention so migrations can address them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from llmcert.registry._states import CertificateStatus, FilingStatus, Role

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)
DIGEST = String(80)  # "sha256:" + 64 hex digits, with room to spare
NAME = String(200)
STATUS = String(32)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp that survives SQLite, which keeps no time zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("registry timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: type[FilingStatus | CertificateStatus | Role]) -> str:
    quoted = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class ModelRow(Base):
    """A model as the registry knows it: a name and reference for people, a digest for trust."""

    __tablename__ = "models"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    ref: Mapped[str] = mapped_column(String(2000))
    identity_digest: Mapped[str] = mapped_column(DIGEST, index=True)
    owner: Mapped[str] = mapped_column(NAME, index=True)
    created_at: Mapped[datetime]


class FilingRow(Base):
    """A request to certify one model against one standard version; walks the state machine."""

    __tablename__ = "filings"
    __table_args__ = (
        CheckConstraint(_one_of("status", FilingStatus), name="status"),
        UniqueConstraint("applicant", "submission_key", name="uq_filings_applicant_submission_key"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"), index=True)
    standard_ref: Mapped[str] = mapped_column(NAME, index=True)
    status: Mapped[str] = mapped_column(STATUS)
    applicant: Mapped[str] = mapped_column(NAME)
    # A renewal points at the certificate it renews; certificates point back at
    # their filing, so this side of the cycle is added after both tables exist.
    renews_certificate_id: Mapped[str | None] = mapped_column(
        ForeignKey("certificates.id", use_alter=True), index=True
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: The client's Idempotency-Key, so that a retried submission finds its first filing.
    submission_key: Mapped[str | None] = mapped_column(NAME)


class AttachmentRow(Base):
    """Evidence filed with a request: stored inline, or as a path with its digest."""

    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("filing_id", "name", name="uq_attachments_filing_id_name"),
        CheckConstraint("(content IS NULL) <> (path IS NULL)", name="content_or_path"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    filing_id: Mapped[str] = mapped_column(ForeignKey("filings.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(DIGEST)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(NAME)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(4000))
    created_at: Mapped[datetime]


class AssessmentRow(Base):
    """An assessment of a filing, kept whole (``body``) and by digest."""

    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    filing_id: Mapped[str] = mapped_column(ForeignKey("filings.id"), index=True)
    digest: Mapped[str] = mapped_column(DIGEST, index=True)
    verdict: Mapped[str] = mapped_column(STATUS)
    body: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]


class CertificateRow(Base):
    """A signed certificate (the envelope, verbatim) and its current registry status."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint(_one_of("status", CertificateStatus), name="status"),
        CheckConstraint("expires_at > issued_at", name="validity"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    filing_id: Mapped[str] = mapped_column(ForeignKey("filings.id"), index=True)
    model_digest: Mapped[str] = mapped_column(DIGEST, index=True)
    standard_ref: Mapped[str] = mapped_column(NAME, index=True)
    envelope: Mapped[dict[str, Any]]
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(STATUS, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]


class TokenRow(Base):
    """An API token. Only the sha256 of the secret is kept, never the secret."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_one_of("role", Role), name="role"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    role: Mapped[str] = mapped_column(STATUS)
    token_hash: Mapped[str] = mapped_column(DIGEST, unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditRow(Base):
    """One link of the append-only audit chain (see ``_audit``)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_subject", "subject"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(NAME)
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(NAME)
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(DIGEST)
    hash: Mapped[str] = mapped_column(DIGEST, unique=True)
