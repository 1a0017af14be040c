"""MockBackend: a deterministic in-process model for tests, docs and dry runs.

``mock:echo`` answers with the last user message (or the prompt), ``mock:NAME``
with a short digest-derived string, and ``mock:answer=TEXT`` always with TEXT.
Log-likelihoods favour shorter continuations, deterministically.
"""

from __future__ import annotations

import hashlib

from llmcert.models._ref import ModelRef
from llmcert.models._types import (
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    Loglikelihoods,
    ModelIdentity,
)


class MockBackend:
    supports_loglikelihood = True
    supports_chat = True
    max_concurrency: int | None = None

    def __init__(self, name: str = "echo") -> None:
        self.name = name
        self.calls = 0

    @classmethod
    def from_ref(cls, ref: ModelRef) -> MockBackend:
        return cls(ref.target)

    async def identify(self) -> ModelIdentity:
        return ModelIdentity(kind="synthetic", ref=f"mock:{self.name}", engine=f"mock/{self.name}")

    async def generate(self, request: GenerateRequest) -> Generation:
        self.calls += 1
        text = request.prompt if request.messages is None else request.messages[-1].content
        assert text is not None
        if self.name == "echo":
            answer = text
        elif self.name.startswith("answer="):
            answer = self.name.removeprefix("answer=")
        else:
            material = f"{self.name}|{text}|{request.seed}|{request.settings.temperature}"
            answer = hashlib.sha256(material.encode()).hexdigest()[:8]
        return Generation(answer, "stop", len(text.split()), len(answer.split()))

    async def loglikelihood(self, request: LoglikelihoodRequest) -> Loglikelihoods:
        self.calls += 1
        lps = tuple(-float(len(c)) for c in request.continuations)
        counts = tuple(max(1, len(c.split())) for c in request.continuations)
        best = max(lps)
        return Loglikelihoods(lps, counts, tuple(lp == best for lp in lps))

    async def aclose(self) -> None:
        pass
