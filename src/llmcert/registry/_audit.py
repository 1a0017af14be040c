"""The audit log: an append-only hash chain over every change the registry makes.

Each entry's ``hash`` is the digest of the canonical JSON of its own fields
(seq, at, actor, action, subject, payload) and of ``prev_hash``, the previous
entry's hash. Editing, deleting, inserting or reordering an entry therefore
breaks either the entry's own hash, the link to its predecessor, or the run of
sequence numbers, and :func:`verify_audit` names the first place it breaks.

A chain alone cannot show that its newest entries were cut off, or that the
whole tail was rewritten by someone able to recompute it; for that a verifier
passes an *anchor*, a ``(seq, hash)`` pair published or kept elsewhere earlier.

Appends are serialised: on PostgreSQL by an EXCLUSIVE lock on the table (reads
go on), on SQLite by the store's writes starting with BEGIN IMMEDIATE, so two
writers can never both take the same ``seq`` or link to the same predecessor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast, select, text
from sqlalchemy.orm import Session

from llmcert._hashing import canonical_json, digest_json
from llmcert.registry._schema import AuditRow

if TYPE_CHECKING:
    from llmcert.registry._store import Registry

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "sha256:" + "0" * 64


def format_at(at: datetime) -> str:
    """The one text form of a timestamp that is hashed: UTC, microseconds, ISO 8601."""
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
    prev_hash: str,
) -> str:
    return digest_json(
        {
            "seq": seq,
            "at": format_at(at),
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )


def lock_chain(session: Session) -> None:
    """Hold the chain for this transaction (PostgreSQL); SQLite writers already hold the file."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE audit_entries IN EXCLUSIVE MODE"))


def append_entry(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
) -> AuditRow:
    """Add the next link inside the caller's transaction, so it commits with the change."""
    lock_chain(session)
    # Stored as it will read back: canonical JSON has no tuples, NaN or non-str keys.
    stored: dict[str, Any] = json.loads(canonical_json(dict(payload)))
    last = session.execute(
        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last is not None else (1, GENESIS_HASH)
    row = AuditRow(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        payload=stored,
        prev_hash=prev_hash,
        hash=entry_hash(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            payload=stored,
            prev_hash=prev_hash,
        ),
    )
    session.add(row)
    session.flush()
    return row


class AuditProblem(StrEnum):
    HASH_MISMATCH = "hash_mismatch"  # the entry's fields were changed after it was written
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous entry's hash
    MISSING = "missing"  # a sequence number is absent (deleted entry)
    UNREADABLE = "unreadable"  # the stored payload is no longer JSON
    ANCHOR_MISMATCH = "anchor_mismatch"  # the entry at the anchor has another hash
    TRUNCATED = "truncated"  # the chain ends before the anchor


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The outcome of a verification. ``first_bad_seq`` is where the chain first fails."""

    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: AuditProblem | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_audit(registry: Registry, *, anchor: tuple[int, str] | None = None) -> AuditReport:
    """Walk the whole chain in ``seq`` order and stop at the first fault."""
    columns = (
        AuditRow.seq,
        AuditRow.at,
        AuditRow.actor,
        AuditRow.action,
        AuditRow.subject,
        cast(AuditRow.payload, Text),
        AuditRow.prev_hash,
        AuditRow.hash,
    )
    count, prev_seq, prev_hash = 0, 0, GENESIS_HASH

    def bad(seq: int, problem: AuditProblem, detail: str) -> AuditReport:
        return AuditReport(count, prev_seq, prev_hash, seq, problem, detail)

    with Session(registry.engine) as session:
        query = select(*columns).order_by(AuditRow.seq).execution_options(yield_per=500)
        for seq, at, actor, action, subject, raw, stored_prev, stored_hash in session.execute(
            query
        ):
            if seq != prev_seq + 1:
                return bad(prev_seq + 1, AuditProblem.MISSING, f"next entry found is {seq}")
            try:
                payload = json.loads(raw)
            except (TypeError, ValueError):
                return bad(seq, AuditProblem.UNREADABLE, "payload is not JSON")
            expected = entry_hash(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                payload=payload,
                prev_hash=stored_prev,
            )
            if expected != stored_hash:
                return bad(seq, AuditProblem.HASH_MISMATCH, "entry differs from what was hashed")
            if stored_prev != prev_hash:
                return bad(seq, AuditProblem.BROKEN_LINK, "prev_hash is not the previous hash")
            if anchor is not None and seq == anchor[0] and stored_hash != anchor[1]:
                return bad(seq, AuditProblem.ANCHOR_MISMATCH, "hash differs from the anchor")
            count, prev_seq, prev_hash = count + 1, seq, stored_hash
    if anchor is not None and prev_seq < anchor[0]:
        return bad(prev_seq + 1, AuditProblem.TRUNCATED, f"chain ends before anchor {anchor[0]}")
    return AuditReport(count, prev_seq, prev_hash)
