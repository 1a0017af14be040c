"""Endpoint log-likelihoods: token accounting, the alignment probe, and the sampler sent.

Against the loopback fake server, including its quirks that answer like faulty real
servers: ``max_tokens: 0`` read as "no limit", echoed log-probabilities shifted by
one position, and a decoder that is not greedy at temperature 0.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from llmcert.errors import MalformedResponse, ModelRefError, ServerError
from llmcert.models import GenerateRequest, GenerationSettings, LoglikelihoodRequest, ModelRef
from llmcert.models.openai_compat import OpenAICompatBackend
from llmcert.models.openai_compat._loglik import (
    ECHO_MAX_TOKENS,
    EchoedTokens,
    LoglikelihoodRefused,
    continuation_start,
    sum_continuation,
)
from llmcert.testing import FakeOpenAIServer
from llmcert.testing._responses import token_logprob, tokenize

CONTEXT = "Q: Where do cats sleep?\nA:"
CONTINUATIONS = (" on the mat", " in a warm box by the fire")


@asynccontextmanager
async def connect(srv: FakeOpenAIServer, **params: str) -> AsyncIterator[OpenAICompatBackend]:
    query = "".join(f"&{k}={v}" for k, v in params.items())
    ref = ModelRef.parse(f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}{query}")
    backend = OpenAICompatBackend.from_ref(ref)
    try:
        yield backend
    finally:
        await backend.aclose()


def fake_loglikelihood(context: str, continuation: str) -> tuple[float, int]:
    """What the fake's scorer says: its own token log-probabilities, continuation only."""
    tokens = tokenize(context + continuation)
    total, count, offset = 0.0, 0, 0
    for i, tok in enumerate(tokens):
        if offset >= len(context) and i > 0:
            total += token_logprob(tokens[i - 1], tok)
            count += 1
        offset += len(tok)
    return total, count


# -- token accounting -----------------------------------------------------------------------


async def test_a_server_that_generates_at_max_tokens_zero_is_not_summed_in() -> None:
    async with FakeOpenAIServer(quirks=["unlimited-zero-max-tokens"]) as srv:
        # The quirk is real: asked for nothing, this server generates.
        async with httpx.AsyncClient() as client:
            body = {"model": srv.model, "prompt": CONTEXT, "max_tokens": 0, "echo": True}
            answer = (await client.post(f"{srv.base_url}/completions", json=body)).json()
        assert len(answer["choices"][0]["text"]) > len(CONTEXT)
        async with connect(srv, api="completions") as backend:
            out = await backend.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
    expected = [fake_loglikelihood(CONTEXT, c) for c in CONTINUATIONS]
    assert out.logprobs == pytest.approx([e[0] for e in expected])
    assert out.token_counts == (3, 7) == tuple(e[1] for e in expected)


def _echo(tokens: list[str], logprobs: list[float | None]) -> EchoedTokens:
    offsets, at = [], 0
    for tok in tokens:
        offsets.append(at)
        at += len(tok)
    return EchoedTokens(tokens, offsets, logprobs, [None] * len(tokens))


def test_generated_tokens_beyond_the_budget_are_refused() -> None:
    prompt = "A: Paris"
    tokens = ["A", ":", " Paris", " is", " nice"]  # two generated where one was asked
    echo = _echo(tokens, [None, -1.0, -2.0, -3.0, -4.0])
    with pytest.raises(LoglikelihoodRefused, match=f"max_tokens={ECHO_MAX_TOKENS}"):
        sum_continuation(echo, prompt, start=2, where="srv")
    total, count, _ = sum_continuation(
        _echo(tokens[:4], [None, -1.0, -2.0, -3.0]), prompt, start=2, where="srv"
    )
    assert (total, count) == (-2.0, 1)  # " Paris" only; the one generated token is left out


def test_trailing_space_of_the_context_belongs_to_the_continuation() -> None:
    context, continuation = "A: ", "Paris"
    prompt = context + continuation
    echo = _echo(["A", ":", " Paris"], [None, -1.0, -2.5])
    start = continuation_start(context)
    assert start == 2
    assert sum_continuation(echo, prompt, start=start, where="srv")[:2] == (-2.5, 1)


def test_more_tokens_than_the_continuation_has_bytes_is_refused() -> None:
    # Offsets that put most of the prompt inside a one-byte continuation are not believed.
    echo = EchoedTokens(["ab", "c", "d", "e"], [0, 2, 2, 2], [None, -1.0, -1.0, -1.0], [None] * 4)
    with pytest.raises(LoglikelihoodRefused, match="3 tokens for a continuation of 1 bytes"):
        sum_continuation(echo, "abX", start=2, where="srv")


