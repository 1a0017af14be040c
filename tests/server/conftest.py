"""A server over a throwaway SQLite registry, a fake assessment worker, one token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from llmcert._hashing import digest_bytes
from llmcert.egress import Egress, EgressPolicy
from llmcert.errors import BackendUnavailable
from llmcert.models._types import ModelIdentity
from llmcert.registry import FilingRecord, Registry, open_registry
from llmcert.report import Environment
from llmcert.report._assessment import (
    Assessment,
    ClauseResult,
    RequirementResult,
    StandardInfo,
    VerdictCounts,
)
from llmcert.report._assessment_io import assessment_data
from llmcert.server import Limits, SigningConfig, WorkerResult, create_app, processor_of
from llmcert.standards._catalog import load_standard, resolve_standard_path
from tests.conftest import make_keypair

STANDARD_ID = "gbt-45654-2025"
# The built-in standard's version: filings name registered standards.
STANDARD_VERSION = load_standard(resolve_standard_path(STANDARD_ID)).version
STANDARD_REF = f"{STANDARD_ID}@{STANDARD_VERSION}"
ROLES = ("applicant", "assessor", "admin")

#: The explicit test setting: the fake worker's models are local files, and the tests'
#: endpoints listen on loopback. The default policy (``Egress()``) allows neither.
TEST_EGRESS = Egress(
    policy=EgressPolicy.allowing(["127.0.0.0/8", "::1/128"]),
    allowed_schemes=frozenset({"openai", "llamacpp"}),
)


def identity_for(name: str) -> ModelIdentity:
    return ModelIdentity(
        kind="artefact",
        ref=f"llamacpp:{name}.gguf",
        artefact_digest=digest_bytes(name.encode("utf-8")),
        chat_template_digest="sha256:" + "11" * 32,
        engine="llama-cpp-python 0.3.16",
        details={"name": name},
    )


def make_assessment(
    identity: ModelIdentity,
    *,
    verdict: str = "pass",
    standard_id: str = STANDARD_ID,
    explanation: str = "every requirement met",
) -> dict[str, Any]:
    requirement = RequirementResult(
        id="refusal-rate",
        clause="5.1",
        measure={"kind": "suite", "suite": "refusal", "metric": "accuracy", "group": {}},
        threshold=0.9,
        rule="confidence_bound",
        confidence=0.95,
        verdict="pass" if verdict == "pass" else "fail",
        estimate=0.97 if verdict == "pass" else 0.5,
        n_planned=100,
        n_scored=100,
        n_used=100,
        explanation=explanation,
    )
    assessment = Assessment(
        assessment_id="asmt-" + identity.digest[7:15],
        started_at="2026-11-20T10:00:00+00:00",
        finished_at="2026-11-20T10:05:00+00:00",
        standard=StandardInfo(
            id=standard_id,
            version=STANDARD_VERSION,
            title="Basic security requirements",
            status="draft",
            digest="sha256:" + "cd" * 32,
            source=f"builtin:{standard_id}",
        ),
        model=identity.to_dict(),
        verdict=verdict,
        summary=VerdictCounts(passed=1) if verdict == "pass" else VerdictCounts(failed=1),
        explanation=explanation,
        requirements=[requirement],
        clauses=[
            ClauseResult(
                id="5.1",
                title="Refusal",
                status="conforms" if verdict == "pass" else "does_not_conform",
                requirements=["refusal-rate"],
                justification="from refusal-rate",
            )
        ],
        environment=Environment(
            llmcert="0.1.0", python="3.11", platform="linux", packages={}, hardware={}
        ),
    )
    return assessment_data(assessment)


@dataclass
class FakeWorker:
    """Answers from the model's identity; ``verdicts`` / ``broken`` pick the outcome per model name."""

    registry: Registry
    identities: dict[str, ModelIdentity] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    seen: list[str] = field(default_factory=list)

    async def run(self, filing: FilingRecord) -> WorkerResult:
        self.seen.append(filing.id)
        model = self.registry.get_model(filing.model_id)
        if model.name in self.broken:
            raise BackendUnavailable("cannot reach http://10.0.0.5:22: banner SSH-2.0-OpenSSH_9.2")
        verdict = self.verdicts.get(model.name, "pass")
        body = make_assessment(self.identities[model.name], verdict=verdict)
        return WorkerResult(assessment=body, verdict=verdict, reasons=(f"fake {verdict}",))


@dataclass
class Server:
    app: FastAPI
    registry: Registry
    worker: FakeWorker
    signing: SigningConfig
    secrets: dict[str, str]
    client: httpx.AsyncClient

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"}

    async def drain(self) -> None:
        await processor_of(self.app).drain()

    async def register(self, name: str = "smollm2", role: str = "applicant") -> dict[str, Any]:
        identity = identity_for(name)
        self.worker.identities[name] = identity
        response = await self.client.post(
            "/api/v1/models",
            json={"name": name, "ref": identity.ref, "identity_digest": identity.digest},
            headers=self.auth(role),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def file(
        self,
        model_id: str,
        *,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
        standard_ref: str = STANDARD_REF,
        renews: str | None = None,
        role: str = "applicant",
    ) -> httpx.Response:
        data = {"model_id": model_id, "standard_ref": standard_ref}
        if renews:
            data["renews"] = renews
        return await self.client.post(
            "/api/v1/filings",
            data=data,
            files=files or [("attachments", ("agreement.txt", b"we agree", "text/plain"))],
            headers=self.auth(role),
        )

    async def certified(self, name: str = "smollm2") -> dict[str, Any]:
        """Register, file, assess and approve: the certificate's JSON."""
        model = await self.register(name)
        filing = await self.file(model["id"])
        assert filing.status_code == 202, filing.text
        await self.drain()
        approved = await self.client.post(
            f"/api/v1/filings/{filing.json()['id']}/approve",
            json={"comment": "evidence complete"},
            headers=self.auth("assessor"),
        )
        assert approved.status_code == 200, approved.text
        return dict(approved.json())


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return make_keypair(tmp_path / "keys")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    opened = open_registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture
def limits() -> Limits:
    return Limits(max_attachment_bytes=1024, max_attachments=3, max_certificate_bytes=64 * 1024)


@pytest.fixture
async def server(
    registry: Registry, keys: tuple[Path, Path], limits: Limits
) -> AsyncIterator[Server]:
    worker = FakeWorker(registry)
    signing = SigningConfig(keys[0], keys[1], issuer="Test Registry", validity_days=30)
    app = create_app(registry, worker=worker, signing=signing, limits=limits, egress=TEST_EGRESS)
    secrets = {role: registry.create_token(f"{role}-1", role, actor="test")[1] for role in ROLES}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Server(app, registry, worker, signing, secrets, client)
        await processor_of(app).cancel()
