"""Verification: one distinct status for each way a certificate can fail, checked in order."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from llmcert._hashing import digest_file
from llmcert.certificates import (
    CertificateCheck,
    CertificateError,
    CertificateStatus,
    verify_certificate,
    write_certificate,
)
from llmcert.models._types import ModelIdentity
from llmcert.supplychain.signing._dsse import PREDICATES, sign_envelope, statement
from llmcert.supplychain.signing._keys import key_id, load_private_key
from tests.certificates.conftest import NOW, Issue
from tests.conftest import make_keypair

S = CertificateStatus


def _payload(envelope: dict[str, Any]) -> bytes:
    return base64.b64decode(envelope["payload"])


def _with_payload(envelope: dict[str, Any], payload: bytes) -> dict[str, Any]:
    return {**envelope, "payload": base64.b64encode(payload).decode()}


def _check(envelope: Any, keys: tuple[Path, Path], **kwargs: Any) -> CertificateCheck:
    kwargs.setdefault("now", NOW + timedelta(days=1))
    return verify_certificate(envelope, public_key_path=keys[1], **kwargs)


def _resign(envelope: dict[str, Any], keys: tuple[Path, Path], **changes: Any) -> dict[str, Any]:
    """Re-sign the statement with the issuer's own key after changing its predicate."""
    stmt = json.loads(_payload(envelope))
    stmt["predicate"].update(changes)
    return sign_envelope(stmt, load_private_key(keys[0]))


def test_statuses_are_distinct() -> None:
    values = [s.value for s in CertificateStatus]
    assert len(set(values)) == len(values) == 7
    assert set(values) == {
        "valid",
        "tampered",
        "wrong_key",
        "expired",
        "not_yet_valid",
        "revoked",
        "wrong_model",
    }


def test_round_trip_through_a_file_is_valid(
    issue: Issue, keys: tuple[Path, Path], tmp_path: Path, identity: ModelIdentity, model_file: Path
) -> None:
    envelope = issue()
    path = write_certificate(envelope, tmp_path / "cert.json")
    for source in (path, str(path), envelope):
        check = _check(source, keys, model_path=model_file)
        assert check.status is S.VALID, check.details
        assert check.ok
        assert check.predicate is not None
        assert check.predicate.model_digest == identity.digest
        assert check.predicate.standard.id == "gbt-45654"
        assert check.subject_name == "Tiny"
        assert check.certificate_id == check.predicate.certificate_id
        assert "valid until 2027-11-20T12:00:00Z" in check.details
    dumped = json.loads(json.dumps(check.to_dict()))
    assert dumped["status"] == "valid"
    assert dumped["ok"] is True
    assert dumped["predicate"]["issued_at"] == "2026-11-20T12:00:00Z"


def test_one_edited_byte_of_the_payload_is_tampering(issue: Issue, keys: tuple[Path, Path]) -> None:
    envelope = issue()
    payload = _payload(envelope)
    # Stretch the validity by a year: a single changed byte.
    edited = payload.replace(b'"expires_at":"2027', b'"expires_at":"2028')
    assert sum(a != b for a, b in zip(payload, edited, strict=True)) == 1
    check = _check(_with_payload(envelope, edited), keys)
    assert check.status is S.TAMPERED
    assert "signature does not verify" in check.details
    assert check.predicate is None


def test_swapped_signature_is_tampering(issue: Issue, keys: tuple[Path, Path]) -> None:
    first, second = issue(), issue()
    swapped = {**first, "signatures": second["signatures"]}
    assert _check(swapped, keys).status is S.TAMPERED


def test_garbled_signature_is_tampering(issue: Issue, keys: tuple[Path, Path]) -> None:
    envelope = issue()
    sig = envelope["signatures"][0]
    garbled = {**envelope, "signatures": [{**sig, "sig": "!!not base64!!"}]}
    assert _check(garbled, keys).status is S.TAMPERED


@pytest.mark.parametrize(
    "mangle",
    [
        lambda e: {k: v for k, v in e.items() if k != "payload"},
        lambda e: {**e, "signatures": []},
        lambda e: {**e, "payload": "%%%"},
        lambda e: {**e, "payloadType": "text/plain"},
        lambda e: [e],
    ],
    ids=["no-payload", "no-signatures", "bad-base64", "payload-type", "not-an-object"],
)
def test_malformed_envelopes_are_tampering(
    issue: Issue, keys: tuple[Path, Path], mangle: Any
) -> None:
    check = _check(mangle(issue()), keys)
    assert check.status is S.TAMPERED
    assert check.predicate is None


