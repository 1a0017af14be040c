"""The log anchored outside the database, and the tables checked against the log (both backends)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from llmcert._hashing import digest_json
from llmcert.certificates import CertificateError, open_anchor, open_revocations
from llmcert.registry import AuditProblem, Registry, entry_hash, verify_audit, verify_state
from llmcert.registry._audit import GENESIS_HASH
from llmcert.services.publish import publish_registry
from tests.conftest import make_keypair
from tests.registry._helpers import certify, new_filing


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return make_keypair(tmp_path / "keys")


def _publish(registry: Registry, keys: tuple[Path, Path], tmp_path: Path) -> tuple[int, str]:
    anchor = tmp_path / "anchor.json"
    publish_registry(registry, private_key_path=keys[0], issuer="Test", anchor=anchor)
    pinned = open_anchor(json.loads(anchor.read_text()), keys[1])
    return pinned.seq, pinned.hash


def _rewrite_chain(registry: Registry) -> None:
    """What an attacker with the database does: change an entry, then recompute every hash."""
    with registry.engine.begin() as db:
        rows = db.execute(
            text("SELECT seq, at, actor, action, subject, payload FROM audit_entries ORDER BY seq")
        ).all()
        prev = GENESIS_HASH
        for seq, at, actor, action, subject, payload in rows:
            data = json.loads(payload) if isinstance(payload, str) else payload
            if seq == 2:
                actor = "someone-else"
            at_value = at if isinstance(at, datetime) else datetime.fromisoformat(at)
            if at_value.tzinfo is None:
                at_value = at_value.replace(tzinfo=UTC)
            new_hash = entry_hash(
                seq=seq, at=at_value, actor=actor, action=action, subject=subject,
                payload=data, prev_hash=prev,
            )  # fmt: skip
            db.execute(
                text("UPDATE audit_entries SET actor=:a, prev_hash=:p, hash=:h WHERE seq=:s"),
                {"a": actor, "p": prev, "h": new_hash, "s": seq},
            )
            prev = new_hash


def test_an_anchor_detects_a_truncated_tail(
    registry: Registry, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    certify(registry, new_filing(registry))
    pinned = _publish(registry, keys, tmp_path)
    new_filing(registry, name="later")
    assert verify_audit(registry, anchor=pinned).ok
    with registry.engine.begin() as db:
        db.execute(text("DELETE FROM audit_entries WHERE seq >= :s"), {"s": pinned[0] - 1})
    assert verify_audit(registry).ok  # the chain alone cannot tell
    report = verify_audit(registry, anchor=pinned)
    assert report.problem is AuditProblem.TRUNCATED


def test_an_anchor_detects_a_consistently_rewritten_chain(
    registry: Registry, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    certify(registry, new_filing(registry))
    pinned = _publish(registry, keys, tmp_path)
    _rewrite_chain(registry)
    assert verify_audit(registry).ok  # recomputed: the chain alone says intact
    assert verify_audit(registry, anchor=pinned).problem is AuditProblem.ANCHOR_MISMATCH


def test_an_untouched_registry_agrees_with_its_log(registry: Registry) -> None:
    cert = certify(registry, new_filing(registry))
    registry.set_certificate_status(cert.id, "revoked", reason="weights changed", actor="admin")
    registry.create_token("alice", "admin", actor="test")
    registry.add_attachment(
        new_filing(registry, name="other").id, "a.txt", media_type="text/plain", content=b"x",
        actor="test",
    )  # fmt: skip
    assert verify_state(registry) == []


def test_edits_to_the_data_tables_are_reported_row_by_row(registry: Registry) -> None:
    cert = certify(registry, new_filing(registry))
    registry.set_certificate_status(cert.id, "revoked", reason="weights changed", actor="admin")
    token_id, _ = registry.create_token("bob", "applicant", actor="test")
    with registry.engine.begin() as db:
        db.execute(text("UPDATE certificates SET status='valid', reason=NULL"))  # un-revoke
        db.execute(text("UPDATE api_tokens SET role='admin' WHERE id=:i"), {"i": token_id})
        db.execute(
            text(
                "INSERT INTO api_tokens (id, name, role, token_hash, created_at) "
                "VALUES ('planted', 'root', 'admin', :h, :at)"
            ),
            {"h": digest_json({"x": 1}), "at": datetime.now(UTC)},
        )
    found = {(m.kind, m.record_id, m.field) for m in verify_state(registry)}
    assert ("certificate", cert.id, "status") in found
    assert ("filing", cert.filing_id, "status") not in found  # the filing row was left alone
    assert ("token", token_id, "role") in found
    assert ("token", "planted", "row") in found


def test_the_revocation_list_is_signed_and_typed(
    registry: Registry, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    cert = certify(registry, new_filing(registry))
    registry.set_certificate_status(cert.id, "suspended", reason="under review", actor="admin")
    listed, anchor = tmp_path / "revoked.json", tmp_path / "anchor.json"
    publish_registry(
        registry, private_key_path=keys[0], issuer="T", anchor=anchor, revocations=listed
    )
    revocations = open_revocations(json.loads(listed.read_text()), keys[1])
    assert revocations.reason(cert.id) == "suspended: under review"
    with pytest.raises(CertificateError, match="not a revocation list"):
        open_revocations(json.loads(anchor.read_text()), keys[1])
    other = make_keypair(tmp_path / "other")
    with pytest.raises(CertificateError, match="cannot be trusted"):
        open_revocations(json.loads(listed.read_text()), other[1])


def test_a_broken_log_is_never_anchored(
    registry: Registry, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    new_filing(registry)
    with registry.engine.begin() as db:
        db.execute(text("UPDATE audit_entries SET actor='x' WHERE seq=1"))
    with pytest.raises(Exception, match="not publishing"):
        publish_registry(registry, private_key_path=keys[0], issuer="T", anchor=tmp_path / "a.json")
    assert not (tmp_path / "a.json").exists()
