"""Finding the final number in a worked answer.

Maths answers end in many ways: "#### 18", "The answer is $1,234.", "答案是 18。",
"9 * 2 = 18 dollars" or just a last number. The extractor prefers an explicit
marker and falls back to the last number, like the "flexible" GSM8K filters in
common use, but with the marker first so that an echo of the question's
numbers after the answer does not win.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from llmcert.scoring._normalize import ANSWER_MARKER, nfkc

_BODY = r"""
    (?<![0-9.])
    (?P<body>
        [0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?   # 1,234 or 1,234.5
      | [0-9]+(?:\.[0-9]+)?                             # 1234 or 12.5
      | \.[0-9]+                                        # .5
    )
"""
# A minus counts as a sign only when it is not subtraction ("16-3" is not -3).
_SIGN = r"(?P<sign>(?<![0-9A-Za-z)\]])-)?\$?"
_FRACTION = r"(?:/(?P<den>[0-9]+)(?![0-9.,]))?"
_PERCENT = r"(?P<pct>\s?%)?"

NUMBER = re.compile(_SIGN + _BODY + _PERCENT, re.VERBOSE)
NUMBER_OR_FRACTION = re.compile(_SIGN + _BODY + _FRACTION + _PERCENT, re.VERBOSE)

_HASHES = re.compile(r"####")
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})


@dataclass(frozen=True, slots=True)
class FoundNumber:
    value: Fraction
    text: str  # canonical: sign, digits, optional "/den"; no commas, "$" or "%"
    how: str  # which rule found it, for the score's explanation


def _prepare(text: str) -> str:
    return nfkc(text).translate(_MINUS_SIGNS)


def _parse(match: re.Match[str]) -> tuple[Fraction, str]:
    body = match.group("body").replace(",", "")
    den = match.groupdict().get("den")
    sign = "-" if match.group("sign") else ""
    value = Fraction(body)
    text = sign + body
    if den is not None and int(den) != 0:
        value /= int(den)
        text += "/" + den
    return (-value if sign else value), text


def _first(pattern: re.Pattern[str], text: str, how: str) -> FoundNumber | None:
    match = pattern.search(text)
    if match is None:
        return None
    value, canonical = _parse(match)
    return FoundNumber(value, canonical, how)


def _last(pattern: re.Pattern[str], text: str, how: str) -> FoundNumber | None:
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    value, canonical = _parse(matches[-1])
    return FoundNumber(value, canonical, how)


def _answer_segment(text: str, start: int) -> str:
    """The rest of the marker's line, or the next non-empty line if that is blank."""
    for line in text[start:].splitlines():
        if line.strip(" \t*_:"):
            return line
    return ""


def _after_equals_or_first(pattern: re.Pattern[str], segment: str, how: str) -> FoundNumber | None:
    if "=" in segment:
        found = _first(pattern, segment[segment.rindex("=") + 1 :], how)
        if found is not None:
            return found
    return _first(pattern, segment, how)


def find_final_number(response: str, *, fractions: bool = True) -> FoundNumber | None:
    """The number a response gives as its answer, or None when it has none."""
    pattern = NUMBER_OR_FRACTION if fractions else NUMBER
    text = _prepare(response)

    hashes = list(_HASHES.finditer(text))
    if hashes:
        found = _first(pattern, _answer_segment(text, hashes[-1].end()), "after '####'")
        if found is not None:
            return found

    markers = list(ANSWER_MARKER.finditer(text))
    if markers:
        segment = _answer_segment(text, markers[-1].end())
        found = _after_equals_or_first(pattern, segment, "after the answer marker")
        if found is not None:
            return found

    lines = [line for line in text.splitlines() if line.strip()]
    if lines and "=" in lines[-1]:
        tail = lines[-1]
        found = _first(pattern, tail[tail.rindex("=") + 1 :], "after the final '='")
        if found is not None:
            return found

    return _last(pattern, text, "last number")


def parse_target_number(target: str) -> Fraction | None:
    """A reference answer as a number; None unless it holds exactly one number."""
    matches = list(NUMBER_OR_FRACTION.finditer(_prepare(target)))
    if len(matches) != 1:
        return None
    return _parse(matches[0])[0]
