"""The scorers against the public datasets beside the repository.

Gold answers, reference chain-of-thought exemplars and option texts written by
the datasets' authors must score 1; perturbed answers must score 0.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmcert.scoring import ChoiceLetterScorer, ExactMatchScorer, NumericScorer

from ._helpers import SHARED_DATA, choice_item, gen, target_item

BBH = SHARED_DATA / "bbh"


def _gsm8k() -> Iterator[tuple[str, str]]:
    with (SHARED_DATA / "gsm8k" / "test.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            yield row["answer"], row["answer"].rsplit("####", 1)[1].strip()


def test_gsm8k_gold_solutions_score_one() -> None:
    scorer = NumericScorer()
    rows = list(_gsm8k())
    assert len(rows) == 1319
    for solution, final in rows:
        score = scorer.score(target_item(final), gen(solution))
        assert score.value == 1.0, (solution, score)
        # the same solution with the final line in words, not "####"
        reasoning = solution.rsplit("####", 1)[0]
        assert (
            scorer.score(target_item(final), gen(f"{reasoning}\nThe answer is {final}.")).value
            == 1.0
        )


def test_gsm8k_wrong_final_answers_score_zero() -> None:
    scorer = NumericScorer()
    for solution, final in list(_gsm8k())[:300]:
        wrong = int(final.replace(",", "")) + 1
        body = solution.rsplit("####", 1)[0]
        score = scorer.score(target_item(final), gen(f"{body}#### {wrong}"))
        assert (score.value, score.extracted) == (0.0, str(wrong))


@pytest.mark.parametrize(("lang", "marker"), [("en", "The answer is"), ("zh", "答案是")])
def test_mgsm_answer_after_question_echo(lang: str, marker: str) -> None:
    scorer = NumericScorer()
    path = SHARED_DATA / "mgsm" / f"mgsm_{lang}.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 250
    for question, target in rows:
        # a model that restates the question, numbers and all, then answers
        response = f"{question}\n{marker} {target}。\n{question}"
        assert scorer.score(target_item(target), gen(response)).value == 1.0, question


def _exemplar_answers(task: str) -> list[str]:
    text = (BBH / "cot-prompts" / f"{task}.txt").read_text(encoding="utf-8")
    body = text.split("-----", 1)[1]
    return [q.split("\nA: ", 1)[1] for q in re.split(r"\n\s*Q: ", body)[1:]]


def _bbh_tasks() -> list[str]:
    return sorted(p.stem for p in (BBH / "bbh").glob("*.json"))


def test_bbh_has_27_tasks() -> None:
    assert len(_bbh_tasks()) == 27


@pytest.mark.parametrize("task", _bbh_tasks())
def test_bbh_every_target_scores_under_answer_is(task: str) -> None:
    scorer = ExactMatchScorer(extract="answer_is")
    examples = json.loads((BBH / "bbh" / f"{task}.json").read_text(encoding="utf-8"))["examples"]
    targets = sorted({e["target"] for e in examples})
    for example in examples[:40]:
        target = example["target"]
        response = f"{example['input']}\nA: Let's think step by step. So the answer is {target}."
        assert scorer.score(target_item(target), gen(response)).value == 1.0, (task, target)
        others = [t for t in targets if t != target][:3]
        for other in others:
            assert scorer.score(target_item(other), gen(response)).value == 0.0, (task, other)


def _bbh_targets(task: str) -> list[str]:
    examples = json.loads((BBH / "bbh" / f"{task}.json").read_text(encoding="utf-8"))["examples"]
    return sorted({e["target"] for e in examples})


# Tasks whose answers come from a small set (word sorting and arithmetic are free-form,
# so their exemplars' answers are not among the test targets).
CLOSED_TASKS = [t for t in _bbh_tasks() if len(_bbh_targets(t)) <= 60]


def test_closed_tasks_cover_all_but_the_free_form_ones() -> None:
    assert sorted(set(_bbh_tasks()) - set(CLOSED_TASKS)) == [
        "multistep_arithmetic_two",
        "word_sorting",
    ]


@pytest.mark.parametrize("task", CLOSED_TASKS)
def test_bbh_cot_exemplars_match_exactly_one_known_target(task: str) -> None:
    """The published exemplars end "So the answer is X."; X must match one target only."""
    targets = _bbh_targets(task)
    scorer = ExactMatchScorer(extract="answer_is")
    for answer in _exemplar_answers(task):
        hits = [t for t in targets if scorer.score(target_item(t), gen(answer)).value == 1.0]
        assert len(hits) == 1, (task, answer[-80:], hits)


def _safetybench() -> list[tuple[list[str], int]]:
    folder = SHARED_DATA / "safetybench_zh_subset"
    questions = json.loads((folder / "test_zh_subset.json").read_text(encoding="utf-8"))
    answers = json.loads((folder / "test_answers_zh_subset.json").read_text(encoding="utf-8"))
    return [(q["options"], answers[str(q["id"])]["answer"]) for q in questions]


def test_safetybench_letters_and_option_texts() -> None:
    scorer = ChoiceLetterScorer()
    rows = _safetybench()
    assert len(rows) == 2100
    letters = "ABCD"
    for options, answer in rows:
        item = choice_item(tuple(options), answer)
        letter = letters[answer]
        for response in (letter, f"答案：{letter}", f"答案是 ({letter})。", f"选{letter}"):
            assert scorer.score(item, gen(response)).value == 1.0, (options, response)
        unique = [o for o in options if sum(x == o for x in options) == 1]
        if options[answer] in unique and not re.search(
            r"(?<![A-Za-z])[A-D](?![A-Za-z])", options[answer]
        ):
            assert scorer.score(item, gen(options[answer])).value == 1.0, options
        listing = "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(options))
        echoed = scorer.score(item, gen(listing))
        assert (echoed.value, echoed.extracted) == (0.0, None), listing


def test_shared_data_folder_is_beside_the_repo() -> None:
    assert (SHARED_DATA / "README.md").is_file()
    assert SHARED_DATA.resolve().parent.name == "shared"
    assert Path(__file__).resolve().parents[2].name != "shared"


@pytest.mark.parametrize("task", ["multistep_arithmetic_two", "object_counting"])
def test_bbh_numeric_tasks_after_question_echo(task: str) -> None:
    scorer = NumericScorer()
    examples = json.loads((BBH / "bbh" / f"{task}.json").read_text(encoding="utf-8"))["examples"]
    for example in examples:
        target = example["target"]
        response = f"Q: {example['input']}\nA: Let's think step by step. So the answer is {target}."
        assert scorer.score(target_item(target), gen(response)).value == 1.0, example
        # a marker with no number after it is passed over; the last number, echoed, counts
        echo_last = f"The answer is below.\n{target}\n{example['input']} 1234567"
        assert scorer.score(target_item(target), gen(echo_last)).value == 0.0
