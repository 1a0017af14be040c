"""The first wave of calls goes out while the model is identified, into a fresh journal only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llmcert.engine import RetryPolicy
from llmcert.models import GenerateRequest, Generation, ModelIdentity
from llmcert.models.mock import MockBackend
from llmcert.services.evaluate import EvalRequest, evaluate
from llmcert.testing import FakeOpenAIServer, RequestRecord

LATENCY = 0.3
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01, max_attempts=3)


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLMCERT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


async def run(srv: FakeOpenAIServer, suite: Path, out: Path, seed: int = 0) -> None:
    ref = f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}"
    request = EvalRequest(model=ref, suite=str(suite), output=out, concurrency=4, seed=seed)
    await evaluate(request, retry=FAST)


def split(records: list[RequestRecord]) -> tuple[list[float], list[float]]:
    """Arrival times of identification requests and of work units."""
    ident = sorted(r.time for r in records if r.idempotency_key is None)
    units = sorted(r.time for r in records if r.idempotency_key is not None)
    return ident, units


async def test_into_a_fresh_journal_the_first_wave_does_not_wait_for_identity(
    tiny_suite: Path, tmp_path: Path
) -> None:
    # Generations are slow, the model listing is not (as on real servers): the first wave
    # waits only for the listing, which names the server's family and so its sampler.
    async with FakeOpenAIServer(faults=[f"slow:always:delay={LATENCY}"]) as srv:
        await run(srv, tiny_suite, tmp_path / "out")
        ident, units = split(srv.requests)
        generations = srv.generations_by_key()
    assert len(units) == 12
    assert set(generations.values()) == {1}
    # Four calls (the concurrency) were out before identification could have answered.
    assert units[3] < ident[0] + LATENCY


async def test_a_journal_with_answers_waits_for_identity_before_sending(
    tiny_suite: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    async with FakeOpenAIServer(latency=LATENCY) as srv:
        await run(srv, tiny_suite, out)
        seen = len(srv.requests)
        await run(srv, tiny_suite, out, seed=1)  # new units, same journal
        ident, units = split(srv.requests[seen:])
    assert len(units) == 12
    assert units[0] >= ident[0] + LATENCY  # the journal could hold answers for this model


async def test_another_model_into_the_same_journal_gets_new_request_keys(
    tiny_suite: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    async with FakeOpenAIServer(model="model-a") as a:
        await run(a, tiny_suite, out)
        keys_a = {r.idempotency_key for r in a.requests if r.idempotency_key}
    async with FakeOpenAIServer(model="model-b") as b:
        await run(b, tiny_suite, out)
        keys_b = {r.idempotency_key for r in b.requests if r.idempotency_key}
    assert len(keys_a) == len(keys_b) == 12
    # An endpoint that remembers Idempotency-Keys can never answer model B with A's answers.
    assert keys_a.isdisjoint(keys_b)


class OneAtATime(MockBackend):
    """Takes a while to identify and allows one call at a time, like the in-process models."""

    max_concurrency: int | None = 1

    def __init__(self) -> None:
        super().__init__("echo")
        self.in_flight = self.peak = 0
        self.identified = False
        self.called_before_identity = False

    async def identify(self) -> ModelIdentity:
        await asyncio.sleep(0.1)
        self.identified = True
        return await super().identify()

    async def generate(self, request: GenerateRequest) -> Generation:
        self.called_before_identity |= not self.identified
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return await super().generate(request)
        finally:
            self.in_flight -= 1


async def test_the_first_wave_keeps_to_the_backend_limit(tiny_suite: Path, tmp_path: Path) -> None:
    backend = OneAtATime()
    request = EvalRequest(model="mock:echo", suite=str(tiny_suite), output=tmp_path, concurrency=8)
    outcome = await evaluate(request, backend=backend, retry=FAST)
    assert backend.called_before_identity
    assert backend.peak == 1
    assert backend.calls == 12
    assert outcome.result.timings.units_sent == 12
