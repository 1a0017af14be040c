"""Does an endpoint's answer depend on the requests before it? Measured, not assumed.

llama-cpp-python's server decodes each prompt after the longest token prefix it
still holds from the previous request, and keeps the logits it computed for that
prefix. Some models' logits depend on how the positions were batched (Gemma 3
270M: " In Paris." after "Q: Where is the Eiffel Tower?\\nA:" scores -5.7689 on
an empty cache, -5.7827 with only the start token cached, BENCHMARKS.md), so the
same text scores differently with the cache in different states. Which states
differ depends on the CPU and the build, so the probes put the cache in several:

* the prompt's context cached (the request just before was that context),
* only the start token cached (an unrelated request before),
* part of the context cached (a request sharing the prompt's first words).

The same text is measured after each; a spread above ``CACHE_TOLERANCE`` means
the server's values are a function of request order, which no client controls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

#: Values of one text that differ by more than this (nats) across cache states are refused.
CACHE_TOLERANCE = 1e-3
#: A request sharing no token with the probes but the start token.
UNRELATED_PROMPT = "Zebra"


def priming_prompts(context: str) -> tuple[tuple[str, str], ...]:
    """(cache state, the prompt that leaves the cache in it) before a text starting with ``context``."""
    words = context.split(" ")
    # The first half of the words, cut at a space so the tokens are a prefix of the text's.
    part = " ".join(words[: max(1, len(words) // 2)])
    return (
        ("the context cached", context),
        ("only the start token cached", UNRELATED_PROMPT),
        ("part of the context cached", part),
    )


@dataclass(frozen=True, slots=True)
class CacheSpread:
    """How much one text's per-token log-probabilities move across cache states."""

    spread: float
    token: str
    states: tuple[str, ...]

    @property
    def stable(self) -> bool:
        return self.spread <= CACHE_TOLERANCE

    def describe(self) -> str:
        worst = f", largest at {self.token!r}" if self.spread > 0 else ""
        return (
            f"{self.spread:.4f} nats across {len(self.states)} cache states "
            f"({'; '.join(self.states)}){worst}"
        )


def token_spread(
    runs: Sequence[tuple[str, Sequence[str], Sequence[float | None]]],
) -> CacheSpread | None:
    """The largest max-min of one token's log-probability across runs of the same text.

    Each run is (cache state, tokens, log-probabilities). None when the runs
    disagree on the tokens themselves (the text was not the same).
    """
    tokens = runs[0][1]
    if any(list(r[1]) != list(tokens) for r in runs):
        return None
    worst, at = 0.0, ""
    for i, tok in enumerate(tokens):
        values = [r[2][i] for r in runs if r[2][i] is not None]
        if len(values) == len(runs) and values:
            spread = max(values) - min(values)  # type: ignore[type-var,operator]
            if spread > worst:
                worst, at = spread, tok
    return CacheSpread(worst, at, tuple(r[0] for r in runs))


Prime = Callable[[str], Awaitable[object]]
T = TypeVar("T")


async def across_cache_states(
    context: str, prime: Prime, measure: Callable[[], Awaitable[T]]
) -> list[tuple[str, T]]:
    """The same measurement after each primer of ``priming_prompts(context)``.

    Requests must not interleave with others through the same client while this
    runs; a server shared with other clients can still disturb it.
    """
    runs = []
    for state, primer in priming_prompts(context):
        await prime(primer)
        runs.append((state, await measure()))
    return runs
