"""Scorers for free-text answers: exact match, numeric answers, regular expressions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from llmcert.items._item import Item
from llmcert.models._types import ModelOutput
from llmcert.scoring import _common as c
from llmcert.scoring._normalize import (
    after_last_marker,
    answers_equal,
    comparison_form,
    last_line,
    loose,
    nfkc,
)
from llmcert.scoring._numbers import find_final_number, parse_target_number
from llmcert.scoring._types import RequestKind, Score

_EXTRACT_MODES = ("full", "last_line", "answer_is")
_REGEX_MODES = ("match_target", "search")
_SELECT = ("first", "last")


def _target(item: Item) -> str | None:
    """The reference answer, or None when the item has nothing to score against."""
    target = item.target
    return target if target is not None and target.strip() else None


class ExactMatchScorer:
    """Normalised exact match against ``item.target``.

    Both sides are NFKC-normalised, case-folded, whitespace-collapsed and
    stripped of surrounding punctuation, so "The answer is (A)." matches the
    target "(A)" under ``extract="answer_is"``. ``ignore`` regexes are removed
    from both sides before anything else.
    """

    name: ClassVar[str] = "exact_match"
    request_kind: ClassVar[RequestKind] = "generate"

    def __init__(self, *, ignore: Sequence[str] = (), extract: str = "full") -> None:
        self._ignore_src = c.strings(self.name, "ignore", ignore)
        self._ignore = tuple(c.regex(self.name, "ignore", p) for p in self._ignore_src)
        self._extract = c.choice(self.name, "extract", extract, _EXTRACT_MODES)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "args": {"ignore": list(self._ignore_src), "extract": self._extract},
        }

    def _strip_ignored(self, text: str) -> str:
        for pattern in self._ignore:
            text = pattern.sub("", text)
        return text

    def _answer(self, response: str) -> str:
        text = nfkc(response)
        if self._extract == "last_line":
            return last_line(text)
        if self._extract == "answer_is":
            after = after_last_marker(text)
            return text if after is None else after
        return text

    def score(self, item: Item, output: ModelOutput) -> Score:
        target = _target(item)
        if target is None:
            return c.unscored("item has no target")
        answer = self._answer(self._strip_ignored(c.generation_text(self.name, output)))
        if not loose(answer):
            return c.wrong(None, f"no answer found; expected {target!r}")
        extracted = comparison_form(answer)
        ok = answers_equal(answer, self._strip_ignored(target))
        return c.judged(ok, extracted, f"expected {target!r}, got {c.shorten(extracted)}")


class NumericScorer:
    """The final number of the response, compared numerically with ``item.target``.

    A marker ("####", "the answer is", "答案是") beats the last number, so a
    response that restates the question's numbers after its answer is still
    read correctly. ``extracted`` is the number found, without commas or "$".
    """

    name: ClassVar[str] = "numeric"
    request_kind: ClassVar[RequestKind] = "generate"

    def __init__(
        self, *, rel_tol: float = 1e-6, abs_tol: float = 0.0, fractions: bool = True
    ) -> None:
        self._rel_tol = c.non_negative(self.name, "rel_tol", rel_tol)
        self._abs_tol = c.non_negative(self.name, "abs_tol", abs_tol)
        self._fractions = c.boolean(self.name, "fractions", fractions)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "args": {
                "rel_tol": self._rel_tol,
                "abs_tol": self._abs_tol,
                "fractions": self._fractions,
            },
        }

    def score(self, item: Item, output: ModelOutput) -> Score:
        target = _target(item)
        if target is None:
            return c.unscored("item has no target")
        expected = parse_target_number(target)
        if expected is None:
            return c.unscored(f"target {target!r} is not a single number")
        response = c.generation_text(self.name, output)
        found = find_final_number(response, fractions=self._fractions)
        if found is None:
            return c.wrong(None, f"no number in response; expected {target.strip()}")
        ok = found.value == expected or math.isclose(
            float(found.value), float(expected), rel_tol=self._rel_tol, abs_tol=self._abs_tol
        )
        return c.judged(
            ok, found.text, f"expected {target.strip()}, got {found.text} ({found.how})"
        )


class RegexScorer:
    """A regular expression from the suite.

    ``match_target`` takes group 1 (or the whole match) of the first (``select``)
    match and compares it, normalised, with ``item.target``; ``search`` scores 1
    whenever the pattern occurs. The pattern runs on the response as given.
    """

    name: ClassVar[str] = "regex"
    request_kind: ClassVar[RequestKind] = "generate"

    def __init__(
        self,
        *,
        pattern: str,
        flags: Sequence[str] = (),
        mode: str = "match_target",
        select: str = "first",
    ) -> None:
        self._flag_names, combined = c.regex_flags(self.name, "flags", flags)
        self._pattern = c.regex(self.name, "pattern", pattern, combined)
        self._mode = c.choice(self.name, "mode", mode, _REGEX_MODES)
        self._select = c.choice(self.name, "select", select, _SELECT)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "args": {
                "pattern": self._pattern.pattern,
                "flags": list(self._flag_names),
                "mode": self._mode,
                "select": self._select,
            },
        }

    def _pick(self, response: str) -> str | None:
        matches = list(self._pattern.finditer(response))
        if not matches:
            return None
        match = matches[0] if self._select == "first" else matches[-1]
        if self._mode == "search":
            return match.group(0)
        answer = match.group(1) if self._pattern.groups else match.group(0)
        return answer or ""  # an optional group that did not take part is None

    def score(self, item: Item, output: ModelOutput) -> Score:
        response = c.generation_text(self.name, output)
        target = _target(item)
        if self._mode == "match_target" and target is None:
            return c.unscored("item has no target")
        answer = self._pick(response)
        if answer is None:
            return c.wrong(None, f"pattern {self._pattern.pattern!r} not found")
        if target is None or self._mode == "search":
            return c.correct(answer, f"pattern {self._pattern.pattern!r} found")
        if not loose(answer):
            return c.wrong(None, f"pattern matched but captured nothing; expected {target!r}")
        extracted = comparison_form(answer)
        ok = answers_equal(answer, target)
        return c.judged(ok, extracted, f"expected {target!r}, got {c.shorten(extracted)}")
