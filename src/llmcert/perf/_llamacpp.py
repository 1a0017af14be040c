"""A GGUF model served in this process by llama.cpp, as a load target.

llama.cpp answers one request at a time (the backend's lock), so concurrent requests
queue: that wait is part of each request's TTFT, as it would be behind a one-slot
server. Each streamed chunk is timed in the generating thread with the run's clock.
Output tokens are counted with the model's own tokenizer. ``ignore_eos`` is honoured
by biasing the end-of-sequence token out of reach.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llmcert.models import ModelRef
from llmcert.models.llamacpp import SAMPLER_DEFAULTS, LlamaCppBackend
from llmcert.perf._targets import clock
from llmcert.perf._trace import RequestTrace
from llmcert.perf._workload import WorkRequest


class LlamaCppTarget:
    token_counting = "llama.cpp tokenizer of the model"
    arrival_timing = "in-process"

    def __init__(self, backend: LlamaCppBackend, *, own: bool = True) -> None:
        self.backend = backend
        self.name = f"in-process llama.cpp: {backend.ref}"
        self._own = own

    @classmethod
    def from_ref(cls, ref: ModelRef) -> LlamaCppTarget:
        return cls(LlamaCppBackend.from_ref(ref))

    async def start(self) -> None:
        """Load the model before the clock starts: loading is not serving latency."""
        await asyncio.to_thread(self.backend._locked, lambda _llm: None)

    async def send(self, request: WorkRequest, trace: RequestTrace, t0: float) -> None:
        trace.sent = clock() - t0
        try:
            # The backend's lock serialises calls, as the model allows only one at a time.
            await asyncio.to_thread(self.backend._locked, self._generate, request, trace, t0)
        except Exception as exc:
            trace.status = "truncated" if trace.token_times else "error"
            trace.error = f"{type(exc).__name__}: {exc}"
            trace.end = clock() - t0

    def _generate(self, llm: Any, request: WorkRequest, trace: RequestTrace, t0: float) -> None:
        kwargs: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
            "stream": True,
            **SAMPLER_DEFAULTS,
        }
        if request.ignore_eos:
            kwargs["logit_bias"] = {llm.token_eos(): -1e9}
        if self.backend.supports_chat:
            stream = llm.create_chat_completion(
                messages=[{"role": "user", "content": request.prompt}], **kwargs
            )
        else:
            stream = llm.create_completion(request.prompt, **kwargs)
        pieces: list[str] = []
        for chunk in stream:
            now = clock() - t0
            choice = chunk["choices"][0]
            text = (
                choice.get("delta", {}).get("content") if "delta" in choice else choice.get("text")
            )
            if text:
                trace.token_times.append(now)
                pieces.append(text)
            if choice.get("finish_reason"):
                trace.finish_reason = choice["finish_reason"]
        trace.end = clock() - t0
        trace.output_tokens = len(
            llm.tokenize("".join(pieces).encode(), add_bos=False, special=True)
        )
        trace.prompt_tokens = len(llm.tokenize(request.prompt.encode(), add_bos=False))
        trace.token_source = "tokenizer"
        trace.status = "ok"

    async def aclose(self) -> None:
        if self._own:
            await self.backend.aclose()
