"""A signed name cannot drive the terminal: refused when issuing, escaped when verifying."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcert.certificates import CertificateError, issue_certificate
from llmcert.models._types import ModelIdentity
from tests.cli.test_certify_cli import invoke
from tests.conftest import make_keypair

EVIL = "tiny\x1b[1A\x1b[2K\rVALID: all good\u202e"


def _issue(keys: tuple[Path, Path], **names: str) -> dict[str, object]:
    identity = ModelIdentity(
        kind="artefact", ref="llamacpp:x.gguf", artefact_digest="sha256:" + "1" * 64
    )
    return issue_certificate(
        model_identity=identity.to_dict(),
        model_digest=identity.digest,
        standard_id="gbt-45654",
        standard_version="2025.1",
        assessment_digest="sha256:" + "ab" * 32,
        verdict="pass",
        issuer=names.get("issuer", "Test Centre"),
        model_name=names.get("model_name", "tiny"),
        private_key_path=keys[0],
    )


@pytest.mark.parametrize("field", ["issuer", "model_name"])
def test_issuing_refuses_control_characters_in_signed_names(tmp_path: Path, field: str) -> None:
    keys = make_keypair(tmp_path / "keys")
    with pytest.raises(CertificateError, match="control or formatting character"):
        _issue(keys, **{field: EVIL})


@pytest.mark.parametrize("json_out", [False, True])
def test_verify_escapes_every_field_of_a_certificate_signed_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_out: bool
) -> None:
    """A certificate some other tool signed with an escape in its names still prints inert."""
    keys = make_keypair(tmp_path / "keys")
    monkeypatch.setattr("llmcert.certificates._issue.first_unsafe", lambda *_a, **_k: None)
    envelope = _issue(keys, issuer=EVIL, model_name=EVIL)
    cert = tmp_path / "cert.json"
    cert.write_text(json.dumps(envelope), encoding="utf-8")
    code, out, _ = invoke(
        "cert", "verify", str(cert), "--key", str(keys[1]), *(["--json"] if json_out else [])
    )
    assert code == 0
    assert "\x1b" not in out
    assert "\r" not in out
    assert "\u202e" not in out
    assert "\\u001b" in out
    assert "\\u202e" in out
