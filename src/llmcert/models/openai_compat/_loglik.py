"""Log-likelihoods through an OpenAI-compatible ``/completions`` endpoint: correct or refused.

The legacy completions API returns a prompt's log-probabilities with ``echo`` and
``logprobs``. Two server faults make the sums wrong without any error:

* ``max_tokens: 0`` means "no limit" to llama-cpp-python's server, so the echo
  carries a generation until the context is full. The request therefore asks for
  the smallest budget every server honours (1 token), and only the tokens inside
  the continuation's characters are summed, located by ``text_offset``.
* llama-cpp-python (0.3.x) pairs each echoed prompt token with the *next*
  position's distribution for models that add no start token (DESIGN §5.5).
  Nothing in one response reveals that, so an alignment probe compares the
  log-probability a token gets when the server *generates* it (aligned on every
  server seen) with the one it gets when the same token is *echoed* as part of
  the prompt. A server that fails is refused for log-likelihoods, with the cause.
* A server that reuses its cached prompt prefix may give the same text other
  values after other requests (``_cache``); the probe echoes its text in
  three cache states and refuses a server whose values move.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from llmcert.errors import MalformedResponse, RequestRejected
from llmcert.models.openai_compat._cache import (
    CACHE_TOLERANCE,
    CacheSpread,
    across_cache_states,
    token_spread,
)

#: The generation budget of an echo request: 0 is "unlimited" to some servers.
ECHO_MAX_TOKENS = 1
#: Echoed and generated log-probabilities of one token may differ this much (nats)
#: through batch layout and precision; a shifted server is off by whole nats.
PROBE_TOLERANCE = 0.05
#: Probe prompts: a likely next word that is unlikely to follow itself. Each starts
#: with a space, so that even a server echoing its prompt back generates a token that
#: stands apart when appended (the probe needs the generated token to stay one token).
PROBE_PROMPTS = (
    " The capital of France is",
    " Monday, Tuesday, Wednesday,",
    " Question: What is two plus two? Answer:",
)

Post = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class LoglikelihoodRefused(RequestRejected):
    """The endpoint's log-probabilities cannot be trusted; the cause is in the message."""


@dataclass(frozen=True, slots=True)
class EchoedTokens:
    """The legacy ``logprobs`` object of one completion choice."""

    tokens: list[str]
    offsets: list[int]
    logprobs: list[float | None]
    tops: list[dict[str, float] | None]

    @classmethod
    def parse(cls, data: Mapping[str, Any], where: str) -> EchoedTokens:
        try:
            choice = data["choices"][0]
            lp = choice["logprobs"]
            tokens = [str(t) for t in lp["tokens"]]
            offsets = [int(o) for o in lp["text_offset"]]
            logprobs = [None if v is None else float(v) for v in lp["token_logprobs"]]
            tops = lp.get("top_logprobs") or [None] * len(tokens)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise MalformedResponse(f"{where}: completions response lacks logprobs") from exc
        if not len(tokens) == len(offsets) == len(logprobs) == len(tops):
            raise MalformedResponse(f"{where}: logprobs arrays differ in length")
        if any(b < a for a, b in pairwise(offsets)):
            raise MalformedResponse(f"{where}: text_offset is not in order")
        return cls(tokens, offsets, logprobs, tops)


def continuation_start(context: str) -> int:
    """Where the continuation's characters begin in ``context + continuation``.

    Trailing whitespace of the context belongs to the continuation, as in the
    in-process backend, so that " Paris" after "is " is the token " Paris".
    """
    return len(context.rstrip())


def echo_payload(model: str, prompt: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        **(extra or {}),
        "model": model,
        "prompt": prompt,
        "max_tokens": ECHO_MAX_TOKENS,
        "echo": True,
        "logprobs": 1,
        "temperature": 0.0,
    }


def sum_continuation(
    echo: EchoedTokens, prompt: str, *, start: int, where: str
) -> tuple[float, int, bool]:
    """Sum the log-probabilities of the tokens covering ``prompt[start:]``.

    A token from the prompt's end on was generated. More
    generated tokens than were asked for means the server did not honour
    ``max_tokens``, and its other numbers are not trusted either.
    """
    end = len(prompt)
    generated = sum(1 for off in echo.offsets if off >= end)
    if generated > ECHO_MAX_TOKENS:
        raise LoglikelihoodRefused(
            f"{where} generated {generated} tokens where max_tokens={ECHO_MAX_TOKENS} "
            "was asked: it does not honour max_tokens, so its echoed log-probabilities "
            "cannot be separated from a generation"
        )
    total, count, greedy = 0.0, 0, True
    for i, (tok, off, tlp, top) in enumerate(
        zip(echo.tokens, echo.offsets, echo.logprobs, echo.tops, strict=True)
    ):
        if off >= end:
            break
        token_end = echo.offsets[i + 1] if i + 1 < len(echo.offsets) else end
        if off < start and token_end <= start:
            continue  # wholly inside the context (a token at ``start`` may be zero-width:
            # servers give a partial UTF-8 character the offset of the next token)
        if tlp is None:
            raise MalformedResponse(f"{where}: a continuation token has no log-probability")
        total += tlp
        count += 1
        if top:
            greedy = greedy and max(top, key=lambda t: top[t]) == tok
    # Every token covers at least one byte; one more may straddle the boundary.
    n_bytes = len(prompt[start:].encode("utf-8"))
    if count == 0 or count > n_bytes + 1:
        raise LoglikelihoodRefused(
            f"{where} echoed {count} tokens for a continuation of {n_bytes} bytes; "
            "its token offsets do not describe the prompt it was sent"
        )
    return total, count, greedy


