"""Text that cannot take over a terminal or a page: checked at input, escaped at output.

A name is signed into certificates and printed by verifiers, so a control
character, an ANSI escape or a bidirectional override in it could rewrite the
verdict line a person reads. Names (models, issuers, tokens, files) refuse
every control (Cc), format (Cf, which holds the bidi overrides and zero-width
characters), separator-line/paragraph (Zl, Zp), surrogate, private-use and
unassigned code point. Free text (comments, reasons) also allows newline and
tab. Output escapes whatever got in anyway (older records, forged input) as
``\\u....``, so a verifier shows it instead of obeying it. NUL is refused
everywhere: PostgreSQL cannot store it, and SQLite must refuse the same input.
"""

from __future__ import annotations

import unicodedata

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_TEXT_ALLOWED = frozenset("\n\t")


def _unsafe(char: str, allowed: frozenset[str]) -> bool:
    return char not in allowed and unicodedata.category(char) in _UNSAFE_CATEGORIES


def first_unsafe(text: str, *, free_text: bool = False) -> str | None:
    """The first character a name (or, with ``free_text``, a comment) may not hold, as U+XXXX."""
    allowed = _TEXT_ALLOWED if free_text else frozenset()
    for char in text:
        if _unsafe(char, allowed):
            return f"U+{ord(char):04X}"
    return None


def check_name(text: str, field: str, *, free_text: bool = False) -> str:
    """``text`` unchanged, or ValueError naming the field and the character."""
    bad = first_unsafe(text, free_text=free_text)
    if bad is not None:
        kind = "text" if free_text else "a name"
        raise ValueError(
            f"{field} holds the control or formatting character {bad}, not allowed in {kind}"
        )
    return text


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every unsafe character shown as an escape (for terminals and logs)."""
    return "".join(_escape(c) if _unsafe(c, frozenset()) else c for c in text)
