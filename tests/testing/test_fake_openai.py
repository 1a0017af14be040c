"""The fake OpenAI server, exercised over real loopback HTTP with httpx."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import llmcert.testing
from llmcert.testing import FakeOpenAIServer, fake_openai

SRC = Path(__file__).resolve().parents[2] / "src"
CHAT = "/chat/completions"
MODULE = "llmcert.testing.fake_openai"


def chat_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


async def post_chat(
    client: httpx.AsyncClient, text: str, key: str | None = None, **extra: Any
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await client.post(CHAT, json=chat_body(text, **extra), headers=headers)


def content(resp: httpx.Response) -> str:
    return str(resp.json()["choices"][0]["message"]["content"])


def test_public_names_match_all() -> None:
    from llmcert.testing import _harm_judge, _process, _whitebox

    homes = {
        "ServerProcess": _process,
        "fake_server_process": _process,
        "MarkerHarmJudge": _harm_judge,
        "FakeWhiteBoxModel": _whitebox,
    }
    assert set(llmcert.testing.__all__) == (set(fake_openai.__all__) - {"main"}) | set(homes)
    for name in llmcert.testing.__all__:
        home = homes.get(name, fake_openai)
        assert getattr(llmcert.testing, name) is getattr(home, name)
    with pytest.raises(AttributeError):
        _ = llmcert.testing.NoSuchThing


def test_refuses_non_loopback_host() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        FakeOpenAIServer(host="0.0.0.0")


# -- endpoint shapes ------------------------------------------------------------------------


async def test_models_and_chat_shapes() -> None:
    async with FakeOpenAIServer(model="fake-model") as srv:
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            models = (await client.get("/models")).json()
            resp = await post_chat(client, "hello there world")
    assert models["object"] == "list"
    assert models["data"][0] == {**models["data"][0], "id": "fake-model", "object": "model"}
    body = resp.json()
    assert resp.status_code == 200
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-model"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hello there world"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}


async def test_answer_policies() -> None:
    answers = {"2+2?": "4"}
    async with (
        FakeOpenAIServer(policy="answer", answers=answers, default_answer="no idea") as ans,
        FakeOpenAIServer(policy="reverse") as rev,
        FakeOpenAIServer(policy="hash") as hsh,
        httpx.AsyncClient() as client,
    ):
        got_answer = await client.post(ans.base_url + CHAT, json=chat_body("2+2?"))
        got_default = await client.post(ans.base_url + CHAT, json=chat_body("3+3?"))
        got_reverse = await client.post(rev.base_url + CHAT, json=chat_body("abc"))
        hashes = [
            content(await client.post(hsh.base_url + CHAT, json=chat_body("q", **kw)))
            for kw in ({"seed": 1}, {"seed": 1}, {"seed": 2}, {"seed": 1, "temperature": 0.7})
        ]
    assert content(got_answer) == "4"
    assert content(got_default) == "no idea"
    assert content(got_reverse) == "cba"
    assert hashes[0] == hashes[1]
    assert len({hashes[0], hashes[2], hashes[3]}) == 3
    assert all(h.startswith("h") and len(h) == 16 for h in hashes)


async def test_last_user_message_is_used_and_limits_apply() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "one two three four"}]},
        {"role": "assistant", "content": "ignored"},
    ]
    async with FakeOpenAIServer() as srv, httpx.AsyncClient(base_url=srv.base_url) as client:
        full = await client.post(CHAT, json={"model": "m", "messages": messages})
        short = await client.post(CHAT, json={"model": "m", "messages": messages, "max_tokens": 2})
        stopped = await client.post(
            CHAT, json={"model": "m", "messages": messages, "stop": [" th"]}
        )
    assert content(full) == "one two three four"
    assert content(short) == "one two"
    assert short.json()["choices"][0]["finish_reason"] == "length"
    assert content(stopped) == "one two"
    assert stopped.json()["choices"][0]["finish_reason"] == "stop"


async def test_completions_shape_and_prompt_list() -> None:
    async with FakeOpenAIServer() as srv, httpx.AsyncClient(base_url=srv.base_url) as client:
        single = (await client.post("/completions", json={"model": "m", "prompt": "a b"})).json()
        many = (
            await client.post("/completions", json={"model": "m", "prompt": ["x", "y z"]})
        ).json()
    assert single["object"] == "text_completion"
    assert single["choices"][0]["text"] == "a b"
    assert single["choices"][0]["logprobs"] is None
    assert [c["text"] for c in many["choices"]] == ["x", "y z"]
    assert [c["index"] for c in many["choices"]] == [0, 1]
    assert many["usage"]["prompt_tokens"] == 3


async def test_echo_logprobs_give_continuation_loglikelihoods() -> None:
    context, continuation = "Question: is the sky blue? Answer:", " yes"
    req = {"model": "m", "echo": True, "logprobs": 3, "max_tokens": 0}
    async with FakeOpenAIServer() as srv, httpx.AsyncClient(base_url=srv.base_url) as client:
        r1 = await client.post("/completions", json={**req, "prompt": context + continuation})
        r2 = await client.post("/completions", json={**req, "prompt": context + continuation})
        other = await client.post("/completions", json={**req, "prompt": context + " no"})
    choice = r1.json()["choices"][0]
    lp = choice["logprobs"]
    assert choice["text"] == context + continuation
    assert "".join(lp["tokens"]) == context + continuation
    assert lp["token_logprobs"][0] is None
    assert lp["top_logprobs"][0] is None
    assert all(isinstance(x, float) and x < 0 for x in lp["token_logprobs"][1:])
    assert lp["text_offset"] == [
        sum(len(t) for t in lp["tokens"][:i]) for i in range(len(lp["tokens"]))
    ]
    for tok, val, top in zip(
        lp["tokens"][1:], lp["token_logprobs"][1:], lp["top_logprobs"][1:], strict=True
    ):
        assert len(top) == 3
        assert max(top, key=top.get) == tok
        assert top[tok] == val
    assert lp == r2.json()["choices"][0]["logprobs"]

    def continuation_ll(logprobs: dict[str, Any]) -> float:
        start = next(i for i, off in enumerate(logprobs["text_offset"]) if off >= len(context))
        return float(sum(logprobs["token_logprobs"][start:]))

    other_lp = other.json()["choices"][0]["logprobs"]
    assert lp["token_logprobs"][:-1] == other_lp["token_logprobs"][:-1]
    assert continuation_ll(lp) != continuation_ll(other_lp)


@pytest.mark.parametrize(
    ("path", "method", "payload", "status"),
    [
        ("/chat/completions", "POST", {"model": "m"}, 400),
        ("/chat/completions", "POST", chat_body("x", stream=True), 400),
        ("/completions", "POST", {"model": "m", "prompt": 3}, 400),
        ("/completions", "POST", {"model": "m", "prompt": "x", "max_tokens": -1}, 400),
        ("/models", "POST", {}, 405),
        ("/embeddings", "POST", {}, 404),
    ],
)
async def test_bad_requests_get_openai_errors(
    path: str, method: str, payload: dict[str, Any], status: int
) -> None:
    async with FakeOpenAIServer() as srv, httpx.AsyncClient(base_url=srv.base_url) as client:
        resp = await client.request(method, path, json=payload)
        assert srv.count(outcome=status) == 1
    assert resp.status_code == status
    assert set(resp.json()["error"]) == {"message", "type", "param", "code"}


async def test_auth() -> None:
    async with FakeOpenAIServer(api_key="sk-test") as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as anon:
            missing = await post_chat(anon, "hi")
            models = await anon.get("/models")
        wrong = httpx.AsyncClient(base_url=srv.base_url, headers={"Authorization": "Bearer no"})
        right = httpx.AsyncClient(
            base_url=srv.base_url, headers={"Authorization": "Bearer sk-test"}
        )
        async with wrong, right:
            bad = await post_chat(wrong, "hi")
            good = await post_chat(right, "hi")
    assert missing.status_code == bad.status_code == models.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert good.status_code == 200
    assert content(good) == "hi"


# -- transport ------------------------------------------------------------------------------


async def test_keep_alive_uses_one_connection() -> None:
    limits = httpx.Limits(max_connections=1)
    async with FakeOpenAIServer() as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, limits=limits) as client:
            for i in range(40):
                assert content(await post_chat(client, f"m{i}")) == f"m{i}"
        assert srv.connections == 1
        assert srv.count(path="/v1/chat/completions", outcome=200) == 40


async def test_raw_http_pipelining_and_bad_input() -> None:
    async with FakeOpenAIServer() as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        one = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
        writer.write(one + one.replace(b"Host: x", b"Host: x\r\nConnection: close"))
        data = await reader.read()  # the server closes after the second answer
        writer.close()
        assert data.count(b"HTTP/1.1 200 OK") == 2
        for raw, status in (
            (b"NONSENSE\r\n\r\n", b"400"),
            (b"POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"411"),
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(raw)
            assert (await reader.read()).split(b" ")[1] == status
            writer.close()


async def test_concurrent_requests_overlap() -> None:
    async with FakeOpenAIServer(latency=0.2) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            start = time.perf_counter()
            resps = await asyncio.gather(*(post_chat(client, f"c{i}") for i in range(64)))
            elapsed = time.perf_counter() - start
        assert [content(r) for r in resps] == [f"c{i}" for i in range(64)]
        assert srv.max_in_flight >= 32
    assert elapsed < 1.0  # sanity bound only: 64 x 0.2 s in sequence would take 12.8 s


async def test_log_file_lines(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    async with FakeOpenAIServer(log_path=log, api_key="sk-secret", faults=["drop:first=1"]) as srv:
        headers = {"Authorization": "Bearer sk-secret"}
        async with httpx.AsyncClient(base_url=srv.base_url, headers=headers) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await post_chat(client, "x", key="k")
            await post_chat(client, "x", key="k")
        lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert "sk-secret" not in log.read_text()
    assert [(x["outcome"], x["replay"], x["idempotency_key"], x["model"]) for x in lines] == [
        ("dropped", False, "k", "m"),
        (200, False, "k", "m"),
    ]


def test_run_in_thread_with_runtime_faults() -> None:
    with FakeOpenAIServer(latency=0.0).run_in_thread() as srv, httpx.Client() as client:
        url = srv.base_url + CHAT
        assert client.post(url, json=chat_body("a")).status_code == 200
        setter = threading.Thread(target=srv.set_faults, args=(["status:503"],))
        setter.start()
        setter.join()
        assert client.post(url, json=chat_body("b")).status_code == 503
        srv.clear_faults()
        assert client.post(url, json=chat_body("c")).status_code == 200
        assert srv.count(path="/v1/chat/completions") == 3
    with pytest.raises(RuntimeError):
        _ = srv.port


# -- process form ---------------------------------------------------------------------------


def test_process_form(tmp_path: Path) -> None:
    log, ready = tmp_path / "log.jsonl", tmp_path / "port"
    env = {
        **os.environ,
        "FAKE_KEY": "sk-env",
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", MODULE, *["--port", "0", "--latency", "0.05", "--model", "proc-model"],
           "--log", str(log), "--api-key-env", "FAKE_KEY", "--fault", "status:500:first=1",
           "--ready-file", str(ready)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("LISTENING ")
        port = int(line.split()[1])
        assert int(ready.read_text()) == port
        base = f"http://127.0.0.1:{port}/v1"
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer sk-env"}) as client:
            assert client.get("/models").json()["data"][0]["id"] == "proc-model"
            assert client.post(CHAT, json=chat_body("p")).status_code == 500
            assert content(client.post(CHAT, json=chat_body("p"))) == "p"
        assert httpx.get(base + "/models").status_code == 401
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "sk-env" not in " ".join(cmd)
    assert [json.loads(x)["outcome"] for x in log.read_text().splitlines()] == [200, 500, 200, 401]


def test_process_rejects_missing_key_env() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_KEY_VAR"}
    env["PYTHONPATH"] = str(SRC)
    proc = subprocess.run(
        [sys.executable, "-m", MODULE, "--api-key-env", "NO_SUCH_KEY_VAR"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "NO_SUCH_KEY_VAR" in proc.stderr


def test_port_zero_picks_distinct_free_ports() -> None:
    with FakeOpenAIServer().run_in_thread() as a, FakeOpenAIServer().run_in_thread() as b:
        assert a.port != b.port
        with socket.create_connection(("127.0.0.1", a.port), timeout=5):
            pass
