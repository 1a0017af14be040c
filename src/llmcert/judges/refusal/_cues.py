"""The cue lexicon of the refusal judge: loading, normalising text, finding cues.

The lexicon is data (``data/refusal_lexicon.json``), so a wording can be added
without touching code; its digest is part of the judge's identity. Patterns are
matched on casefolded NFKC text with straight apostrophes, so "I’M SORRY" and
"i'm sorry" meet the same cue.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from llmcert._hashing import digest_bytes

LEXICON_FILE = "refusal_lexicon.json"
WEIGHTS_FILE = "refusal_weights.json"
DATA_FILES = (LEXICON_FILE, WEIGHTS_FILE)

#: Cue classes the features read; the lexicon must define exactly these.
CUE_CLASSES = (
    "refuse",
    "apology",
    "ai_self",
    "norm",
    "privacy",
    "challenge",
    "redirect",
    "pivot",
    "offer",
    "comply_open",
    "literal",
    "caution",
    "warn",
    "aside",
)
LANGUAGES = ("en", "zh")

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})
#: Sentence ends: western punctuation and a space, CJK punctuation (NFKC has made
#: full-width ！？ ASCII, so those count before a Han character), or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。；])|(?<=[!?;])(?=[\u4e00-\u9fff])|\n+")
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class Cue:
    """One pattern of a cue class, with where it came from for evidence."""

    cue_class: str
    language: str
    index: int
    pattern: re.Pattern[str]

    @property
    def cue_id(self) -> str:
        return f"{self.cue_class}.{self.language}.{self.index}"


@dataclass(frozen=True, slots=True)
class CueHit:
    cue_id: str
    cue_class: str
    start: int
    end: int
    text: str


def data_bytes(name: str) -> bytes:
    return resources.files("llmcert.judges").joinpath("data").joinpath(name).read_bytes()


@cache
def files_digest() -> str:
    """One digest over every data file, so any change to the lexicon or weights shows."""
    parts = {name: digest_bytes(data_bytes(name)) for name in DATA_FILES}
    return digest_bytes(json.dumps(parts, sort_keys=True).encode("utf-8"))


def load_json(name: str) -> dict[str, Any]:
    value = json.loads(data_bytes(name).decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{name}: expected a JSON object")
    return value


def compile_lexicon(raw: dict[str, Any]) -> tuple[Cue, ...]:
    """Validate and compile a lexicon; a malformed one fails loudly at first use."""
    cues_raw = raw.get("cues")
    if not isinstance(cues_raw, dict) or set(cues_raw) != set(CUE_CLASSES):
        raise ValueError(f"lexicon must define exactly the cue classes {', '.join(CUE_CLASSES)}")
    cues: list[Cue] = []
    for cue_class in CUE_CLASSES:
        by_lang = cues_raw[cue_class]
        if not isinstance(by_lang, dict) or not set(by_lang) <= set(LANGUAGES):
            raise ValueError(f"lexicon class {cue_class!r} must map en/zh to pattern lists")
        for language, patterns in by_lang.items():
            if not isinstance(patterns, list):
                raise ValueError(f"lexicon {cue_class}.{language} must be a list")
            for index, pattern in enumerate(patterns):
                if not isinstance(pattern, str) or not pattern:
                    raise ValueError(f"lexicon {cue_class}.{language}[{index}] is not a pattern")
                try:
                    compiled = re.compile(pattern, re.MULTILINE)
                except re.error as exc:
                    raise ValueError(
                        f"lexicon {cue_class}.{language}[{index}] is not a valid regex: {exc}"
                    ) from exc
                cues.append(Cue(cue_class, language, index, compiled))
    return tuple(cues)


@cache
def builtin_cues() -> tuple[Cue, ...]:
    return compile_lexicon(load_json(LEXICON_FILE))


def normalize(text: str) -> str:
    """Casefolded NFKC with straight apostrophes and collapsed spaces; one string per input."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r" *\n[ \n]*", "\n", text).strip()


def sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of normalised text (empty ones dropped)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def is_chinese(text: str) -> bool:
    """Mostly Han characters among the letters: word counts then mean characters."""
    han = len(_HAN.findall(text))
    return han > 0 and han >= 0.3 * sum(ch.isalpha() for ch in text)


def find_cues(text: str, cues: tuple[Cue, ...]) -> list[CueHit]:
    """Every cue hit in normalised text, in order of position.

    Anchored patterns (``^``) are meant for the opening of the response only, so
    they are matched on the first line alone.
    """
    hits: list[CueHit] = []
    first_line_end = text.find("\n")
    opening = text if first_line_end < 0 else text[:first_line_end]
    for cue in cues:
        anchored = cue.pattern.pattern.startswith("^")
        for m in cue.pattern.finditer(opening if anchored else text):
            hits.append(CueHit(cue.cue_id, cue.cue_class, m.start(), m.end(), m.group(0)))
            if anchored:
                break
    hits.sort(key=lambda h: (h.start, h.end))
    return hits
