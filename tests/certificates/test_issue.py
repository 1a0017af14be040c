"""Issuing: the statement's shape, refusals, and what never reaches the envelope."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import llmcert.certificates as certificates
from llmcert.certificates import (
    CERTIFICATE_PREDICATE_TYPE,
    CertificateError,
    CertificatePredicate,
    VerdictNotCertifiable,
    write_certificate,
)
from llmcert.models._types import ModelIdentity
from llmcert.stats._decision import Verdict
from llmcert.supplychain.signing._dsse import PAYLOAD_TYPE, open_envelope
from llmcert.supplychain.signing._keys import (
    PASSPHRASE_ENV,
    key_id,
    load_private_key,
    load_public_key,
)
from tests.certificates.conftest import (
    ASSESSMENT_DIGEST,
    NOW,
    STANDARD_DIGEST,
    Issue,
)
from tests.conftest import make_keypair


def _statement(envelope: dict[str, Any]) -> dict[str, Any]:
    payload = json.loads(base64.b64decode(envelope["payload"]))
    assert isinstance(payload, dict)
    return payload


def test_certificate_is_a_signed_in_toto_statement_about_the_model(
    issue: Issue, keys: tuple[Path, Path], identity: ModelIdentity
) -> None:
    envelope = issue(scope="Chinese-language chat", notes="pilot")
    assert envelope["payloadType"] == PAYLOAD_TYPE
    public = load_public_key(keys[1])
    assert envelope["signatures"][0]["keyid"] == key_id(public)
    opened = open_envelope(envelope, public)
    assert opened.problem is None
    stmt = opened.statement
    assert stmt is not None
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert (
        stmt["predicateType"] == CERTIFICATE_PREDICATE_TYPE == "https://llmcert.dev/certificate/v1"
    )
    assert stmt["subject"] == [
        {"name": "Tiny", "digest": {"sha256": identity.digest.removeprefix("sha256:")}}
    ]
    pred = stmt["predicate"]
    assert pred["verdict"] == "pass"
    assert pred["standard"] == {"id": "gbt-45654", "version": "2025.1", "digest": STANDARD_DIGEST}
    assert pred["assessment_digest"] == ASSESSMENT_DIGEST
    assert pred["issuer"] == {"name": "Test Centre", "key_id": key_id(public)}
    assert pred["issued_at"] == "2026-11-20T12:00:00Z"
    assert pred["expires_at"] == "2027-11-20T12:00:00Z"
    assert pred["model_identity"] == identity.to_dict()
    assert pred["scope"] == "Chinese-language chat"
    assert pred["notes"] == "pilot"
    assert len(pred["certificate_id"]) == 32
    int(pred["certificate_id"], 16)
    # The predicate reads back through the same model a verifier uses.
    parsed = CertificatePredicate.model_validate(pred)
    assert parsed.issued_at == NOW
    assert parsed.model_digest == identity.digest
    assert parsed.artefact_digest == identity.artefact_digest


def test_the_judges_behind_the_verdicts_are_named(issue: Issue) -> None:
    judge = {
        "name": "llmcert-harm",
        "version": "1.0.0",
        "digest": "sha256:" + "1" * 64,
        "data_digest": "sha256:" + "2" * 64,
        "calibration_digest": "sha256:" + "3" * 64,
        "requirements": ["generated-qualified-classifier"],
    }
    pred = _statement(issue(judges=[judge]))["predicate"]
    assert pred["judges"] == [judge]
    assert CertificatePredicate.model_validate(pred).judges == (judge,)
    assert _statement(issue())["predicate"]["judges"] == []


def test_validity_period_and_times_are_utc_whole_seconds(issue: Issue) -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 11, 20, 20, 0, 0, 999_000, tzinfo=ZoneInfo("Asia/Shanghai"))
    pred = _statement(issue(now=local, validity_days=30))["predicate"]
    assert pred["issued_at"] == "2026-11-20T12:00:00Z"
    assert pred["expires_at"] == "2026-12-20T12:00:00Z"


def test_each_certificate_gets_its_own_id(issue: Issue) -> None:
    first = _statement(issue())["predicate"]["certificate_id"]
    second = _statement(issue())["predicate"]["certificate_id"]
    assert first != second
    fixed = "0123456789abcdef" * 2
    assert _statement(issue(certificate_id=fixed))["predicate"]["certificate_id"] == fixed


def test_subject_name_can_be_given(issue: Issue) -> None:
    assert _statement(issue(model_name="SmolLM2-135M"))["subject"][0]["name"] == "SmolLM2-135M"


@pytest.mark.parametrize("verdict", ["fail", "inconclusive", "FAIL", "", "passed"])
def test_only_a_pass_verdict_is_certified(issue: Issue, tmp_path: Path, verdict: str) -> None:
    # Refused before the key is even read: no key file is needed to learn this.
    with pytest.raises(VerdictNotCertifiable, match="only issued for a 'pass' verdict") as info:
        issue(verdict=verdict, private_key_path=tmp_path / "absent.pem")
    assert info.value.verdict == verdict
    assert isinstance(info.value, CertificateError)


def test_verdict_enum_and_case_are_accepted(issue: Issue) -> None:
    assert _statement(issue(verdict=Verdict.PASS))["predicate"]["verdict"] == "pass"
    assert _statement(issue(verdict="PASS"))["predicate"]["verdict"] == "pass"


def test_refuses_a_digest_that_is_not_the_identitys(issue: Issue) -> None:
    with pytest.raises(CertificateError, match="not the digest of the model identity"):
        issue(model_digest="sha256:" + "0" * 64)


def test_refuses_an_identity_whose_fields_disagree_with_its_digest(
    issue: Issue, identity: ModelIdentity
) -> None:
    forged = identity.to_dict() | {"artefact_digest": "sha256:" + "9" * 64}
    with pytest.raises(CertificateError, match="does not match its own fields"):
        issue(model_identity=forged)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"assessment_digest": "md5:abc"}, "assessment_digest"),
        ({"standard_digest": "abc"}, "standard.digest"),
        ({"standard_id": ""}, "standard.id"),
        ({"certificate_id": "not-a-uuid"}, "certificate_id"),
        ({"issuer": ""}, "issuer.name"),
    ],
)
def test_malformed_inputs_are_named(issue: Issue, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(CertificateError, match="cannot issue certificate") as info:
        issue(**overrides)
    assert f"{field}: " in str(info.value)


@pytest.mark.parametrize("days", [0, -1, 10_000])
def test_validity_must_be_sensible(issue: Issue, days: int) -> None:
    with pytest.raises(CertificateError, match="validity_days"):
        issue(validity_days=days)


def test_naive_time_is_refused(issue: Issue) -> None:
    with pytest.raises(CertificateError, match="timezone-aware"):
        issue(now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://alice:hunter2-secret@api.example.com/v1",
        "https://api.example.com/v1?api_key=hunter2-secret",
    ],
)
def test_credentials_in_the_identity_are_refused_without_echoing_them(
    issue: Issue, endpoint: str
) -> None:
    remote = ModelIdentity(kind="endpoint", ref="openai://x", endpoint=endpoint, reported_model="m")
    with pytest.raises(
        CertificateError, match=r"credential in model_identity|model identity"
    ) as info:
        issue(model_identity=remote.to_dict(), model_digest=remote.digest)
    assert "hunter2" not in str(info.value)
    assert "endpoint" in str(info.value)


def test_secrets_never_reach_the_envelope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, issue: Issue
) -> None:
    passphrase = "correct horse battery staple"
    priv, _ = make_keypair(tmp_path / "enc", "enc", passphrase.encode())
    monkeypatch.setenv(PASSPHRASE_ENV, passphrase)
    envelope = issue(private_key_path=priv)
    key = load_private_key(priv)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    scalar = key.private_numbers().private_value
    text = json.dumps(envelope) + json.dumps(_statement(envelope))
    for secret in (
        passphrase,
        "PRIVATE KEY",
        "ENCRYPTED",
        priv.read_text().splitlines()[1],
        format(scalar, "x"),
        str(scalar),
        base64.b64encode(scalar.to_bytes(32, "big")).decode(),
    ):
        assert secret not in text
    assert set(envelope) == {"payloadType", "payload", "signatures"}
    assert set(envelope["signatures"][0]) == {"keyid", "sig"}


def test_wrong_passphrase_fails_without_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, issue: Issue
) -> None:
    priv, _ = make_keypair(tmp_path / "enc", "enc", b"right-one")
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong-one")
    with pytest.raises(Exception, match="passphrase") as info:
        issue(private_key_path=priv)
    assert "wrong-one" not in str(info.value)
    assert "right-one" not in str(info.value)


def test_write_certificate_is_atomic_json(issue: Issue, tmp_path: Path) -> None:
    target = tmp_path / "out" / "cert.dsse.json"
    first = issue()
    assert write_certificate(first, target) == target
    assert json.loads(target.read_text(encoding="utf-8")) == first
    second = issue()
    write_certificate(second, target)
    assert json.loads(target.read_text(encoding="utf-8")) == second
    assert sorted(p.name for p in target.parent.iterdir()) == ["cert.dsse.json"]


def test_expiry_moves_with_validity_days(issue: Issue) -> None:
    pred = CertificatePredicate.model_validate(_statement(issue(validity_days=90))["predicate"])
    assert pred.expires_at - pred.issued_at == timedelta(days=90)


def test_public_names_are_exactly_all() -> None:
    public = {
        name
        for name in vars(certificates)
        if not name.startswith("_") and type(getattr(certificates, name)).__name__ != "module"
    }
    assert set(certificates.__all__) == public


def test_importing_is_light() -> None:
    # Key handling loads cryptography when a certificate is issued or verified, not on import.
    import os
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[2] / "src"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    code = (
        "import sys, llmcert.certificates; "
        "print(*(m in sys.modules for m in ('cryptography', 'httpx', 'llama_cpp')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["False", "False", "False"]
