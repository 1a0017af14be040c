"""The behavioural fingerprint of an endpoint, and its greedy canary.

Fixed prompts answered at temperature 0 identify the served model by behaviour.
One of them, a repetitive sequence, also checks the sampler: asked for its
log-probabilities, a server that decodes greedily picks the most likely token at
every step. A server that applies a repeat penalty (or any other stage llmcert
did not ask for) picks another token somewhere in the pattern, so its
"temperature 0" generations are not the greedy decode the results record.

A second, longer canary is generated in three prompt-cache states
(``_cache``): a server whose greedy tokens or their log-probabilities
move with the requests before it gives generations that depend on request
order, which no in-process run (and no rerun) reproduces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmcert.models.openai_compat._cache import token_spread

#: Fixed prompts whose temperature-0 answers fingerprint the served model.
CANARY_PROMPTS = (
    "Repeat exactly: llmcert canary 7f3a",
    "What is 17 + 25? Answer with the number only.",
)
#: A pattern whose greedy continuation repeats tokens, which a repeat penalty avoids.
GREEDY_CANARY = "one two one two one two one two one two"
GREEDY_CANARY_TOKENS = 16
#: Long enough that a cold decode and a decode after a cached prefix batch it differently.
ORDER_CANARY = (
    "The days of the week are Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, "
    "Sunday. The months of the year are January, February, March, April, May, June, July, "
    "August, September, October, November, December. The days of the week are Monday, Tuesday,"
)
ORDER_CANARY_TOKENS = 8


def chosen_and_top(data: Mapping[str, Any], *, chat: bool) -> list[tuple[str, str]] | None:
    """(chosen token, most likely token) per generated step; None without log-probabilities."""
    try:
        choice = data["choices"][0]
        lp = choice.get("logprobs")
        if not lp:
            return None
        if chat:
            steps = []
            for entry in lp["content"]:
                tops = entry.get("top_logprobs") or []
                alternatives = {str(t["token"]): float(t["logprob"]) for t in tops}
                alternatives.setdefault(str(entry["token"]), float(entry["logprob"]))
                steps.append((str(entry["token"]), max(alternatives, key=alternatives.__getitem__)))
            return steps
        pairs = []
        for token, top in zip(lp["tokens"], lp["top_logprobs"], strict=True):
            if not top:
                return None
            pairs.append((str(token), max(top, key=top.__getitem__)))
        return pairs
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def greedy_verdict(steps: list[tuple[str, str]] | None, why_none: str) -> str:
    """A one-line record: greedy, not greedy (where), or not checked (why)."""
    if steps is None:
        return f"not checked: {why_none}"
    for i, (chosen, top) in enumerate(steps):
        if chosen != top:
            return (
                f"not greedy: at temperature 0 the server chose {chosen!r} at step {i + 1} "
                f"where the model's most likely token is {top!r} (it applies a sampler "
                "stage llmcert did not send, e.g. a repeat penalty)"
            )
    return f"greedy: {len(steps)} of {len(steps)} tokens were the most likely"


def chosen_logprobs(data: Mapping[str, Any], *, chat: bool) -> list[float] | None:
    """The log-probability of each generated token; None without them."""
    try:
        lp = data["choices"][0].get("logprobs")
        if not lp:
            return None
        if chat:
            return [float(entry["logprob"]) for entry in lp["content"]]
        return [float(v) for v in lp["token_logprobs"]]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def order_verdict(runs: Sequence[tuple[str, tuple[str, list[float] | None]]]) -> str:
    """A one-line record: the canary's greedy decode is the same in every cache state, or not."""
    states = "; ".join(state for state, _ in runs)
    texts = {text for _, (text, _) in runs}
    if texts == {""}:
        return "not checked: the order canary generated nothing"
    if len(texts) > 1:
        return (
            f"order-dependent: the same greedy canary gave {len(texts)} different texts "
            f"across prompt-cache states ({states}); generations through this server depend "
            "on the requests before them and are not reproducible in-process"
        )
    logprobs = [(state, lps) for state, (_, lps) in runs if lps is not None]
    if len(logprobs) < len(runs):
        return f"same text in {len(runs)} prompt-cache states (no log-probabilities to compare)"
    spread = token_spread(
        [(state, [str(i) for i in range(len(lps))], lps) for state, lps in logprobs]
    )
    if spread is None:
        return f"order-dependent: the canary's length changed across cache states ({states})"
    if not spread.stable:
        return (
            f"order-dependent: the same greedy canary's token log-probabilities move by "
            f"{spread.spread:.4f} nats across prompt-cache states ({states}); greedy "
            "generations through this server depend on the requests before them and are "
            "not reproducible in-process"
        )
    return f"reproducible: the same greedy canary in {len(runs)} prompt-cache states ({states}), {spread.spread:.4f} nats apart"