def test_echo_without_logprobs_is_malformed() -> None:
    with pytest.raises(MalformedResponse):
        EchoedTokens.parse({"choices": [{"text": "x", "logprobs": None}]}, "srv")


# -- the alignment probe --------------------------------------------------------------------


async def test_a_shifted_server_is_refused_with_the_cause_before_any_unit() -> None:
    async with FakeOpenAIServer(quirks=["shifted-echo-logprobs"]) as srv:
        async with connect(srv, api="completions") as backend:
            with pytest.raises(LoglikelihoodRefused, match="misaligned") as info:
                await backend.loglikelihood(
                    LoglikelihoodRequest(CONTEXT, CONTINUATIONS, idempotency_key="unit-1")
                )
            # Identification still works, and says what the probe found.
            identity = await backend.identify()
            generation = await backend.generate(
                GenerateRequest(GenerationSettings(max_tokens=4), prompt="hello there")
            )
        keyed = [r for r in srv.requests if r.idempotency_key is not None]
    assert "when generated but" in str(info.value)
    assert "in-process backend" in str(info.value)
    assert keyed == [], "no log-likelihood unit was sent to a refused server"
    assert identity.details["loglikelihood_alignment"].startswith("refused: ")
    assert generation.text == "hello there"


async def test_an_aligned_server_passes_the_probe_once() -> None:
    async with FakeOpenAIServer() as srv, connect(srv, api="completions") as backend:
        identity = await backend.identify()
        before = len(srv.requests)
        await backend.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
        after = srv.requests[before:]
    assert identity.details["loglikelihood_alignment"].startswith("aligned: ")
    assert len(after) == len(CONTINUATIONS), "the probe ran at identification, not again"


async def test_a_probe_that_fails_in_transport_is_tried_again() -> None:
    async with (
        FakeOpenAIServer(faults=["status:503:first=1"]) as srv,
        connect(srv, api="completions") as backend,
    ):
        await backend.check_loglikelihood()  # one lost request: that call is retried
        assert sum(r.fault is not None for r in srv.requests) == 1


async def test_a_probe_that_fails_past_its_retries_is_not_kept() -> None:
    async with (
        FakeOpenAIServer(faults=["status:503"]) as srv,
        connect(srv, api="completions") as backend,
    ):
        with pytest.raises(ServerError, match="503"):
            await backend.check_loglikelihood()
        srv.clear_faults()
        await backend.check_loglikelihood()  # the fault is gone; nothing was kept


# -- the sampler ----------------------------------------------------------------------------


