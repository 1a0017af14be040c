"""Chat answers (fenced code) and base-model completions become the program to test."""

from __future__ import annotations

from llmcert.codeexec import extract_code

PROMPT = 'from typing import List\n\n\ndef add(xs: List[int]) -> int:\n    """Sum."""\n'


def test_chat_takes_the_block_that_defines_the_entry_point_and_keeps_imports() -> None:
    answer = "Here:\n```text\nnot code\n```\n```python\ndef add(xs: List[int]) -> int:\n    return sum(xs)\n```\nDone."
    program = extract_code(answer, kind="chat", prompt=PROMPT, entry_point="add")
    assert program.startswith("from typing import List")
    assert "return sum(xs)" in program
    assert "not code" not in program


def test_chat_body_only_goes_under_the_prompt() -> None:
    program = extract_code(
        "```python\nreturn sum(xs)\n```", kind="chat", prompt=PROMPT, entry_point="add"
    )
    assert program == PROMPT + "    return sum(xs)\n"


def test_chat_without_a_fence_uses_the_whole_answer() -> None:
    program = extract_code("def add(xs):\n    return sum(xs)\n", kind="chat", entry_point="add")
    assert "def add(xs)" in program


def test_completion_stops_where_the_function_ends() -> None:
    completion = "    return sum(xs)\n\n\ndef other():\n    pass\nprint(add([1]))\n"
    program = extract_code(completion, kind="completion", prompt=PROMPT)
    assert program == PROMPT + "    return sum(xs)\n\n\n"
