"""The OpenAI-compatible backend against the loopback fake server: shapes, identity, errors, keys."""

from __future__ import annotations

import functools
import json
import random
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmcert.engine import RetryPolicy, call_with_retries
from llmcert.errors import (
    AuthenticationError,
    BackendUnavailable,
    MalformedResponse,
    ModelError,
    ModelRefError,
    ModelTimeout,
    RateLimited,
    RequestRejected,
    ServerError,
)
from llmcert.models import (
    ChatMessage,
    GenerateRequest,
    GenerationSettings,
    LoglikelihoodRequest,
    ModelRef,
)
from llmcert.models.openai_compat import OpenAICompatBackend
from llmcert.testing import FakeOpenAIServer, FaultRule

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.005)
SERVER_KEY = "sk-fake-server-key-7d41c0"
KEY_VARS = ("LLMCERT_API_KEY", "OPENAI_API_KEY", "MY_KEY")


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)


def ref_text(srv: FakeOpenAIServer, model: str | None = None, **params: str) -> str:
    query = "".join(f"&{k}={v}" for k, v in params.items())
    return f"openai://127.0.0.1:{srv.port}/v1?model={model or srv.model}{query}"


@asynccontextmanager
async def connect(
    srv: FakeOpenAIServer, model: str | None = None, **params: str
) -> AsyncIterator[OpenAICompatBackend]:
    backend = OpenAICompatBackend.from_ref(ModelRef.parse(ref_text(srv, model, **params)))
    try:
        yield backend
    finally:
        await backend.aclose()


def chat(
    text: str,
    *,
    key: str | None = None,
    seed: int | None = None,
    temperature: float = 0.0,
    max_tokens: int = 64,
    stop: tuple[str, ...] = (),
) -> GenerateRequest:
    settings = GenerationSettings(max_tokens=max_tokens, temperature=temperature, stop=stop)
    messages = (ChatMessage("system", "You are terse."), ChatMessage("user", text))
    return GenerateRequest(settings, messages=messages, seed=seed, idempotency_key=key)


def completion(text: str, *, key: str | None = None, seed: int | None = None) -> GenerateRequest:
    return GenerateRequest(
        GenerationSettings(max_tokens=64), prompt=text, seed=seed, idempotency_key=key
    )


