from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcert.errors import ScoringError, SpecError
from llmcert.models._types import Loglikelihoods
from llmcert.scoring import (
    ChoiceLetterScorer,
    ChoiceLoglikelihoodScorer,
    ScoreStatus,
    make_scorer,
)
from llmcert.scoring._letters import find_choice

from ._helpers import choice_item, gen

FOUR = ("cat", "dog", "fish", "bird")
ZH_FOUR = ("猫", "狗", "鱼", "鸟")

# --------------------------------------------------------------------------- choice_letter


@pytest.mark.parametrize(
    "response",
    [
        "B",
        "B.",
        "(B)",
        "B)",
        "[B]",
        " (b) ",  # lower case inside brackets
        "Answer: B",
        "answer:B",
        "The answer is B",
        "The answer is (B).",
        "The correct answer is B because dogs bark.",
        "**Answer:** B",
        "The correct option is B",
        "The answer is option B.",
        "Answer:\nB",
        "B. dog",
        "I think B is right.",
        "I'm fairly sure: B",
        "I’m fairly sure: B",  # typographic apostrophe
        "A dog barks, so B.",  # the article "A" is not a letter
        "Option A is wrong, the answer is B.",
        "The answer is A. Actually no, the answer is B.",  # the last marker wins
        "dog",  # the text of an option, no letter
        "Dog.",
        # Chinese
        "答案：B",
        "答案: B",
        "答案是 B",
        "答案是B。",
        "答案为（B）",
        "正确答案是B",
        "选B",
        "我选 B。",
        "应选B",
        "答案是选项B",
        "Ｂ",  # full-width letter
        "（Ｂ）",
        "我认为是B。",
        "B选项正确。",
        "A不对，答案是B",
        "狗",
    ],
)
def test_choice_letter_reads_b(response: str) -> None:
    choices = ZH_FOUR if response in ("狗",) else FOUR
    score = ChoiceLetterScorer().score(choice_item(choices, 1), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert (score.value, score.extracted) == (1.0, "B"), score.explanation


@pytest.mark.parametrize(
    ("response", "extracted"),
    [
        ("C", "C"),
        ("Answer: D", "D"),
        ("答案：A", "A"),
        ("A", "A"),
        ("A.", "A"),
        ("A is correct.", "A"),
        ("fish", "C"),
        ("C. Because A and B are wrong.", "C"),  # the response starts with its answer
        ("D) bird. B would be a dog and A a cat.", "D"),
        ("C是对的，A和B不对。", "C"),
        ("C选项正确，A错误。", "C"),
    ],
)
def test_choice_letter_wrong_answer_is_scored_zero(response: str, extracted: str) -> None:
    score = ChoiceLetterScorer().score(choice_item(FOUR, 1), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert (score.value, score.extracted) == (0.0, extracted)


@pytest.mark.parametrize(
    "response",
    [
        "",
        "   ",
        "I don't know.",
        "我不知道。",
        "A. cat\nB. dog\nC. fish\nD. bird",  # the options echoed back, no choice made
        "(A) cat (B) dog (C) fish (D) bird",
        "A and B are both plausible.",
        "It could be A or C.",
        "可能是A，也可能是C。",
        "A和C都有可能。",
        "E",  # out of range for four choices
        "Answer: E",
        "The answer is a dog.",  # lower-case article, not a letter
        "A dog.",
        "dog or cat",
    ],
)
def test_choice_letter_unparseable(response: str) -> None:
    score = ChoiceLetterScorer().score(choice_item(FOUR, 1), gen(response))
    assert score.status is ScoreStatus.SCORED
    assert score.value == 0.0
    assert score.extracted is None
    assert "expected B" in (score.explanation or "")


def test_echoed_options_then_a_choice() -> None:
    response = "A. cat\nB. dog\nC. fish\nD. bird\n\nI pick D"
    score = ChoiceLetterScorer().score(choice_item(FOUR, 3), gen(response))
    assert (score.value, score.extracted) == (1.0, "D")


def test_echoed_options_then_an_answer_marker() -> None:
    response = "(A) cat\n(B) dog\n(C) fish\n(D) bird\nAnswer: (C)"
    score = ChoiceLetterScorer().score(choice_item(FOUR, 2), gen(response))
    assert (score.value, score.extracted) == (1.0, "C")


def test_letters_outside_the_choices_do_not_count() -> None:
    two = ("yes", "no")
    found = find_choice("C or B", two)
    assert found is not None
    assert found.index == 1
    assert find_choice("D", two) is None


def test_match_text_can_be_switched_off() -> None:
    scorer = ChoiceLetterScorer(match_text=False)
    score = scorer.score(choice_item(FOUR, 1), gen("dog"))
    assert (score.value, score.extracted) == (0.0, None)


def test_duplicate_option_texts_are_ambiguous() -> None:
    assert find_choice("same", ("same", "Same.", "other")) is None


def test_safetybench_style_options() -> None:
    # SafetyBench-zh yes/no questions carry options like "是。" / "否。"
    item = choice_item(("是。", "否。"), 1)
    for response in ("否", "否。", "答案：否", "B"):
        assert ChoiceLetterScorer().score(item, gen(response)).value == 1.0, response
    assert ChoiceLetterScorer().score(item, gen("是")).value == 0.0


@pytest.mark.parametrize(
    ("choices", "answer_index"),
    [((), None), ((), 0), (FOUR, None), (FOUR, 4), (FOUR, -1), (tuple("x" * 27), 0)],
)
def test_choice_item_missing_parts_is_unscored(
    choices: tuple[str, ...], answer_index: int | None
) -> None:
    for scorer in (ChoiceLetterScorer(), ChoiceLoglikelihoodScorer()):
        score = scorer.score(choice_item(choices, answer_index), gen("B"))
        assert score.status is ScoreStatus.UNSCORED
        assert score.value is None
        assert score.explanation


@given(st.text(max_size=200), st.integers(min_value=1, max_value=8))
def test_choice_letter_never_leaves_the_choices(text: str, n: int) -> None:
    choices = tuple(f"option {i}" for i in range(n))
    score = ChoiceLetterScorer().score(choice_item(choices, 0), gen(text))
    assert score.status is ScoreStatus.SCORED
    assert score.value in (0.0, 1.0)
    if score.extracted is not None:
        assert "A" <= score.extracted < chr(ord("A") + n)


def test_choice_letter_bad_args() -> None:
    with pytest.raises(SpecError) as info:
        make_scorer("choice_letter", {"match_text": "no"})
    assert info.value.field == "scorer.args"


# --------------------------------------------------------------------------- choice_loglikelihood


def ll(logprobs: tuple[float, ...], tokens: tuple[int, ...] | None = None) -> Loglikelihoods:
    return Loglikelihoods(logprobs=logprobs, token_counts=tokens or (1,) * len(logprobs))


def test_loglikelihood_argmax() -> None:
    score = ChoiceLoglikelihoodScorer().score(choice_item(FOUR, 2), ll((-5.0, -4.0, -1.5, -9.0)))
    assert (score.status, score.value, score.extracted) == (ScoreStatus.SCORED, 1.0, "C")
    assert "A=-5.0000, B=-4.0000, C=-1.5000, D=-9.0000" in (score.explanation or "")


def test_loglikelihood_wrong_choice() -> None:
    score = ChoiceLoglikelihoodScorer().score(choice_item(FOUR, 0), ll((-5.0, -4.0, -1.5, -9.0)))
    assert (score.value, score.extracted) == (0.0, "C")


def test_loglikelihood_ties_go_to_the_lowest_index() -> None:
    scorer = ChoiceLoglikelihoodScorer()
    assert scorer.score(choice_item(FOUR, 1), ll((-3.0, -2.0, -2.0, -2.0))).extracted == "B"
    assert scorer.score(choice_item(FOUR, 0), ll((-1.0, -1.0, -1.0, -1.0))).value == 1.0


def test_loglikelihood_normalisation_changes_the_pick() -> None:
    item = choice_item(("a", "a much longer answer"), 1)
    logprobs, tokens = (-2.0, -6.0), (1, 6)
    assert ChoiceLoglikelihoodScorer().score(item, ll(logprobs, tokens)).extracted == "A"
    by_tokens = ChoiceLoglikelihoodScorer(normalize="tokens").score(item, ll(logprobs, tokens))
    assert (by_tokens.extracted, by_tokens.value) == ("B", 1.0)
    by_chars = ChoiceLoglikelihoodScorer(normalize="chars").score(item, ll(logprobs, tokens))
    assert by_chars.extracted == "B"
    assert "normalised by chars" in (by_chars.explanation or "")


def test_loglikelihood_zero_token_count_does_not_divide_by_zero() -> None:
    score = ChoiceLoglikelihoodScorer(normalize="tokens").score(
        choice_item(("x", "y"), 0), ll((-1.0, -3.0), (0, 0))
    )
    assert score.extracted == "A"


def test_loglikelihood_nan_never_wins() -> None:
    score = ChoiceLoglikelihoodScorer().score(choice_item(("x", "y"), 1), ll((math.nan, -50.0)))
    assert score.extracted == "B"


def test_loglikelihood_length_mismatch_is_a_scoring_error() -> None:
    with pytest.raises(ScoringError):
        ChoiceLoglikelihoodScorer().score(choice_item(FOUR, 0), ll((-1.0, -2.0)))


def test_loglikelihood_refuses_generations() -> None:
    with pytest.raises(ScoringError, match="log-likelihoods"):
        ChoiceLoglikelihoodScorer().score(choice_item(FOUR, 0), gen("A"))


def test_request_kinds() -> None:
    assert ChoiceLoglikelihoodScorer.request_kind == "loglikelihood"
    assert ChoiceLetterScorer.request_kind == "generate"


@pytest.mark.parametrize("args", [{"normalize": "length"}, {"normalize": None}, {"norm": "none"}])
def test_loglikelihood_bad_args(args: dict[str, object]) -> None:
    with pytest.raises(SpecError) as info:
        make_scorer("choice_loglikelihood", args)
    assert info.value.field == "scorer.args"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("choice_letter", {}),
        ("choice_letter", {"match_text": False}),
        ("choice_loglikelihood", {"normalize": "chars"}),
    ],
)
def test_config_round_trip(name: str, args: dict[str, object]) -> None:
    config = make_scorer(name, args).config()
    assert config["name"] == name
    assert make_scorer(config["name"], config["args"]).config() == config
    assert all(config["args"][k] == v for k, v in args.items())


@pytest.mark.parametrize("response", ["I think B", "I'm sure: B", "I’m sure: B", "I believe (B)"])
def test_pronoun_i_is_not_a_letter_even_with_nine_or_more_choices(response: str) -> None:
    ten = tuple(f"option {i}" for i in range(10))
    found = find_choice(response, ten)
    assert found is not None
    assert found.index == 1


def test_letter_i_counts_when_it_is_an_answer() -> None:
    ten = tuple(f"option {i}" for i in range(10))
    for response in ("I", "(I)", "Answer: I", "I is correct.", "答案：I"):
        found = find_choice(response, ten)
        assert found is not None, response
        assert found.index == 8, response
    assert find_choice("I and J are wrong, so A", ten) is None
