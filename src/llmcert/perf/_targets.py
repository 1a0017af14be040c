"""Where the load goes: a streaming OpenAI-compatible endpoint, timed chunk by chunk.

This client is separate from ``models.openai_compat`` on purpose: that backend waits
for whole answers and retries; a load generator must stream, must never retry (a
retry would hide a failure and double the load) and must time every chunk. It uses
aiohttp for the same reason as the backend: its CPU cost per request is low, and the
client's own cost is what limits the rate it can drive on a small machine.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Protocol

from llmcert.perf._errors import PerfError
from llmcert.perf._trace import RequestTrace
from llmcert.perf._workload import WorkRequest

#: Clock for every timestamp of a run (monotonic, sub-microsecond).
clock = time.perf_counter


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
        path = "/chat/completions" if api == "chat" else "/completions"
        self._url = self.base_url + path
        self._headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._session: Any = None

    @classmethod
    def from_ref(cls, ref: Any) -> OpenAIStreamTarget:
        key_env = ref.params.get("key_env")
        names = (key_env,) if key_env else ("LLMCERT_API_KEY", "OPENAI_API_KEY")
        api_key = next((os.environ[e] for e in names if os.environ.get(e)), None)
        return cls(
            ref.target, ref.params["model"], api=ref.params.get("api", "chat"), api_key=api_key
        )

    async def start(self) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=False),
                timeout=aiohttp.ClientTimeout(total=None),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )

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
        import aiohttp

        assert self._session is not None, "start() the target first"
        data = self.body(request)
        trace.sent = clock() - t0
        times = trace.token_times
        done = False
        try:
            async with self._session.post(self._url, data=data, headers=self._headers) as resp:
                trace.http_status = resp.status
                if resp.status >= 400:
                    text = (await resp.read())[:300].decode("utf-8", "replace")
                    trace.error = f"HTTP {resp.status}: {_message(text)}"
                    return
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    trace.error = (
                        f"the server answered a streaming request with {ctype or 'no type'}, "
                        "not text/event-stream: it does not stream"
                    )
                    return
                # Read whatever has arrived and split it into events here: one await per
                # network read, not one per line, and every event in a read shares the
                # read's arrival time (which is when the client could first see it).
                buffer = b""
                async for data in resp.content.iter_any():
                    now = clock() - t0
                    buffer += data
                    *events, buffer = buffer.replace(b"\r\n", b"\n").split(b"\n\n")
                    for raw in events:
                        outcome = self._event(raw, trace, now)
                        if outcome:
                            trace.error = outcome
                            return
                        done = done or outcome == ""
                # Read on to the end of the body after [DONE], so the connection is reused.
                if buffer.strip() and self._event(buffer, trace, clock() - t0) == "":
                    done = True
        except aiohttp.ClientConnectorError as exc:
            trace.error = f"cannot reach {self.base_url}: {exc.os_error}"
            return
        except (aiohttp.ClientError, ConnectionError) as exc:
            trace.end = clock() - t0
            trace.status = "truncated" if times else "error"
            trace.error = f"connection failed: {type(exc).__name__}: {exc}"
            return
        trace.end = clock() - t0
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

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


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
    if not any(marker in payload for marker in _NOT_FINAL):
        return None
    for key in _TEXT_KEYS:
        at = payload.find(key)
        if at >= 0:
            after = payload[at + len(key) : at + len(key) + 2]
            if after[:1] != b'"':
                return None if after[:1] != b"n" else False  # null, or something odd
            return after != b'""'
    return False if b'"role"' in payload else None


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
