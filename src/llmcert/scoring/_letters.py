"""Reading the chosen option letter out of a free-text answer.

The rules, in order:

1. An explicit marker wins: "Answer: B", "the answer is (B)", "答案：B",
   "答案是 B", "选B". The last marked letter in range is taken, so a model that
   changes its mind is read at its final word.
2. Otherwise, if exactly one distinct letter in range stands alone in the
   response ("B", "B.", "(B)", "B)", "我认为是B。"), that is the answer.
3. Several different letters without a marker are ambiguous. If the response
   echoes the options one per line ("A. …\\nB. …"), those lines are set aside
   and rule 2 is tried on the rest. A response naming every option in order
   ("(A) cat (B) dog …") picks none. Otherwise a response that *starts* with
   a letter answer ("B. Because A is wrong …", "B is right") is read as that
   letter; one that starts "A and B …" is not.
4. With no letter at all, a response equal to one option's text (after
   normalisation) is read as that option.

The English article "A" and pronoun "I" before a lower-case word ("A dog",
"I think") are not letters, except right after a marker.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from llmcert.scoring._normalize import after_last_marker, nfkc, normalize_answer

LETTERS = string.ascii_uppercase

# A letter as an answer: bracketed (either case) or a bare capital.
_LETTER = r"(?:[(\[]\s*(?P<b>[A-Za-z])\s*[)\]]|(?P<l>[A-Z])(?![A-Za-z0-9'’]))"

# A marker and its letter share a line, except after a colon ("Answer:\nB"):
# a marker word inside one echoed option must not reach the next option's label.
_MARKED = re.compile(
    r"(?i:"
    r"\banswer(?:[ \t]+is\b)?"
    r"|\b(?:correct|right|best)[ \t]+(?:option|choice)(?:[ \t]+is\b)?"
    r"|答案[ \t]*(?:应该|应当)?[ \t]*(?:是|为)?"
    r"|正确(?:的)?(?:选项|答案)?[ \t]*(?:是|为)"
    r"|应选|选择?(?!项)"
    r")"
    r"[ \t*]*(?::[\s*]*)?(?i:(?:option|choice|选项|选)[ \t]*)?" + _LETTER
)
_STANDALONE = re.compile(r"(?<![A-Za-z0-9])" + _LETTER)
# A letter answer opening the response: bracketed, or followed by punctuation,
# the end, or "is" ("B is correct", "B是对的"), but not by other words ("A and B …").
_AT_START = re.compile(
    r"\A[\s*]*(?:[(\[]\s*(?P<b>[A-Za-z])\s*[)\]]"
    r"|(?P<l>[A-Z])(?=\s*\Z|[.):,;、。\n]|\s+is\b|\s*(?:是|为|选项|正确)))"
)
_LABEL_LINE = re.compile(r"^[ \t*]*[(\[]?([A-Z])\s*[).:、]", re.MULTILINE)
_WORD_AFTER = re.compile(r"\s+([a-z]+)")
#: Words that follow an option letter but hardly ever the article "A" or the pronoun "I".
_LETTER_CONTEXT = {
    "A": frozenset(
        {"and", "or", "nor", "but", "is", "are", "was", "were", "because", "since", "as"}
        | {"vs", "too", "also", "seems", "appears"}
    ),
    "I": frozenset({"and", "or", "nor", "is", "vs", "too"}),
}


@dataclass(frozen=True, slots=True)
class Choice:
    index: int
    how: str


def _letter(match: re.Match[str]) -> str:
    return (match.group("b") or match.group("l")).upper()


def _is_word(text: str, match: re.Match[str]) -> bool:
    """True for the article "A" or pronoun "I" rather than an option letter.

    "A dog" and "I think" are words; "A and C", "A is wrong" are letters.
    """
    letter = match.group("l")
    if letter not in ("A", "I"):
        return False
    following = _WORD_AFTER.match(text, match.end())
    return following is not None and following.group(1) not in _LETTER_CONTEXT[letter]


def _standalone(text: str, n: int) -> list[str]:
    found = []
    for match in _STANDALONE.finditer(text):
        letter = _letter(match)
        if LETTERS.index(letter) < n and not _is_word(text, match):
            found.append(letter)
    return found


def _marked(text: str, n: int) -> str | None:
    letters = [_letter(m) for m in _MARKED.finditer(text)]
    in_range = [letter for letter in letters if LETTERS.index(letter) < n]
    return in_range[-1] if in_range else None


def _listed_labels(text: str) -> set[str]:
    return {m.group(1) for m in _LABEL_LINE.finditer(text)}


def _by_text(text: str, choices: Sequence[str]) -> int | None:
    answer = after_last_marker(text)
    for candidate in (text, answer):
        if candidate is None or not normalize_answer(candidate):
            continue
        wanted = normalize_answer(candidate)
        hits = [i for i, option in enumerate(choices) if normalize_answer(option) == wanted]
        if len(hits) == 1:
            return hits[0]
    return None


def _resolve_several(text: str, letters: list[str], n: int) -> Choice | None:
    if len(_listed_labels(text)) >= 2:
        # The options were echoed: look only at what the response adds.
        rest = "\n".join(line for line in text.splitlines() if not _LABEL_LINE.match(line))
        remaining = set(_standalone(rest, n))
        if len(remaining) == 1:
            return Choice(
                LETTERS.index(remaining.pop()), "the only letter outside the echoed options"
            )
        return None
    if list(dict.fromkeys(letters)) == list(LETTERS[:n]):
        return None  # every option named in order: a listing, not a choice
    start = _AT_START.match(text)
    if start is not None:
        letter = _letter(start)
        if LETTERS.index(letter) < n:
            return Choice(LETTERS.index(letter), "the letter the response starts with")
    return None


def find_choice(response: str, choices: Sequence[str], *, match_text: bool = True) -> Choice | None:
    """The option a response picks, or None when it picks none or is ambiguous."""
    n = min(len(choices), len(LETTERS))
    text = nfkc(response)

    marked = _marked(text, n)
    if marked is not None:
        return Choice(LETTERS.index(marked), "after an answer marker")

    letters = _standalone(text, n)
    if len(set(letters)) == 1:
        return Choice(LETTERS.index(letters[0]), "the only option letter in the response")
    if letters:
        return _resolve_several(text, letters, n)

    if match_text:
        index = _by_text(text, choices)
        if index is not None:
            return Choice(index, "the text of an option")
    return None