def generations(srv: FakeOpenAIServer) -> list[Any]:
    return [r for r in srv.requests if r.path != "/v1/models"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- request shapes -------------------------------------------------------------------------


async def test_chat_generation_uses_chat_endpoint_and_unit_key() -> None:
    async with FakeOpenAIServer(policy="echo") as srv, connect(srv) as backend:
        out = await backend.generate(chat("two words", key="unit-key-1"))
        (listing, record) = srv.requests  # the server's family is read from /models first
    assert out.text == "two words"
    assert out.finish_reason == "stop"
    assert out.completion_tokens == 2
    assert listing.path == "/v1/models"
    assert record.path == "/v1/chat/completions"
    assert record.model == "fake-model"
    assert record.idempotency_key == "unit-key-1"
    assert record.outcome == 200


async def test_completions_api_sends_the_prompt() -> None:
    async with (
        FakeOpenAIServer(policy="reverse") as srv,
        connect(srv, api="completions") as backend,
    ):
        out = await backend.generate(completion("abc def", key="unit-key-2"))
        (record,) = generations(srv)
    assert out.text == "fed cba"
    assert record.path == "/v1/completions"
    assert record.idempotency_key == "unit-key-2"


async def test_completions_api_refuses_chat_messages_without_sending() -> None:
    async with FakeOpenAIServer() as srv, connect(srv, api="completions") as backend:
        with pytest.raises(RequestRejected, match="api=chat"):
            await backend.generate(chat("hello"))
        assert srv.requests == []


async def test_max_tokens_and_stop_reach_the_server() -> None:
    async with FakeOpenAIServer(policy="echo") as srv, connect(srv) as backend:
        cut = await backend.generate(chat("one two three four five", max_tokens=3))
        stopped = await backend.generate(chat("one two three four five", stop=("three",)))
    assert (cut.text, cut.finish_reason) == ("one two three", "length")
    assert (stopped.text, stopped.finish_reason) == ("one two ", "stop")


@pytest.mark.parametrize("api", ["chat", "completions"])
async def test_seed_and_temperature_reach_the_server(api: str) -> None:
    def req(seed: int, temperature: float) -> GenerateRequest:
        if api == "chat":
            return chat("same prompt", seed=seed, temperature=temperature)
        settings = GenerationSettings(max_tokens=64, temperature=temperature)
        return GenerateRequest(settings, prompt="same prompt", seed=seed)

    async with FakeOpenAIServer(policy="hash") as srv, connect(srv, api=api) as backend:
        base = (await backend.generate(req(1, 0.0))).text
        same = (await backend.generate(req(1, 0.0))).text
        other_seed = (await backend.generate(req(2, 0.0))).text
        other_temp = (await backend.generate(req(1, 0.7))).text
    assert base == same
    assert other_seed != base
    assert other_temp != base
    assert len({base, other_seed, other_temp}) == 3


async def test_retry_after_a_lost_answer_replays_it_instead_of_generating_again() -> None:
    async with (
        FakeOpenAIServer(policy="hash", faults=["status:500:first_attempt:after"]) as srv,
        connect(srv) as backend,
    ):
        outcome = await call_with_retries(
            functools.partial(backend.generate, chat("q", key="unit-key-3", seed=5)),
            FAST,
            random.Random(0),
        )
        assert outcome.error is None
        assert outcome.attempts == 2
        assert srv.generations_by_key() == {"unit-key-3": 1}
        assert srv.count(replay=True, idempotency_key="unit-key-3") == 1


async def test_rate_limit_is_retried_through_the_engine() -> None:
    async with (
        FakeOpenAIServer(faults=["status:429:first_attempt:retry_after=0"]) as srv,
        connect(srv) as backend,
    ):
        outcome = await call_with_retries(
            functools.partial(backend.generate, chat("hi", key="unit-key-4")),
            FAST,
            random.Random(0),
        )
        assert outcome.value is not None
        assert outcome.value.text == "hi"
        assert srv.count(outcome=429) == 1
        assert srv.generations_by_key() == {"unit-key-4": 1}


# -- identity -------------------------------------------------------------------------------


async def test_identify_reports_endpoint_model_and_a_stable_fingerprint() -> None:
    async with FakeOpenAIServer(model="served-x", policy="echo") as srv:
        async with connect(srv) as backend:
            first = await backend.identify()
            second = await backend.identify()
        async with connect(srv) as fresh:
            third = await fresh.identify()
        base_url = srv.base_url
    assert first.kind == "endpoint"
    assert first.endpoint == base_url
    assert first.reported_model == "served-x"
    assert first.fingerprint
    assert first.fingerprint == second.fingerprint == third.fingerprint
    assert first.digest == second.digest == third.digest


async def test_identity_differs_for_another_policy_or_model() -> None:
    async with FakeOpenAIServer(model="m", policy="echo") as a, connect(a) as backend:
        echo = await backend.identify()
    async with FakeOpenAIServer(model="m", policy="reverse") as b, connect(b) as backend:
        reverse = await backend.identify()
    async with FakeOpenAIServer(model="other", policy="echo") as c, connect(c) as backend:
        other = await backend.identify()
    assert echo.fingerprint != reverse.fingerprint
    assert other.reported_model == "other"
    assert len({echo.digest, reverse.digest, other.digest}) == 3


@pytest.mark.parametrize("api", ["chat", "completions"])
async def test_identification_retries_each_call_so_a_first_failure_of_every_call_is_survived(
    api: str,
) -> None:
    # Every distinct request of the identification (listing, canaries, probes) fails the
    # first time it is sent. Retried as a whole, identification would fail on every attempt.
    async with FakeOpenAIServer(policy="echo") as clean, connect(clean, api=api) as backend:
        expected = await backend.identify()
    async with FakeOpenAIServer(policy="echo") as srv, connect(srv, api=api) as b:
        seen: set[str] = set()
        failed: list[str] = []
        send = b._http.request

        async def first_fails(
            method: str, path: str, payload: dict[str, Any] | None, key: str | None
        ) -> Any:
            call = f"{method} {path} {json.dumps(payload, sort_keys=True)}"
            if call not in seen:
                seen.add(call)
                failed.append(call)
                raise ServerError(f"injected failure of {path}", status=503)
            return await send(method, path, payload, key)

        b._http.request = first_fails  # type: ignore[method-assign]
        identity = await b.identify()
    assert len(failed) >= 6
    assert identity.fingerprint == expected.fingerprint
    assert identity.details == expected.details  # the checks read the same


async def test_identification_of_a_dead_endpoint_fails_after_the_brief_retries() -> None:
    async with FakeOpenAIServer(faults=["status:503:scope=all"]) as srv, connect(srv) as backend:
        with pytest.raises(ServerError):
            await backend.identify()
        calls = len(srv.requests)
    # Every call of the identification is tried three times, none more.
    assert calls % 3 == 0
    assert calls <= 3 * 16


async def test_identify_a_model_the_server_does_not_list() -> None:
    async with FakeOpenAIServer(model="served-x") as srv, connect(srv, "missing-y") as backend:
        with pytest.raises(RequestRejected) as info:
            await backend.identify()
    assert "missing-y" in str(info.value)
    assert "served-x" in str(info.value)


# -- error mapping --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("status:500", ServerError, 500),
        ("status:502", ServerError, 502),
        ("status:503", ServerError, 503),
        ("drop", BackendUnavailable, None),
        ("malformed", MalformedResponse, None),
        ("malformed:variant=no_choices", MalformedResponse, None),
    ],
)
@pytest.mark.parametrize("api", ["chat", "completions"])
async def test_faults_map_to_retryable_errors(
    fault: str, error: type[ModelError], status: int | None, api: str
) -> None:
    async with FakeOpenAIServer(faults=[fault]) as srv, connect(srv, api=api) as backend:
        req = chat("hi") if api == "chat" else completion("hi")
        with pytest.raises(error) as info:
            await backend.generate(req)
    assert type(info.value) is error
    assert info.value.retryable
    if status is not None:
        assert info.value.status == status


