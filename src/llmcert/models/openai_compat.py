"""OpenAI-compatible HTTP backend (vLLM, llama.cpp server, Ollama, TGI, commercial APIs).

A thin translation layer: one request becomes one HTTP call through a shared
aiohttp session; connection and HTTP failures are mapped onto
:mod:`llmcert.errors` at this boundary so the engine can decide about retries.
The API key is read from the environment and only ever sent as a header.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import ssl
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from llmcert._hashing import digest_json
from llmcert._version import __version__
from llmcert.errors import (
    AuthenticationError,
    BackendUnavailable,
    MalformedResponse,
    ModelRefError,
    ModelTimeout,
    RateLimited,
    RequestRejected,
    ServerError,
)
from llmcert.models._openai_cache import across_cache_states
from llmcert.models._openai_fingerprint import (
    CANARY_PROMPTS,
    GREEDY_CANARY,
    GREEDY_CANARY_TOKENS,
    ORDER_CANARY,
    ORDER_CANARY_TOKENS,
    chosen_and_top,
    chosen_logprobs,
    greedy_verdict,
    order_verdict,
)
from llmcert.models._openai_loglik import (
    AlignmentProbe,
    EchoedTokens,
    LoglikelihoodRefused,
    continuation_start,
    echo_payload,
    probe_alignment,
    sum_continuation,
)
from llmcert.models._ref import ModelRef
from llmcert.models._sampler import POLICIES, SamplerPolicy, detect_family
from llmcert.models._types import (
    ChatMessage,
    GenerateRequest,
    Generation,
    GenerationSettings,
    LoglikelihoodRequest,
    Loglikelihoods,
    ModelIdentity,
)

__all__ = ["CANARY_PROMPTS", "DEFAULT_KEY_ENVS", "LoglikelihoodRefused", "OpenAICompatBackend"]

DEFAULT_KEY_ENVS = ("LLMCERT_API_KEY", "OPENAI_API_KEY")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _server_message(body: bytes) -> str:
    try:
        data = json.loads(body)
        err = data.get("error") if isinstance(data, dict) else None
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return str(msg)[:300]
    except (ValueError, AttributeError):
        pass
    return body[:300].decode("utf-8", "replace")


class _Connection:
    """One aiohttp session per backend, created inside the running event loop.

    aiohttp is used here, not httpx, for its cost per call: against a loopback
    endpoint at 64 calls in flight it spends ~0.2 ms of CPU per request where
    httpx's transport stack spends ~1.1 ms (bench/throughput.py, BENCHMARKS.md),
    and the harness's CPU is what limits throughput at high concurrency.
    """

    def __init__(
        self,
        *,
        timeout: float,
        secure: bool,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        self._timeout = timeout
        self._secure = secure
        self._resolver = resolver  # e.g. an egress policy's, which vets every address
        self._max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0,  # concurrency is bounded by the engine, not here
                ssl=ssl.create_default_context() if self._secure else False,
                resolver=self._resolver,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout, sock_connect=min(self._timeout, 10.0)
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        # Never redirected: the endpoint named is the only one a request (and its key) goes to.
        async with self.session().request(
            method, url, headers=headers, data=content, allow_redirects=False
        ) as resp:
            if self._max_response_bytes is None:
                return resp.status, resp.headers, await resp.read()
            body = await resp.content.read(self._max_response_bytes + 1)
            while len(body) <= self._max_response_bytes and not resp.content.at_eof():
                body += await resp.content.read(self._max_response_bytes + 1 - len(body))
            if len(body) > self._max_response_bytes:
                raise MalformedResponse(f"{url}: response exceeds {self._max_response_bytes} bytes")
            return resp.status, resp.headers, body

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class OpenAICompatBackend:
    supports_loglikelihood = True
    supports_chat = True
    max_concurrency: int | None = None

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: str = "chat",
        api_key: str | None = None,
        timeout: float = 120.0,
        ref_text: str | None = None,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        max_response_bytes: int | None = None,
        server: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api = api
        self.ref_text = ref_text or f"openai:{base_url}?model={model}"
        self._headers = {"User-Agent": f"llmcert/{__version__}", "Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._conn = _Connection(
            timeout=timeout,
            secure=self.base_url.startswith("https:"),
            resolver=resolver,
            max_response_bytes=max_response_bytes,
        )
        self._server = server  # the family named in the reference, else detected
        self._listing: asyncio.Task[list[dict[str, Any]] | None] | None = None
        self._probe: AlignmentProbe | None = None
        self._probe_task: asyncio.Task[AlignmentProbe] | None = None
        self._greedy: str | None = None
        self._order: str | None = None

    @classmethod
    def from_ref(cls, ref: ModelRef) -> OpenAICompatBackend:
        key_env = ref.params.get("key_env")
        if key_env is not None:
            api_key = os.environ.get(key_env)
            if not api_key:
                raise ModelRefError(
                    f"key_env={key_env} names an environment variable that is not set"
                )
        else:
            api_key = next((os.environ[e] for e in DEFAULT_KEY_ENVS if os.environ.get(e)), None)
        try:
            timeout = float(ref.params.get("timeout", "120"))
        except ValueError:
            raise ModelRefError(
                f"timeout must be a number of seconds, not {ref.params['timeout']!r}"
            ) from None
        return cls(
            ref.target,
            ref.params["model"],
            api=ref.params.get("api", "chat"),
            api_key=api_key,
            timeout=timeout,
            ref_text=str(ref),
            server=ref.params.get("server"),
        )

    async def aclose(self) -> None:
        await self._conn.aclose()

    async def _request(
        self, method: str, path: str, payload: dict[str, Any] | None, key: str | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = self._headers
        if key:
            headers = {**headers, "Idempotency-Key": key}
        content = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None
        try:
            return await self._conn.send(method, self.base_url + path, headers, content)
        except TimeoutError as exc:  # aiohttp's timeouts derive from it
            raise ModelTimeout(f"{self.base_url}{path}: no answer in time") from exc
        except aiohttp.ClientConnectorError as exc:
            raise BackendUnavailable(f"cannot reach {self.base_url}: {exc.os_error}") from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(
                f"{self.base_url}{path}: connection failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def _post(self, path: str, payload: dict[str, Any], key: str | None) -> dict[str, Any]:
        status, headers, body = await self._request("POST", path, payload, key)
        return self._decode(status, headers, body, path)

    def _decode(
        self, status: int, headers: Mapping[str, str], body: bytes, path: str
    ) -> dict[str, Any]:
        where = f"{self.base_url}{path}"
        if status >= 300:  # a redirect (never followed) is a refusal, not an answer
            if status in (401, 403):
                raise AuthenticationError(
                    f"{where} refused the credentials (HTTP {status}): set the API key in "
                    "LLMCERT_API_KEY (or the variable named by key_env=)",
                    status=status,
                )
            if status == 429:
                raise RateLimited(
                    f"{where}: rate limited (HTTP 429)",
                    retry_after=_retry_after(headers.get("retry-after")),
                )
            if status >= 500 or status in (408, 409):
                raise ServerError(f"{where}: HTTP {status}: {_server_message(body)}", status=status)
            raise RequestRejected(f"{where}: HTTP {status}: {_server_message(body)}", status=status)
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise MalformedResponse(f"{where}: response is not JSON") from exc
        if not isinstance(data, dict):
            raise MalformedResponse(f"{where}: response is not a JSON object")
        return data

    async def sampler(self) -> SamplerPolicy:
        """The sampler parameters for this server's family (one ``/models`` call, shared)."""
        if self._server is not None:
            return POLICIES[self._server]
        listing = await self._models()
        return POLICIES[detect_family(listing or [])]

    async def _settings(self, request: GenerateRequest) -> dict[str, Any]:
        s = request.settings
        payload: dict[str, Any] = {
            "model": self.model,
            **(await self.sampler()).request_fields(),
            "max_tokens": s.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
        }
        if s.stop:
            payload["stop"] = list(s.stop)
        if request.seed is not None:
            payload["seed"] = request.seed
        return payload

    async def generate(self, request: GenerateRequest) -> Generation:
        data, chat = await self._generate_raw(request)
        return self._parse_generation(data, chat=chat)

    async def _generate_raw(
        self, request: GenerateRequest, extra: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], bool]:
        if request.messages is not None and self.api != "chat":
            raise RequestRejected(
                f"{self.ref_text} uses the completions API, but the suite sends chat messages; "
                "use api=chat or a completion-prompt suite"
            )
        payload = {**(await self._settings(request)), **(extra or {})}
        if request.messages is not None:
            payload["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
            return await self._post("/chat/completions", payload, request.idempotency_key), True
        payload["prompt"] = request.prompt
        return await self._post("/completions", payload, request.idempotency_key), False

    def _parse_generation(self, data: dict[str, Any], *, chat: bool) -> Generation:
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
            usage = data.get("usage") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise MalformedResponse(f"{self.base_url}: response lacks choices[0] text") from exc
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise MalformedResponse(f"{self.base_url}: response text is not a string")
        return Generation(
            text,
            choice.get("finish_reason"),
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
        )

    async def loglikelihood(self, request: LoglikelihoodRequest) -> Loglikelihoods:
        """Echo each context+continuation with logprobs and sum the continuation's tokens.

        Refused (LoglikelihoodRefused) unless the alignment probe passed: the sums
        of a misaligned server are wrong in a way no single response reveals.
        """
        await self.check_loglikelihood()
        results = await asyncio.gather(
            *(
                self._continuation_logprob(request, i, c)
                for i, c in enumerate(request.continuations)
            )
        )
        return Loglikelihoods(
            tuple(r[0] for r in results), tuple(r[1] for r in results), tuple(r[2] for r in results)
        )

    async def _continuation_logprob(
        self, request: LoglikelihoodRequest, index: int, continuation: str
    ) -> tuple[float, int, bool]:
        prompt = request.context + continuation
        # Header-safe: one key per (unit, choice index); the choice text never goes in a header.
        key = f"{request.idempotency_key}-{index}" if request.idempotency_key else None
        extra = (await self.sampler()).request_fields()
        data = await self._post("/completions", echo_payload(self.model, prompt, extra), key)
        where = f"{self.base_url}/completions"
        echo = EchoedTokens.parse(data, where)
        return sum_continuation(
            echo, prompt, start=continuation_start(request.context), where=where
        )

    async def probe_alignment(self) -> AlignmentProbe:
        """The alignment probe, run once per backend (a transport failure is not kept)."""
        if self._probe is None:
            if self._probe_task is None or self._probe_task.done():
                self._probe_task = asyncio.ensure_future(self._run_probe())
            self._probe = await asyncio.shield(self._probe_task)
        return self._probe

    async def _run_probe(self) -> AlignmentProbe:
        async def post(payload: dict[str, Any]) -> dict[str, Any]:
            return await self._post("/completions", payload, None)

        try:
            extra = (await self.sampler()).request_fields()
            return await probe_alignment(post, self.model, self.base_url, extra)
        except (RequestRejected, MalformedResponse) as exc:
            # A server without echoed log-probabilities: a definite answer, kept.
            return AlignmentProbe(False, "", f"it gives no echoed log-probabilities ({exc})")

    async def check_loglikelihood(self) -> None:
        """Raise LoglikelihoodRefused, naming the cause, unless the probe passed."""
        probe = await self.probe_alignment()
        if not probe.aligned:
            raise LoglikelihoodRefused(
                f"log-likelihoods through {self.base_url} are refused: {probe.cause}"
            )

    async def _models(self) -> list[dict[str, Any]] | None:
        """The server's ``/models`` listing, fetched once (None if it has none)."""
        stale = (
            self._listing is not None
            and self._listing.done()
            and (self._listing.cancelled() or self._listing.exception() is not None)
        )
        if self._listing is None or stale:
            self._listing = asyncio.ensure_future(self._fetch_models())
        return await asyncio.shield(self._listing)

    async def _fetch_models(self) -> list[dict[str, Any]] | None:
        status, headers, body = await self._request("GET", "/models", None, None)
        if status == 404:
            return None  # some servers do not list models; identity rests on the fingerprint
        data = self._decode(status, headers, body, "/models")
        return [m for m in data.get("data", []) if isinstance(m, dict)]

    async def _reported_model(self) -> str | None:
        ids = [m.get("id") for m in await self._models() or []]
        if self.model in ids:
            return self.model
        if ids:
            raise RequestRejected(
                f"{self.base_url} does not serve model {self.model!r}; it lists: {', '.join(map(str, ids[:10]))}"
            )
        return None

    def _canary(self, prompt: str, max_tokens: int) -> GenerateRequest:
        settings = GenerationSettings(max_tokens=max_tokens, temperature=0.0)
        if self.api == "chat":
            return GenerateRequest(settings, messages=(ChatMessage("user", prompt),), seed=0)
        return GenerateRequest(settings, prompt=prompt, seed=0)

    async def _greedy_canary(self) -> str:
        """Generate the greedy canary with log-probabilities; record whether it was greedy."""
        request = self._canary(GREEDY_CANARY, GREEDY_CANARY_TOKENS)
        chat = self.api == "chat"
        extra = {"logprobs": True, "top_logprobs": 1} if chat else {"logprobs": 1}
        try:
            data, _ = await self._generate_raw(request, extra)
        except RequestRejected as exc:  # a server without log-probabilities on generations
            self._greedy = greedy_verdict(None, f"log-probabilities refused ({exc})")
            return (await self.generate(request)).text
        steps = chosen_and_top(data, chat=chat)
        self._greedy = greedy_verdict(steps, "the server returned no log-probabilities")
        return self._parse_generation(data, chat=chat).text

    async def _fingerprint(self) -> str:
        texts = await asyncio.gather(
            *(self._canary_text(p) for p in CANARY_PROMPTS), self._greedy_canary()
        )
        await self._order_canary()  # alone: other requests would change the cache states
        return digest_json(list(texts))

    async def _order_canary(self) -> None:
        """The same greedy canary in three prompt-cache states: its tokens must not move."""
        chat = self.api == "chat"
        extra = {"logprobs": True, "top_logprobs": 1} if chat else {"logprobs": 1}

        async def prime(prompt: str) -> None:
            await self.generate(self._canary(prompt, 1))

        async def measure() -> tuple[str, list[float] | None]:
            request = self._canary(ORDER_CANARY, ORDER_CANARY_TOKENS)
            try:
                data, _ = await self._generate_raw(request, extra)
            except RequestRejected:  # no log-probabilities on generations: the text alone
                return (await self.generate(request)).text, None
            return self._parse_generation(data, chat=chat).text, chosen_logprobs(data, chat=chat)

        runs = await across_cache_states(ORDER_CANARY, prime, measure)
        self._order = order_verdict(runs)

    async def _canary_text(self, prompt: str) -> str:
        return (await self.generate(self._canary(prompt, 16))).text

    async def conditions(self) -> dict[str, str]:
        """What this backend sends and found, for the recorded conditions (one place)."""
        policy = await self.sampler()
        found = {
            "server_family": policy.family,
            "sampler_sent": policy.describe(),
            "sampler_honoured": f"{policy.honoured}: {policy.note}",
            "greedy_check": self._greedy or "not checked",
            "greedy_order_check": self._order or "not checked",
            "prompt_cache_sent": policy.describe_cache(),
            "prompt_cache_honoured": policy.cache_honoured,
            "loglikelihood_alignment": (
                self._probe.describe() if self._probe is not None else "not checked"
            ),
            "loglikelihood_cache_spread": (
                self._probe.cache.describe()
                if self._probe is not None and self._probe.cache is not None
                else "not checked"
            ),
        }
        return found

    async def identify(self) -> ModelIdentity:
        """Endpoint + reported model id + a behavioural fingerprint, fetched concurrently.

        With ``api=completions`` (the API of log-likelihood suites) the alignment
        probe runs first, alone, since the probes put the server's prompt cache in
        chosen states; elsewhere it runs before the first log-likelihood.
        """
        if self.api == "completions":
            await self.probe_alignment()
        reported, fingerprint = await asyncio.gather(self._reported_model(), self._fingerprint())
        return ModelIdentity(
            kind="endpoint",
            ref=self.ref_text,
            endpoint=self.base_url,
            reported_model=reported or self.model,
            fingerprint=fingerprint,
            engine=f"openai-compatible/{self.api}",
            details={"api": self.api, **(await self.conditions())},
        )
