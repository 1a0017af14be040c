"""Text normalisation shared by the scorers.

Models wrap the same answer in different clothes: full-width characters,
"The answer is (A).", a trailing "。", markdown bold. These helpers take the
clothes off so that scorers compare answers, not formatting. Everything works
on NFKC text, which maps full-width letters, digits and most CJK punctuation
to their ASCII forms (the ideographic full stop "。" is the notable exception).
"""

from __future__ import annotations

import re
import unicodedata

#: Phrases that introduce a final answer, in English and Chinese (NFKC form,
#: so "答案：" arrives as "答案:"). "answer is" also covers "the answer is" and
#: "the correct answer is".
ANSWER_MARKER = re.compile(
    r"\banswer\s*(?:is\b\s*:?|:)|答案\s*(?:应该|应当)?\s*(?:是|为|:)",
    re.IGNORECASE,
)

_WHITESPACE = re.compile(r"\s+")
#: A line holding only markdown emphasis or a colon, as in "**Answer:**\n(B)".
_BARE = re.compile(r"[\s*_:]*")
#: Characters that are not Unicode punctuation but decorate answers all the same.
_EXTRA_DECORATION = frozenset("`")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _is_decoration(char: str) -> bool:
    return unicodedata.category(char).startswith("P") or char in _EXTRA_DECORATION


def strip_decoration(text: str) -> str:
    """Strip punctuation and whitespace from both ends, e.g. ``"(A)."`` -> ``"A"``."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or _is_decoration(text[start])):
        start += 1
    while end > start and (text[end - 1].isspace() or _is_decoration(text[end - 1])):
        end -= 1
    return text[start:end]


def loose(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and trimmed; punctuation kept."""
    return _WHITESPACE.sub(" ", nfkc(text).casefold()).strip()


def normalize_answer(text: str) -> str:
    """The comparison form of an answer: :func:`loose` plus surrounding punctuation removed."""
    return strip_decoration(loose(text))


def comparison_form(text: str) -> str:
    """What :func:`answers_equal` compares: shown as ``extracted`` in scores."""
    return normalize_answer(text) if any(char.isalnum() for char in text) else loose(text)


def answers_equal(response: str, target: str) -> bool:
    """Compare two answers in normalised form.

    A target with no letters or digits (BIG-Bench Hard's Dyck-language task has
    targets like ``"] ] >"``) is all decoration, and stripping it would leave
    nothing or a wrong remainder, so such targets are compared loosely instead,
    allowing only a final full stop after them.
    """
    if any(char.isalnum() for char in target):
        return normalize_answer(response) == normalize_answer(target)
    got, wanted = loose(response), comparison_form(target)
    return bool(wanted) and (got == wanted or got.rstrip(".。").rstrip() == wanted)


def after_last_marker(text: str) -> str | None:
    """The answer introduced by the last answer marker, or None when there is none.

    The answer is the rest of the marker's line; when the marker ends its line
    ("Answer:\\n(B)") it is the next non-empty line. The *last* marker wins, so
    a model that corrects itself is scored on its correction.
    """
    matches = list(ANSWER_MARKER.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :]
    for line in rest.splitlines():
        if not _BARE.fullmatch(line):
            return line.strip()
    return ""


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