@pytest.mark.parametrize(
    ("retry_after", "low", "high"), [("7", 7.0, 7.0), ("0", 0.0, 0.0), (None, None, None)]
)
async def test_rate_limit_carries_retry_after(
    retry_after: str | None, low: float | None, high: float | None
) -> None:
    rule = FaultRule(kind="status", status=429, retry_after=retry_after)
    async with FakeOpenAIServer(faults=[rule]) as srv, connect(srv) as backend:
        with pytest.raises(RateLimited) as info:
            await backend.generate(chat("hi"))
    assert info.value.retryable
    assert info.value.status == 429
    if low is None:
        assert info.value.retry_after is None
    else:
        assert info.value.retry_after == pytest.approx(low)
        assert high == low


async def test_rate_limit_retry_after_as_http_date() -> None:
    rule = FaultRule(
        kind="status", status=429, retry_after=formatdate(time.time() + 100, usegmt=True)
    )
    async with FakeOpenAIServer(faults=[rule]) as srv, connect(srv) as backend:
        with pytest.raises(RateLimited) as info:
            await backend.generate(chat("hi"))
    assert info.value.retry_after is not None
    assert 30.0 < info.value.retry_after <= 101.0


async def test_a_held_request_times_out_on_the_client_timeout() -> None:
    async with (
        FakeOpenAIServer(faults=["timeout:always:delay=20"]) as srv,
        connect(srv, timeout="0.5") as backend,
    ):
        with pytest.raises(ModelTimeout) as info:
            await backend.generate(chat("hi"))
    assert info.value.retryable


def test_timeout_must_be_a_number() -> None:
    with pytest.raises(ModelRefError, match="timeout"):
        OpenAICompatBackend.from_ref(ModelRef.parse("openai://127.0.0.1:9/v1?model=m&timeout=soon"))


async def test_unreachable_endpoint_is_backend_unavailable() -> None:
    ref = ModelRef.parse(f"openai://127.0.0.1:{closed_port()}/v1?model=m")
    backend = OpenAICompatBackend.from_ref(ref)
    try:
        with pytest.raises(BackendUnavailable) as info:
            await backend.generate(chat("hi"))
        assert info.value.retryable
        with pytest.raises(BackendUnavailable):
            await backend.identify()
    finally:
        await backend.aclose()


