"""The audit chain: valid after real use; edits, deletions, insertions and reorders are named."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from sqlalchemy import text

from llmcert._hashing import canonical_json
from llmcert.registry import (
    GENESIS_HASH,
    AuditProblem,
    AuditRecord,
    Registry,
    entry_hash,
    open_registry,
    verify_audit,
)
from tests.registry._helpers import certify, new_filing


def _fill(registry: Registry) -> list[AuditRecord]:
    filing = new_filing(registry)
    registry.add_attachment(filing.id, "bom.json", media_type="application/json", content=b"{}",
                            actor="applicant-1")  # fmt: skip
    certify(registry, filing)
    registry.create_token("bot", "applicant", actor="admin")
    entries = registry.audit_entries()
    assert len(entries) == 8
    return entries


def _sql(registry: Registry, statement: str, **params: Any) -> None:
    with registry.engine.begin() as connection:
        connection.execute(text(statement), params)


def _insert(registry: Registry, entry: AuditRecord) -> None:
    payload = canonical_json(entry.payload).decode()
    cast = "CAST(:payload AS JSON)" if registry.dialect == "postgresql" else ":payload"
    _sql(
        registry,
        "INSERT INTO audit_entries (seq, at, actor, action, subject, payload, prev_hash, hash) "
        f"VALUES (:seq, :at, :actor, :action, :subject, {cast}, :prev_hash, :hash)",
        seq=entry.seq, at=entry.at if registry.dialect == "postgresql" else
        entry.at.replace(tzinfo=None), actor=entry.actor, action=entry.action,
        subject=entry.subject, payload=payload, prev_hash=entry.prev_hash, hash=entry.hash,
    )  # fmt: skip


def _forged(template: AuditRecord, *, seq: int, prev_hash: str) -> AuditRecord:
    """A well-formed entry, hashed correctly, as someone knowing the scheme would write it."""
    fields = {
        "seq": seq,
        "at": template.at,
        "actor": "mallory",
        "action": "certificate.add",
        "subject": "certificate:forged",
        "payload": {"forged": True},
        "prev_hash": prev_hash,
    }
    return AuditRecord(**fields, hash=entry_hash(**fields))  # type: ignore[arg-type]


def _shift_up(registry: Registry, from_seq: int, last: int) -> None:
    for seq in range(last, from_seq - 1, -1):  # one row at a time keeps seq unique
        _sql(registry, "UPDATE audit_entries SET seq = seq + 1 WHERE seq = :s", s=seq)


def test_chain_of_real_operations_verifies(registry: Registry) -> None:
    entries = _fill(registry)
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.seq for e in entries] == list(range(1, 9))
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    report = verify_audit(registry)
    assert report.ok
    assert (report.entries, report.head_seq, report.head_hash) == (8, 8, entries[-1].hash)
    assert verify_audit(registry, anchor=(5, entries[4].hash)).ok


def test_empty_chain_verifies(registry: Registry) -> None:
    report = verify_audit(registry)
    assert report.ok
    assert (report.entries, report.head_hash) == (0, GENESIS_HASH)


def test_edited_entry_is_named(registry: Registry) -> None:
    _fill(registry)
    _sql(registry, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3")
    report = verify_audit(registry)
    assert (report.ok, report.first_bad_seq, report.problem) == (
        False,
        3,
        AuditProblem.HASH_MISMATCH,
    )
    assert report.head_seq == 2


def test_edited_payload_is_named(registry: Registry) -> None:
    _fill(registry)
    new = '{"from": "awaiting_review", "to": "approved", "note": "waved through"}'
    _sql(registry, "UPDATE audit_entries SET payload = :p WHERE seq = 5", p=new)
    report = verify_audit(registry)
    assert (report.first_bad_seq, report.problem) == (5, AuditProblem.HASH_MISMATCH)


def test_deleted_entry_is_named(registry: Registry) -> None:
    _fill(registry)
    _sql(registry, "DELETE FROM audit_entries WHERE seq = 4")
    report = verify_audit(registry)
    assert (report.first_bad_seq, report.problem) == (4, AuditProblem.MISSING)


def test_deleted_and_renumbered_entry_is_named(registry: Registry) -> None:
    _fill(registry)
    _sql(registry, "DELETE FROM audit_entries WHERE seq = 4")
    for seq in range(5, 9):
        _sql(registry, "UPDATE audit_entries SET seq = seq - 1 WHERE seq = :s", s=seq)
    report = verify_audit(registry)
    assert (report.first_bad_seq, report.problem) == (4, AuditProblem.HASH_MISMATCH)


def test_inserted_entry_is_named(registry: Registry) -> None:
    entries = _fill(registry)
    _shift_up(registry, 4, 8)
    _insert(registry, _forged(entries[2], seq=4, prev_hash=entries[2].hash))
    report = verify_audit(registry)
    # The forged entry itself hashes and links correctly; the entry it displaced does not.
    assert (report.first_bad_seq, report.problem) == (5, AuditProblem.HASH_MISMATCH)


def test_appended_entry_with_a_wrong_link_is_named(registry: Registry) -> None:
    entries = _fill(registry)
    _insert(registry, _forged(entries[-1], seq=9, prev_hash=entries[3].hash))
    report = verify_audit(registry)
    assert (report.first_bad_seq, report.problem) == (9, AuditProblem.BROKEN_LINK)


def test_reordered_entries_are_named(registry: Registry) -> None:
    _fill(registry)
    _sql(registry, "UPDATE audit_entries SET seq = 100 WHERE seq = 3")
    _sql(registry, "UPDATE audit_entries SET seq = 3 WHERE seq = 6")
    _sql(registry, "UPDATE audit_entries SET seq = 6 WHERE seq = 100")
    report = verify_audit(registry)
    assert (report.first_bad_seq, report.problem) == (3, AuditProblem.HASH_MISMATCH)


def test_rewritten_tail_is_caught_by_an_anchor(registry: Registry) -> None:
    entries = _fill(registry)
    anchor = (8, entries[-1].hash)
    _sql(registry, "DELETE FROM audit_entries WHERE seq >= 6")
    prev = entries[4].hash
    for seq in range(6, 9):  # a consistent forgery of the last three entries
        forged = _forged(entries[seq - 1], seq=seq, prev_hash=prev)
        _insert(registry, forged)
        prev = forged.hash
    assert verify_audit(registry).ok
    report = verify_audit(registry, anchor=anchor)
    assert (report.first_bad_seq, report.problem) == (8, AuditProblem.ANCHOR_MISMATCH)


def test_truncated_tail_is_caught_by_an_anchor(registry: Registry) -> None:
    entries = _fill(registry)
    _sql(registry, "DELETE FROM audit_entries WHERE seq >= 7")
    assert verify_audit(registry).ok
    report = verify_audit(registry, anchor=(8, entries[-1].hash))
    assert (report.first_bad_seq, report.problem) == (7, AuditProblem.TRUNCATED)


def test_unreadable_payload_is_named(tmp_path: Any) -> None:
    # Only SQLite lets a JSON column hold text that is not JSON.
    registry = open_registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    try:
        _fill(registry)
        _sql(registry, "UPDATE audit_entries SET payload = '{broken' WHERE seq = 2")
        report = verify_audit(registry)
        assert (report.first_bad_seq, report.problem) == (2, AuditProblem.UNREADABLE)
    finally:
        registry.close()


def test_concurrent_writers_keep_one_valid_chain(db_url: str) -> None:
    # Two registries on one database stand for two processes; threads write through both.
    first, second = open_registry(db_url), open_registry(db_url)
    threads_per_registry, rounds = 4, 3
    errors: list[BaseException] = []
    start = threading.Barrier(2 * threads_per_registry)

    def writer(registry: Registry, name: str) -> None:
        # Transitions read before they write: the case a deferred SQLite transaction loses.
        try:
            start.wait()
            for i in range(rounds):
                filing = new_filing(registry, name=f"{name}-{i}")
                registry.transition_filing(filing.id, "assessing", actor=name)
                registry.transition_filing(filing.id, "awaiting_review", actor=name)
        except BaseException as exc:  # reported below, on the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(registry, f"w{registry is second}{k}"))
        for registry in (first, second)
        for k in range(threads_per_registry)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        total = 2 * threads_per_registry * rounds * 4
        report = verify_audit(first)
        assert report.ok, report
        assert report.entries == total
        entries = first.audit_entries(limit=total)
        assert [e.seq for e in entries] == list(range(1, total + 1))
        assert len({e.subject for e in entries}) == total // 2
        assert len(first.list_filings(status="awaiting_review")) == total // 4
    finally:
        first.close()
        second.close()


def test_each_change_commits_with_its_entry(registry: Registry) -> None:
    filing = new_filing(registry)
    before = registry.audit_entries()
    with pytest.raises(Exception, match="cannot go"):
        registry.transition_filing(filing.id, "approved", actor="x")
    assert registry.audit_entries() == before
    assert before[-1].subject == f"filing:{filing.id}"
    assert before[-1].payload["model"] == filing.model_id