@dataclass(frozen=True, slots=True)
class AlignmentProbe:
    """What the probe found; ``cause`` says why a server is refused, when it is."""

    aligned: bool
    detail: str
    cause: str | None = None
    cache: CacheSpread | None = None  # measured once the alignment holds

    def describe(self) -> str:
        return self.detail if self.aligned else f"refused: {self.cause}"


async def probe_alignment(
    post: Post, model: str, where: str, extra: Mapping[str, Any] | None = None
) -> AlignmentProbe:
    """Generate one greedy token, then echo it as part of the prompt: the two must agree.

    A prompt whose generated token does not survive being appended as one token
    (tokenisers may merge it with the prompt's end) tells nothing, and the next
    prompt is tried; when none tells anything, the server is refused as unverifiable.
    An aligned server's echo must then not depend on its prompt cache
    (``probe_cache``). ``extra`` goes with every request (the sampler and cache switch).
    """
    unusable: list[str] = []

    def generation(prompt: str) -> dict[str, Any]:
        return {
            **(extra or {}),
            "model": model,
            "prompt": prompt,
            "max_tokens": ECHO_MAX_TOKENS,
            "temperature": 0.0,
            "logprobs": 1,
        }

    for prompt in PROBE_PROMPTS:
        generated = await post(generation(prompt))
        gen = EchoedTokens.parse(generated, where)
        if len(gen.tokens) > ECHO_MAX_TOKENS:
            return AlignmentProbe(
                False,
                "",
                f"{where} generated {len(gen.tokens)} tokens where max_tokens="
                f"{ECHO_MAX_TOKENS} was asked",
            )
        if not gen.tokens or not gen.tokens[0] or gen.logprobs[0] is None:
            unusable.append(f"{prompt!r} generated nothing")
            continue
        token, expected = gen.tokens[0], gen.logprobs[0]
        echoed = EchoedTokens.parse(await post(echo_payload(model, prompt + token, extra)), where)
        at = [i for i, off in enumerate(echoed.offsets) if off == len(prompt)]
        if not at or echoed.tokens[at[0]] != token or echoed.logprobs[at[0]] is None:
            unusable.append(f"{token!r} after {prompt!r} is not one token when echoed")
            continue
        got = echoed.logprobs[at[0]]
        assert got is not None
        if abs(got - expected) > PROBE_TOLERANCE:
            return AlignmentProbe(
                False,
                "",
                f"{where} returns misaligned prompt log-probabilities: {token!r} after "
                f"{prompt.strip()!r} has log-probability {expected:.4f} when generated but "
                f"{got:.4f} when echoed (llama-cpp-python's server shifts echoed "
                "log-probabilities by one position for models without a start token); "
                "use the in-process backend (llamacpp:PATH.gguf) for log-likelihood suites",
            )
        aligned = (
            f"aligned: {token!r} after {prompt.strip()!r} {expected:.4f} generated, "
            f"{got:.4f} echoed"
        )
        return await _probe_cache(post, generation, prompt, prompt + token, aligned, where, extra)
    return AlignmentProbe(
        False,
        "",
        f"{where}: the alignment of echoed log-probabilities could not be checked ("
        + "; ".join(unusable)
        + ")",
    )


async def _probe_cache(
    post: Post,
    generation: Callable[[str], dict[str, Any]],
    context: str,
    text: str,
    aligned: str,
    where: str,
    extra: Mapping[str, Any] | None,
) -> AlignmentProbe:
    """Echo ``text`` in three prompt-cache states: its values must not move."""
    model = generation(context)["model"]

    async def echo() -> EchoedTokens:
        return EchoedTokens.parse(await post(echo_payload(model, text, extra)), where)

    runs = await across_cache_states(context, lambda p: post(generation(p)), echo)
    # The echoed text only: the generated token after it is not part of the measure.
    prompt_runs = [
        (
            state,
            [
                (t, lp)
                for t, o, lp in zip(e.tokens, e.offsets, e.logprobs, strict=True)
                if o < len(text)
            ],
        )
        for state, e in runs
    ]
    cache = token_spread(
        [(state, [t for t, _ in pairs], [lp for _, lp in pairs]) for state, pairs in prompt_runs]
    )
    if cache is None:
        return AlignmentProbe(
            False, "", f"{where} tokenised the same probe text differently between requests"
        )
    if not cache.stable:
        return AlignmentProbe(
            False,
            "",
            "the server's prompt cache changes log-likelihoods by "
            f"{cache.spread:.4f} nats: the probe text {text.strip()!r} scored "
            f"{cache.describe()}, beyond the {CACHE_TOLERANCE:g} nats allowed (the server "
            "decodes each prompt after the prefix the previous request left cached, and "
            "this model's values depend on that layout); use a server that can turn its "
            "prompt cache off (llama-server takes cache_prompt=false) or the in-process "
            "backend (llamacpp:PATH.gguf) for log-likelihood suites",
            cache,
        )
    return AlignmentProbe(True, f"{aligned}; prompt cache: {cache.describe()}", cache=cache)
