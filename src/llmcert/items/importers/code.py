"""Python code-generation benchmarks: HumanEval, MBPP and EvalPlus's HumanEval+ / MBPP+.

Every item carries what the sandbox needs: ``prompt`` (the code a completion
continues; empty for MBPP), ``entry_point``, ``tests`` (the original tests,
ending in the call that runs them), ``canonical`` (a reference program that
passes them) and, for the EvalPlus sets, ``tests_plus``: the digest of the
extended tests (EvalPlus's ``OriginFmt`` files, with expected outputs written
out), kept in the blob store because they are large.
"""

from __future__ import annotations

import ast
import gzip
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmcert.errors import SpecError
from llmcert.items._blobs import put_blob
from llmcert.items._hub import RemoteFile
from llmcert.items._item import Item
from llmcert.items.importers._base import Importer, Options, expect, locate, raw_url, read_text

_HE_REV = "6d43fb980f9fee3c892a914eda09951f772ad10d"
_HE = RemoteFile(
    "HumanEval.jsonl.gz",
    raw_url("openai/human-eval", _HE_REV, "data/HumanEval.jsonl.gz"),
    "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
)
_MBPP_REV = "30adf0ec5f35f9609c2f1d896005e184195d9146"
_MBPP = RemoteFile(
    "mbpp.jsonl",
    raw_url("google-research/google-research", _MBPP_REV, "mbpp/mbpp.jsonl"),
    "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
)
_HEP_REV = "200defce9e3429d28ca215b6dd061c0f7f31c18b"
_HEP = RemoteFile(
    "HumanEvalPlus.jsonl.gz",
    raw_url("evalplus/humanevalplus_release", _HEP_REV, "HumanEvalPlus.jsonl.gz"),
    "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101",
)
_HEP_ORIG = RemoteFile(
    "HumanEvalPlus-OriginFmt.jsonl.gz",
    raw_url("evalplus/humanevalplus_release", _HEP_REV, "HumanEvalPlus-OriginFmt.jsonl.gz"),
    "daa7661c8189924068069b0872a440b491edb60f8bdf431d5957adc88d18bae5",
)
_MBPPP_REV = "dadf43da556a00f7bacd71cb154f2932757d9144"
_MBPPP = RemoteFile(
    "MbppPlus.jsonl.gz",
    raw_url("evalplus/mbppplus_release", _MBPPP_REV, "MbppPlus.jsonl.gz"),
    "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63",
)
_MBPPP_ORIG = RemoteFile(
    "MbppPlus-OriginFmt.jsonl.gz",
    raw_url("evalplus/mbppplus_release", _MBPPP_REV, "MbppPlus-OriginFmt.jsonl.gz"),
    "7a5aec547b134fa297ee6c45f829298aa3f58de02547b8d8a5c3d85d9cb10efc",
)

#: MBPP's test split (Austin et al. 2021): task ids 11 to 510.
MBPP_TEST_IDS = range(11, 511)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """JSON objects of a (possibly gzip-compressed) JSON Lines file, with line numbers."""
    if path.suffix == ".gz":
        try:
            text = gzip.decompress(path.read_bytes()).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise SpecError(f"not a readable gzip JSON Lines file: {exc}", path=path) from exc
    else:
        text = read_text(path)
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(f"not valid JSON: {exc.msg}", path=path, line=lineno) from exc
        expect(isinstance(row, dict), "expected a JSON object", path=path, line=lineno)
        yield lineno, row


def _text(row: dict[str, Any], key: str, path: Path, line: int, *, empty: bool = False) -> str:
    value = row.get(key)
    ok = isinstance(value, str) and (empty or bool(value.strip()))
    expect(ok, f"missing or not a string: {key!r}", path=path, line=line, field=key)
    return str(value)


def _compiles(source: str, path: Path, line: int, key: str) -> None:
    try:
        with warnings.catch_warnings():  # upstream code has invalid escapes like '\w'
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            ast.parse(source)
    except SyntaxError as exc:
        raise SpecError(f"not valid Python: {exc.msg}", path=path, line=line, field=key) from exc


