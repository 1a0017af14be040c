"""The mock backend: the deterministic double that CLI and service tests lean on."""

from __future__ import annotations

import pytest

from llmcert.models import (
    ChatMessage,
    GenerateRequest,
    GenerationSettings,
    LoglikelihoodRequest,
    ModelBackend,
    open_backend,
)
from llmcert.models.mock import MockBackend

SETTINGS = GenerationSettings(max_tokens=8)


def chat(text: str, *, seed: int | None = None, temperature: float = 0.0) -> GenerateRequest:
    settings = GenerationSettings(max_tokens=8, temperature=temperature)
    messages = (ChatMessage("system", "be brief"), ChatMessage("user", text))
    return GenerateRequest(settings, messages=messages, seed=seed)


def mock(ref: str) -> MockBackend:
    backend = open_backend(ref)
    assert isinstance(backend, MockBackend)
    return backend


def test_open_backend_builds_a_mock_that_meets_the_protocol() -> None:
    backend = mock("mock:echo")
    assert isinstance(backend, ModelBackend)
    assert backend.name == "echo"
    assert mock("mock:").name == "echo"


async def test_echo_answers_the_last_message_or_the_prompt() -> None:
    backend = mock("mock:echo")
    out = await backend.generate(chat("what is two plus two"))
    assert out.text == "what is two plus two"
    assert out.finish_reason == "stop"
    assert out.prompt_tokens == 5
    prompt = await backend.generate(GenerateRequest(SETTINGS, prompt="Q: hi\nA:"))
    assert prompt.text == "Q: hi\nA:"
    assert backend.calls == 2


async def test_fixed_answer() -> None:
    backend = mock("mock:answer=B")
    assert (await backend.generate(chat("anything"))).text == "B"
    assert (await backend.generate(GenerateRequest(SETTINGS, prompt="else"))).text == "B"


async def test_named_mock_is_deterministic_and_depends_on_seed_and_temperature() -> None:
    a, b = mock("mock:alpha"), mock("mock:alpha")
    first = (await a.generate(chat("q", seed=1))).text
    assert (await b.generate(chat("q", seed=1))).text == first
    assert (await a.generate(chat("q", seed=2))).text != first
    assert (await a.generate(chat("q", seed=1, temperature=0.7))).text != first
    assert (await a.generate(chat("other", seed=1))).text != first
    assert (await mock("mock:beta").generate(chat("q", seed=1))).text != first


async def test_identity_is_synthetic_stable_and_distinct_per_name() -> None:
    one = await mock("mock:alpha").identify()
    again = await mock("mock:alpha").identify()
    other = await mock("mock:beta").identify()
    assert one.kind == "synthetic"
    assert one.ref == "mock:alpha"
    assert one.digest == again.digest
    assert one.digest != other.digest


async def test_loglikelihood_prefers_shorter_continuations() -> None:
    backend = mock("mock:echo")
    out = await backend.loglikelihood(
        LoglikelihoodRequest("Q: capital of France?\nA:", (" Paris", " Lyon city", " Rome"))
    )
    assert out.logprobs == (-6.0, -10.0, -5.0)
    assert out.token_counts == (1, 2, 1)
    assert out.is_greedy == (False, False, True)
    assert backend.calls == 1


@pytest.mark.parametrize("name", ["echo", "answer=x", "alpha"])
async def test_aclose_is_harmless(name: str) -> None:
    backend = mock(f"mock:{name}")
    await backend.aclose()
    assert (await backend.generate(chat("still works"))).text
