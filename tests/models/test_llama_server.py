"""One model, two ways of serving it, the same answers: ``llama_cpp.server`` against in-process.

A real ``python -m llama_cpp.server`` on loopback serves the embedded GGUF files
(``conftest.py``). Log-likelihoods through the endpoint equal the in-process ones
on an empty prompt cache (Gemma, which adds a start token) and are refused where
they are wrong (SmolLM2: shifted echo) or depend on the prompt cache (Gemma on a
warm server); greedy generations are identical through both paths once the
neutral sampler is sent (SmolLM2), the fingerprint flags Gemma's as depending on
request order, and it catches a server that applies a repeat penalty whatever it
is sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from llmcert.models import LoglikelihoodRequest, ModelRef, open_backend
from llmcert.models.llamacpp import LlamaCppBackend
from llmcert.models.openai_compat import OpenAICompatBackend
from llmcert.models.openai_compat._loglik import (
    EchoedTokens,
    LoglikelihoodRefused,
    continuation_start,
    echo_payload,
    sum_continuation,
)
from llmcert.services.evaluate import EvalRequest, evaluate
from tests.conftest import SHARED_DATA
from tests.models.conftest import LlamaServer

pytestmark = [pytest.mark.embedded, pytest.mark.slow]

# Short on purpose: the server sorts the whole vocabulary (262k for Gemma) per echoed token.
CONTEXT = "Q: Where is the Eiffel Tower?\nA:"
CONTINUATIONS = (" In Paris.", " In Rome, next to the Colosseum.", " Nowhere")


def _endpoint(server: LlamaServer, **params: str) -> OpenAICompatBackend:
    backend = open_backend(ModelRef.parse(server.ref(**params)))
    assert isinstance(backend, OpenAICompatBackend)
    return backend


async def _echo(server: LlamaServer, context: str, continuation: str) -> tuple[float, int]:
    """One echo request, read by the endpoint backend's own accounting."""
    prompt = context + continuation
    async with aiohttp.ClientSession() as session:
        url = f"{server.base_url}/completions"
        async with session.post(url, json=echo_payload("m", prompt)) as resp:
            data = await resp.json()
    echo = EchoedTokens.parse(data, url)
    total, count, _ = sum_continuation(echo, prompt, start=continuation_start(context), where=url)
    return total, count


async def test_gemma_loglikelihoods_through_the_server_equal_in_process_or_are_refused(
    fresh_gemma_server: LlamaServer,
) -> None:
    local = LlamaCppBackend(fresh_gemma_server.model_path, embedded="gemma3-270m")
    endpoint = _endpoint(fresh_gemma_server, api="completions")
    try:
        in_process = await local.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
        # The first request reaches an empty prompt cache, so the server decodes it in one
        # batch, as the in-process backend does: the values agree to the last digits.
        first = await _echo(fresh_gemma_server, CONTEXT, CONTINUATIONS[0])
        identity = await endpoint.identify()
        details = identity.details
        if details["loglikelihood_alignment"].startswith("refused: "):
            with pytest.raises(LoglikelihoodRefused) as info:
                await endpoint.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
            later = None
        else:  # a server that honours a cache switch: every value equals in-process
            later = await endpoint.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
    finally:
        await endpoint.aclose()
        await local.aclose()
    assert first[0] == pytest.approx(in_process.logprobs[0], abs=1e-3)
    assert first[1] == in_process.token_counts[0]  # the generated token is not summed in
    assert details["server_family"] == "llama-cpp-python"
    assert details["prompt_cache_sent"] == "cache_prompt=false"
    spread = float(details["loglikelihood_cache_spread"].split()[0])
    if later is None:
        # Warm, llama-cpp-python reuses the cached prefix (and its logits), and Gemma's values
        # depend on that layout (DESIGN §5.5): the probe measures it and refuses.
        assert details["prompt_cache_honoured"].startswith("ignored: ")
        assert spread > 1e-3
        assert f"the server's prompt cache changes log-likelihoods by {spread:.4f} nats" in str(
            info.value
        )
    else:
        assert spread <= 1e-3
        assert later.logprobs == pytest.approx(in_process.logprobs, abs=1e-3)
        assert later.token_counts == in_process.token_counts
    # The same layout dependence moves Gemma's greedy decodes: the order canary says so.
    assert details["greedy_order_check"].startswith("order-dependent: ")