def _humaneval_item(prefix: str, n: int, row: dict[str, Any], path: Path, line: int) -> Item:
    prompt = _text(row, "prompt", path, line)
    entry = _text(row, "entry_point", path, line)
    solution = _text(row, "canonical_solution", path, line)
    tests = _text(row, "test", path, line) + f"\n\ncheck({entry})\n"
    _compiles(prompt + solution, path, line, "canonical_solution")
    _compiles(tests, path, line, "test")
    return Item(
        id=f"{prefix}-{n:04d}",
        input=prompt,
        metadata={
            "dataset": prefix,
            "source_row": line,
            "task_id": _text(row, "task_id", path, line),
            "language": "en",
            "entry_point": entry,
            "prompt": prompt,
            "canonical": prompt + solution,
            "tests": tests,
        },
    )


def _parse_humaneval(root: Path, options: Options) -> list[Item]:
    path = locate(root, _HE.rel)
    return [
        _humaneval_item("humaneval", n, row, path, line)
        for n, (line, row) in enumerate(_rows(path))
    ]


#: Corrections of upstream extended tests that reject their own reference solution,
#: applied only while the broken text is exactly as published. HumanEval/32's
#: OriginFmt test evaluates ``_poly(*candidate(*inp), inp)``; EvalPlus's own
#: evaluator checks ``abs(_poly(*inp, out)) <= atol``, which is what runs here.
_PLUS_FIXES = {
    "HumanEval/32": (
        "assert _poly(*candidate(*inp), inp) <= 0.0001",
        "assert abs(_poly(*inp, candidate(*inp))) <= 0.0001",
    ),
}


def _plus_tests(path: Path, key: str, entry_of: dict[str, str]) -> dict[str, str]:
    """Task id → digest of the extended tests (OriginFmt ``test``, plus the call that runs them).

    Not parsed here: the sources are megabytes of literals, and a broken one fails
    its canonical solution in the sandbox, which the calibration reports.
    """
    out: dict[str, str] = {}
    for line, row in _rows(path):
        task = str(row.get("task_id", ""))
        source = _text(row, "test", path, line)
        broken, fixed = _PLUS_FIXES.get(task, ("", ""))
        if broken and broken in source:
            source = source.replace(broken, fixed)
        if key == "humaneval":
            source += f"\n\ncheck({entry_of.get(task, 'None')})\n"
        out[task] = put_blob(source)
    return out


def _parse_humanevalplus(root: Path, options: Options) -> list[Item]:
    path = locate(root, _HEP.rel)
    rows = list(_rows(path))
    entry_of = {str(r.get("task_id")): str(r.get("entry_point")) for _, r in rows}
    plus = _plus_tests(locate(root, _HEP_ORIG.rel), "humaneval", entry_of)
    items = []
    for n, (line, row) in enumerate(rows):
        item = _humaneval_item("humaneval-plus", n, row, path, line)
        task = item.metadata["task_id"]
        expect(task in plus, f"no extended tests for {task}", path=path, line=line, field="task_id")
        items.append(
            Item(item.id, item.input, metadata={**item.metadata, "tests_plus": plus[task]})
        )
    return items


def _mbpp_input(text: str, tests: list[str]) -> str:
    return f"{text}\nYour code should pass these tests:\n" + "\n".join(tests)


