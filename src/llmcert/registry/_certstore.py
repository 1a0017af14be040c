"""Certificates in the registry: added to approved filings, then suspended, revoked or expired.

A certificate's status drives its filing's (``FILING_FOR_CERTIFICATE``), in the
same transaction, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from llmcert._hashing import digest_json
from llmcert.registry._audit import format_at
from llmcert.registry._base import (
    StoreBase,
    check_aware,
    check_text,
    json_document,
    parse_status,
)
from llmcert.registry._errors import IllegalTransition, RegistryError
from llmcert.registry._records import CertificateRecord, FilingRecord, ModelRecord
from llmcert.registry._schema import CertificateRow, FilingRow, ModelRow
from llmcert.registry._states import (
    CERTIFICATE_BOUND,
    CERTIFICATE_TRANSITIONS,
    FILING_FOR_CERTIFICATE,
    FILING_TRANSITIONS,
    CertificateStatus,
    FilingStatus,
)

# The public lookups (certificate API and page, verification) run on every request,
# so they are plain SQL statements built once, read on a pooled connection without
# an ORM session: a third of the cost of the session path for the same row.
_CERT, _FILING, _MODEL = CertificateRow.__table__, FilingRow.__table__, ModelRow.__table__
_BY_ID = select(_CERT).where(_CERT.c.id == bindparam("certificate_id"))
_VIEW = (
    select(_CERT, _FILING, _MODEL)
    .select_from(
        _CERT.join(_FILING, _FILING.c.id == _CERT.c.filing_id).join(
            _MODEL, _MODEL.c.id == _FILING.c.model_id
        )
    )
    .where(_CERT.c.id == bindparam("certificate_id"))
)


def _certificate_of(row: RowMapping) -> CertificateRecord:
    c = _CERT.c
    return CertificateRecord(
        row[c.id],
        row[c.filing_id],
        row[c.model_digest],
        row[c.standard_ref],
        row[c.envelope],
        row[c.issued_at],
        row[c.expires_at],
        CertificateStatus(row[c.status]),
        row[c.reason],
        row[c.status_changed_at],
    )


def _filing_of(row: RowMapping) -> FilingRecord:
    f = _FILING.c
    return FilingRecord(
        row[f.id],
        row[f.model_id],
        row[f.standard_ref],
        FilingStatus(row[f.status]),
        row[f.applicant],
        row[f.renews_certificate_id],
        row[f.created_at],
        row[f.updated_at],
    )


def _model_of(row: RowMapping) -> ModelRecord:
    m = _MODEL.c
    return ModelRecord(
        row[m.id], row[m.name], row[m.ref], row[m.identity_digest], row[m.owner], row[m.created_at]
    )


class CertificateStore(StoreBase):
    # -- certificates ---------------------------------------------------------

    def add_certificate(
        self,
        filing_id: str,
        *,
        certificate_id: str,
        envelope: Mapping[str, Any],
        issued_at: datetime,
        expires_at: datetime,
        actor: str,
    ) -> CertificateRecord:
        """Keep the signed certificate of an approved filing, which becomes ``certified``.

        The model digest and standard are taken from the filing, not from the
        caller, so a certificate can only be filed against what was assessed.
        """
        check_text(certificate_id, "certificate id", 64)
        issued_at = check_aware(issued_at, "issued_at")
        expires_at = check_aware(expires_at, "expires_at")
        if expires_at <= issued_at:
            raise RegistryError("a certificate must expire after it is issued")
        document = json_document(envelope, "certificate envelope")
        with self._write() as session:
            filing = self._get(session, FilingRow, filing_id, "filing")
            current = FilingStatus(filing.status)
            if current is not FilingStatus.APPROVED:
                raise IllegalTransition(
                    "filing",
                    filing_id,
                    current,
                    FilingStatus.CERTIFIED,
                    FILING_TRANSITIONS[current] - CERTIFICATE_BOUND,
                    hint="a certificate is added only to an approved filing",
                )
            if session.get(CertificateRow, certificate_id) is not None:
                raise RegistryError(f"certificate {certificate_id!r} is already registered")
            model = self._get(session, ModelRow, filing.model_id, "model")
            row = CertificateRow(
                id=certificate_id,
                filing_id=filing_id,
                model_digest=model.identity_digest,
                standard_ref=filing.standard_ref,
                envelope=document,
                issued_at=issued_at,
                expires_at=expires_at,
                status=CertificateStatus.VALID.value,
                reason=None,
                status_changed_at=None,
            )
            session.add(row)
            filing.status = FilingStatus.CERTIFIED.value
            filing.updated_at = now = self._now()
            self._audit(
                session,
                actor=actor,
                action="certificate.add",
                subject=f"certificate:{certificate_id}",
                payload={
                    "filing": filing_id,
                    "model_digest": model.identity_digest,
                    "standard_ref": filing.standard_ref,
                    "issued_at": format_at(issued_at),
                    "expires_at": format_at(expires_at),
                    "envelope_digest": digest_json(document),
                },
                at=now,
            )
            return CertificateRecord.of(row)

    def set_certificate_status(
        self, certificate_id: str, status: CertificateStatus | str, *, reason: str, actor: str
    ) -> CertificateRecord:
        """Suspend, revoke, reinstate or expire a certificate; its filing follows."""
        target = parse_status(CertificateStatus, status)
        check_text(reason, "reason", 2000, free_text=True)
        with self._write() as session:
            row = self._get(session, CertificateRow, certificate_id, "certificate")
            self._move_certificate(session, row, target, reason=reason, actor=actor)
            return CertificateRecord.of(row)

    def expire_certificates(self, *, actor: str, now: datetime | None = None) -> list[str]:
        """Mark every certificate past its ``expires_at`` as expired; returns their ids."""
        moment = check_aware(now, "now") if now is not None else self._now()
        live = [CertificateStatus.VALID.value, CertificateStatus.SUSPENDED.value]
        query = (
            select(CertificateRow)
            .where(CertificateRow.status.in_(live), CertificateRow.expires_at <= moment)
            .order_by(CertificateRow.id)
        )
        with self._write() as session:
            rows = list(session.scalars(query))
            for row in rows:
                self._move_certificate(
                    session,
                    row,
                    CertificateStatus.EXPIRED,
                    reason="validity period ended",
                    actor=actor,
                )
            return [row.id for row in rows]

    def _move_certificate(
        self,
        session: Session,
        row: CertificateRow,
        target: CertificateStatus,
        *,
        reason: str,
        actor: str,
    ) -> None:
        current = CertificateStatus(row.status)
        if target not in CERTIFICATE_TRANSITIONS[current]:
            raise IllegalTransition(
                "certificate", row.id, current, target, CERTIFICATE_TRANSITIONS[current]
            )
        filing = self._get(session, FilingRow, row.filing_id, "filing")
        now = self._now()
        row.status, row.reason, row.status_changed_at = target.value, reason, now
        filing.status = FILING_FOR_CERTIFICATE[target].value
        filing.updated_at = now
        self._audit(
            session,
            actor=actor,
            action="certificate.status",
            subject=f"certificate:{row.id}",
            payload={
                "from": current.value,
                "to": target.value,
                "reason": reason,
                "filing": row.filing_id,
            },
            at=now,
        )

    def find_certificate(self, certificate_id: str) -> CertificateRecord | None:
        row = self._lookup(_BY_ID, certificate_id)
        return _certificate_of(row) if row is not None else None

    def certificate_view(
        self, certificate_id: str
    ) -> tuple[CertificateRecord, FilingRecord, ModelRecord] | None:
        """A certificate with its filing and model, read together: one query, not three."""
        row = self._lookup(_VIEW, certificate_id)
        if row is None:
            return None
        return _certificate_of(row), _filing_of(row), _model_of(row)

    def _lookup(self, statement: Select[Any], certificate_id: str) -> RowMapping | None:
        with self.engine.connect() as connection:
            if self.dialect == "postgresql":
                # One statement reads one snapshot on its own; outside a transaction the
                # lookup makes one round trip instead of three (BEGIN, SELECT, ROLLBACK).
                connection.execution_options(isolation_level="AUTOCOMMIT")
            found = connection.execute(statement, {"certificate_id": certificate_id})
            return found.mappings().first()

    def revoked_certificates(self) -> list[dict[str, str]]:
        """Every revoked or suspended certificate, for a published revocation list."""
        query = select(CertificateRow).where(
            CertificateRow.status.in_(
                (CertificateStatus.REVOKED.value, CertificateStatus.SUSPENDED.value)
            )
        )
        with self._read() as session:
            return [
                {"certificate_id": r.id, "status": r.status, "reason": r.reason or ""}
                for r in session.scalars(query.order_by(CertificateRow.id))
            ]

    def revocation_reason(self, certificate_id: str) -> str | None:
        """For ``verify_certificate(is_revoked=...)``: why it may not be relied on, else None.

        A suspended certificate counts as revoked while suspended. An id this
        registry does not hold raises, since "unknown" must not read as "valid".
        """
        record = self.find_certificate(certificate_id)
        if record is None:
            raise RegistryError(f"certificate {certificate_id!r} is not in this registry")
        if record.status in (CertificateStatus.REVOKED, CertificateStatus.SUSPENDED):
            return f"{record.status.value}: {record.reason or 'no reason given'}"
        return None

    def search_certificates(
        self,
        query: str | None = None,
        standard: str | None = None,
        status: CertificateStatus | str | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
    ) -> list[CertificateRecord]:
        """Newest first. ``query`` matches id, model name/owner/digest or standard, any case;
        ``standard`` is a full ``id@version`` or just the standard's id."""
        for term, label in ((query, "search text"), (standard, "standard")):
            if term:
                check_text(term, label)  # NUL and control characters: refused on every database
        statement = (
            select(CertificateRow)
            .join(FilingRow, FilingRow.id == CertificateRow.filing_id)
            .join(ModelRow, ModelRow.id == FilingRow.model_id)
        )
        if query:
            needle = query.lower()
            columns = (
                CertificateRow.id,
                CertificateRow.model_digest,
                CertificateRow.standard_ref,
                ModelRow.name,
                ModelRow.owner,
            )
            statement = statement.where(
                or_(*(func.lower(c).contains(needle, autoescape=True) for c in columns))
            )
        if standard:
            statement = statement.where(
                or_(
                    CertificateRow.standard_ref == standard,
                    CertificateRow.standard_ref.startswith(standard + "@", autoescape=True),
                )
            )
        if status is not None:
            statement = statement.where(
                CertificateRow.status == parse_status(CertificateStatus, status).value
            )
        statement = statement.order_by(CertificateRow.issued_at.desc(), CertificateRow.id)
        statement = statement.limit(max(0, min(limit, 1000))).offset(max(0, offset))
        with self._read() as session:
            return [CertificateRecord.of(row) for row in session.scalars(statement)]
