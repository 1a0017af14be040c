"""GSM8K test split: grade-school maths word problems with a numeric answer."""

from __future__ import annotations

import json
from pathlib import Path

from llmcert.errors import SpecError
from llmcert.items._hub import RemoteFile
from llmcert.items._item import Item
from llmcert.items.importers._base import (
    Importer,
    Options,
    expect,
    item_id,
    locate,
    number_text,
    raw_url,
    read_text,
)

_REPO = "openai/grade-school-math"
_REVISION = "3101c7d5072418e28b9008a6636bde82a006892c"
_FILE = RemoteFile(
    "test.jsonl",
    raw_url(_REPO, _REVISION, "grade_school_math/data/test.jsonl"),
    "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
)


def _remote(options: Options) -> tuple[RemoteFile, ...]:
    return (_FILE,)


def final_answer(solution: str) -> str | None:
    """The number after the last ``####`` of a worked solution, commas removed."""
    if "####" not in solution:
        return None
    return number_text(solution.rsplit("####", 1)[1])


def _parse(root: Path, options: Options) -> list[Item]:
    path = locate(root, _FILE.rel)
    items: list[Item] = []
    for lineno, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(f"not valid JSON: {exc.msg}", path=path, line=lineno) from exc
        expect(isinstance(row, dict), "expected a JSON object", path=path, line=lineno)
        question, solution = row.get("question"), row.get("answer")
        expect(
            isinstance(question, str) and bool(question.strip()),
            "missing question",
            path=path,
            line=lineno,
            field="question",
        )
        expect(isinstance(solution, str), "missing answer", path=path, line=lineno, field="answer")
        target = final_answer(solution)
        expect(target is not None, "no number after '####'", path=path, line=lineno, field="answer")
        n = len(items) + 1
        items.append(
            Item(
                id=item_id("gsm8k", n),
                input=question,
                target=target,
                metadata={"dataset": "gsm8k", "language": "en", "source_row": lineno},
            )
        )
    return items


IMPORTER = Importer(
    name="gsm8k",
    description="GSM8K test split (1,319 maths word problems); target is the final number",
    language="en",
    folder="gsm8k",
    revision=_REVISION,
    remote=_remote,
    parse=_parse,
)