# -- API keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("env_key", [None, "sk-wrong-key-0000"])
async def test_missing_or_wrong_key_is_an_authentication_error_without_the_key(
    env_key: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env_key is not None:
        monkeypatch.setenv("LLMCERT_API_KEY", env_key)
    async with FakeOpenAIServer(api_key=SERVER_KEY) as srv, connect(srv) as backend:
        with pytest.raises(AuthenticationError) as gen:
            await backend.generate(chat("hi"))
        with pytest.raises(AuthenticationError) as ident:
            await backend.identify()
        assert srv.count(outcome=401) >= 2
    for info in (gen, ident):
        assert not info.value.retryable
        assert info.value.status == 401
        assert SERVER_KEY not in str(info.value)
        if env_key is not None:
            assert env_key not in str(info.value)


@pytest.mark.parametrize(
    ("env", "params"),
    [
        ({"LLMCERT_API_KEY": SERVER_KEY}, {}),
        ({"OPENAI_API_KEY": SERVER_KEY}, {}),
        ({"LLMCERT_API_KEY": SERVER_KEY, "OPENAI_API_KEY": "sk-wrong"}, {}),
        ({"MY_KEY": SERVER_KEY, "LLMCERT_API_KEY": "sk-wrong"}, {"key_env": "MY_KEY"}),
    ],
    ids=["llmcert-var", "openai-var", "llmcert-var-first", "key_env-wins"],
)
async def test_api_key_comes_from_the_environment(
    env: dict[str, str], params: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    async with FakeOpenAIServer(api_key=SERVER_KEY) as srv, connect(srv, **params) as backend:
        out = await backend.generate(chat("authorised"))
        identity = await backend.identify()
    assert out.text == "authorised"
    assert SERVER_KEY not in repr(identity.to_dict())
    assert SERVER_KEY not in backend.ref_text


async def test_openai_var_is_not_used_when_llmcert_var_is_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMCERT_API_KEY", "sk-wrong")
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    async with FakeOpenAIServer(api_key=SERVER_KEY) as srv, connect(srv) as backend:
        with pytest.raises(AuthenticationError):
            await backend.generate(chat("hi"))


def test_key_env_naming_an_unset_variable_is_refused() -> None:
    with pytest.raises(ModelRefError, match="MY_KEY"):
        OpenAICompatBackend.from_ref(
            ModelRef.parse("openai://127.0.0.1:9/v1?model=m&key_env=MY_KEY")
        )


async def test_key_never_reaches_the_server_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMCERT_API_KEY", SERVER_KEY)
    log = tmp_path / "requests.jsonl"
    async with FakeOpenAIServer(api_key=SERVER_KEY, log_path=log) as srv, connect(srv) as backend:
        await backend.identify()
        await backend.generate(chat("hi", key="unit-key-5"))
    text = log.read_text(encoding="utf-8")
    assert "unit-key-5" in text
    assert SERVER_KEY not in text


# -- log-likelihoods ------------------------------------------------------------------------


async def expected_loglikelihood(
    base_url: str, context: str, continuation: str
) -> tuple[float, int]:
    """Sum the server's own echoed token logprobs over the continuation's characters."""
    body: dict[str, Any] = {
        "model": "fake-model",
        "prompt": context + continuation,
        "max_tokens": 0,
        "echo": True,
        "logprobs": 1,
    }
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
        resp = await client.post("/completions", json=body)
    resp.raise_for_status()
    lp = resp.json()["choices"][0]["logprobs"]
    picked = [
        tlp
        for off, tlp in zip(lp["text_offset"], lp["token_logprobs"], strict=True)
        if off >= len(context)
    ]
    assert picked
    assert None not in picked
    return float(sum(picked)), len(picked)


@pytest.mark.parametrize("api", ["chat", "completions"])
async def test_loglikelihood_sums_the_continuation_token_logprobs(api: str) -> None:
    context = "Q: Where do cats sleep?\nA:"
    continuations = (" on the mat", " in a warm box by the fire", " outside")
    async with FakeOpenAIServer() as srv:
        async with connect(srv, api=api) as backend:
            out = await backend.loglikelihood(
                LoglikelihoodRequest(context, continuations, idempotency_key="unit-key-6")
            )
            requests = srv.requests
        expected = [await expected_loglikelihood(srv.base_url, context, c) for c in continuations]
    assert out.logprobs == pytest.approx([e[0] for e in expected])
    assert out.token_counts == tuple(e[1] for e in expected)
    assert out.token_counts == (3, 7, 1)
    assert out.is_greedy == (True, True, True)  # the fake always ranks the real token first
    # The probe (one generation and one echo for the alignment, then a primer and an echo
    # for each of three prompt-cache states; no unit key) goes first, once.
    posts = [r for r in requests if r.method == "POST"]
    probe, units = posts[:8], posts[8:]
    assert [r.idempotency_key for r in probe] == [None] * 8
    assert {r.idempotency_key for r in units} == {f"unit-key-6-{i}" for i in range(3)}


async def test_loglikelihood_with_newlines_and_non_ascii_in_continuations() -> None:
    # Choices often start on a new line or are not English; each must still be sent as a
    # valid request with a header-safe Idempotency-Key.
    context = "问题：天空是什么颜色？\n答案："
    continuations = ("\n蓝色", "\n绿色\n")
    async with FakeOpenAIServer() as srv:
        async with connect(srv, api="completions") as backend:
            out = await backend.loglikelihood(
                LoglikelihoodRequest(context, continuations, idempotency_key="unit-key-7")
            )
            keys = [r.idempotency_key for r in srv.requests if r.idempotency_key]  # not the probe
        expected = [await expected_loglikelihood(srv.base_url, context, c) for c in continuations]
    assert out.logprobs == pytest.approx([e[0] for e in expected])
    assert len(set(keys)) == len(continuations)
    for key in keys:
        assert key is not None
        assert key.isascii()
        assert key.isprintable()


async def test_loglikelihood_error_is_mapped() -> None:
    async with FakeOpenAIServer(faults=["status:503"]) as srv, connect(srv) as backend:
        with pytest.raises(ServerError):
            await backend.loglikelihood(LoglikelihoodRequest("ctx", (" a", " b")))
