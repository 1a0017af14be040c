"""The fake OpenAI-compatible server: routing, auth, latency, faults, idempotency, request log."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from llmcert._rxstamp import AVAILABLE as RXSTAMP_AVAILABLE
from llmcert._rxstamp import StampedServer, start_stamped_server
from llmcert.testing._faults import FaultRule, FaultState, decide
from llmcert.testing._http import MAX_BODY, MAX_HEAD, Reply, RequestHead, encode, parse_head
from llmcert.testing._log import RequestLog, RequestRecord
from llmcert.testing._responses import Policy, Quirk, RequestInvalid, Responder, error_body
from llmcert.testing._stream import StreamPlan, build_events, send_stream
from llmcert.testing._thread import ThreadedServer

LOOPBACK = "127.0.0.1"
MODELS_PATH = "/v1/models"
CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"
GENERATION_PATHS = frozenset({CHAT_PATH, COMPLETIONS_PATH})


class FakeOpenAIServer(RequestLog):
    """A loopback OpenAI-compatible server whose answers and failures tests control.

    Use as ``async with FakeOpenAIServer(...) as srv`` inside an event loop, or as
    ``with FakeOpenAIServer(...).run_in_thread() as srv`` from synchronous code. Faults can
    be replaced at any time from any thread with :meth:`set_faults`.
    """

    def __init__(
        self,
        *,
        model: str = "fake-model",
        latency: float = 0.0,
        port: int = 0,
        host: str = LOOPBACK,
        api_key: str | None = None,
        policy: Policy = "echo",
        answers: Mapping[str, str] | None = None,
        default_answer: str = "I don't know.",
        faults: Iterable[FaultRule | str] = (),
        log_path: Path | str | None = None,
        streaming: bool = False,
        token_interval: float = 0.0,
        quirks: Iterable[Quirk] = (),
    ) -> None:
        if host != LOOPBACK:
            raise ValueError(f"the fake server only binds to {LOOPBACK}, not {host!r}")
        if latency < 0:
            raise ValueError(f"latency must be >= 0, got {latency}")
        if token_interval < 0:
            raise ValueError(f"token_interval must be >= 0, got {token_interval}")
        if api_key is not None and not api_key:
            raise ValueError("api_key must be non-empty when given")
        self.latency = latency
        #: Answer ``"stream": true`` with SSE events (otherwise 400, as a server without
        #: streaming). ``latency`` is then the time to the first token, and each further
        #: token follows ``token_interval`` seconds after the one before.
        self.streaming = streaming
        self.token_interval = token_interval
        self._requested_port = port
        self._port: int | None = None
        self._expected_auth = f"Bearer {api_key}".encode() if api_key is not None else None
        self._responder = Responder(model, policy, answers or {}, default_answer, frozenset(quirks))
        super().__init__(log_path)
        self._fault_lock = threading.Lock()
        self._fault_states: tuple[FaultState, ...] = ()
        self.set_faults(faults)
        self._stored: dict[str, tuple[bytes, bytes]] = {}
        self._server: StampedServer | asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self.max_in_flight = 0
        self.connections = 0

    def __repr__(self) -> str:
        where = f"port={self._port}" if self._port is not None else "stopped"
        return f"<FakeOpenAIServer {where} model={self.model!r}>"

    # -- addresses ---------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self._responder.model

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"http://{LOOPBACK}:{self.port}/v1"

    # -- faults ------------------------------------------------------------------------

    @property
    def faults(self) -> tuple[FaultRule, ...]:
        with self._fault_lock:
            return tuple(s.rule for s in self._fault_states)

    def set_faults(self, rules: Iterable[FaultRule | str]) -> None:
        """Replace all fault rules (their counters restart). Safe from any thread."""
        parsed = tuple(
            FaultState(r if isinstance(r, FaultRule) else FaultRule.parse(r)) for r in rules
        )
        with self._fault_lock:
            self._fault_states = parsed

    def add_fault(self, rule: FaultRule | str) -> None:
        """Append one rule, keeping the counters of the existing ones."""
        state = FaultState(rule if isinstance(rule, FaultRule) else FaultRule.parse(rule))
        with self._fault_lock:
            self._fault_states = (*self._fault_states, state)

    def clear_faults(self) -> None:
        self.set_faults(())

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> FakeOpenAIServer:
        if self._server is not None:
            raise RuntimeError("the fake server is already running")
        self._open_log()
        try:
            # Requests are read with their kernel receive stamps, so a request's arrival is
            # when it reached the socket, not when this process got round to reading it.
            start = start_stamped_server if RXSTAMP_AVAILABLE else asyncio.start_server
            self._server = await start(
                self._on_connect, LOOPBACK, self._requested_port, limit=MAX_HEAD, backlog=1024
            )
        except BaseException:
            self._close_log()
            raise
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and end every open connection, including held requests."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._conns)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
        self._port = None
        self._close_log()

    async def __aenter__(self) -> FakeOpenAIServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def run_in_thread(self) -> ThreadedServer:
        """Serve from a private event loop in a daemon thread (for synchronous callers)."""
        return ThreadedServer(self)

    # -- connections -------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted just as stop() began
            writer.close()
            return
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            await self._serve_connection(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels these tasks. Ending normally matters: Python 3.11's stream
            # callback calls task.exception(), which raises on a cancelled task.
            pass
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the client hung up between requests
            except asyncio.LimitOverrunError:
                await _send(writer, _client_error(431, "request head too large"), False)
                return
            # The latency runs from the request's arrival, not from the end of this
            # server's own work on it: a burst of requests is answered on time. Arrival is
            # when the request's bytes reached the socket (the kernel's stamp): this
            # process's wake-up is its own delay, not the client's.
            arrived, kernel_arrival = _arrival(writer, loop), _kernel_stamped(writer)
            head = parse_head(raw)
            if head is None:
                await _send(writer, _client_error(400, "malformed HTTP request"), False)
                return
            if "transfer-encoding" in head.headers:
                await _send(writer, _client_error(411, "send a Content-Length body"), False)
                return
            length = head.headers.get("content-length", "0")
            if not length.isdigit() or int(length) > MAX_BODY:
                await _send(writer, _client_error(413, "bad or too large Content-Length"), False)
                return
            body = await reader.readexactly(int(length)) if length != "0" else b""
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            try:
                delay, reply = self._dispatch(head, body)
                if delay > 0:
                    await asyncio.sleep(max(0.0, arrived + delay - loop.time()))
            finally:
                self._in_flight -= 1
            if reply is None:
                return  # injected drop or timeout: hang up without an answer
            keep_alive = head.keep_alive and not reply.close
            if reply.stream is not None:
                if not await send_stream(
                    writer, reply.stream, arrived + delay, keep_alive, arrived, kernel_arrival
                ):
                    return  # injected cut: hang up mid-stream
                if not keep_alive:
                    return
                continue
            await _send(writer, reply, keep_alive)
            if not keep_alive:
                return

    # -- one request -------------------------------------------------------------------

    def _dispatch(self, head: RequestHead, raw_body: bytes) -> tuple[float, Reply | None]:
        """Decide the whole answer synchronously; the caller only waits and writes."""
        now = time.time()
        key = head.headers.get("idempotency-key") or None
        path, method = head.path, head.method

        def refuse(reply: Reply, model: str | None = None) -> tuple[float, Reply]:
            self._record(RequestRecord(now, method, path, model, key, reply.status))
            return self.latency, reply

        expected = {MODELS_PATH: "GET", CHAT_PATH: "POST", COMPLETIONS_PATH: "POST"}.get(path)
        if expected is None:
            return refuse(_client_error(404, f"unknown path {path}", "unknown_url"))
        if method != expected:
            return refuse(_client_error(405, f"use {expected} for {path}", "method_not_allowed"))
        if self._expected_auth is not None and not hmac.compare_digest(
            head.headers.get("authorization", "").encode(), self._expected_auth
        ):
            return refuse(
                Reply(
                    401,
                    error_body(
                        "Incorrect or missing API key.", "invalid_request_error", "invalid_api_key"
                    ),
                )
            )
        body: dict[str, Any] = {}
        if method == "POST":
            try:
                loaded = json.loads(raw_body)
            except ValueError:
                loaded = None
            if not isinstance(loaded, dict):
                return refuse(_client_error(400, "the body must be a JSON object"))
            body = loaded
        model = body.get("model") if isinstance(body.get("model"), str) else None

        generation = path in GENERATION_PATHS
        with self._fault_lock:
            decision = decide(self._fault_states, generation, key)
        rule, extra = decision.rule, decision.extra_delay
        fault_name = rule.kind if rule is not None else ("slow" if extra else None)
        if rule is not None and not rule.after_generation and rule.kind != "cut":
            reply, outcome, delay = self._fault_reply(rule, None, extra)
            self._record(RequestRecord(now, method, path, model, key, outcome, fault=fault_name))
            return delay, reply

        replay = generated = False
        if not generation:
            ok = Reply(200, json.dumps(self._responder.models()).encode())
        else:
            fingerprint = b""
            stored = None
            if key is not None:
                canonical = path + json.dumps(body, sort_keys=True)
                fingerprint = hashlib.sha256(canonical.encode()).digest()
                stored = self._stored.get(key)
            if stored is not None and stored[0] != fingerprint:
                return refuse(
                    _client_error(
                        409,
                        "Idempotency-Key reused with a different request",
                        "idempotency_conflict",
                    ),
                    model,
                )
            streamed = self.streaming and bool(body.get("stream"))
            if stored is not None and not streamed:
                ok, replay = Reply(200, stored[1]), True
            else:
                plain = (
                    {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
                    if streamed
                    else body
                )
                try:
                    payload = (
                        self._responder.chat(plain)
                        if path == CHAT_PATH
                        else self._responder.completion(plain)
                    )
                except RequestInvalid as exc:
                    return refuse(_client_error(400, exc.message, param=exc.param), model)
                generated = True
                if streamed:
                    events, n_tokens = build_events(payload, body, path == CHAT_PATH)
                    plan = StreamPlan(tuple(events), n_tokens, self.token_interval)
                    ok = Reply(200, b"", stream=plan)
                else:
                    ok = Reply(200, json.dumps(payload).encode())
                    if key is not None:
                        self._stored[key] = (fingerprint, ok.body)

        if rule is not None:
            reply, outcome, delay = self._fault_reply(rule, ok, extra)
        else:
            reply, outcome, delay = ok, 200, self.latency + extra
        self._record(
            RequestRecord(
                now,
                method,
                path,
                model,
                key,
                outcome,
                replay=replay,
                generated=generated,
                fault=fault_name,
            )
        )
        return delay, reply

    def _fault_reply(
        self, rule: FaultRule, ok: Reply | None, extra: float
    ) -> tuple[Reply | None, int | str, float]:
        """The reply, logged outcome and delay for a firing rule.

        ``ok`` is the committed answer when the rule fires after generation.
        """
        delay = self.latency + extra
        kind = rule.kind
        if kind == "status":
            headers = (("retry-after", rule.retry_after),) if rule.retry_after else ()
            return Reply(rule.status, _status_error(rule.status), headers), rule.status, delay
        if kind == "drop" or (kind == "cut" and (ok is None or ok.stream is None)):
            return None, "dropped", delay
        if kind == "cut":
            assert ok is not None
            assert ok.stream is not None
            plan = ok.stream
            cut = StreamPlan(
                plan.events,
                plan.n_tokens,
                plan.token_interval,
                cut_after=max(1, plan.n_tokens // 2),
                stall=rule.delay or 0.0,
            )
            return Reply(200, b"", stream=cut), "cut", delay
        if kind == "timeout":
            return ok, "timeout", delay + rule.effective_delay
        # malformed
        if rule.variant == "no_choices":
            body = json.dumps(
                {
                    "id": "chatcmpl-fake-broken",
                    "object": "chat.completion",
                    "model": self.model,
                    "usage": {"total_tokens": 0},
                }
            ).encode()
        else:
            body = b'{"id": "chatcmpl-fake-broken", "choices": [{"mess'
        return Reply(200, body), "malformed", delay


async def _send(writer: asyncio.StreamWriter, reply: Reply, keep_alive: bool) -> None:
    writer.write(encode(reply, keep_alive))
    await writer.drain()


def _client_error(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> Reply:
    return Reply(
        status,
        error_body(message, "invalid_request_error", code, param),
        close=status in (411, 413, 431),
    )


def _status_error(status: int) -> bytes:
    if status == 429:
        return error_body("Rate limit reached; slow down.", "requests", "rate_limit_exceeded")
    if status >= 500:
        return error_body("The server had an error processing your request.", "server_error")
    return error_body(f"Injected client error {status}.", "invalid_request_error")


def _arrival(writer: asyncio.StreamWriter, loop: asyncio.AbstractEventLoop) -> float:
    """Loop time at which the latest read's oldest bytes reached the socket (unstamped: the
    read's own time)."""
    stamp = getattr(writer.transport, "rx_first", 0.0)
    return stamp if stamp > 0 else loop.time()


def _kernel_stamped(writer: asyncio.StreamWriter) -> bool:
    return bool(getattr(writer.transport, "rx_stamped", False))
