"""The registry as the services see it: models, filings, evidence, certificates.

Each operation is one transaction holding the change and its audit entry. A
refused operation (unknown id, illegal move, bad input) raises before commit,
so it changes nothing. Results are frozen records (``_records``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from llmcert._hashing import digest_bytes, digest_file
from llmcert.registry._base import (
    check_digest,
    check_text,
    json_document,
    new_id,
    parse_status,
)
from llmcert.registry._certstore import CertificateStore
from llmcert.registry._errors import IllegalTransition, QuotaExceeded, RegistryError
from llmcert.registry._records import (
    AssessmentRecord,
    AttachmentRecord,
    AuditRecord,
    FilingRecord,
    ModelRecord,
)
from llmcert.registry._schema import (
    AssessmentRow,
    AttachmentRow,
    AuditRow,
    CertificateRow,
    FilingRow,
    ModelRow,
)
from llmcert.registry._states import (
    ASSESSABLE,
    CERTIFICATE_BOUND,
    FILING_TRANSITIONS,
    CertificateStatus,
    FilingStatus,
)
from llmcert.registry._tokens import TokenStore

#: Filings still in the applicant's hands or the registry's: not yet decided.
OPEN_STATUSES = (
    FilingStatus.SUBMITTED.value,
    FilingStatus.ASSESSING.value,
    FilingStatus.AWAITING_REVIEW.value,
)


@dataclass(frozen=True)
class NewAttachment:
    """An evidence document filed inline with a submission."""

    name: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class FilingQuota:
    """What one applicant may hold: open filings, and attachment bytes over all filings."""

    max_open_filings: int
    max_attachment_bytes: int


class Registry(CertificateStore, TokenStore):
    """The certification registry over one database (open it with ``open_registry``)."""

    # -- models ---------------------------------------------------------------

    def register_model(
        self, *, name: str, ref: str, identity_digest: str, owner: str, actor: str
    ) -> ModelRecord:
        row = ModelRow(
            id=new_id(),
            name=check_text(name, "model name"),
            ref=check_text(ref, "model ref", 2000),
            identity_digest=check_digest(identity_digest, "identity digest"),
            owner=check_text(owner, "owner"),
            created_at=self._now(),
        )
        with self._write() as session:
            session.add(row)
            self._audit(
                session,
                actor=actor,
                action="model.register",
                subject=f"model:{row.id}",
                payload={
                    "name": name,
                    "ref": ref,
                    "identity_digest": identity_digest,
                    "owner": owner,
                },
                at=row.created_at,
            )
            return ModelRecord.of(row)

    def get_model(self, model_id: str) -> ModelRecord:
        with self._read() as session:
            return ModelRecord.of(self._get(session, ModelRow, model_id, "model"))

    def find_model(self, identity_digest: str) -> ModelRecord | None:
        """The first model registered with this identity digest, if any."""
        query = (
            select(ModelRow)
            .where(ModelRow.identity_digest == identity_digest)
            .order_by(ModelRow.created_at, ModelRow.id)
            .limit(1)
        )
        with self._read() as session:
            row = session.scalar(query)
            return None if row is None else ModelRecord.of(row)

    # -- filings --------------------------------------------------------------

    def submit_filing(
        self,
        model_id: str,
        standard_ref: str,
        *,
        applicant: str,
        actor: str,
        renews: str | None = None,
        attachments: Sequence[NewAttachment] = (),
        submission_key: str | None = None,
        quota: FilingQuota | None = None,
    ) -> FilingRecord:
        """File a model for certification (see :meth:`file`, which also says if it was new)."""
        return self.file(
            model_id,
            standard_ref,
            applicant=applicant,
            actor=actor,
            renews=renews,
            attachments=attachments,
            submission_key=submission_key,
            quota=quota,
        )[0]

    def file(
        self,
        model_id: str,
        standard_ref: str,
        *,
        applicant: str,
        actor: str,
        renews: str | None = None,
        attachments: Sequence[NewAttachment] = (),
        submission_key: str | None = None,
        quota: FilingQuota | None = None,
    ) -> tuple[FilingRecord, bool]:
        """File a model with its evidence, in one transaction: all of it appears, or none.

        Returns the filing and whether it is new (False: the submission key's earlier one).

        ``renews`` names the certificate a renewal replaces. With a
        ``submission_key`` a second submission by the same applicant with the
        same key returns the first filing unchanged. ``quota`` bounds the
        applicant's open filings and stored attachment bytes, checked under the
        same write lock, so concurrent submissions cannot overrun it.
        """
        check_text(standard_ref, "standard ref")
        check_text(applicant, "applicant")
        if submission_key is not None:
            check_text(submission_key, "idempotency key")
        names = [a.name for a in attachments]
        if len(set(names)) != len(names):
            raise RegistryError("two attachments have the same name")
        for attachment in attachments:
            check_text(attachment.name, "attachment name", 300)
            check_text(attachment.media_type, "media type")
        now = self._now()
        with self._write() as session:
            if submission_key is not None:
                earlier = session.scalar(
                    select(FilingRow).where(
                        FilingRow.applicant == applicant,
                        FilingRow.submission_key == submission_key,
                    )
                )
                if earlier is not None:
                    return FilingRecord.of(earlier), False
            self._get(session, ModelRow, model_id, "model")
            if renews is not None:
                old = self._get(session, CertificateRow, renews, "certificate")
                if old.status == CertificateStatus.REVOKED:
                    raise RegistryError(f"certificate {renews!r} is revoked and cannot be renewed")
            if quota is not None:
                self._check_quota(session, applicant, quota, attachments)
            row = FilingRow(
                id=new_id(),
                model_id=model_id,
                standard_ref=standard_ref,
                status=FilingStatus.SUBMITTED.value,
                applicant=applicant,
                renews_certificate_id=renews,
                created_at=now,
                updated_at=now,
                submission_key=submission_key,
            )
            session.add(row)
            self._audit(
                session,
                actor=actor,
                action="filing.submit",
                subject=f"filing:{row.id}",
                payload={
                    "model": model_id,
                    "standard_ref": standard_ref,
                    "applicant": applicant,
                    "renews": renews,
                },
                at=now,
            )
            session.flush()
            for attachment in attachments:
                self._add_attachment_row(
                    session,
                    row.id,
                    attachment.name,
                    attachment.media_type,
                    attachment.content,
                    None,
                    actor=actor,
                    at=now,
                )
            return FilingRecord.of(row), True

    @staticmethod
    def _check_quota(
        session: Session, applicant: str, quota: FilingQuota, adding: Sequence[NewAttachment]
    ) -> None:
        open_filings = session.scalar(
            select(func.count())
            .select_from(FilingRow)
            .where(FilingRow.applicant == applicant, FilingRow.status.in_(OPEN_STATUSES))
        )
        if (open_filings or 0) >= quota.max_open_filings:
            raise QuotaExceeded(
                f"at most {quota.max_open_filings} filings may be open at once; "
                "wait for a decision on one"
            )
        stored = session.scalar(
            select(func.coalesce(func.sum(AttachmentRow.size), 0))
            .join(FilingRow, FilingRow.id == AttachmentRow.filing_id)
            .where(FilingRow.applicant == applicant)
        )
        if int(stored or 0) + sum(len(a.content) for a in adding) > quota.max_attachment_bytes:
            raise QuotaExceeded(
                f"attachments would exceed this applicant's {quota.max_attachment_bytes} bytes"
            )

    def get_filing(self, filing_id: str) -> FilingRecord:
        with self._read() as session:
            return FilingRecord.of(self._get(session, FilingRow, filing_id, "filing"))

    def list_filings(
        self, *, model_id: str | None = None, status: FilingStatus | str | None = None
    ) -> list[FilingRecord]:
        query = select(FilingRow).order_by(FilingRow.created_at, FilingRow.id)
        if model_id is not None:
            query = query.where(FilingRow.model_id == model_id)
        if status is not None:
            query = query.where(FilingRow.status == parse_status(FilingStatus, status).value)
        with self._read() as session:
            return [FilingRecord.of(row) for row in session.scalars(query)]

    def transition_filing(
        self, filing_id: str, to: FilingStatus | str, *, actor: str, note: str = ""
    ) -> FilingRecord:
        """Move a filing along the workflow (not into or out of ``certified``: see certificates)."""
        target = parse_status(FilingStatus, to)
        if note:
            check_text(note, "note", 2000, free_text=True)
        with self._write() as session:
            row = self._get(session, FilingRow, filing_id, "filing")
            current = FilingStatus(row.status)
            allowed = FILING_TRANSITIONS[current] - CERTIFICATE_BOUND
            if target not in allowed:
                hint = ""
                if target in CERTIFICATE_BOUND:
                    hint = "this status follows the certificate: use add_certificate or "
                    hint += "set_certificate_status"
                raise IllegalTransition("filing", filing_id, current, target, allowed, hint=hint)
            row.status = target.value
            row.updated_at = now = self._now()
            self._audit(
                session,
                actor=actor,
                action="filing.transition",
                subject=f"filing:{filing_id}",
                payload={"from": current.value, "to": target.value, "note": note},
                at=now,
            )
            return FilingRecord.of(row)

    # -- evidence -------------------------------------------------------------

    def add_attachment(
        self,
        filing_id: str,
        name: str,
        *,
        media_type: str,
        actor: str,
        content: bytes | None = None,
        path: Path | str | None = None,
    ) -> AttachmentRecord:
        """Attach evidence, inline (``content``) or by ``path``; its digest is taken here."""
        check_text(name, "attachment name", 300)
        check_text(media_type, "media type")
        if (content is None) == (path is None):
            raise RegistryError("give an attachment either content or a path, not both")
        with self._write() as session:
            self._get(session, FilingRow, filing_id, "filing")
            return self._add_attachment_row(
                session, filing_id, name, media_type, content, path, actor=actor, at=self._now()
            )

    def _add_attachment_row(
        self,
        session: Session,
        filing_id: str,
        name: str,
        media_type: str,
        content: bytes | None,
        path: Path | str | None,
        *,
        actor: str,
        at: datetime,
    ) -> AttachmentRecord:
        if content is not None:
            sha256, size, stored_path = digest_bytes(content), len(content), None
        else:
            source = Path(path)  # type: ignore[arg-type]
            if not source.is_file():
                raise RegistryError(f"attachment path {str(source)!r} is not a file")
            sha256, size, stored_path = digest_file(source), source.stat().st_size, str(source)
        taken = select(AttachmentRow.id).where(
            AttachmentRow.filing_id == filing_id, AttachmentRow.name == name
        )
        if session.scalar(taken) is not None:
            raise RegistryError(f"filing {filing_id!r} already has an attachment {name!r}")
        row = AttachmentRow(
            id=new_id(),
            filing_id=filing_id,
            name=name,
            sha256=sha256,
            size=size,
            media_type=media_type,
            content=content,
            path=stored_path,
            created_at=at,
        )
        session.add(row)
        self._audit(
            session,
            actor=actor,
            action="attachment.add",
            subject=f"filing:{filing_id}",
            payload={"attachment": row.id, "name": name, "sha256": sha256, "size": size},
            at=at,
        )
        return AttachmentRecord.of(row)

    def list_attachments(self, filing_id: str) -> list[AttachmentRecord]:
        query = select(AttachmentRow).where(AttachmentRow.filing_id == filing_id)
        with self._read() as session:
            return [
                AttachmentRecord.of(r) for r in session.scalars(query.order_by(AttachmentRow.name))
            ]

    def attachment_content(self, attachment_id: str) -> bytes | None:
        """The stored bytes, or None for an attachment kept by path."""
        with self._read() as session:
            return self._get(session, AttachmentRow, attachment_id, "attachment").content

    def record_assessment(
        self, filing_id: str, *, digest: str, verdict: str, body: Mapping[str, Any], actor: str
    ) -> AssessmentRecord:
        check_digest(digest, "assessment digest")
        check_text(verdict, "verdict", 32)
        document = json_document(body, "assessment")
        with self._write() as session:
            filing = self._get(session, FilingRow, filing_id, "filing")
            if FilingStatus(filing.status) not in ASSESSABLE:
                raise RegistryError(
                    f"filing {filing_id!r} is {filing.status!r}; assessments are recorded "
                    f"while it is {' or '.join(sorted(ASSESSABLE))}"
                )
            row = AssessmentRow(
                id=new_id(),
                filing_id=filing_id,
                digest=digest,
                verdict=verdict,
                body=document,
                recorded_at=self._now(),
            )
            session.add(row)
            self._audit(
                session,
                actor=actor,
                action="assessment.record",
                subject=f"filing:{filing_id}",
                payload={"assessment": row.id, "digest": digest, "verdict": verdict},
                at=row.recorded_at,
            )
            return AssessmentRecord.of(row)

    def list_assessments(self, filing_id: str) -> list[AssessmentRecord]:
        query = select(AssessmentRow).where(AssessmentRow.filing_id == filing_id)
        with self._read() as session:
            rows = session.scalars(query.order_by(AssessmentRow.recorded_at, AssessmentRow.id))
            return [AssessmentRecord.of(r) for r in rows]

    # -- audit ----------------------------------------------------------------

    def audit_head(self) -> tuple[int, str]:
        """The newest entry's (seq, hash); (0, GENESIS_HASH) for an empty log."""
        from llmcert.registry._audit import GENESIS_HASH

        query = select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
        with self._read() as session:
            row = session.execute(query).first()
        return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)

    def audit_entries(
        self, *, subject: str | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        query = select(AuditRow).where(AuditRow.seq > after_seq)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        query = query.order_by(AuditRow.seq).limit(max(0, min(limit, 10_000)))
        with self._read() as session:
            return [AuditRecord.of(row) for row in session.scalars(query)]
