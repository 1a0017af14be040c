from __future__ import annotations

import pytest

from llmcert.scoring._normalize import (
    after_last_marker,
    answers_equal,
    comparison_form,
    last_line,
    loose,
    normalize_answer,
    strip_decoration,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Hello   World ", "hello world"),
        ("(A).", "a"),
        ("**True**", "true"),
        ("`valid`", "valid"),
        ('"Paris."', "paris"),
        ("ＡＢＣ", "abc"),  # full-width letters
        ("北京。", "北京"),
        ("是，", "是"),  # full-width comma
        ("对！", "对"),
        ("为什么？", "为什么"),
        ("「答案」", "答案"),
        ("Straße", "strasse"),  # case-fold, not just lower()
        ("Monsters, Inc.", "monsters, inc"),  # inner punctuation stays
        ("...", ""),
        ("", ""),
    ],
)
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def test_strip_decoration_keeps_inner_text() -> None:
    assert strip_decoration("((a) b).") == "a) b"


def test_loose_keeps_punctuation() -> None:
    assert loose("  ] \n ]  ") == "] ]"


@pytest.mark.parametrize(
    ("response", "target", "equal"),
    [
        ("(A)", "(A)", True),
        ("A", "(A)", True),
        ("(B)", "(A)", False),
        ("] ]", "] ]", True),  # all-punctuation target compared loosely
        ("] ].", "] ]", True),
        ("]]", "] ]", False),
        ("] ] >", "] ]", False),
        ("} ] >", ") ) >", False),
        ("} ] >.", "} ] >", True),
        ("", "] ]", False),
        ("Yes.", "yes", True),
        ("是。", "是", True),
    ],
)
def test_answers_equal(response: str, target: str, equal: bool) -> None:
    assert answers_equal(response, target) is equal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So the answer is (A).", "(A)."),
        ("Answer: True", "True"),
        ("The correct answer is: valid\nbecause ...", "valid"),
        ("the answer is (A). Wait, no: the answer is (B).", "(B)."),
        ("**Answer:**\n(C)", "(C)"),
        ("答案是 42。", "42。"),
        ("答案: 正确", "正确"),  # NFKC form of 答案：
        ("答案为B", "B"),
        ("Answer:", ""),
        ("No marker here", None),
        ("", None),
    ],
)
def test_after_last_marker(text: str, expected: str | None) -> None:
    assert after_last_marker(text) == expected


def test_last_line_skips_blank_lines() -> None:
    assert last_line("first\n\n  second  \n\n") == "second"
    assert last_line("") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("(A).", "a"), ("} ] >.", "} ] >."), (" Monsters,  Inc. ", "monsters, inc")],
)
def test_comparison_form(text: str, expected: str) -> None:
    assert comparison_form(text) == expected
