"""The OpenAI-compatible backend: one request becomes one HTTP call (``_http``).

Identification adds what no single response shows: the reported model, a
behavioural fingerprint, and whether the server decodes greedily and
independently of request order (``_fingerprint``, ``_cache``). Log-likelihoods
are given only after the alignment probe passed (``_loglik``).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import aiohttp

from llmcert._hashing import digest_json
from llmcert._retry import RetryPolicy, call_with_retries
from llmcert.errors import MalformedResponse, ModelRefError, RequestRejected
from llmcert.models._ref import ModelRef
from llmcert.models._types import (
    ChatMessage,
    GenerateRequest,
    Generation,
    GenerationSettings,
    LoglikelihoodRequest,
    Loglikelihoods,
    ModelIdentity,
)
from llmcert.models.openai_compat._cache import across_cache_states
from llmcert.models.openai_compat._fingerprint import (
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
from llmcert.models.openai_compat._http import Endpoint
from llmcert.models.openai_compat._loglik import (
    AlignmentProbe,
    EchoedTokens,
    LoglikelihoodRefused,
    continuation_start,
    echo_payload,
    probe_alignment,
    sum_continuation,
)
from llmcert.models.openai_compat._sampler import POLICIES, SamplerPolicy, detect_family

__all__ = ["DEFAULT_KEY_ENVS", "OpenAICompatBackend"]

DEFAULT_KEY_ENVS = ("LLMCERT_API_KEY", "OPENAI_API_KEY")

#: Identification and the probes are the first contact with an endpoint. Each of
#: their calls is retried on its own, briefly: one lost request does not fail the
#: run, and a dead endpoint still fails within seconds.
FIRST_CONTACT_RETRY = RetryPolicy(max_attempts=3, base_delay=0.25, max_delay=1.0)

T = TypeVar("T")


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
        self._http = Endpoint(
            base_url,
            api_key=api_key,
            timeout=timeout,
            resolver=resolver,
            max_response_bytes=max_response_bytes,
        )
        self.base_url = self._http.base_url
        self.model = model
        self.api = api
        self.ref_text = ref_text or f"openai:{base_url}?model={model}"
        self._server = server  # the family named in the reference, else detected
        self._listing: asyncio.Task[list[dict[str, Any]] | None] | None = None
        self._probe: AlignmentProbe | None = None
        self._probe_task: asyncio.Task[AlignmentProbe] | None = None
        self._greedy: str | None = None
        self._order: str | None = None
        self._jitter = random.Random(self.ref_text)  # backoff jitter only

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
        await self._http.aclose()

    async def _retried(self, call: Callable[[], Awaitable[T]]) -> T:
        """One first-contact call, retried on its own (FIRST_CONTACT_RETRY)."""
        outcome = await call_with_retries(call, FIRST_CONTACT_RETRY, self._jitter)
        if outcome.error is not None:
            raise outcome.error
        return cast(T, outcome.value)

    async def _post(self, path: str, payload: dict[str, Any], key: str | None) -> dict[str, Any]:
        return await self._http.post(path, payload, key)

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
            return await self._retried(lambda: self._post("/completions", payload, None))

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
            self._listing = asyncio.ensure_future(self._retried(self._fetch_models))
        return await asyncio.shield(self._listing)

    async def _fetch_models(self) -> list[dict[str, Any]] | None:
        status, headers, body = await self._http.request("GET", "/models", None, None)
        if status == 404:
            return None  # some servers do not list models; identity rests on the fingerprint
        data = self._http.decode(status, headers, body, "/models")
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
            data, _ = await self._retried(lambda: self._generate_raw(request, extra))
        except RequestRejected as exc:  # a server without log-probabilities on generations
            self._greedy = greedy_verdict(None, f"log-probabilities refused ({exc})")
            return (await self._retried(lambda: self.generate(request))).text
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
            await self._retried(lambda: self.generate(self._canary(prompt, 1)))

        async def measure() -> tuple[str, list[float] | None]:
            request = self._canary(ORDER_CANARY, ORDER_CANARY_TOKENS)
            try:
                data, _ = await self._retried(lambda: self._generate_raw(request, extra))
            except RequestRejected:  # no log-probabilities on generations: the text alone
                return (await self._retried(lambda: self.generate(request))).text, None
            return self._parse_generation(data, chat=chat).text, chosen_logprobs(data, chat=chat)

        runs = await across_cache_states(ORDER_CANARY, prime, measure)
        self._order = order_verdict(runs)

    async def _canary_text(self, prompt: str) -> str:
        return (await self._retried(lambda: self.generate(self._canary(prompt, 16)))).text

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
