"""From a model's answer to a program: fenced code for chat models, a completion for base models."""

from __future__ import annotations

import ast
import re
from typing import Literal

PromptKind = Literal["chat", "completion"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
#: Where a base model's completion of a function body ends (as in the HumanEval paper).
_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _defines(code: str, name: str) -> bool:
    return (
        bool(name)
        and re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None
    )


def _imports(prompt: str) -> str:
    lines = [ln for ln in prompt.splitlines() if ln.startswith(("import ", "from "))]
    return "\n".join(lines) + "\n\n" if lines else ""


def extract_code(text: str, *, kind: PromptKind, prompt: str = "", entry_point: str = "") -> str:
    """The program to test.

    ``completion``: the prompt followed by the completion up to the first line that
    leaves the function. ``chat``: the fenced block that defines the entry point
    (else the first fenced block, else the whole answer), with the prompt's imports
    in front; a block holding only a function body is put under the prompt.
    """
    if kind == "completion":
        body = text
        cut = min((i for i in (body.find(s) for s in _STOPS) if i >= 0), default=len(body))
        return prompt + body[:cut] + "\n"
    blocks = [(lang.lower(), code) for lang, code in _FENCE.findall(text)]
    python = [c for lang, c in blocks if lang in ("", "python", "py", "python3")]
    candidates = python or [c for _, c in blocks]
    chosen = next((c for c in candidates if _defines(c, entry_point)), None)
    if chosen is None:
        chosen = candidates[0] if candidates else text
    if entry_point and not _defines(chosen, entry_point) and _defines(prompt, entry_point):
        indented = chosen if chosen.startswith((" ", "\t")) else _indent(chosen)
        return prompt + indented.rstrip("\n") + "\n"
    return _imports(prompt) + chosen.strip("\n") + "\n"


def _indent(code: str) -> str:
    return "".join(f"    {line}" if line.strip() else line for line in code.splitlines(True))