class _Capture:
    def __init__(self, backend: OpenAICompatBackend) -> None:
        self.payloads: list[dict[str, Any]] = []
        inner = backend._post

        async def post(path: str, payload: dict[str, Any], key: str | None) -> dict[str, Any]:
            self.payloads.append(payload)
            return await inner(path, payload, key)

        backend._post = post  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("server", "expected", "honoured"),
    [
        ("llamacpp", {"repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0}, "documented"),
        ("vllm", {"repetition_penalty": 1.0, "top_k": -1, "min_p": 0.0}, "documented"),
        ("ollama", {}, "not settable"),
        (None, {}, "unknown"),  # the fake lists itself as owned by "llmcert"
    ],
)
async def test_the_sampler_sent_follows_the_server_family_and_is_recorded(
    server: str | None, expected: dict[str, float], honoured: str
) -> None:
    params = {"server": server} if server else {}
    async with FakeOpenAIServer() as srv, connect(srv, **params) as backend:
        capture = _Capture(backend)
        identity = await backend.identify()
        await backend.generate(
            GenerateRequest(GenerationSettings(max_tokens=8, temperature=0.0), prompt="hi")
        )
    sent = capture.payloads[-1]
    for name, value in expected.items():
        assert sent[name] == value
    assert sent["frequency_penalty"] == 0.0
    assert sent["presence_penalty"] == 0.0
    assert sent["temperature"] == 0.0
    assert sent["top_p"] == 1.0
    for absent in {"repeat_penalty", "repetition_penalty", "top_k", "min_p"} - set(expected):
        assert absent not in sent
    details = identity.details
    assert details["server_family"] == (server or "unknown")
    assert details["sampler_honoured"].startswith(honoured)
    for name, value in expected.items():
        assert f"{name}={value}" in details["sampler_sent"]


@pytest.mark.parametrize(
    ("server", "cache_field", "honoured"),
    [
        ("llamacpp", True, "documented"),  # llama-server's cache_prompt
        ("llama-cpp-python", True, "ignored"),  # sent, but its request model drops it
        ("vllm", False, "not settable"),
        (None, False, "not settable"),
    ],
)
async def test_the_prompt_cache_switch_is_sent_where_the_family_has_one_and_recorded(
    server: str | None, cache_field: bool, honoured: str
) -> None:
    params = {"server": server} if server else {}
    async with FakeOpenAIServer() as srv, connect(srv, api="completions", **params) as backend:
        capture = _Capture(backend)
        identity = await backend.identify()
        await backend.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
    posts = capture.payloads
    assert posts  # generations, the probe's echoes and the units' echoes
    for payload in posts:
        assert ("cache_prompt" in payload) is cache_field
        if cache_field:
            assert payload["cache_prompt"] is False
    assert identity.details["prompt_cache_sent"] == (
        "cache_prompt=false" if cache_field else "nothing"
    )
    assert identity.details["prompt_cache_honoured"].startswith(honoured)


async def test_llama_cpp_python_is_recognised_from_its_model_listing() -> None:
    from llmcert.models.openai_compat._sampler import detect_family

    listing = [{"id": "/m.gguf", "object": "model", "owned_by": "me", "permissions": []}]
    assert detect_family(listing) == "llama-cpp-python"
    assert detect_family([{"id": "m", "owned_by": "llamacpp"}]) == "llamacpp"
    assert detect_family([{"id": "m", "owned_by": "vllm"}]) == "vllm"
    assert detect_family([{"id": "m", "owned_by": "someone"}]) == "unknown"


async def test_the_greedy_canary_catches_a_decoder_that_is_not_greedy() -> None:
    async with FakeOpenAIServer() as srv, connect(srv, api="completions") as backend:
        honest = await backend.identify()
    async with (
        FakeOpenAIServer(quirks=["not-greedy"]) as srv,
        connect(srv, api="completions") as backend,
    ):
        penalised = await backend.identify()
    assert honest.details["greedy_check"].startswith("greedy: ")
    assert penalised.details["greedy_check"].startswith("not greedy: ")


# -- the prompt cache -------------------------------------------------------------------------


async def test_an_order_independent_server_passes_both_cache_checks() -> None:
    async with FakeOpenAIServer() as srv, connect(srv, api="completions") as backend:
        identity = await backend.identify()
        out = await backend.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
    assert out.token_counts == (3, 7)
    details = identity.details
    assert details["loglikelihood_cache_spread"].startswith("0.0000 nats across 3 cache states")
    assert "prompt cache: 0.0000 nats" in details["loglikelihood_alignment"]
    assert details["greedy_order_check"].startswith("reproducible: ")


async def test_a_server_whose_prompt_cache_moves_loglikelihoods_is_refused() -> None:
    async with (
        FakeOpenAIServer(quirks=["prompt-cache"]) as srv,
        connect(srv, api="completions") as backend,
    ):
        identity = await backend.identify()
        units_before = len(srv.requests)
        with pytest.raises(LoglikelihoodRefused) as info:
            await backend.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
        assert len(srv.requests) == units_before  # refused before any item is sent
    message = str(info.value)
    assert "the server's prompt cache changes log-likelihoods by 0.0200 nats" in message
    assert "only the start token cached" in message
    assert "part of the context cached" in message
    assert identity.details["loglikelihood_alignment"].startswith("refused: ")
    assert identity.details["loglikelihood_cache_spread"].startswith("0.0200 nats")


@pytest.mark.parametrize("api", ["chat", "completions"])
async def test_the_greedy_canary_catches_generations_that_depend_on_request_order(
    api: str,
) -> None:
    async with FakeOpenAIServer() as srv, connect(srv, api=api) as backend:
        steady = await backend.identify()
    async with FakeOpenAIServer(quirks=["prompt-cache"]) as srv, connect(srv, api=api) as backend:
        warm = await backend.identify()
    # The fake's chat answers carry no log-probabilities: the texts are compared alone.
    assert not steady.details["greedy_order_check"].startswith("order-dependent")
    verdict = warm.details["greedy_order_check"]
    assert verdict.startswith("order-dependent: the same greedy canary gave 2 different texts")
    assert "not reproducible in-process" in verdict


def test_server_family_in_the_reference_is_checked() -> None:
    assert ModelRef.parse("openai://h:1/v1?model=m&server=vllm").params["server"] == "vllm"
    with pytest.raises(ModelRefError, match="server must be one of"):
        ModelRef.parse("openai://h:1/v1?model=m&server=llamafile")