def _parse_mbpp(root: Path, options: Options) -> list[Item]:
    path = locate(root, _MBPP.rel)
    items = []
    for line, row in _rows(path):
        task = row.get("task_id")
        expect(
            isinstance(task, int),
            "task_id must be an integer",
            path=path,
            line=line,
            field="task_id",
        )
        if task not in MBPP_TEST_IDS:
            continue
        text = _text(row, "text", path, line)
        code = _text(row, "code", path, line)
        tests: list[str] = row.get("test_list")  # type: ignore[assignment]
        expect(
            isinstance(tests, list) and bool(tests) and all(isinstance(t, str) for t in tests),
            "test_list must be a non-empty list of strings",
            path=path,
            line=line,
            field="test_list",
        )
        setup = str(row.get("test_setup_code") or "")
        source = setup + "\n" + "\n".join(tests) + "\n"
        _compiles(code, path, line, "code")
        _compiles(source, path, line, "test_list")
        items.append(
            Item(
                id=f"mbpp-{task:04d}",
                input=_mbpp_input(text, tests),
                metadata={
                    "dataset": "mbpp",
                    "source_row": line,
                    "task_id": f"Mbpp/{task}",
                    "language": "en",
                    "entry_point": _entry_of(tests[0]),
                    "prompt": "",
                    "canonical": code.replace("\r\n", "\n"),
                    "tests": source,
                },
            )
        )
    return items


_WRAPPERS = frozenset({"set", "sorted", "list", "tuple", "abs", "math", "isclose"})


def _entry_of(test: str) -> str:
    """The function an MBPP assert calls first (``assert f(...) == ...`` → ``f``)."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id not in _WRAPPERS
        ):
            return node.func.id
    return ""


def _parse_mbppplus(root: Path, options: Options) -> list[Item]:
    path = locate(root, _MBPPP.rel)
    plus = _plus_tests(locate(root, _MBPPP_ORIG.rel), "mbpp", {})
    items = []
    for line, row in _rows(path):
        task = _text(row, "task_id", path, line)
        number = task.rsplit("/", 1)[-1]
        prompt_doc = _text(row, "prompt", path, line).strip().strip('"').strip()
        assertion = _text(row, "assertion", path, line)
        code = _text(row, "canonical_solution", path, line)
        _compiles(code, path, line, "canonical_solution")
        _compiles(assertion, path, line, "assertion")
        expect(
            number in plus, f"no extended tests for {task}", path=path, line=line, field="task_id"
        )
        lines = [t for t in assertion.strip().splitlines() if t.strip()]
        items.append(
            Item(
                id=f"mbpp-plus-{int(number):04d}",
                input=prompt_doc,
                metadata={
                    "dataset": "mbpp-plus",
                    "source_row": line,
                    "task_id": task,
                    "language": "en",
                    "entry_point": _text(row, "entry_point", path, line),
                    "prompt": "",
                    "canonical": code,
                    # some upstream assertions use math.isclose without importing math
                    "tests": "import math\n" + "\n".join(lines) + "\n",
                    "tests_plus": plus[number],
                },
            )
        )
    return items


def _single(*files: RemoteFile) -> Any:
    return lambda options: files


HUMANEVAL = Importer(
    name="humaneval",
    description="HumanEval (164 Python functions, unit tests)",
    language="en",
    folder="humaneval",
    revision=_HE_REV,
    remote=_single(_HE),
    parse=_parse_humaneval,
)
HUMANEVAL_PLUS = Importer(
    name="humanevalplus",
    description="HumanEval+ v0.1.10 (164 tasks; original and EvalPlus's extended tests)",
    language="en",
    folder="humanevalplus",
    revision=_HEP_REV,
    remote=_single(_HEP, _HEP_ORIG),
    parse=_parse_humanevalplus,
)
MBPP = Importer(
    name="mbpp",
    description="MBPP test split (500 tasks, task ids 11-510, assert tests)",
    language="en",
    folder="mbpp",
    revision=_MBPP_REV,
    remote=_single(_MBPP),
    parse=_parse_mbpp,
)
MBPP_PLUS = Importer(
    name="mbppplus",
    description="MBPP+ v0.2.0 (378 tasks; original and EvalPlus's extended tests)",
    language="en",
    folder="mbppplus",
    revision=_MBPPP_REV,
    remote=_single(_MBPPP, _MBPPP_ORIG),
    parse=_parse_mbppplus,
)
