"""The certification service on deterministic in-process models and an SQLite registry:
issue on PASS only, refuse on a blocking supply-chain finding, record every decision."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from llmcert.certificates import CertificateStatus, verify_certificate
from llmcert.errors import IdentityChanged, SpecError
from llmcert.models import ModelIdentity
from llmcert.models.mock import MockBackend
from llmcert.registry import Registry, open_registry, verify_audit
from llmcert.report import assessment_digest, assessment_judges, load_assessment
from llmcert.services.assess import AssessRequest
from llmcert.services.certify import (
    CERTIFICATE_FILE,
    ISSUER_KEY_FILE,
    ISSUER_PUBLIC_KEY_FILE,
    SCAN_FILE,
    SUPERSEDED_FILE,
    CertifyOutcome,
    CertifyRequest,
    Decision,
    certify,
)
from llmcert.supplychain.identity import digest_tree
from llmcert.supplychain.signing._keys import PASSPHRASE_ENV, SigningError
from tests.conftest import make_keypair, write_suite
from tests.services.assess.test_assess import ACCURACY, DOCUMENT, SIZE, echo_items, write_standard
from tests.supplychain import corpus

ISSUER = "Test Centre"


class ArtefactMock(MockBackend):
    """Echoes, but identifies as the local model files at ``path``, as a GGUF or HF backend does."""

    def __init__(self, path: Path) -> None:
        super().__init__("echo")
        self.path = path

    async def identify(self) -> ModelIdentity:
        return ModelIdentity(
            kind="artefact",
            ref=f"hf:{self.path}",
            artefact_digest=digest_tree(self.path).root,
            artefact_path=str(self.path),
            engine="mock/echo",
        )


class ShiftingMock(MockBackend):
    """A model whose identity changes after the first look (its files were swapped)."""

    async def identify(self) -> ModelIdentity:
        self.calls += 1
        return ModelIdentity(kind="synthetic", ref="mock:echo", engine=f"mock/{self.calls}")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return make_keypair(tmp_path / "keys")


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.sqlite'}"


def standard(tmp_path: Path, *, wrong: int = 0, requirements: str = ACCURACY + SIZE) -> Path:
    write_suite(tmp_path / "suite", echo_items(40, wrong=wrong))
    return write_standard(tmp_path, requirements)


ASSESS_FIELDS = {f.name for f in dataclasses.fields(AssessRequest)}


async def run(
    tmp_path: Path, std: Path, backend: MockBackend | None = None, **fields: Any
) -> CertifyOutcome:
    fields.setdefault("issuer", ISSUER)
    assess_fields = {k: fields.pop(k) for k in list(fields) if k in ASSESS_FIELDS}
    request = CertifyRequest(
        AssessRequest(
            model="mock:echo", standard=str(std), output=tmp_path / "out", **assess_fields
        ),
        **fields,
    )
    return await certify(request, backend=backend or MockBackend("echo"))


def decision_json(outcome: CertifyOutcome) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(outcome.decision_path.read_text(encoding="utf-8"))
    return data


def filing_notes(registry: Registry, filing_id: str) -> list[str]:
    entries = registry.audit_entries(subject=f"filing:{filing_id}")
    return [str(e.payload.get("note", "")) for e in entries if e.action == "filing.transition"]


async def test_pass_issues_a_verifiable_certificate_and_the_filing_ends_certified(
    tmp_path: Path, keys: tuple[Path, Path], registry_url: str
) -> None:
    outcome = await run(tmp_path, standard(tmp_path), key=keys[0], registry=registry_url)
    assert outcome.decision is Decision.ISSUED
    assert outcome.reasons == ()
    assert outcome.assessment is not None
    base = outcome.assessment.json_path.parent
    assert outcome.certificate_path == base / CERTIFICATE_FILE
    with open_registry(registry_url) as registry:
        check = verify_certificate(
            outcome.certificate_path, public_key_path=keys[1], is_revoked=registry.revocation_reason
        )
        assert check.status is CertificateStatus.VALID, check.details
        predicate = check.predicate
        assert predicate is not None
        assert predicate.certificate_id == outcome.certificate_id
        # The certificate binds exactly the assessment written beside it.
        written = load_assessment(outcome.assessment.json_path)
        assert predicate.assessment_digest == assessment_digest(written)
        assert list(predicate.judges) == assessment_judges(written)
        assert predicate.model_digest == outcome.identity.digest
        assert (predicate.standard.id, predicate.standard.version) == ("test-standard", "1.2.3")
        assert predicate.issuer.name == ISSUER
        assert "not applicable: synthetic model" in (predicate.notes or "")

        assert outcome.filing is not None
        assert outcome.filing.status == "certified"
        filing = registry.get_filing(outcome.filing.filing_id)
        assert filing.status.value == "certified"
        assert filing.standard_ref == "test-standard@1.2.3"
        assert [a.verdict for a in registry.list_assessments(filing.id)] == ["pass"]
        record = registry.find_certificate(predicate.certificate_id)
        assert record is not None
        assert record.filing_id == filing.id
        # Every step of the workflow is in the audit log, by the CLI's automated assessor.
        entries = registry.audit_entries(limit=1000)
        moves = [e.payload["to"] for e in entries if e.action == "filing.transition"]
        assert moves == ["assessing", "awaiting_review", "approved"]
        assert entries[-1].action == "certificate.add"
        assert {e.actor for e in entries} == {f"cli:{ISSUER}"}
        assert verify_audit(registry).ok

    document = decision_json(outcome)
    assert document["decision"] == "issued"
    assert document["verdict"] == "pass"
    assert document["certificate"]["id"] == outcome.certificate_id
    assert document["supply_chain"]["status"] == "not_applicable"
    assert document["assessment"]["digest"] == predicate.assessment_digest
    assert document["registry"]["status"] == "certified"


async def test_recertifying_the_same_model_files_under_the_same_registered_model(
    tmp_path: Path, keys: tuple[Path, Path], registry_url: str
) -> None:
    std = standard(tmp_path)
    first = await run(tmp_path, std, key=keys[0], registry=registry_url)
    second = await run(tmp_path, std, key=keys[0], registry=registry_url)
    assert first.filing is not None
    assert second.filing is not None
    assert first.filing.model_id == second.filing.model_id
    assert first.filing.filing_id != second.filing.filing_id
    assert first.certificate_id != second.certificate_id


async def test_fail_issues_nothing_and_the_filing_is_rejected_with_reasons(
    tmp_path: Path, keys: tuple[Path, Path], registry_url: str
) -> None:
    outcome = await run(tmp_path, standard(tmp_path, wrong=36), key=keys[0], registry=registry_url)
    assert outcome.decision is Decision.FAILED
    assert not outcome.issued
    assert outcome.certificate_path is None
    assert outcome.certificate_id is None
    assert outcome.assessment is not None
    assert not (outcome.assessment.json_path.parent / CERTIFICATE_FILE).exists()
    assert [(r.source, r.id, r.status) for r in outcome.reasons] == [
        ("requirement", "accuracy", "fail")
    ]
    document = decision_json(outcome)
    assert document["decision"] == "failed"
    assert document["certificate"] is None
    assert document["reasons"][0]["id"] == "accuracy"
    assert document["reasons"][0]["explanation"]
    with open_registry(registry_url) as registry:
        assert outcome.filing is not None
        filing = registry.get_filing(outcome.filing.filing_id)
        assert filing.status.value == "rejected"
        assert [a.verdict for a in registry.list_assessments(filing.id)] == ["fail"]
        assert "accuracy (fail)" in filing_notes(registry, filing.id)[-1]
        assert registry.search_certificates() == []


async def test_inconclusive_is_not_issued_and_names_the_open_requirement(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    std = standard(tmp_path, requirements=ACCURACY + DOCUMENT)
    outcome = await run(tmp_path, std, key=keys[0])
    assert outcome.decision is Decision.INCONCLUSIVE
    assert outcome.certificate_path is None
    assert [(r.id, r.status) for r in outcome.reasons] == [("agreement", "inconclusive")]
    assert "--evidence agreement=FILE" in outcome.reasons[0].explanation
    assert outcome.filing is None
    assert decision_json(outcome)["registry"] is None


async def test_a_later_refusal_moves_an_earlier_certificate_aside(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    std = standard(tmp_path, requirements=ACCURACY + DOCUMENT)
    doc = tmp_path / "agreement.txt"
    doc.write_text("terms", encoding="utf-8")
    first = await run(tmp_path, std, key=keys[0], evidence={"agreement": doc})
    assert first.certificate_path is not None
    certificate = first.certificate_path.read_bytes()
    second = await run(tmp_path, std, key=keys[0])
    assert second.decision is Decision.INCONCLUSIVE
    assert second.decision_path.parent == first.certificate_path.parent
    # The directory no longer shows a certificate beside an assessment it does not bind.
    assert not first.certificate_path.exists()
    assert (first.certificate_path.parent / SUPERSEDED_FILE).read_bytes() == certificate


async def test_blocking_scan_finding_refuses_before_any_model_call(
    tmp_path: Path, keys: tuple[Path, Path], registry_url: str
) -> None:
    bad = tmp_path / "bad-model"
    corpus.hf_directory(bad)
    corpus.torch_zip(bad / "pytorch_model.bin", corpus.os_system_reduce())
    backend = ArtefactMock(bad)
    outcome = await run(tmp_path, standard(tmp_path), backend, key=keys[0], registry=registry_url)
    assert outcome.decision is Decision.REFUSED
    assert backend.calls == 0
    assert outcome.assessment is None
    assert outcome.supply_chain.status == "blocked"
    report = outcome.supply_chain.report
    assert report is not None
    blocking = {f.id for f in report.findings if f.blocking}
    assert blocking
    assert {r.id for r in outcome.reasons} == blocking
    assert all(r.source == "supply-chain" for r in outcome.reasons)
    assert any("pytorch_model.bin" in r.explanation for r in outcome.reasons)

    document = decision_json(outcome)
    assert document["decision"] == "refused"
    assert document["verdict"] is None
    assert {f["id"] for f in document["supply_chain"]["findings"] if f["blocking"]} == blocking
    scan = json.loads((outcome.decision_path.parent / SCAN_FILE).read_text(encoding="utf-8"))
    assert {f["id"] for f in scan["findings"]} >= blocking
    assert not list(tmp_path.joinpath("out").rglob(CERTIFICATE_FILE))
    with open_registry(registry_url) as registry:
        assert outcome.filing is not None
        filing = registry.get_filing(outcome.filing.filing_id)
        assert filing.status.value == "rejected"
        assert registry.list_assessments(filing.id) == []
        assert [a.name for a in registry.list_attachments(filing.id)] == [SCAN_FILE]
        note = filing_notes(registry, filing.id)[-1]
        assert note.startswith("refused:")
        assert all(i in note for i in blocking)


async def test_clean_local_artefacts_are_scanned_and_bound_by_digest(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    model_dir = tmp_path / "clean-model"
    model_dir.mkdir()
    (model_dir / "model.gguf").write_bytes(corpus.gguf({"general.license": "mit"}))
    outcome = await run(tmp_path, standard(tmp_path), ArtefactMock(model_dir), key=keys[0])
    assert outcome.decision is Decision.ISSUED
    assert outcome.supply_chain.status == "clean"
    assert outcome.certificate_path is not None
    check = verify_certificate(
        outcome.certificate_path, public_key_path=keys[1], model_path=model_dir
    )
    assert check.status is CertificateStatus.VALID, check.details
    assert check.predicate is not None
    assert "scan report sha256:" in (check.predicate.notes or "")
    # Changed weights are no longer the certified model.
    (model_dir / "model.gguf").write_bytes(corpus.gguf({"general.license": "apache-2.0"}))
    changed = verify_certificate(
        outcome.certificate_path, public_key_path=keys[1], model_path=model_dir
    )
    assert changed.status is CertificateStatus.WRONG_MODEL


async def test_local_model_whose_files_cannot_be_found_is_refused(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    class Gone(MockBackend):
        async def identify(self) -> ModelIdentity:
            return ModelIdentity(
                kind="artefact",
                ref="hf:gone",
                artefact_digest="sha256:" + "0" * 64,
                artefact_path=str(tmp_path / "gone"),
            )

    gone = Gone("echo")
    outcome = await run(tmp_path, standard(tmp_path), gone, key=keys[0])
    assert outcome.decision is Decision.REFUSED
    assert gone.calls == 0
    assert outcome.supply_chain.status == "unavailable"
    assert [r.id for r in outcome.reasons] == ["artefacts-not-scanned"]


async def test_without_a_key_an_issuer_key_pair_is_made_once_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    std = standard(tmp_path)
    first = await run(tmp_path, std)
    private, public = tmp_path / "out" / ISSUER_KEY_FILE, tmp_path / "out" / ISSUER_PUBLIC_KEY_FILE
    assert first.issued
    assert first.generated_public_key == public
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert first.certificate_path is not None
    assert verify_certificate(first.certificate_path, public_key_path=public).ok
    key_bytes = private.read_bytes()
    second = await run(tmp_path, std)
    assert second.issued
    assert second.generated_public_key is None
    assert private.read_bytes() == key_bytes
    assert second.certificate_path is not None
    assert verify_certificate(second.certificate_path, public_key_path=public).ok


async def test_the_issuer_key_pair_is_made_up_front_even_when_nothing_is_issued(
    tmp_path: Path,
) -> None:
    outcome = await run(tmp_path, standard(tmp_path, wrong=36))
    assert outcome.decision is Decision.FAILED
    assert outcome.generated_public_key == tmp_path / "out" / ISSUER_PUBLIC_KEY_FILE
    assert (tmp_path / "out" / ISSUER_KEY_FILE).is_file()


async def test_no_secret_reaches_any_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    secret = "s3cret-passphrase-never-written"
    monkeypatch.setenv(PASSPHRASE_ENV, secret)
    private, _ = make_keypair(tmp_path / "keys", passphrase=secret.encode())
    outcome = await run(tmp_path, standard(tmp_path), key=private, registry=registry_url)
    assert outcome.issued
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    written += [p for p in tmp_path.glob("registry.sqlite*") if p.is_file()]
    assert len(written) > 5
    key_body = b"".join(private.read_bytes().splitlines()[1:3])
    for path in written:
        data = path.read_bytes()
        assert secret.encode() not in data, path
        assert b"PRIVATE KEY" not in data, path
        assert key_body not in data.replace(b"\n", b""), path


async def test_an_unusable_key_fails_before_the_model_is_called(tmp_path: Path) -> None:
    bad_key = tmp_path / "key.pem"
    bad_key.write_text("not a key", encoding="utf-8")
    backend = MockBackend("echo")
    with pytest.raises(SigningError):
        await run(tmp_path, standard(tmp_path), backend, key=bad_key)
    assert backend.calls == 0
    assert not (tmp_path / "out").exists()


async def test_a_model_that_changes_during_the_run_is_not_certified(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    with pytest.raises(IdentityChanged):
        await run(tmp_path, standard(tmp_path), ShiftingMock("echo"), key=keys[0])
    assert not list(tmp_path.joinpath("out").rglob(CERTIFICATE_FILE))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"validity_days": 0}, "validity"),
        ({"scan_fail_on": "severe"}, "scan threshold"),
        ({"issuer": " "}, "issuer"),
    ],
)
async def test_bad_requests_are_refused_up_front(
    tmp_path: Path, keys: tuple[Path, Path], fields: dict[str, Any], message: str
) -> None:
    backend = MockBackend("echo")
    with pytest.raises(SpecError, match=message):
        await run(tmp_path, standard(tmp_path), backend, key=keys[0], **fields)
    assert backend.calls == 0
