"""The behavioural fingerprint of an endpoint, and its greedy canary.

Fixed prompts answered at temperature 0 identify the served model by behaviour.
One of them, a repetitive sequence, also checks the sampler: asked for its
log-probabilities, a server that decodes greedily picks the most likely token at
every step. A server that applies a repeat penalty (or any other stage llmcert
did not ask for) picks another token somewhere in the pattern, so its
"temperature 0" generations are not the greedy decode the results record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Fixed prompts whose temperature-0 answers fingerprint the served model.
CANARY_PROMPTS = (
    "Repeat exactly: llmcert canary 7f3a",
    "What is 17 + 25? Answer with the number only.",
)
#: A pattern whose greedy continuation repeats tokens, which a repeat penalty avoids.
GREEDY_CANARY = "one two one two one two one two one two"
GREEDY_CANARY_TOKENS = 16


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
