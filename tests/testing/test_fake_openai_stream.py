"""The fake server's SSE streaming: paced tokens, usage, ignore_eos, and a cut stream."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from llmcert.testing import FakeOpenAIServer


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "one two three"}],
        "stream": True,
        **extra,
    }


async def _events(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    async with client.stream("POST", path, json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        async for line in resp.aiter_lines():
            if line.startswith("data: "):
                data = line[6:]
                out.append(data if data == "[DONE]" else json.loads(data))
    return out


async def test_a_chat_stream_has_one_event_per_token_then_usage_and_done() -> None:
    async with (
        FakeOpenAIServer(streaming=True) as srv,
        httpx.AsyncClient(base_url=srv.base_url) as client,
    ):
        events = await _events(
            client,
            "/chat/completions",
            _body(max_tokens=5, ignore_eos=True, stream_options={"include_usage": True}),
        )
    assert events[-1] == "[DONE]"
    tokens = [e for e in events[:-1] if e["choices"] and e["choices"][0]["delta"].get("content")]
    assert len(tokens) == 5  # ignore_eos pads the three-word echo to max_tokens
    assert events[-3]["choices"][0]["finish_reason"] == "length"
    assert events[-2]["usage"]["completion_tokens"] == 5
    assert events[-2]["choices"] == []


async def test_completions_stream_text_and_without_usage_unless_asked() -> None:
    async with (
        FakeOpenAIServer(streaming=True) as srv,
        httpx.AsyncClient(base_url=srv.base_url) as client,
    ):
        events = await _events(
            client, "/completions", {"model": "m", "prompt": "a b c d", "stream": True}
        )
    texts = [e["choices"][0]["text"] for e in events[:-1] if e["choices"][0]["text"]]
    assert "".join(texts) == "a b c d"
    assert not any("usage" in e for e in events[:-1])


async def test_tokens_follow_the_injected_first_token_time_and_pace() -> None:
    async with (
        FakeOpenAIServer(streaming=True, latency=0.05, token_interval=0.02) as srv,
        httpx.AsyncClient(base_url=srv.base_url) as client,
    ):
        start = time.perf_counter()
        stamps = []
        body = _body(max_tokens=4, ignore_eos=True)
        async with client.stream("POST", "/chat/completions", json=body) as resp:
            async for line in resp.aiter_lines():
                if '"content"' in line:
                    stamps.append(time.perf_counter() - start)
    assert len(stamps) == 4
    # Token i leaves no earlier than the arrival + 0.05 + i * 0.02 (a late token is followed
    # by the next on schedule, not a full interval later, so gaps may be shorter).
    for i, t in enumerate(stamps):
        assert t >= 0.05 + i * 0.02, stamps


async def test_a_server_without_streaming_refuses_a_stream_request() -> None:
    async with FakeOpenAIServer() as srv, httpx.AsyncClient(base_url=srv.base_url) as client:
        resp = await client.post("/chat/completions", json=_body())
    assert resp.status_code == 400
    assert "streaming is not supported" in resp.json()["error"]["message"]


async def test_a_cut_stream_ends_after_half_the_tokens_without_its_final_event() -> None:
    async with (
        FakeOpenAIServer(streaming=True, faults=["cut"]) as srv,
        httpx.AsyncClient(base_url=srv.base_url) as client,
    ):
        seen: list[str] = []

        async def read() -> None:
            async with client.stream(
                "POST", "/chat/completions", json=_body(max_tokens=8, ignore_eos=True)
            ) as resp:
                async for line in resp.aiter_lines():
                    seen.append(line)

        with pytest.raises(httpx.RemoteProtocolError):
            await read()
    assert sum('"content"' in line for line in seen) == 4
    assert "data: [DONE]" not in seen
    assert srv.count(outcome="cut") == 1


def test_negative_token_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="token_interval"):
        FakeOpenAIServer(token_interval=-1)
