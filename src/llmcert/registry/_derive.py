"""Data tables checked against the audit log: every row's state re-derived from its entries.

The hash chain proves the log was not edited; it says nothing about the tables
beside it. Someone with database access could un-revoke a certificate or
insert an admin token and leave the log intact. :func:`verify_state` replays
the log (model registrations, filings and their moves, certificates and their
status changes, tokens and their revocation, attachments) and compares each
row with what the log says it must be. A row the log never created, a row the
log created that is gone, and a field that disagrees are each reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from llmcert._hashing import digest_json
from llmcert.registry._schema import (
    AttachmentRow,
    AuditRow,
    CertificateRow,
    FilingRow,
    ModelRow,
    TokenRow,
)
from llmcert.registry._states import FILING_FOR_CERTIFICATE, CertificateStatus

if TYPE_CHECKING:
    from llmcert.registry._store import Registry


@dataclass(frozen=True, slots=True)
class StateMismatch:
    """One row that is not what the audit log says: ``field`` is ``"row"`` for a missing or extra row."""

    kind: str
    record_id: str
    field: str
    in_table: str
    in_log: str

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.record_id}: {self.field} is {self.in_table!r} in the table, "
            f"{self.in_log!r} by the audit log"
        )


Expected = dict[str, dict[str, dict[str, Any]]]


def _entries(session: Session) -> Iterator[tuple[str, str, dict[str, Any]]]:
    query = (
        select(AuditRow.action, AuditRow.subject, cast(AuditRow.payload, Text))
        .order_by(AuditRow.seq)
        .execution_options(yield_per=500)
    )
    for action, subject, raw in session.execute(query):
        try:
            payload = json.loads(raw)
        except (TypeError, ValueError):
            continue  # verify_audit reports an unreadable entry
        yield action, subject.partition(":")[2], payload if isinstance(payload, dict) else {}


def _replay(session: Session) -> Expected:
    want: Expected = {k: {} for k in ("model", "filing", "certificate", "token", "attachment")}
    for action, subject, p in _entries(session):
        if action == "model.register":
            want["model"][subject] = {
                k: p.get(k) for k in ("name", "ref", "identity_digest", "owner")
            }
        elif action == "filing.submit":
            want["filing"][subject] = {
                "status": "submitted",
                "model_id": p.get("model"),
                "standard_ref": p.get("standard_ref"),
                "applicant": p.get("applicant"),
                "renews_certificate_id": p.get("renews"),
            }
        elif action == "filing.transition" and subject in want["filing"]:
            want["filing"][subject]["status"] = p.get("to")
        elif action == "attachment.add":
            want["attachment"][str(p.get("attachment"))] = {
                "filing_id": subject,
                "sha256": p.get("sha256"),
                "size": p.get("size"),
            }
        elif action == "certificate.add":
            want["certificate"][subject] = {
                "status": "valid",
                "filing_id": p.get("filing"),
                "model_digest": p.get("model_digest"),
                "standard_ref": p.get("standard_ref"),
                "envelope": p.get("envelope_digest"),
            }
            if p.get("filing") in want["filing"]:
                want["filing"][p["filing"]]["status"] = "certified"
        elif action == "certificate.status" and subject in want["certificate"]:
            want["certificate"][subject]["status"] = p.get("to")
            filing = want["filing"].get(str(p.get("filing")))
            if filing is not None:
                filing["status"] = FILING_FOR_CERTIFICATE[CertificateStatus(p["to"])].value
        elif action == "token.create":
            token = {"name": p.get("name"), "role": p.get("role"), "revoked": False}
            if "token_hash" in p:
                token["token_hash"] = p["token_hash"]
            want["token"][subject] = token
        elif action == "token.revoke" and subject in want["token"]:
            want["token"][subject]["revoked"] = True
    return want


def _actual(session: Session) -> Expected:
    have: Expected = {}
    have["model"] = {
        r.id: {"name": r.name, "ref": r.ref, "identity_digest": r.identity_digest, "owner": r.owner}
        for r in session.scalars(select(ModelRow))
    }
    have["filing"] = {
        r.id: {
            "status": r.status,
            "model_id": r.model_id,
            "standard_ref": r.standard_ref,
            "applicant": r.applicant,
            "renews_certificate_id": r.renews_certificate_id,
        }
        for r in session.scalars(select(FilingRow))
    }
    have["attachment"] = {
        r.id: {"filing_id": r.filing_id, "sha256": r.sha256, "size": r.size}
        for r in session.scalars(select(AttachmentRow))
    }
    have["certificate"] = {
        r.id: {
            "status": r.status,
            "filing_id": r.filing_id,
            "model_digest": r.model_digest,
            "standard_ref": r.standard_ref,
            "envelope": digest_json(r.envelope),
        }
        for r in session.scalars(select(CertificateRow))
    }
    have["token"] = {
        r.id: {
            "name": r.name,
            "role": r.role,
            "revoked": r.revoked_at is not None,
            "token_hash": r.token_hash,
        }
        for r in session.scalars(select(TokenRow))
    }
    return have


def verify_state(registry: Registry) -> list[StateMismatch]:
    """Every row that disagrees with the audit log (empty: the tables are what the log says)."""
    with Session(registry.engine) as session:
        want, have = _replay(session), _actual(session)
    found: list[StateMismatch] = []
    for kind in want:
        for record_id in sorted(set(want[kind]) | set(have[kind])):
            expected, actual = want[kind].get(record_id), have[kind].get(record_id)
            if expected is None:
                found.append(StateMismatch(kind, record_id, "row", "present", "never created"))
            elif actual is None:
                found.append(StateMismatch(kind, record_id, "row", "absent", "created"))
            else:
                for field, value in expected.items():
                    if actual.get(field) != value:
                        found.append(
                            StateMismatch(
                                kind, record_id, field, str(actual.get(field)), str(value)
                            )
                        )
    return found
