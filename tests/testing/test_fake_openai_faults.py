"""Fault injection and idempotent replay in the fake OpenAI server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llmcert.testing import FakeOpenAIServer, FaultRule

CHAT = "/chat/completions"


async def post_chat(client: httpx.AsyncClient, text: str, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    return await client.post(CHAT, json=body, headers=headers)


def content(resp: httpx.Response) -> str:
    return str(resp.json()["choices"][0]["message"]["content"])


async def outcomes(srv: FakeOpenAIServer, n: int, key_of: Any = None) -> list[int | str]:
    """Send ``n`` chat requests one by one; return the status or exception name of each."""
    seen: list[int | str] = []
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=2.0) as client:
        for i in range(n):
            try:
                key = key_of(i) if key_of else None
                resp = await post_chat(client, f"q-{key or i}", key)
                if resp.status_code == 200:
                    resp.json()["choices"]
                seen.append(resp.status_code)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                seen.append(type(exc).__name__)
    return seen


async def test_status_first_n_with_retry_after() -> None:
    rule = FaultRule.parse("status:429:first=2:retry_after=3")
    async with FakeOpenAIServer(faults=[rule]) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            first = await post_chat(client, "x")
        assert first.headers["retry-after"] == "3"
        assert first.json()["error"]["code"] == "rate_limit_exceeded"
        assert [429, *await outcomes(srv, 3)] == [429, 429, 200, 200]
        assert srv.count(outcome=429) == 2


async def test_every_kth_and_scope() -> None:
    async with FakeOpenAIServer(faults=["status:503:every=3"]) as srv:
        assert await outcomes(srv, 6) == [200, 200, 503, 200, 200, 503]
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            assert (await client.get("/models")).status_code == 200
        srv.set_faults(["status:500:scope=all"])
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            assert (await client.get("/models")).status_code == 500


async def test_probability_is_seeded() -> None:
    async with (
        FakeOpenAIServer(faults=["status:500:prob=0.5:seed=7"]) as a,
        FakeOpenAIServer(faults=["status:500:prob=0.5:seed=7"]) as b,
    ):
        seq_a, seq_b = await outcomes(a, 20), await outcomes(b, 20)
    assert seq_a == seq_b
    assert {200, 500} <= set(seq_a)


async def test_drop_malformed_and_first_attempt() -> None:
    async with FakeOpenAIServer(faults=["drop:first_attempt"]) as srv:
        dropped = "RemoteProtocolError"
        assert await outcomes(srv, 4, key_of=lambda i: f"k{i // 2}") == [dropped, 200, dropped, 200]
        assert await outcomes(srv, 1) == [200]  # no key: the rule never fires
        assert srv.count(outcome="dropped") == 2
        srv.set_faults(["malformed:first=1", "malformed:variant=no_choices:first=2"])
        assert await outcomes(srv, 3) == ["JSONDecodeError", "KeyError", 200]
        assert srv.count(outcome="malformed") == 2


async def test_timeout_and_slow() -> None:
    async with FakeOpenAIServer(faults=["timeout:first=1:delay=30"]) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                await post_chat(client, "x")
            assert (await post_chat(client, "y")).status_code == 200
        assert srv.count(outcome="timeout") == 1
        srv.set_faults([FaultRule("slow", delay=5.0)])
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                await post_chat(client, "z")
        srv.set_faults(["slow:delay=0.01", "status:502"])
        assert await outcomes(srv, 1) == [502]
        assert srv.requests[-1].fault == "status"


def test_fault_spec_parsing() -> None:
    rule = FaultRule.parse("timeout:every=4:delay=2.5:after:scope=all")
    assert rule == FaultRule(
        "timeout", trigger="every", n=4, delay=2.5, after_generation=True, scope="all"
    )
    assert FaultRule.parse("malformed:first_key").trigger == "first_attempt"
    assert FaultRule("slow").effective_delay == 1.0
    for bad in ("explode", "status", "status:200", "drop:first=0", "drop:prob=2", "drop:wat=1"):
        with pytest.raises(ValueError, match="fault"):
            FaultRule.parse(bad)


# -- idempotency ----------------------------------------------------------------------------


async def test_idempotent_replay() -> None:
    async with FakeOpenAIServer(policy="hash") as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            a = await post_chat(client, "q", key="unit-1")
            b = await post_chat(client, "q", key="unit-1")
            c = await post_chat(client, "q", key="unit-2")
            clash = await post_chat(client, "other", key="unit-1")
        assert a.json() == b.json()  # same id and created too: a stored answer
        assert a.json()["id"] != c.json()["id"]
        assert clash.status_code == 409
        assert srv.count(replay=True) == 1
        assert srv.generations_by_key() == {"unit-1": 1, "unit-2": 1}


async def test_answer_lost_after_generation_is_replayed() -> None:
    async with FakeOpenAIServer(faults=["status:502:first_attempt:after"]) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=0.3) as client:
            lost = await post_chat(client, "one", key="u1")
            retry = await post_chat(client, "one", key="u1")
            srv.set_faults(["drop:first_attempt:after"])
            with pytest.raises(httpx.RemoteProtocolError):
                await post_chat(client, "two", key="u2")
            await post_chat(client, "two", key="u2")
            srv.set_faults(["timeout:first_attempt:after:delay=30"])
            with pytest.raises(httpx.ReadTimeout):
                await post_chat(client, "three", key="u3")
            late = await post_chat(client, "three", key="u3")
        assert lost.status_code == 502
        assert content(retry) == "one"
        assert content(late) == "three"
        assert [(r.outcome, r.generated, r.replay) for r in srv.requests] == [
            (502, True, False),
            (200, False, True),
            ("dropped", True, False),
            (200, False, True),
            ("timeout", True, False),
            (200, False, True),
        ]
        assert srv.generations_by_key() == {"u1": 1, "u2": 1, "u3": 1}
