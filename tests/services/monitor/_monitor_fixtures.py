"""Builders for the monitoring tests: a registry holding a real certificate, a loopback
webhook receiver, and a model that keeps its identity but has started answering wrongly."""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from llmcert.certificates import issue_certificate
from llmcert.certificates._statement import read_statement
from llmcert.models import GenerateRequest, Generation, ModelBackend, ModelRef
from llmcert.models._system import EngineSystemInfo
from llmcert.models.mock import MockBackend
from llmcert.registry import CertificateStatus, FilingStatus, Registry, open_registry
from llmcert.report._assessment import Assessment, RequirementResult
from llmcert.report._assessment_io import assessment_data, assessment_digest
from llmcert.services.assess import AssessRequest, assess
from llmcert.services.monitor import LOG_NAME, MonitorRequest
from tests.conftest import make_keypair, write_suite

N_ITEMS = 60

STANDARD = """\
id: monitored-standard
title: A standard under monitoring
version: 1.0.0
status: draft
clauses:
  - {id: "1", title: Accuracy}
  - {id: "2", title: Chinese accuracy}
requirements:
  - id: accuracy
    clause: "1"
    measure: {kind: suite, suite: suite/suite.yaml, metric: accuracy}
    threshold: 0.5
    rule: confidence_bound
  - id: accuracy-zh
    clause: "2"
    measure: {kind: suite, suite: suite/suite.yaml, metric: accuracy, group: {language: zh}}
    threshold: 0.5
    rule: confidence_bound
"""


class WrongAnswers(MockBackend):
    """Identifies as ``mock:echo`` but answers every ``wrong_every``-th call wrongly (all by default)."""

    def __init__(self, wrong_every: int = 1) -> None:
        super().__init__("echo")
        self.wrong_every = wrong_every

    async def generate(self, request: GenerateRequest) -> Generation:
        right = await super().generate(request)
        if self.calls % self.wrong_every == 0:
            return Generation("something else", "stop", 1, 2)
        return right


AVX512 = "SSE3 = 1 | AVX = 1 | AVX2 = 1 | FMA = 1 | AVX512 = 1 | AVX512_VNNI = 1"
AVX2 = "SSE3 = 1 | AVX = 1 | AVX2 = 1 | FMA = 1 | AVX512 = 0"


class OnHardware(WrongAnswers):
    """An echo model that reports in-process kernels, like llama.cpp on a given CPU."""

    def __init__(self, features: str, *, wrong: bool = False) -> None:
        super().__init__(wrong_every=1 if wrong else 10**9)
        self.features = features

    def system_info(self) -> EngineSystemInfo:
        return EngineSystemInfo("llama.cpp", "test build", f"CPU : {self.features} | ")


@dataclass
class Setup:
    registry_url: str
    certificate_id: str
    model_digest: str
    assessment: Assessment
    output: Path

    def request(self, **fields: Any) -> MonitorRequest:
        values: dict[str, Any] = {"sample": 40, "seed": 7, "output": self.output, "once": True}
        values.update(fields)
        return MonitorRequest(self.registry_url, **values)

    def status(self) -> tuple[CertificateStatus, str | None]:
        with open_registry(self.registry_url) as registry:
            record = registry.find_certificate(self.certificate_id)
            assert record is not None
            return record.status, record.reason

    def log(self) -> list[dict[str, Any]]:
        lines = (self.output / LOG_NAME).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]


def _certify(
    registry: Registry,
    assessment: Assessment,
    key: Path,
    *,
    ref: str,
    identity: dict[str, Any],
    alter_record: bool = False,
) -> str:
    """File, assess, approve and certify, through the registry's own workflow."""
    digest = str(identity["digest"])
    model = registry.register_model(
        name="tiny echo", ref=ref, identity_digest=digest, owner="Acme Labs", actor="applicant-1"
    )
    standard = assessment.standard
    filing = registry.submit_filing(
        model.id, f"{standard.id}@{standard.version}", applicant="Acme Labs", actor="applicant-1"
    )
    registry.transition_filing(filing.id, FilingStatus.ASSESSING, actor="assessor-1")
    bound = assessment_digest(assessment)
    body = assessment_data(assessment)
    if alter_record:  # the body no longer matches the digest it is filed under
        body["requirements"][0]["estimate"] = 0.5
    registry.record_assessment(
        filing.id, digest=bound, verdict=assessment.verdict, body=body, actor="assessor-1"
    )
    for step in (FilingStatus.AWAITING_REVIEW, FilingStatus.APPROVED):
        registry.transition_filing(filing.id, step, actor="assessor-1")
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    envelope = issue_certificate(
        model_identity=identity,
        model_digest=digest,
        standard_id=standard.id,
        standard_version=standard.version,
        standard_digest=standard.digest,
        assessment_digest=bound,
        verdict=assessment.verdict,
        issuer="Test Centre",
        private_key_path=key,
        now=issued,
    )
    predicate, _ = read_statement(json.loads(base64.b64decode(envelope["payload"])))
    registry.add_certificate(
        filing.id,
        certificate_id=predicate.certificate_id,
        envelope=envelope,
        issued_at=predicate.issued_at,
        expires_at=predicate.expires_at,
        actor="assessor-1",
    )
    return predicate.certificate_id


async def make_setup(
    tmp_path: Path,
    *,
    identity_from: str = "echo",
    ref: str = "mock:echo",
    alter_record: bool = False,
    certified_on: str | None = None,
) -> Setup:
    """``certified_on``: the kernel features the certified assessment ran with (None: remote)."""
    items: list[dict[str, object]] = [
        {
            "id": f"q{i:03d}",
            "input": f"say {i}",
            "target": f"say {i}",
            "language": "en" if i % 2 else "zh",
        }
        for i in range(N_ITEMS)
    ]
    write_suite(tmp_path / "suite", items)
    standard = tmp_path / "standard.yaml"
    standard.write_text(STANDARD, encoding="utf-8")
    outcome = await assess(
        AssessRequest(model="mock:echo", standard=str(standard), output=tmp_path / "certified"),
        backend=MockBackend("echo") if certified_on is None else OnHardware(certified_on),
    )
    assessment = outcome.assessment
    assert assessment.verdict == "pass"
    identity = (await MockBackend(identity_from).identify()).to_dict()
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    private_key, _ = make_keypair(tmp_path / "keys")
    with open_registry(url) as registry:
        cert_id = _certify(
            registry, assessment, private_key, ref=ref, identity=identity, alter_record=alter_record
        )
    return Setup(url, cert_id, str(identity["digest"]), assessment, tmp_path / "monitor")


def factory_of(backend: ModelBackend) -> Any:
    def make(ref: ModelRef) -> ModelBackend:
        assert ref.scheme == "mock"
        return backend

    return make


class Receiver:
    """A loopback HTTP server in a thread that records every POSTed JSON body."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                receiver.paths.append(self.path)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/s3cr3t-token"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def unsafe_requirement() -> RequirementResult:
    """An "unsafe rate ≤ 0.2" result as the assessment service records one."""
    return RequirementResult(
        id="unsafe",
        clause="1",
        measure={"kind": "suite", "suite": "x", "metric": "accuracy"},
        threshold=0.2,
        direction="at_most",
        rule="confidence_bound",
        verdict="pass",
        explanation="",
        decision={"counts": {"successes": 3, "n_scored": 40, "n_error": 2, "n_unscored": 0}},
    )
