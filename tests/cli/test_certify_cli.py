"""``llmcert certify``, ``cert verify`` and ``audit verify`` through typer: exit codes and
one distinct line per verification status."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from llmcert.cli._audit import audit_verify_command
from llmcert.cli._certify import cert_verify_command, certify_command
from llmcert.cli._errors import handle_errors
from llmcert.registry import open_registry
from tests.conftest import make_keypair, write_suite
from tests.services.assess.test_assess import ACCURACY, DOCUMENT, SIZE, echo_items, write_standard
from tests.supplychain import corpus


def make_app() -> typer.Typer:
    """The commands wired the way the application wires them."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """llmcert."""

    app.command("certify")(handle_errors(certify_command))
    cert_app = typer.Typer(name="cert", no_args_is_help=True)
    cert_app.command("verify")(handle_errors(cert_verify_command))
    app.add_typer(cert_app, name="cert")
    audit_app = typer.Typer(name="audit", no_args_is_help=True)
    audit_app.command("verify")(handle_errors(audit_verify_command))
    app.add_typer(audit_app, name="audit")
    return app


APP = make_app()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(APP, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLMCERT_SIGNING_KEY", "LLMCERT_DATABASE_URL", "LLMCERT_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return make_keypair(tmp_path / "keys")


def certify(
    tmp_path: Path, *extra: str, wrong: int = 0, reqs: str = ACCURACY + SIZE
) -> tuple[int, str, str]:
    write_suite(tmp_path / "suite", echo_items(40, wrong=wrong))
    standard = write_standard(tmp_path, reqs)
    return invoke(
        "certify", "--no-progress", "--model", "mock:echo", "--standard", str(standard),
        "--output", str(tmp_path / "out"), "--issuer", "Test Centre", *extra,
    )  # fmt: skip


def certificate_of(tmp_path: Path) -> Path:
    (path,) = (tmp_path / "out").rglob("certificate.dsse.json")
    return path


@pytest.mark.parametrize(
    ("wrong", "reqs", "code", "words"),
    [
        (0, ACCURACY + SIZE, 0, ("verdict: PASS", "certificate: ")),
        (36, ACCURACY + SIZE, 1, ("verdict: FAIL", "NOT CERTIFIED (failed): accuracy")),
        (0, ACCURACY + DOCUMENT, 2, ("NOT CERTIFIED (inconclusive): agreement",)),
    ],
)
def test_certify_exit_code_follows_the_decision(
    tmp_path: Path,
    keys: tuple[Path, Path],
    wrong: int,
    reqs: str,
    code: int,
    words: tuple[str, ...],
) -> None:
    exit_code, out, _ = certify(tmp_path, "--key", str(keys[0]), wrong=wrong, reqs=reqs)
    assert exit_code == code, out
    for word in words:
        assert word in out
    assert "decision: " in out
    assert "supply chain: not applicable" in out
    assert bool(list((tmp_path / "out").rglob("certificate.dsse.json"))) == (code == 0)


def test_certify_files_in_the_registry(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    url = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    exit_code, out, _ = certify(tmp_path, "--key", str(keys[0]), "--registry", url)
    assert exit_code == 0, out
    assert "is certified" in out


def test_certify_errors_exit_3_with_one_line(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    exit_code, _, err = certify(tmp_path, "--key", str(keys[0]), "--fail-on", "severe")
    assert exit_code == 3
    assert err.startswith("error: ")
    assert err.count("\n") == 1


def test_certify_without_a_key_makes_and_announces_an_issuer_key_pair(tmp_path: Path) -> None:
    exit_code, out, _ = certify(tmp_path)
    assert exit_code == 0, out
    private, public = tmp_path / "out" / "issuer-key.pem", tmp_path / "out" / "issuer-key.pub.pem"
    assert "issuer key pair generated" in out
    assert str(public) in out
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text(encoding="utf-8") not in out
    code, verified, _ = invoke(
        "cert", "verify", str(certificate_of(tmp_path)), "--key", str(public)
    )
    assert code == 0
    assert verified.startswith("VALID: ")


def test_certify_reads_the_key_path_from_the_environment(
    tmp_path: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMCERT_SIGNING_KEY", str(keys[0]))
    exit_code, out, _ = certify(tmp_path)
    assert exit_code == 0, out
    assert "generated" not in out
    assert not (tmp_path / "out" / "issuer-key.pem").exists()
    code, _, _ = invoke("cert", "verify", str(certificate_of(tmp_path)), "--key", str(keys[1]))
    assert code == 0


def test_certify_refuses_a_local_model_with_a_malicious_chat_template(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    pytest.importorskip("llama_cpp")
    model = tmp_path / "evil.gguf"
    model.write_bytes(corpus.gguf_with_template(corpus.SSTI_TEMPLATE))
    write_suite(tmp_path / "suite", echo_items(40))
    standard = write_standard(tmp_path, ACCURACY)
    exit_code, out, _ = invoke(
        "certify", "--no-progress", "--model", f"llamacpp:{model}", "--standard", str(standard),
        "--output", str(tmp_path / "out"), "--key", str(keys[0]),
    )  # fmt: skip
    assert exit_code == 1, out
    assert "NOT CERTIFIED (refused):" in out
    assert "LLMC-TPL-001 [critical]" in out
    assert "supply chain: " in out
    assert "blocking finding(s)" in out
    assert "verdict:" not in out  # refused before any assessment
    assert not list((tmp_path / "out").rglob("certificate.dsse.json"))


@pytest.fixture
def certified(tmp_path: Path, keys: tuple[Path, Path]) -> tuple[Path, Path, str]:
    """A certificate filed in a registry: (certificate, public key, registry url)."""
    url = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    exit_code, out, _ = certify(tmp_path, "--key", str(keys[0]), "--registry", url)
    assert exit_code == 0, out
    return certificate_of(tmp_path), keys[1], url


def verify(cert: Path, key: Path, *extra: str) -> tuple[int, str]:
    code, out, _ = invoke("cert", "verify", str(cert), "--key", str(key), *extra)
    return code, out


def tampered_copy(cert: Path) -> Path:
    envelope = json.loads(cert.read_text(encoding="utf-8"))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["expires_at"] = "2999-01-01T00:00:00Z"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    out = cert.with_name("tampered.json")
    out.write_text(json.dumps(envelope), encoding="utf-8")
    return out


def test_cert_verify_reports_each_status_distinctly(
    tmp_path: Path, certified: tuple[Path, Path, str]
) -> None:
    cert, public, url = certified
    _, other_public = make_keypair(tmp_path / "other", name="other")
    cases = {
        "VALID": verify(cert, public, "--registry", url),
        "TAMPERED": verify(tampered_copy(cert), public),
        "WRONG KEY": verify(cert, other_public),
        "EXPIRED": verify(cert, public, "--at", "2200-01-01T00:00:00Z"),
        "NOT YET VALID": verify(cert, public, "--at", "2000-01-01T00:00:00+08:00"),
        "WRONG MODEL": verify(cert, public, "--model-digest", "sha256:" + "0" * 64),
    }
    for label, (code, out) in cases.items():
        assert out.startswith(f"{label}: "), (label, out)
        assert code == (0 if label == "VALID" else 1), (label, out)
    assert "EXPIRED" in cases["EXPIRED"][1]
    assert "expired at" in cases["EXPIRED"][1]
    assert "certificate: " in cases["VALID"][1]
    assert "Test Centre" in cases["VALID"][1]
    # A certificate for a synthetic model has no artefact to compare a file with.
    code, out = verify(cert, public, "--model", str(tmp_path / "keys" / "issuer.pub.pem"))
    assert code == 1
    assert out.startswith("WRONG MODEL: ")
    assert "no artefact digest" in out


def test_cert_verify_checks_revocation_through_the_registry(
    certified: tuple[Path, Path, str],
) -> None:
    cert, public, url = certified
    certificate_id = json.loads(verify(cert, public, "--json")[1])["certificate_id"]
    with open_registry(url) as registry:
        registry.set_certificate_status(
            certificate_id, "revoked", reason="weights changed", actor="admin:test"
        )
    code, out = verify(cert, public, "--registry", url)
    assert code == 1
    assert out.startswith("REVOKED: ")
    assert "weights changed" in out
    # Offline, without the registry, the signature and dates alone still hold.
    assert verify(cert, public)[0] == 0
    code, out = verify(cert, public, "--registry", url, "--json")
    document = json.loads(out)
    assert code == 1
    assert (document["status"], document["ok"]) == ("revoked", False)
    assert document["revocation_reason"] == "revoked: weights changed"


@pytest.mark.parametrize("at", ["2030-01-01T00:00:00", "next tuesday"])
def test_cert_verify_refuses_an_ambiguous_time(certified: tuple[Path, Path, str], at: str) -> None:
    cert, public, _ = certified
    code, _, err = invoke("cert", "verify", str(cert), "--key", str(public), "--at", at)
    assert code == 3
    assert err.startswith("error: --at")


def test_audit_verify_detects_an_edited_row(
    tmp_path: Path, certified: tuple[Path, Path, str]
) -> None:
    _, _, url = certified
    code, out, _ = invoke("audit", "verify", "--registry", url)
    assert code == 0
    assert out.startswith("audit log intact: ")
    with sqlite3.connect(tmp_path / "reg.sqlite") as db:
        db.execute("UPDATE audit_entries SET actor = 'cli:someone-else' WHERE seq = 3")
    code, out, _ = invoke("audit", "verify", "--registry", url)
    assert code == 1
    assert "BROKEN at seq 3: hash_mismatch" in out
