"""The sampler an OpenAI-compatible server is asked to use, and whether it is known to comply.

The OpenAI API names only temperature, top_p and two penalties. Servers built on
llama.cpp add a repeat penalty (1.1 in llama-cpp-python's server), top_k 40,
top_p 0.95 and min_p 0.05 unless told otherwise, and apply the penalty even at
temperature 0, so a "greedy" decode is not greedy. llmcert's in-process backend
decodes with none of them. To make both paths mean the same thing, the neutral
value of every sampler stage the server family accepts is sent explicitly; what
was sent, and whether the family is documented to take it, goes into the
recorded conditions. Whether the server really did is checked by the greedy
canary of the fingerprint (``_fingerprint``).

The same goes for the prompt cache. A llama.cpp server decodes a prompt after
the longest prefix it still holds from the previous request, and the logits of
a position depend on the batch it was decoded in (llama.cpp's server README says
so of ``cache_prompt``), so a value can depend on the requests before it.
llama.cpp's own ``llama-server`` turns the reuse off per request with
``cache_prompt: false``; llama-cpp-python's server (0.3.x) has no such field and
drops unknown ones, so it is sent but recorded as ignored. Whether a value
really depends on the cache is measured by the probes (``_cache``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The OpenAI API's own neutral penalties: every compatible server takes these names.
_STANDARD: dict[str, float | int] = {"frequency_penalty": 0.0, "presence_penalty": 0.0}


@dataclass(frozen=True)
class SamplerPolicy:
    family: str
    extra: Mapping[str, float | int]
    honoured: str  # "documented" | "not settable" | "unknown"
    note: str
    cache: Mapping[str, bool] = field(default_factory=dict)
    cache_honoured: str = "not settable: the API has no field that turns prompt caching off"

    def params(self) -> dict[str, float | int]:
        return {**_STANDARD, **self.extra}

    def request_fields(self) -> dict[str, float | int | bool]:
        """Everything sent with each request: the neutral sampler and the cache switch."""
        return {**self.params(), **self.cache}

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in sorted(self.params().items()))

    def describe_cache(self) -> str:
        return " ".join(f"{k}={str(v).lower()}" for k, v in sorted(self.cache.items())) or "nothing"


_LLAMACPP_SAMPLER = {"repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0}
_NO_PROMPT_CACHE = {"cache_prompt": False}


POLICIES: dict[str, SamplerPolicy] = {
    # llama.cpp's llama-server and llama-cpp-python's server: top_k <= 0 and min_p 0
    # switch those stages off, repeat_penalty 1.0 switches the penalty off.
    "llamacpp": SamplerPolicy(
        "llamacpp",
        _LLAMACPP_SAMPLER,
        "documented",
        "llama.cpp servers take repeat_penalty, top_k and min_p per request",
        _NO_PROMPT_CACHE,
        "documented: llama-server reuses no cached prompt prefix with cache_prompt=false",
    ),
    "llama-cpp-python": SamplerPolicy(
        "llama-cpp-python",
        _LLAMACPP_SAMPLER,
        "documented",
        "llama-cpp-python's server takes repeat_penalty, top_k and min_p per request",
        _NO_PROMPT_CACHE,
        "ignored: llama-cpp-python's server has no cache_prompt field, drops unknown "
        "fields and always reuses the cached prefix of the previous request",
    ),
    # vLLM's extra sampling parameters; top_k -1 is "all tokens" in every version.
    "vllm": SamplerPolicy(
        "vllm",
        {"repetition_penalty": 1.0, "top_k": -1, "min_p": 0.0},
        "documented",
        "vLLM takes repetition_penalty, top_k and min_p as extra sampling parameters",
    ),
    "tgi": SamplerPolicy(
        "tgi",
        {},
        "unknown",
        "TGI's OpenAI-compatible API takes the standard parameters only",
    ),
    "ollama": SamplerPolicy(
        "ollama",
        {},
        "not settable",
        "Ollama's OpenAI-compatible API takes no repeat_penalty, top_k or min_p; "
        "the model's own defaults apply",
    ),
    "openai": SamplerPolicy(
        "openai", {}, "documented", "the OpenAI API has no other sampler stages"
    ),
    "unknown": SamplerPolicy(
        "unknown",
        {},
        "unknown",
        "server family not recognised: only the OpenAI API's parameters were sent "
        "(name it with ?server=llamacpp|llama-cpp-python|vllm|tgi|ollama|openai)",
    ),
}


def detect_family(models: Sequence[Mapping[str, Any]]) -> str:
    """Guess the serving engine from its ``/models`` listing; "unknown" when unsure."""
    for entry in models:
        owner = str(entry.get("owned_by", "")).lower()
        if owner == "llamacpp":
            return "llamacpp"  # llama.cpp's llama-server
        if owner == "me" and "permissions" in entry:
            return "llama-cpp-python"
        if owner == "vllm":
            return "vllm"
        if owner in ("library", "ollama"):
            return "ollama"
        if owner in ("openai", "system", "openai-internal"):
            return "openai"
    return "unknown"