async def test_smollm2_loglikelihoods_through_the_server_are_refused(
    smollm2_server: LlamaServer,
) -> None:
    endpoint = _endpoint(smollm2_server, api="completions")
    try:
        identity = await endpoint.identify()
        with pytest.raises(LoglikelihoodRefused, match="misaligned") as info:
            await endpoint.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
    finally:
        await endpoint.aclose()
    assert "shifts echoed log-probabilities by one position" in str(info.value)
    assert identity.details["loglikelihood_alignment"].startswith("refused: ")
    assert identity.details["server_family"] == "llama-cpp-python"
    assert "repeat_penalty=1.0" in identity.details["sampler_sent"]
    assert identity.details["greedy_check"].startswith("greedy: ")


async def _outputs(model: str, suite: str, out: Path, **fields: object) -> dict[str, str]:
    request = EvalRequest(model=model, suite=suite, output=out, **fields)  # type: ignore[arg-type]
    result = (await evaluate(request)).result
    assert result.errors == {}
    return {u.item_id: (u.response or {}).get("text", "") for u in result.units}


async def test_the_same_suite_gives_identical_greedy_outputs_through_both_paths(
    smollm2_server: LlamaServer, tmp_path: Path
) -> None:
    # Chat (the default suite, through SmolLM2's template) and completion prompts. Gemma is
    # left out on purpose: llama-cpp-python's server decodes each prompt after the prefix it
    # has cached, and Gemma's greedy tokens depend on that layout (3 of 4 BBH items change
    # with the request order in llama-cpp-python itself), so no client can match it.
    chat_server = await _outputs(smollm2_server.ref(), "default", tmp_path / "a", limit=12)
    chat_local = await _outputs("embedded:smollm2", "default", tmp_path / "b", limit=12)
    assert chat_server == chat_local
    data = {"data": SHARED_DATA / "bbh", "limit": 6}
    completion_server = await _outputs(
        smollm2_server.ref(api="completions"), "bbh-completion", tmp_path / "c", **data
    )
    completion_local = await _outputs("embedded:smollm2", "bbh-completion", tmp_path / "d", **data)
    assert completion_server == completion_local
    assert any(completion_local.values())  # something was generated to compare


@asynccontextmanager
async def forced_repeat_penalty(upstream: LlamaServer, penalty: float) -> AsyncIterator[int]:
    """A loopback proxy that overrides the repeat penalty of every generation request."""
    session = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        if request.method == "POST" and body:
            payload = json.loads(body)
            payload["repeat_penalty"] = penalty
            body = json.dumps(payload).encode()
        url = f"http://127.0.0.1:{upstream.port}{request.path}"
        headers = {"Content-Type": "application/json"}
        async with session.request(request.method, url, data=body, headers=headers) as resp:
            return web.Response(
                status=resp.status, body=await resp.read(), content_type="application/json"
            )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
        await session.close()


@pytest.mark.parametrize("api", ["chat", "completions"])
async def test_the_fingerprint_catches_a_server_that_forces_a_repeat_penalty(
    smollm2_server: LlamaServer, api: str
) -> None:
    honest = _endpoint(smollm2_server, api=api)
    try:
        honest_identity = await honest.identify()
    finally:
        await honest.aclose()
    async with forced_repeat_penalty(smollm2_server, 1.1) as port:
        ref = smollm2_server.ref(api=api).replace(f":{smollm2_server.port}/", f":{port}/")
        penalised = open_backend(ref)
        try:
            penalised_identity = await penalised.identify()
        finally:
            await penalised.aclose()
    assert honest_identity.details["greedy_check"].startswith("greedy: ")
    assert penalised_identity.details["greedy_check"].startswith("not greedy: ")
    assert penalised_identity.fingerprint != honest_identity.fingerprint
