"""Argument checks and Score helpers shared by the built-in scorers.

Scorer arguments come from suite files, so a bad one is a spec error naming
``scorer.args``: the author should learn of it when the suite loads, not after
a thousand model calls.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from llmcert.errors import ScoringError, SpecError
from llmcert.models._types import Generation, Loglikelihoods, ModelOutput
from llmcert.scoring._types import Score, ScoreStatus

_FIELD = "scorer.args"

#: Flags a regex argument may name; the rest of ``re``'s flags change the
#: pattern language itself and would make suites harder to read.
_FLAGS: dict[str, re.RegexFlag] = {
    "IGNORECASE": re.IGNORECASE,
    "MULTILINE": re.MULTILINE,
    "DOTALL": re.DOTALL,
    "VERBOSE": re.VERBOSE,
    "ASCII": re.ASCII,
}


def bad_arg(scorer: str, message: str) -> SpecError:
    return SpecError(f"{scorer}: {message}", field=_FIELD)


def choice(scorer: str, arg: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise bad_arg(scorer, f"{arg} must be one of {options}, not {value!r}")
    return value


def boolean(scorer: str, arg: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise bad_arg(scorer, f"{arg} must be true or false, not {value!r}")
    return value


def non_negative(scorer: str, arg: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_arg(scorer, f"{arg} must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise bad_arg(scorer, f"{arg} must be a finite number >= 0, not {value!r}")
    return number


def strings(scorer: str, arg: str, value: object) -> tuple[str, ...]:
    """A list of strings; a lone string is refused because it is usually a typo for a list."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise bad_arg(scorer, f"{arg} must be a list of strings, not {value!r}")
    if not all(isinstance(v, str) for v in value):
        raise bad_arg(scorer, f"{arg} must be a list of strings, not {value!r}")
    return tuple(value)


def regex(scorer: str, arg: str, pattern: object, flags: int = 0) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise bad_arg(scorer, f"{arg} must be a non-empty regular expression, not {pattern!r}")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise bad_arg(
            scorer, f"{arg} {pattern!r} is not a valid regular expression: {exc}"
        ) from exc


def regex_flags(scorer: str, arg: str, names: object) -> tuple[tuple[str, ...], int]:
    """Flag names as given (for ``config()``) and their combined value."""
    given = strings(scorer, arg, names)
    combined = 0
    for name in given:
        flag = _FLAGS.get(name.upper())
        if flag is None:
            raise bad_arg(scorer, f"{arg}: unknown flag {name!r}; known: {', '.join(_FLAGS)}")
        combined |= flag
    return tuple(n.upper() for n in given), combined


def generation_text(scorer: str, output: ModelOutput) -> str:
    """The text of a generation; anything else means the suite asked for the wrong request."""
    if not isinstance(output, Generation):
        raise ScoringError(f"{scorer} scores generations, got {type(output).__name__}")
    return output.text


def loglikelihoods(scorer: str, output: ModelOutput) -> Loglikelihoods:
    if not isinstance(output, Loglikelihoods):
        raise ScoringError(f"{scorer} scores log-likelihoods, got {type(output).__name__}")
    return output


def correct(extracted: str, explanation: str) -> Score:
    return Score(ScoreStatus.SCORED, 1.0, extracted, explanation)


def wrong(extracted: str | None, explanation: str) -> Score:
    """A wrong answer, or no answer found (``extracted`` None): both score 0."""
    return Score(ScoreStatus.SCORED, 0.0, extracted, explanation)


def judged(ok: bool, extracted: str, explanation: str) -> Score:
    return correct(extracted, explanation) if ok else wrong(extracted, explanation)


def unscored(explanation: str) -> Score:
    return Score(ScoreStatus.UNSCORED, None, None, explanation)


def shorten(text: str, limit: int = 80) -> str:
    """Quote model text in explanations without copying whole essays into reports."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 1] + "…")
