"""The load generator's HTTP/1.1 client against raw loopback servers that misbehave in
ways the fake server does not: a malformed event mid-stream, a body without chunking,
a response that is not HTTP at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from llmcert.perf import (
    LoadSpec,
    OpenAIStreamTarget,
    PerfError,
    RequestTrace,
    WorkloadSpec,
    build_requests,
    run_load,
)
from llmcert.perf._targets import clock

EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
FINAL = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"


@asynccontextmanager
async def raw_server(reply: Callable[[asyncio.StreamWriter], bytes]) -> AsyncIterator[str]:
    """Answers each request with ``reply`` and then keeps the connection open."""
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )  # fmt: skip
        await reader.readexactly(length)
        writer.write(reply(writer))
        await writer.drain()
        held.append(writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


async def _one(base_url: str) -> RequestTrace:
    target = OpenAIStreamTarget(base_url, "m")
    await target.start()
    workload = WorkloadSpec.model_validate(
        {"input_tokens": {"value": 4}, "output_tokens": {"value": 4}}
    )
    (req,) = build_requests(workload, 1, 0)
    trace = RequestTrace(0, 0.0, req.max_tokens)
    try:
        # The server holds the connection open: only the client's own reading ends this.
        await asyncio.wait_for(target.send(req, trace, clock()), timeout=20)
    finally:
        await target.aclose()
    return trace


def _chunked(*parts: bytes) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts)


async def test_a_malformed_event_mid_stream_stops_the_request_at_once() -> None:
    body = HEAD + b"transfer-encoding: chunked\r\n\r\n" + _chunked(EVENT, b"data: {nope\n\n")
    async with raw_server(lambda _w: body) as url:
        trace = await _one(url)
    assert trace.status == "error"
    assert trace.error == "malformed SSE event (not JSON)"
    assert len(trace.token_times) == 1


async def test_a_stream_with_a_content_length_is_read_to_its_end() -> None:
    events = EVENT * 3 + FINAL
    body = HEAD + f"content-length: {len(events)}\r\n\r\n".encode() + events
    async with raw_server(lambda _w: body) as url:
        trace = await _one(url)
    assert trace.status == "ok", trace.error
    assert trace.output_tokens == 3
    assert trace.token_source == "chunks"


async def test_an_answer_that_is_not_http_fails_with_the_parsers_reason() -> None:
    async with raw_server(lambda _w: b"SSH-2.0-OpenSSH_9.6\r\n\r\n") as url:
        trace = await _one(url)
    assert trace.status == "error"
    assert trace.error is not None
    assert trace.error.startswith("malformed HTTP response")


async def test_a_run_against_a_held_connection_ends_by_its_deadline() -> None:
    # Head and one token, then silence with the connection open: the deadline ends it.
    body = HEAD + b"transfer-encoding: chunked\r\n\r\n" + _chunked(EVENT)
    async with raw_server(lambda _w: body) as url:
        target = OpenAIStreamTarget(url, "m")
        await target.start()
        workload = WorkloadSpec.model_validate(
            {"input_tokens": {"value": 4}, "output_tokens": {"value": 4}}
        )
        try:
            run = await asyncio.wait_for(
                run_load(target, LoadSpec(rate=10, requests=2, timeout_s=0.5),
                         build_requests(workload, 2, 0)),
                timeout=20,
            )  # fmt: skip
        finally:
            await target.aclose()
    assert [t.status for t in run.traces] == ["timeout", "timeout"]
    assert all(len(t.token_times) == 1 for t in run.traces)


async def test_a_base_url_that_is_not_http_is_refused_before_any_request() -> None:
    with pytest.raises(PerfError, match="not an http"):
        await OpenAIStreamTarget("ftp://127.0.0.1/v1", "m").start()
