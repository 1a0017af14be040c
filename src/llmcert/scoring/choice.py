"""Scorers for multiple-choice items: by the letter a model writes, or by log-likelihood."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from llmcert.errors import ScoringError
from llmcert.items._item import Item
from llmcert.models._types import ModelOutput
from llmcert.scoring import _common as c
from llmcert.scoring._letters import LETTERS, find_choice
from llmcert.scoring._types import RequestKind, Score

_NORMALIZE = ("none", "tokens", "chars")


def _check_choice_item(item: Item) -> str | None:
    """Why the item cannot be scored as multiple choice, or None if it can."""
    if not item.choices:
        return "item has no choices"
    if len(item.choices) > len(LETTERS):
        return f"item has {len(item.choices)} choices; letters run out at {len(LETTERS)}"
    if item.answer_index is None:
        return "item has no answer_index"
    if not 0 <= item.answer_index < len(item.choices):
        return f"answer_index {item.answer_index} is outside the {len(item.choices)} choices"
    return None


class ChoiceLetterScorer:
    """Reads the option letter from a generated answer (rules in ``_letters``).

    Only letters within the item's choices count. With ``match_text`` (the
    default) a response that is exactly one option's text also counts.
    """

    name: ClassVar[str] = "choice_letter"
    request_kind: ClassVar[RequestKind] = "generate"

    def __init__(self, *, match_text: bool = True) -> None:
        self._match_text = c.boolean(self.name, "match_text", match_text)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "args": {"match_text": self._match_text}}

    def score(self, item: Item, output: ModelOutput) -> Score:
        problem = _check_choice_item(item)
        if problem is not None:
            return c.unscored(problem)
        assert item.answer_index is not None  # checked above; narrows the type
        response = c.generation_text(self.name, output)
        expected = LETTERS[item.answer_index]
        found = find_choice(response, item.choices, match_text=self._match_text)
        if found is None:
            return c.wrong(
                None, f"no unambiguous option in {c.shorten(response)}; expected {expected}"
            )
        letter = LETTERS[found.index]
        return c.judged(
            found.index == item.answer_index,
            letter,
            f"expected {expected}, got {letter} ({found.how})",
        )


class ChoiceLoglikelihoodScorer:
    """Picks the choice the model finds most likely (lm-eval's ``acc``).

    ``normalize`` divides each log-probability by the choice's token count
    (``tokens``) or character length (``chars``, lm-eval's ``acc_norm``) to
    offset the advantage of short choices. Ties go to the lowest index, so the
    result never depends on float noise in ordering.
    """

    name: ClassVar[str] = "choice_loglikelihood"
    request_kind: ClassVar[RequestKind] = "loglikelihood"

    def __init__(self, *, normalize: str = "none") -> None:
        self._normalize = c.choice(self.name, "normalize", normalize, _NORMALIZE)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "args": {"normalize": self._normalize}}

    def _adjusted(self, item: Item, logprob: float, tokens: int, index: int) -> float:
        if math.isnan(logprob):
            return -math.inf
        if self._normalize == "tokens":
            return logprob / max(tokens, 1)
        if self._normalize == "chars":
            return logprob / max(len(item.choices[index]), 1)
        return logprob

    def score(self, item: Item, output: ModelOutput) -> Score:
        problem = _check_choice_item(item)
        if problem is not None:
            return c.unscored(problem)
        assert item.answer_index is not None  # checked above; narrows the type
        result = c.loglikelihoods(self.name, output)
        n = len(item.choices)
        if len(result.logprobs) != n or len(result.token_counts) != n:
            raise ScoringError(
                f"{self.name}: {len(result.logprobs)} log-probabilities and "
                f"{len(result.token_counts)} token counts for {n} choices"
            )
        adjusted = [
            self._adjusted(item, lp, tokens, i)
            for i, (lp, tokens) in enumerate(zip(result.logprobs, result.token_counts, strict=True))
        ]
        best = 0
        for i in range(1, n):
            if adjusted[i] > adjusted[best]:
                best = i
        listing = ", ".join(
            f"{LETTERS[i]}={lp:.4f}"
            + ("" if self._normalize == "none" else f" ({adjusted[i]:.4f})")
            for i, lp in enumerate(result.logprobs)
        )
        norm = "" if self._normalize == "none" else f", normalised by {self._normalize}"
        return c.judged(
            best == item.answer_index,
            LETTERS[best],
            f"expected {LETTERS[item.answer_index]}, chose {LETTERS[best]}; "
            f"logprobs {listing}{norm}",
        )
