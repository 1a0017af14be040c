"""Where the load goes: a streaming OpenAI-compatible endpoint, timed chunk by chunk.

This client is separate from ``models.openai_compat`` on purpose: that backend waits
for whole answers and retries; a load generator must stream, must never retry (a
retry would hide a failure and double the load) and must time every chunk. It speaks
HTTP through ``perf._wire``, which stamps each read as the socket returns it: the
client's own cost and delay limit the rate it can drive and inflate the TTFT it reads.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Protocol

from llmcert.perf._errors import PerfError
from llmcert.perf._trace import RequestTrace
from llmcert.perf._wire import Response, WireClient
from llmcert.perf._workload import WorkRequest

#: Clock for every timestamp of a run: CLOCK_MONOTONIC on Linux, which every process on
#: the host shares, so a loopback server's own stamps (``time.monotonic_ns``) line up.
clock = time.monotonic
#: Response headers in which the fake server stamps arrival and first token (ns).
_ARRIVED, _FIRST = "x-fake-arrived-ns", "x-fake-first-token-ns"
_STAMP = "x-fake-arrival-stamp"


class Target(Protocol):
    """Sends one request and fills in its trace; never raises for a failed request."""

    name: str
    token_counting: str

    async def start(self) -> None: ...

    async def send(self, request: WorkRequest, trace: RequestTrace, t0: float) -> None: ...

    async def aclose(self) -> None: ...


class OpenAIStreamTarget:
    """``/v1/chat/completions`` or ``/v1/completions`` with ``stream: true``.

    Asks for ``stream_options.include_usage`` so the server's own token count is used;
    a server that gives none is counted by chunks, and the report says so.
    """

    token_counting = "server usage report, else chunk count"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: str = "chat",
        api_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api = api
        self.name = f"openai:{self.base_url} model={model} api={api}"
        self._path = "/chat/completions" if api == "chat" else "/completions"
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "User-Agent": "llmcert-perf",
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._client: WireClient | None = None
        self._receive_stamp = "read"

    @classmethod
    def from_ref(cls, ref: Any) -> OpenAIStreamTarget:
        key_env = ref.params.get("key_env")
        names = (key_env,) if key_env else ("LLMCERT_API_KEY", "OPENAI_API_KEY")
        api_key = next((os.environ[e] for e in names if os.environ.get(e)), None)
        return cls(
            ref.target, ref.params["model"], api=ref.params.get("api", "chat"), api_key=api_key
        )

    async def start(self) -> None:
        from llmcert.perf._wire import WireClient

        if self._client is None:
            try:
                self._client = WireClient(self.base_url, clock)
            except ValueError as exc:
                raise PerfError(f"cannot send to {self.base_url!r}: {exc}") from None

    def body(self, request: WorkRequest) -> bytes:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.ignore_eos:
            payload["ignore_eos"] = True
            payload["min_tokens"] = request.max_tokens
        if self.api == "chat":
            payload["messages"] = [{"role": "user", "content": request.prompt}]
        else:
            payload["prompt"] = request.prompt
        return json.dumps(payload).encode()

    async def send(self, request: WorkRequest, trace: RequestTrace, t0: float) -> None:
        assert self._client is not None, "start() the target first"
        client = self._client
        data = self.body(request)
        raw = client.head(self._path, self._headers, len(data)) + data
        times = trace.token_times
        buffer = b""
        done = False
        shape: TokenShape | None = None

        def on_body(chunk: bytes, first: float, last: float) -> str | None:
            # Split what has arrived into events here. The first event this read completes
            # arrived with the read's oldest bytes; a later one in the same read arrived at
            # latest with its newest, which is the time it gets (never an early one).
            nonlocal buffer, done, shape
            buffer += chunk
            if b"\r" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            if b"\n\n" not in buffer:
                return None
            *events, buffer = buffer.split(b"\n\n")
            now = first - t0
            for event in events:
                text = None if shape is None else shape.text(event)
                if text is not None:
                    if text:
                        times.append(now)
                else:
                    n = len(times)
                    outcome = self._event(event, trace, now)
                    if outcome:
                        return outcome
                    done = done or outcome == ""
                    if shape is None and len(times) > n:
                        shape = TokenShape.learn(event)
                now = last - t0
            return None

        trace.sent = clock() - t0
        try:
            resp = await client.post(raw, on_body, _streams)
        except OSError as exc:
            trace.error = f"cannot reach {self.base_url}: {exc}"
            return
        trace.http_status = resp.status or None
        trace.first_read_wait = resp.first_read_wait
        _server_stamps(resp.headers, trace, t0)
        if resp.stopped_by_reader:
            trace.error = resp.failure
            return
        if resp.status >= 400:
            text = resp.body[:300].decode("utf-8", "replace")
            trace.error = f"HTTP {resp.status}: {_message(text)}"
            return
        trace.end = clock() - t0
        if resp.failure is not None:
            trace.status = "truncated" if times else "error"
            trace.error = resp.failure
            return
        if not _streams(resp):
            ctype = resp.headers.get("content-type", "")
            trace.error = (
                f"the server answered a streaming request with {ctype or 'no type'}, "
                "not text/event-stream: it does not stream"
            )
            return
        if buffer.strip() and self._event(buffer, trace, trace.end) == "":
            done = True
        if not done and trace.finish_reason is None:
            trace.status = "truncated" if times else "error"
            trace.error = "the stream ended before its final event"
            return
        if trace.output_tokens is None:
            trace.output_tokens = len(times)
            trace.token_source = "chunks"
        trace.status = "ok"

    @staticmethod
    def _event(raw: bytes, trace: RequestTrace, now: float) -> str | None:
        """Apply one SSE event; "" at ``[DONE]``, an error message, or None to go on."""
        if raw.startswith(b"data:") and b"\n" not in raw:
            payload = raw[5:].strip()  # the usual event: one data line
        else:
            payload = b"".join(
                line[5:].strip() for line in raw.split(b"\n") if line.startswith(b"data:")
            )
        if not payload:
            return None  # a comment or keep-alive
        if payload == b"[DONE]":
            return ""
        token = plain_token(payload)
        if token is not None:  # a mid-stream token event: no JSON parse needed
            if token:
                trace.token_times.append(now)
            return None
        try:
            event = json.loads(payload)
        except ValueError:
            return "malformed SSE event (not JSON)"
        choices = event.get("choices") or ()
        for choice in choices:
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
            if text:
                trace.token_times.append(now)
                break
        if choices and choices[0].get("finish_reason"):
            trace.finish_reason = choices[0]["finish_reason"]
        usage = event.get("usage")
        if isinstance(usage, dict) and usage.get("completion_tokens") is not None:
            trace.output_tokens = int(usage["completion_tokens"])
            trace.prompt_tokens = usage.get("prompt_tokens")
            trace.token_source = "usage"
        return None

    @property
    def receive_stamp(self) -> str:
        """How token arrivals were timed: ``kernel`` (when the bytes reached the client's
        socket) or ``read`` (when the client read them, its own wake-up included)."""
        return self._receive_stamp if self._client is None else self._client.receive_stamp

    async def aclose(self) -> None:
        if self._client is not None:
            self._receive_stamp = self._client.receive_stamp
            self._client.close()
            self._client = None


class TokenShape:
    """The bytes around the text of one stream's mid-stream token events.

    A server sends every token of an answer in the same frame (the same id, model and
    keys), so after the first token event is parsed the rest are recognised by that frame
    and a single JSON string in the text's place: three byte comparisons, not a parse.
    Sound on the raw bytes: an event that starts and ends with the learnt frame and holds
    exactly one JSON string between them has the first one's structure.
    """

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, prefix: bytes, suffix: bytes) -> None:
        self._prefix, self._suffix = prefix, suffix

    @classmethod
    def learn(cls, event: bytes) -> TokenShape | None:
        """The frame of ``event``, a one-line ``data:`` token event; None for any other."""
        if not event.startswith(b"data: ") or b"\n" in event or plain_token(event[6:]) is not True:
            return None
        for key in _TEXT_KEYS:
            at = event.find(key)
            if at >= 0:
                start = at + len(key)
                string = _JSON_STRING.match(event, start)
                if string is None:
                    return None
                return cls(event[:start], event[string.end() :])
        return None

    def text(self, event: bytes) -> bool | None:
        """Whether ``event``, in this frame, carries text; None when it is not in it."""
        prefix = self._prefix
        if not (event.startswith(prefix) and event.endswith(self._suffix)):
            return None
        start, end = len(prefix), len(event) - len(self._suffix)
        if end - start < 2 or _JSON_STRING.fullmatch(event, start, end) is None:
            return None
        return end - start > 2


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_FINAL = (b'"finish_reason":null', b'"finish_reason": null')
_TEXT_KEYS = (b'"content":', b'"content": ', b'"text":', b'"text": ')


def plain_token(payload: bytes) -> bool | None:
    """For an event that is certainly a mid-stream chunk (not final, no usage, one choice),
    whether it carries text; None when the event needs a full JSON parse.

    Safe on the raw bytes: a quote inside a JSON string is escaped, so ``"content":""``
    can only be the key and an empty value, never part of the generated text.
    """
    if b'"usage"' in payload or payload.count(b'"index"') != 1:
        return None
    if _NOT_FINAL[0] not in payload and _NOT_FINAL[1] not in payload:
        return None
    for key in _TEXT_KEYS:
        at = payload.find(key)
        if at >= 0:
            after = payload[at + len(key) : at + len(key) + 2]
            if after[:1] != b'"':
                return None if after[:1] != b"n" else False  # null, or something odd
            return after != b'""'
    return False if b'"role"' in payload else None


def _streams(resp: Response) -> bool:
    return resp.status < 400 and "text/event-stream" in resp.headers.get("content-type", "")


def _server_stamps(headers: dict[str, str], trace: RequestTrace, t0: float) -> None:
    arrived, first = headers.get(_ARRIVED), headers.get(_FIRST)
    if arrived and first and arrived.isdigit() and first.isdigit():
        trace.server_arrived = int(arrived) / 1e9 - t0
        trace.server_first_token = int(first) / 1e9 - t0
        trace.server_arrival_stamp = headers.get(_STAMP)


def _message(text: str) -> str:
    try:
        err = json.loads(text).get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        return str(msg or text)
    except (ValueError, AttributeError):
        return text


def open_target(ref_text: str) -> Target:
    """The target for a model reference: an OpenAI-compatible endpoint, or a GGUF in process."""
    from llmcert.models import ModelRef

    ref = ModelRef.parse(ref_text)
    if ref.scheme == "openai":
        return OpenAIStreamTarget.from_ref(ref)
    if ref.scheme in ("embedded", "llamacpp"):
        from llmcert.perf._llamacpp import LlamaCppTarget

        return LlamaCppTarget.from_ref(ref)
    raise PerfError(
        f"llmcert perf measures OpenAI-compatible endpoints (openai://…) and GGUF models "
        f"in process (embedded, llamacpp:…), not {ref.scheme!r} references"
    )
