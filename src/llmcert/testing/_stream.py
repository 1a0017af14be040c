"""Server-sent-event streaming for the fake server, with a controlled time to first token
and a fixed pace between tokens, so a load generator's figures can be checked against
known truth.

Token ``i`` (from 0) leaves at ``arrival + ttft + i * token_interval``, measured from the
moment the request head arrived: a slow server loop shows as lateness, never as a shifted
schedule. A ``cut`` fault ends the stream after half the tokens without the final event.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmcert.testing._responses import tokenize

#: Padding text used when ``ignore_eos`` asks for more tokens than the answer has.
_PAD = " tok"


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """Everything needed to send one streamed answer: the events and their pace."""

    events: tuple[bytes, ...]
    #: How many of ``events`` carry a token (the rest follow the last token at once).
    n_tokens: int
    token_interval: float
    #: Stop after this many token events and hang up (an injected cut); None sends all.
    cut_after: int | None = None
    #: Seconds to stall before the cut (a stall past the client's deadline).
    stall: float = 0.0


def stream_tokens(text: str, body: Mapping[str, Any]) -> list[str]:
    """The tokens to stream: the answer's, or exactly ``max_tokens`` when ``ignore_eos``."""
    tokens = [t for t in tokenize(text) if not t.isspace()] or [_PAD]
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if isinstance(max_tokens, int) and max_tokens >= 0:
        if body.get("ignore_eos") and len(tokens) < max_tokens:
            tokens = tokens + [_PAD] * (max_tokens - len(tokens))
        tokens = tokens[:max_tokens]
    return tokens


def build_events(
    payload: Mapping[str, Any], body: Mapping[str, Any], chat: bool
) -> tuple[list[bytes], int]:
    """SSE ``data:`` events for a non-streamed answer ``payload``: one per token, the finish,
    the usage (when ``stream_options.include_usage``) and ``[DONE]``; and the token count."""
    choice = payload["choices"][0]
    text = choice["message"]["content"] if chat else choice["text"]
    tokens = stream_tokens(text, body)
    finish = "length" if body.get("ignore_eos") else choice["finish_reason"]
    base = {"id": payload["id"], "created": payload["created"], "model": payload["model"]}
    obj = "chat.completion.chunk" if chat else "text_completion"
    # One token event is the same JSON with a different piece: encode the frame once
    # and splice each piece in, so a 64-token answer costs one dumps, not 64.
    marker = "\x00piece\x00"
    probe: dict[str, Any] = (
        {"index": 0, "delta": {"content": marker}, "finish_reason": None}
        if chat
        else {"index": 0, "text": marker, "finish_reason": None}
    )
    head, tail = _event({**base, "object": obj, "choices": [probe]}).split(
        json.dumps(marker).encode()
    )
    events: list[bytes] = [
        head + json.dumps(tok if i == 0 else " " + tok.lstrip()).encode() + tail
        for i, tok in enumerate(tokens)
    ]
    end: dict[str, Any] = (
        {"index": 0, "delta": {}, "finish_reason": finish}
        if chat
        else {"index": 0, "text": "", "finish_reason": finish}
    )
    events.append(_event({**base, "object": obj, "choices": [end]}))
    options = body.get("stream_options")
    if isinstance(options, Mapping) and options.get("include_usage"):
        usage = dict(payload["usage"], completion_tokens=len(tokens))
        usage["total_tokens"] = usage["prompt_tokens"] + len(tokens)
        events.append(_event({**base, "object": obj, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events, len(tokens)


def _event(data: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


#: Response headers with the server's own account of its time to first token, in
#: nanoseconds of CLOCK_MONOTONIC (``time.monotonic_ns``), which every process on the host
#: shares: when the request head arrived, and when the head and first token were written;
#: and how the arrival was stamped: ``kernel`` (when the bytes reached the socket) or
#: ``read`` (when the server read them, its own wake-up included).
ARRIVED_HEADER = "x-fake-arrived-ns"
FIRST_TOKEN_HEADER = "x-fake-first-token-ns"
ARRIVAL_STAMP_HEADER = "x-fake-arrival-stamp"


def stream_head(keep_alive: bool, arrived_ns: int | None = None, kernel: bool = False) -> bytes:
    stamps = ""
    if arrived_ns is not None:
        stamps = (
            f"{ARRIVED_HEADER}: {arrived_ns}\r\n{FIRST_TOKEN_HEADER}: {time.monotonic_ns()}\r\n"
            f"{ARRIVAL_STAMP_HEADER}: {'kernel' if kernel else 'read'}\r\n"
        )
    return (
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        "transfer-encoding: chunked\r\n"
        f"connection: {'keep-alive' if keep_alive else 'close'}\r\n{stamps}\r\n"
    ).encode("latin-1")


async def send_stream(
    writer: asyncio.StreamWriter,
    plan: StreamPlan,
    start: float,
    keep_alive: bool,
    arrived: float | None = None,
    kernel_arrival: bool = False,
) -> bool:
    """Write the events on their schedule from ``start`` (loop time of the first token).

    The response head leaves with the first token, stamped with the request's arrival
    (``arrived``, loop time; ``kernel_arrival`` when that is the kernel's receive stamp)
    and the moment of that write, so a client can subtract the server's own share from
    the TTFT it measures. Returns False when the stream was cut,
    so the caller closes the connection.
    """
    loop = asyncio.get_running_loop()
    head: bytes | None = b""
    for i, event in enumerate(plan.events):
        if plan.cut_after is not None and i >= plan.cut_after:
            if head is not None:
                writer.write(stream_head(keep_alive))
                head = None
            if plan.stall:
                await asyncio.sleep(plan.stall)
            await writer.drain()
            return False
        wait = start + min(i, plan.n_tokens - 1) * plan.token_interval - loop.time()
        if wait > 0:
            await writer.drain()
            await asyncio.sleep(wait)
        if writer.is_closing():
            return False  # the client hung up (its deadline passed): stop writing
        if head is not None:
            arrived_ns = None if arrived is None else int(arrived * 1e9)
            writer.write(stream_head(keep_alive, arrived_ns, kernel_arrival) + _chunk(event))
            head = None
        else:
            writer.write(_chunk(event))
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True
