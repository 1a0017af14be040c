"""Signing and verification: round trips, and one distinct reason for each kind of tampering."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from typer.testing import CliRunner

from llmcert.cli._errors import handle_errors
from llmcert.cli._sign import sign_command, verify_command
from llmcert.models.embedded import embedded_model_path
from llmcert.supplychain import signing as signing_mod
from llmcert.supplychain.bom import build_bom
from llmcert.supplychain.signing import (
    SigningError,
    VerificationResult,
    default_signature_dir,
    sign_model,
    verify_model,
)
from llmcert.supplychain.signing._dsse import PREDICATES, pae, sign_envelope, statement
from llmcert.supplychain.signing._keys import PASSPHRASE_ENV, load_private_key
from tests.conftest import make_keypair


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    return make_keypair(keydir, "key")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    (root / "weights.bin").write_bytes(bytes(range(256)) * 400)
    (root / "sub" / "tokenizer.json").write_text("{}")
    return root


def _kinds(result: VerificationResult) -> list[str]:
    return [f.kind for f in result.failures]


def test_directory_round_trip_with_attestations(model_dir: Path, keys: tuple[Path, Path]) -> None:
    priv, pub = keys
    bom = build_bom(model_dir)
    scan: dict[str, Any] = {"findings": [], "root_digest": None}
    bundle = sign_model(model_dir, priv, attach=[scan, bom])
    assert bundle.directory == default_signature_dir(model_dir)
    assert bundle.model_signature.is_file()
    assert bundle.identity.is_file()
    assert set(bundle.attestations) == {"scan", "bom"}
    result = verify_model(model_dir, pub)
    assert result.ok, result.reasons()
    assert set(result.verified) == {"identity", "model-signature", "scan", "bom"}
    assert result.root_digest == bundle.root_digest
    envelope = json.loads(bundle.attestations["bom"].read_text())
    stmt = json.loads(base64.b64decode(envelope["payload"]))
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert stmt["predicateType"] == PREDICATES["bom"]
    assert stmt["subject"][0]["digest"] == {"sha256": bundle.root_digest.removeprefix("sha256:")}
    assert stmt["predicate"] == bom


def test_smollm2_gguf_round_trip_and_change(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    priv, pub = keys
    model = tmp_path / "smollm2.gguf"
    shutil.copyfile(embedded_model_path("smollm2"), model)
    sign_model(model, priv, attach=[build_bom(model)])
    assert verify_model(model, pub).ok
    with model.open("r+b") as fh:
        fh.seek(50_000_000)
        byte = fh.read(1)
        fh.seek(50_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    result = verify_model(model, pub)
    assert _kinds(result) == ["file-changed", "attestation-subject-mismatch"]
    assert result.failures[0].reason == "file changed: smollm2.gguf"


@pytest.mark.parametrize(
    ("tamper", "kind", "reason"),
    [
        (lambda m: (m / "extra.txt").write_text("x"), "file-added", "file added: extra.txt"),
        (
            lambda m: (m / "sub" / "tokenizer.json").unlink(),
            "file-removed",
            "file removed: sub/tokenizer.json",
        ),
        (
            lambda m: (m / "config.json").write_text("{}"),
            "file-changed",
            "file changed: config.json",
        ),
    ],
)
def test_each_file_tamper_is_named(
    model_dir: Path, keys: tuple[Path, Path], tamper: Any, kind: str, reason: str
) -> None:
    priv, pub = keys
    sign_model(model_dir, priv)
    tamper(model_dir)
    result = verify_model(model_dir, pub)
    assert _kinds(result) == [kind]
    assert result.reasons() == [reason]


def test_wrong_key_is_reported_as_such(
    tmp_path: Path, model_dir: Path, keys: tuple[Path, Path]
) -> None:
    priv, _ = keys
    _, other_pub = make_keypair(tmp_path / "keys", "other")
    sign_model(model_dir, priv)
    result = verify_model(model_dir, other_pub)
    assert set(_kinds(result)) == {"wrong-key"}
    assert len(result.failures) == 2  # identity attestation and OpenSSF bundle


def test_altered_model_signature_is_invalid(model_dir: Path, keys: tuple[Path, Path]) -> None:
    priv, pub = keys
    bundle = sign_model(model_dir, priv)
    data = json.loads(bundle.model_signature.read_text())
    sig = bytearray(base64.b64decode(data["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[-1] ^= 1
    data["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    bundle.model_signature.write_text(json.dumps(data))
    result = verify_model(model_dir, pub)
    assert _kinds(result) == ["signature-invalid"]


def test_altered_attestation_signature_is_invalid(model_dir: Path, keys: tuple[Path, Path]) -> None:
    priv, pub = keys
    bundle = sign_model(model_dir, priv, attach=[{"findings": []}])
    path = bundle.attestations["scan"]
    envelope = json.loads(path.read_text())
    stmt = json.loads(base64.b64decode(envelope["payload"]))
    # Adding a finding is still tampering: the signed statement must not change at all.
    stmt["predicate"]["findings"] = [{"severity": "critical"}]
    envelope["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    path.write_text(json.dumps(envelope))
    result = verify_model(model_dir, pub)
    assert _kinds(result) == ["attestation-signature-invalid"]
    assert result.reasons()[0].startswith("scan attestation:")


def test_attestation_with_a_wrong_subject_fails(model_dir: Path, keys: tuple[Path, Path]) -> None:
    priv, pub = keys
    bundle = sign_model(model_dir, priv)
    other = "sha256:" + "ab" * 32
    envelope = sign_envelope(
        statement("model", other, PREDICATES["bom"], {"bomFormat": "CycloneDX"}),
        load_private_key(priv),
    )
    (bundle.directory / "bom.intoto.json").write_text(json.dumps(envelope))
    result = verify_model(model_dir, pub)
    assert _kinds(result) == ["attestation-subject-mismatch"]
    assert other in result.reasons()[0]


def test_missing_signature_folder_fails_verification(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    result = verify_model(model_dir, keys[1])
    assert _kinds(result) == ["signature-missing"]


def test_signature_inside_the_model_folder_is_not_hashed(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    priv, pub = keys
    bundle = sign_model(model_dir, priv, output=model_dir / ".signature")
    assert verify_model(model_dir, pub, signature_dir=bundle.directory).ok
    (model_dir / "new.bin").write_bytes(b"1")
    result = verify_model(model_dir, pub, signature_dir=bundle.directory)
    assert result.reasons() == ["file added: new.bin"]


def test_document_about_another_model_is_not_signed(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    with pytest.raises(SigningError, match="not this model"):
        sign_model(
            model_dir, keys[0], attach=[{"findings": [], "root_digest": "sha256:" + "0" * 64}]
        )


def test_encrypted_key_reads_its_passphrase_from_the_environment(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keydir = tmp_path / "enc"
    keydir.mkdir()
    priv, pub = make_keypair(keydir, "key", passphrase=b"correct horse")
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    with pytest.raises(SigningError, match=PASSPHRASE_ENV) as info:
        sign_model(model_dir, priv)
    assert "correct horse" not in str(info.value)
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    with pytest.raises(SigningError, match="wrong passphrase"):
        sign_model(model_dir, priv)
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    sign_model(model_dir, priv)
    assert verify_model(model_dir, pub).ok


def test_non_ec_keys_are_refused(tmp_path: Path, model_dir: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "ed.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(SigningError, match="elliptic-curve"):
        sign_model(model_dir, path)


def test_pae_matches_the_dsse_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("sign")(handle_errors(sign_command))
    app.command("verify")(handle_errors(verify_command))
    return app


def test_cli_sign_and_verify_exit_codes(
    tmp_path: Path, model_dir: Path, keys: tuple[Path, Path]
) -> None:
    priv, pub = keys
    runner = CliRunner()
    bom_path = tmp_path / "bom.json"
    bom_path.write_text(json.dumps(build_bom(model_dir)))
    out = tmp_path / "sig"
    result = runner.invoke(
        _app(), ["sign", str(model_dir), "--key", str(priv), "--bom", str(bom_path), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "bom attestation" in result.output
    ok = runner.invoke(
        _app(), ["verify", str(model_dir), "--key", str(pub), "--signature", str(out)]
    )
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("verified:")
    (model_dir / "config.json").write_text("[]")
    (model_dir / "added.txt").write_text("")
    bad = runner.invoke(
        _app(), ["verify", str(model_dir), "--key", str(pub), "--signature", str(out)]
    )
    assert bad.exit_code == 1
    lines = bad.stdout.splitlines()
    assert "file added: added.txt" in lines
    assert "file changed: config.json" in lines
    err = runner.invoke(_app(), ["verify", str(model_dir), "--key", str(tmp_path / "nokey.pem")])
    assert err.exit_code == 3
    assert "cannot read public key" in err.output


def test_public_names_are_exported() -> None:
    for name in signing_mod.__all__:
        assert hasattr(signing_mod, name), name


def test_a_model_changing_between_the_two_reads_is_not_signed(
    model_dir: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcert.supplychain.signing import _oms

    real = _oms.signed_digests

    def drifted(bundle: Path) -> dict[str, str]:
        digests = real(bundle)
        digests["config.json"] = "0" * 64
        return digests

    monkeypatch.setattr(_oms, "signed_digests", drifted)
    with pytest.raises(SigningError, match="changed while it was being signed"):
        sign_model(model_dir, keys[0])
