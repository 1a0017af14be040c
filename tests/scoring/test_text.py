from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcert.errors import ScoringError, SpecError
from llmcert.models._types import Loglikelihoods
from llmcert.scoring import (
    ExactMatchScorer,
    NumericScorer,
    RegexScorer,
    ScoreStatus,
    make_scorer,
)

from ._helpers import gen, target_item

# --------------------------------------------------------------------------- exact_match


@pytest.mark.parametrize(
    ("response", "target"),
    [
        ("Paris", "paris"),
        ("  PARIS.  ", "Paris"),
        ("Paris!", "Paris"),
        ("New   York", "new york"),
        ("ＰＡＲＩＳ", "Paris"),
        ("北京。", "北京"),
        ("是！", "是"),
        ("（A）", "(A)"),
        ("A", "(A)"),
    ],
)
def test_exact_match_full_accepts(response: str, target: str) -> None:
    score = ExactMatchScorer().score(target_item(target), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert score.value == 1.0


@pytest.mark.parametrize(
    ("response", "target"),
    [
        ("Paris, France", "Paris"),
        ("The answer is Paris", "Paris"),  # extract defaults to full
        ("(B)", "(A)"),
        ("北京市", "北京"),
        ("不是", "是"),
    ],
)
def test_exact_match_full_rejects(response: str, target: str) -> None:
    score = ExactMatchScorer().score(target_item(target), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert score.value == 0.0
    assert score.extracted is not None
    assert repr(target) in (score.explanation or "")


@pytest.mark.parametrize(
    ("response", "target", "value"),
    [
        # BIG-Bench Hard style chain-of-thought endings
        ("Let's think step by step. ... So the answer is (A).", "(A)", 1.0),
        ("So the answer is (B).", "(A)", 0.0),
        ("not ( True ) and ( True ) is False. So the answer is False.", "False", 1.0),
        ("So the answer is True.", "False", 0.0),
        ("Therefore the argument is valid. So the answer is invalid.", "invalid", 1.0),
        ("So the answer is valid.", "invalid", 0.0),
        ("So the answer is Yes.", "Yes", 1.0),
        ("So the answer is ] ] >.", "] ] >", 1.0),
        ("So the answer is ] ].", "] ] >", 0.0),
        ("So the answer is } ] >.", ") ) >", 0.0),  # brackets are the answer here
        ("So the answer is } ] >.", "} ] >", 1.0),
        ("So the answer is: apple banana cherry.", "apple banana cherry", 1.0),
        ("So the answer is Monsters, Inc.", "Monsters, Inc", 1.0),
        ("**Answer:** (C)", "(C)", 1.0),
        ("Answer:\n(D)\n", "(D)", 1.0),
        ("The answer is (A). Wait, I made a mistake. The answer is (B).", "(B)", 1.0),
        ("(A)", "(A)", 1.0),  # no marker: the whole response
        # Chinese
        ("我们逐步思考……所以答案是（A）。", "(A)", 1.0),
        ("答案：正确", "正确", 1.0),
        ("答案是错误。", "正确", 0.0),
        ("答案为 北京", "北京", 1.0),
    ],
)
def test_exact_match_answer_is(response: str, target: str, value: float) -> None:
    scorer = ExactMatchScorer(extract="answer_is")
    assert scorer.score(target_item(target), gen(response)).value == value


def test_exact_match_last_line() -> None:
    scorer = ExactMatchScorer(extract="last_line")
    response = "Reasoning about the question.\nMore reasoning.\n\nParis\n\n"
    assert scorer.score(target_item("Paris"), gen(response)).value == 1.0
    assert scorer.score(target_item("Paris"), gen("Paris\nis the capital")).value == 0.0


def test_exact_match_ignore_patterns_apply_to_both_sides() -> None:
    scorer = ExactMatchScorer(ignore=[r"(?i)\bthe\b", r"<[^>]+>"])
    assert scorer.score(target_item("The Beatles"), gen("<b>Beatles</b>")).value == 1.0
    assert scorer.score(target_item("Beatles"), gen("the beatles")).value == 1.0


@pytest.mark.parametrize("response", ["", "   ", "\n\n"])
def test_exact_match_empty_response_is_wrong_not_unscored(response: str) -> None:
    score = ExactMatchScorer().score(target_item("Paris"), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert score.value == 0.0
    assert score.extracted is None
    assert score.explanation


@pytest.mark.parametrize("target", [None, "", "   "])
def test_exact_match_without_target_is_unscored(target: str | None) -> None:
    score = ExactMatchScorer().score(target_item(target), gen("Paris"))
    assert score.status is ScoreStatus.UNSCORED
    assert score.value is None


def test_generation_scorer_refuses_loglikelihoods() -> None:
    with pytest.raises(ScoringError, match="generations"):
        ExactMatchScorer().score(target_item("x"), Loglikelihoods((0.0,), (1,)))


@pytest.mark.parametrize(
    "args",
    [
        {"extract": "first_line"},
        {"extract": 3},
        {"ignore": "the"},  # a string, not a list
        {"ignore": [1]},
        {"ignore": ["("]},
        {"unknown": True},
    ],
)
def test_exact_match_bad_args(args: dict[str, object]) -> None:
    with pytest.raises(SpecError) as info:
        make_scorer("exact_match", args)
    assert info.value.field == "scorer.args"


# --------------------------------------------------------------------------- numeric


@pytest.mark.parametrize(
    ("response", "target", "extracted"),
    [
        ("16 - 3 - 4 = 9 eggs. 9 * 2 = 18 dollars.\n#### 18", "18", "18"),
        ("#### 1,234", "1234", "1234"),
        ("The answer is $1,234.", "1,234", "1234"),
        ("The answer is 18.", "18", "18"),
        ("The answer is: 5 + 3 = 8 apples", "8", "8"),
        ("So she has -3 dollars left.", "-3", "-3"),
        ("The temperature falls to −7 degrees.", "-7", "-7"),  # U+2212 minus sign
        ("The price is -$4.50", "-4.5", "-4.50"),
        ("The answer is 3.50", "3.5", "3.50"),
        ("About 0.5 of them", ".5", "0.5"),
        ("It went up by 25%.", "25", "25"),
        ("She ate 3/4 of the pie.", "0.75", "3/4"),
        ("16-3=13", "13", "13"),  # subtraction, not a negative number
        ("The answer is 42. (We started from 7 and 6.)", "42", "42"),
        ("一共有１２个苹果。", "12", "12"),  # full-width digits
        ("答案是 18。", "18", "18"),
        ("答案：7", "7", "7"),
        ("所以她每天赚 18 美元。", "18", "18"),
        ("x = 4 (because 2 * 2)", "4", "4"),
        ("Total: 1,000,000 people", "1000000", "1000000"),
        ("Janet has 16 eggs, eats 3 and bakes with 4, so 16 - 3 - 4 = 9", "9", "9"),
    ],
)
def test_numeric_accepts(response: str, target: str, extracted: str) -> None:
    score = NumericScorer().score(target_item(target), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert score.value == 1.0, score.explanation
    assert score.extracted == extracted


@pytest.mark.parametrize(
    ("response", "target", "extracted"),
    [
        # echo of the question's numbers after a wrong answer
        ("The answer is 17. Janet's ducks lay 16 eggs and she eats 3.", "18", "17"),
        ("So the total is 9.", "18", "9"),
        ("-18", "18", "-18"),
        ("18.5", "18", "18.5"),
        ("1,2345", "12345", "2345"),  # not a thousands separator
        ("答案是 20。题目中有 18 个苹果。", "18", "20"),
    ],
)
def test_numeric_rejects(response: str, target: str, extracted: str) -> None:
    score = NumericScorer().score(target_item(target), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert score.value == 0.0
    assert score.extracted == extracted


@pytest.mark.parametrize("response", ["", "I don't know.", "我不知道。", "eighteen"])
def test_numeric_no_number_is_wrong_with_no_extraction(response: str) -> None:
    score = NumericScorer().score(target_item("18"), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert score.value == 0.0
    assert score.extracted is None
    assert "no number" in (score.explanation or "")


@pytest.mark.parametrize("target", [None, "", "eighteen", "between 3 and 4"])
def test_numeric_target_must_be_a_number(target: str | None) -> None:
    assert NumericScorer().score(target_item(target), gen("18")).status is ScoreStatus.UNSCORED


def test_numeric_tolerance() -> None:
    loose_scorer = NumericScorer(rel_tol=0.01)
    assert loose_scorer.score(target_item("100"), gen("100.5")).value == 1.0
    assert loose_scorer.score(target_item("100"), gen("102")).value == 0.0
    assert NumericScorer().score(target_item("100"), gen("100.5")).value == 0.0
    assert NumericScorer(abs_tol=0.1).score(target_item("0"), gen("0.05")).value == 1.0


def test_numeric_fractions_can_be_switched_off() -> None:
    off = NumericScorer(fractions=False)
    score = off.score(target_item("4"), gen("She ate 3/4"))
    assert (score.value, score.extracted) == (1.0, "4")


@pytest.mark.parametrize(
    "args",
    [
        {"rel_tol": -1},
        {"rel_tol": "small"},
        {"rel_tol": True},
        {"abs_tol": float("nan")},
        {"fractions": "yes"},
        {"tolerance": 0.1},
    ],
)
def test_numeric_bad_args(args: dict[str, object]) -> None:
    with pytest.raises(SpecError) as info:
        make_scorer("numeric", args)
    assert info.value.field == "scorer.args"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_numeric_reads_any_integer_however_formatted(n: int) -> None:
    scorer = NumericScorer()
    item = target_item(str(n))
    sign = "-" if n < 0 else ""
    for text in (
        f"The answer is {n:,}.",
        f"#### {n}",
        f"答案是{n}。",
        f"Total = {sign}${abs(n):,}",
    ):
        assert scorer.score(item, gen(text)).value == 1.0, text


@given(st.text(max_size=200))
def test_numeric_value_is_always_in_range(text: str) -> None:
    score = NumericScorer().score(target_item("7"), gen(text))
    assert score.status is ScoreStatus.SCORED
    assert score.value in (0.0, 1.0)


# --------------------------------------------------------------------------- regex


@pytest.mark.parametrize(
    ("args", "response", "target", "value", "extracted"),
    [
        ({"pattern": r"answer: (\w+)"}, "answer: Paris", "paris", 1.0, "paris"),
        ({"pattern": r"answer: (\w+)"}, "answer: Rome", "paris", 0.0, "rome"),
        (
            {"pattern": r"ANSWER: (\w+)", "flags": ["IGNORECASE"]},
            "answer: Paris",
            "Paris",
            1.0,
            "paris",
        ),
        ({"pattern": r"\d+"}, "I count 12 then 13", "12", 1.0, "12"),
        ({"pattern": r"\d+", "select": "last"}, "I count 12 then 13", "13", 1.0, "13"),
        ({"pattern": r"答案[是为]\s*(\S+?)。"}, "答案是北京。", "北京", 1.0, "北京"),
        ({"pattern": r"answer: (\w+)"}, "no match here", "Paris", 0.0, None),
        ({"pattern": r"answer:(\s*\d+)?"}, "answer: none", "Paris", 0.0, None),
    ],
)
def test_regex_match_target(
    args: dict[str, object], response: str, target: str, value: float, extracted: str | None
) -> None:
    score = make_scorer("regex", args).score(target_item(target), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert (score.value, score.extracted) == (value, extracted)


def test_regex_search_ignores_target() -> None:
    scorer = RegexScorer(pattern=r"I (?:cannot|can't) help", mode="search")
    hit = scorer.score(target_item(None), gen("Sorry, I can't help with that."))
    assert (hit.status, hit.value, hit.extracted) == (ScoreStatus.SCORED, 1.0, "I can't help")
    miss = scorer.score(target_item("anything"), gen("Sure! Here is how."))
    assert (miss.value, miss.extracted) == (0.0, None)


def test_regex_match_target_without_target_is_unscored() -> None:
    scorer = RegexScorer(pattern=r"(\w+)")
    assert scorer.score(target_item(None), gen("word")).status is ScoreStatus.UNSCORED


def test_regex_multiline_flag() -> None:
    scorer = RegexScorer(pattern=r"^final: (\w+)$", flags=["multiline"])
    assert scorer.score(target_item("yes"), gen("thinking\nfinal: yes\n")).value == 1.0


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"pattern": ""},
        {"pattern": "("},
        {"pattern": 5},
        {"pattern": "x", "flags": ["LOCALE"]},
        {"pattern": "x", "flags": "IGNORECASE"},
        {"pattern": "x", "mode": "fullmatch"},
        {"pattern": "x", "select": "middle"},
    ],
)
def test_regex_bad_args(args: dict[str, object]) -> None:
    with pytest.raises(SpecError) as info:
        make_scorer("regex", args)
    assert info.value.field == "scorer.args"


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("exact_match", {}),
        ("exact_match", {"ignore": [r"\s+"], "extract": "answer_is"}),
        ("numeric", {"rel_tol": 0.001, "fractions": False}),
        ("regex", {"pattern": r"(\d+)", "flags": ["ignorecase", "DOTALL"], "mode": "search"}),
    ],
)
def test_config_round_trip(name: str, args: dict[str, object]) -> None:
    config = make_scorer(name, args).config()
    assert config["name"] == name
    rebuilt = make_scorer(config["name"], config["args"])
    assert rebuilt.config() == config
    for key, value in args.items():
        if key != "flags":
            assert config["args"][key] == value