def test_certificate_file_that_is_not_json_is_tampering(
    issue: Issue, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    path = tmp_path / "cert.json"
    path.write_text(json.dumps(issue())[:-5], encoding="utf-8")
    check = _check(path, keys)
    assert check.status is S.TAMPERED
    assert "not JSON" in check.details


def test_unreadable_certificate_path_is_an_error(keys: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="cannot read certificate"):
        _check(tmp_path / "missing.json", keys)


def test_another_key_is_wrong_key(issue: Issue, keys: tuple[Path, Path], tmp_path: Path) -> None:
    other = make_keypair(tmp_path / "other", "other")
    envelope = issue(private_key_path=other[0])
    check = _check(envelope, keys)
    assert check.status is S.WRONG_KEY
    assert "another key" in check.details
    assert check.predicate is None
    # The same certificate is fine for the key that signed it.
    assert _check(envelope, other).status is S.VALID


def test_right_keyid_with_a_foreign_signature_is_tampering(
    issue: Issue, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    other = make_keypair(tmp_path / "other", "other")
    forged = issue(private_key_path=other[0])
    ours = issue()
    forged["signatures"][0]["keyid"] = ours["signatures"][0]["keyid"]
    assert _check(forged, keys).status is S.TAMPERED


def test_expired(issue: Issue, keys: tuple[Path, Path]) -> None:
    envelope = issue(validity_days=30)
    assert _check(envelope, keys, now=NOW + timedelta(days=30, seconds=-1)).status is S.VALID
    for later in (timedelta(days=30), timedelta(days=400)):
        check = _check(envelope, keys, now=NOW + later)
        assert check.status is S.EXPIRED
        assert "expired at 2026-12-20T12:00:00Z" in check.details
        assert check.predicate is not None


def test_not_yet_valid(issue: Issue, keys: tuple[Path, Path]) -> None:
    envelope = issue()
    assert _check(envelope, keys, now=NOW).status is S.VALID
    check = _check(envelope, keys, now=NOW - timedelta(seconds=1))
    assert check.status is S.NOT_YET_VALID
    assert "valid from 2026-11-20T12:00:00Z" in check.details


def test_naive_now_is_refused(issue: Issue, keys: tuple[Path, Path]) -> None:
    with pytest.raises(CertificateError, match="timezone-aware"):
        _check(issue(), keys, now=NOW.replace(tzinfo=None))


def test_revoked_through_the_callback(issue: Issue, keys: tuple[Path, Path]) -> None:
    envelope = issue()
    asked: list[str] = []

    def registry(cert_id: str) -> str | None:
        asked.append(cert_id)
        return "model regressed on re-test"

    check = _check(envelope, keys, is_revoked=registry)
    assert check.status is S.REVOKED
    assert check.revocation_reason == "model regressed on re-test"
    assert "model regressed on re-test" in check.details
    assert asked == [check.certificate_id]
    assert _check(envelope, keys, is_revoked=lambda _id: None).status is S.VALID
    empty = _check(envelope, keys, is_revoked=lambda _id: "")
    assert empty.status is S.REVOKED
    assert "no reason given" in empty.details


def test_revocation_lookup_failure_is_not_a_valid_certificate(
    issue: Issue, keys: tuple[Path, Path]
) -> None:
    def unreachable(_id: str) -> str | None:
        raise ConnectionError("registry down")

    with pytest.raises(ConnectionError):
        _check(issue(), keys, is_revoked=unreachable)


def test_wrong_model_file(
    issue: Issue, keys: tuple[Path, Path], model_file: Path, tmp_path: Path
) -> None:
    envelope = issue()
    copy = tmp_path / "renamed.gguf"
    shutil.copyfile(model_file, copy)
    assert _check(envelope, keys, model_path=copy).status is S.VALID
    with copy.open("ab") as fh:
        fh.write(b"\0")
    check = _check(envelope, keys, model_path=copy)
    assert check.status is S.WRONG_MODEL
    assert short_hex(digest_file(copy)) in check.details
    assert check.predicate is not None


def short_hex(digest: str) -> str:
    return digest.split(":", 1)[1][:12]


def test_model_digest_may_be_the_identity_or_the_artefact(
    issue: Issue, keys: tuple[Path, Path], identity: ModelIdentity
) -> None:
    envelope = issue()
    assert _check(envelope, keys, model_digest=identity.digest).status is S.VALID
    assert identity.artefact_digest is not None
    assert _check(envelope, keys, model_digest=identity.artefact_digest).status is S.VALID
    check = _check(envelope, keys, model_digest="sha256:" + "0" * 64)
    assert check.status is S.WRONG_MODEL


def test_endpoint_certificate_cannot_match_a_file(
    issue: Issue, keys: tuple[Path, Path], model_file: Path
) -> None:
    remote = ModelIdentity(
        kind="endpoint", ref="openai://h/v1?model=m", endpoint="http://h/v1", reported_model="m"
    )
    envelope = issue(model_identity=remote.to_dict(), model_digest=remote.digest)
    assert _check(envelope, keys, model_digest=remote.digest).status is S.VALID
    check = _check(envelope, keys, model_path=model_file)
    assert check.status is S.WRONG_MODEL
    assert "endpoint model" in check.details


def test_checks_run_in_order(
    issue: Issue, keys: tuple[Path, Path], tmp_path: Path, model_file: Path
) -> None:
    other_file = tmp_path / "other.gguf"
    other_file.write_bytes(b"GGUF other")
    envelope = issue(validity_days=10)
    revoked = {"is_revoked": lambda _id: "withdrawn", "model_path": other_file}
    late = NOW + timedelta(days=20)
    # Signature before everything: a tampered, expired, revoked, wrong-model certificate is tampered.
    edited = _with_payload(envelope, _payload(envelope).replace(b"Test Centre", b"Test Centrf"))
    assert _check(edited, keys, now=late, **revoked).status is S.TAMPERED
    # Dates before revocation and model; revocation before model.
    assert _check(envelope, keys, now=late, **revoked).status is S.EXPIRED
    assert _check(envelope, keys, **revoked).status is S.REVOKED
    assert _check(envelope, keys, model_path=other_file).status is S.WRONG_MODEL
    assert _check(envelope, keys, model_path=model_file).status is S.VALID


def test_revocation_is_not_consulted_for_an_unverified_certificate(
    issue: Issue, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    other = make_keypair(tmp_path / "other", "other")
    asked: list[str] = []

    def registry(cert_id: str) -> str | None:
        asked.append(cert_id)
        return None

    assert _check(issue(private_key_path=other[0]), keys, is_revoked=registry).status is S.WRONG_KEY
    assert asked == []


def test_signed_non_pass_verdict_is_refused(issue: Issue, keys: tuple[Path, Path]) -> None:
    # Even the issuer's own key cannot make a FAIL assessment into a certificate.
    check = _check(_resign(issue(), keys, verdict="fail"), keys)
    assert check.status is S.TAMPERED
    assert "verdict" in check.details
    assert check.predicate is None


def test_signed_statement_of_another_kind_is_not_a_certificate(
    issue: Issue, keys: tuple[Path, Path], identity: ModelIdentity
) -> None:
    scan = statement("tiny.gguf", identity.digest, PREDICATES["scan"], {"findings": []})
    check = _check(sign_envelope(scan, load_private_key(keys[0])), keys)
    assert check.status is S.TAMPERED
    assert "not a certificate" in check.details


def test_subject_must_be_the_identity_in_the_predicate(
    issue: Issue, keys: tuple[Path, Path]
) -> None:
    stmt = json.loads(_payload(issue()))
    stmt["subject"][0]["digest"] = {"sha256": "0" * 64}
    check = _check(sign_envelope(stmt, load_private_key(keys[0])), keys)
    assert check.status is S.TAMPERED
    assert "subject digest" in check.details


def test_issuer_key_in_the_predicate_must_be_the_signing_key(
    issue: Issue, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    other = make_keypair(tmp_path / "other", "other")
    other_id = key_id(load_private_key(other[0]).public_key())
    check = _check(_resign(issue(), keys, issuer={"name": "X", "key_id": other_id}), keys)
    assert check.status is S.TAMPERED
    assert "names issuer key" in check.details


@pytest.mark.embedded
async def test_certificate_for_the_embedded_gguf_matches_its_file(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    """The digest a verifier computes from a GGUF file is the one the llama.cpp backend records."""
    from llmcert.certificates import issue_certificate
    from llmcert.models.embedded import embedded_model_path
    from llmcert.models.llamacpp import LlamaCppBackend

    path = embedded_model_path("smollm2")
    identity = await LlamaCppBackend(path).identify()
    envelope = issue_certificate(
        model_identity=identity.to_dict(),
        model_digest=identity.digest,
        standard_id="gbt-45654",
        standard_version="2025.1",
        assessment_digest="sha256:" + "ab" * 32,
        verdict="pass",
        issuer="Test Centre",
        private_key_path=keys[0],
        now=NOW,
    )
    check = _check(envelope, keys, model_path=path, model_digest=identity.digest)
    assert check.status is S.VALID, check.details
    small = tmp_path / "SmolLM2.gguf"
    with path.open("rb") as fh:
        small.write_bytes(fh.read(1 << 20))
    assert _check(envelope, keys, model_path=small).status is S.WRONG_MODEL
