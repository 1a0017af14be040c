"""``audit verify --anchor``, ``audit publish`` and ``cert verify --revocations`` from the command line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcert.certificates import issue_certificate
from llmcert.cli._app import app
from llmcert.models._types import ModelIdentity
from llmcert.registry import open_registry
from tests.conftest import make_keypair
from tests.registry._helpers import certify, new_filing


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLMCERT_SIGNING_KEY", "LLMCERT_DATABASE_URL", "LLMCERT_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, tuple[Path, Path], str]:
    keys = make_keypair(tmp_path / "keys")
    url = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    with open_registry(url) as registry:
        cert = certify(registry, new_filing(registry), certificate_id="c" * 32)
    return url, keys, cert.id


def test_publish_then_verify_with_the_anchor(
    tmp_path: Path, setup: tuple[str, tuple[Path, Path], str]
) -> None:
    url, keys, _ = setup
    anchor = tmp_path / "anchor.json"
    code, out, _ = invoke(
        "audit", "publish", "--registry", url, "--key", str(keys[0]), "--anchor", str(anchor)
    )
    assert code == 0, out
    code, out, _ = invoke(
        "audit", "verify", "--registry", url, "--anchor", str(anchor), "--key", str(keys[1])
    )
    assert code == 0, out
    assert "anchored at seq" in out
    assert "every row agrees" in out
    with sqlite3.connect(tmp_path / "reg.sqlite") as db:
        db.execute("DELETE FROM audit_entries WHERE seq = (SELECT MAX(seq) FROM audit_entries)")
    code, out, _ = invoke(
        "audit", "verify", "--registry", url, "--anchor", str(anchor), "--key", str(keys[1])
    )
    assert code == 1
    assert "truncated" in out


def test_an_anchor_signed_by_another_key_is_an_error(
    tmp_path: Path, setup: tuple[str, tuple[Path, Path], str]
) -> None:
    url, keys, _ = setup
    anchor = tmp_path / "anchor.json"
    invoke("audit", "publish", "--registry", url, "--key", str(keys[0]), "--anchor", str(anchor))
    other = make_keypair(tmp_path / "other")
    code, _, err = invoke(
        "audit", "verify", "--registry", url, "--anchor", str(anchor), "--key", str(other[1])
    )
    assert code == 3
    assert "cannot be trusted" in err


def test_verify_reports_rows_edited_around_the_log(
    tmp_path: Path, setup: tuple[str, tuple[Path, Path], str]
) -> None:
    url, _, cert_id = setup
    with open_registry(url) as registry:
        registry.set_certificate_status(cert_id, "revoked", reason="bad", actor="admin")
    with sqlite3.connect(tmp_path / "reg.sqlite") as db:
        db.execute("UPDATE certificates SET status = 'valid'")
    code, out, _ = invoke("audit", "verify", "--registry", url)
    assert code == 1
    assert f"certificate {cert_id}: status is 'valid' in the table, 'revoked'" in out


def test_cert_verify_checks_a_signed_revocation_list_offline(
    tmp_path: Path, setup: tuple[str, tuple[Path, Path], str]
) -> None:
    url, keys, cert_id = setup
    identity = ModelIdentity(
        kind="artefact", ref="llamacpp:x.gguf", artefact_digest="sha256:" + "1" * 64
    )
    envelope = issue_certificate(
        model_identity=identity.to_dict(),
        model_digest=identity.digest,
        standard_id="tc260-003",
        standard_version="2024",
        assessment_digest="sha256:" + "ab" * 32,
        verdict="pass",
        issuer="Test",
        private_key_path=keys[0],
        certificate_id=cert_id,
    )
    cert = tmp_path / "cert.json"
    cert.write_text(json.dumps(envelope))
    listed = tmp_path / "revoked.json"
    invoke(
        "audit", "publish", "--registry", url, "--key", str(keys[0]), "--revocations", str(listed)
    )
    code, out, _ = invoke(
        "cert", "verify", str(cert), "--key", str(keys[1]), "--revocations", str(listed)
    )
    assert code == 0, out
    with open_registry(url) as registry:
        registry.set_certificate_status(cert_id, "revoked", reason="weights changed", actor="admin")
    invoke(
        "audit", "publish", "--registry", url, "--key", str(keys[0]), "--revocations", str(listed)
    )
    code, out, _ = invoke(
        "cert", "verify", str(cert), "--key", str(keys[1]), "--revocations", str(listed)
    )
    assert code == 1
    assert out.startswith("REVOKED: ")
    assert "weights changed" in out
