"""Dataset importers on the public copies beside the repo."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.items import IMPORTERS, import_dataset
from tests.items._data import CASES, SHARED, importer_of, needs_shared


def raw_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_importer_names() -> None:
    assert IMPORTERS == (
        "bbh",
        "gsm8k",
        "humaneval",
        "humanevalplus",
        "mbpp",
        "mbppplus",
        "mgsm",
        "safetybench_zh",
        "truthfulqa_mc1",
    )


# --- counts, ids and metadata on the local copies ------------------------------


@needs_shared
@pytest.mark.parametrize("case", list(CASES))
def test_counts_ids_and_metadata(case: str) -> None:
    folder, options, count = CASES[case]
    items = import_dataset(importer_of(case), SHARED / folder, options)
    assert len(items) == count
    assert len({it.id for it in items}) == count
    for it in items:
        assert it.metadata["language"] in ("en", "zh")
        assert it.metadata["dataset"]
        assert isinstance(it.metadata["source_row"], int)
        assert it.input.strip()
    # the same files give the same items, byte for byte
    again = import_dataset(importer_of(case), SHARED / folder, options)
    assert [it.hash for it in again] == [it.hash for it in items]


@needs_shared
def test_gsm8k_targets_match_the_raw_solutions() -> None:
    raw = raw_jsonl(SHARED / "gsm8k" / "test.jsonl")
    items = import_dataset("gsm8k", SHARED / "gsm8k", {})
    assert items[0].id == "gsm8k-0001"
    assert items[0].target == "18"
    assert items[0].metadata == {"dataset": "gsm8k", "language": "en", "source_row": 1}
    with_commas = [i for i, r in enumerate(raw) if "," in str(r["answer"]).rsplit("####", 1)[1]]
    assert with_commas, "expected some answers with thousands separators"
    for i in [*with_commas[:5], 41, 500, 1318]:
        expected = str(raw[i]["answer"]).rsplit("####", 1)[1].strip().replace(",", "")
        assert items[i].target == expected
        assert items[i].input == raw[i]["question"]
        assert items[i].id == f"gsm8k-{i + 1:04d}"
    negative = [it for it in items if it.target is not None and it.target.startswith("-")]
    assert negative
    assert all(it.target is not None and it.target[1:].isdigit() for it in negative)


@needs_shared
def test_mgsm_languages_share_answers_and_drop_commas() -> None:
    en = import_dataset("mgsm", SHARED / "mgsm", {"language": "en"})
    zh = import_dataset("mgsm", SHARED / "mgsm", {"language": "zh"})
    assert [it.target for it in en] == [it.target for it in zh]
    raw = (SHARED / "mgsm" / "mgsm_zh.tsv").read_text(encoding="utf-8").splitlines()
    question, answer = raw[6].split("\t")
    assert zh[6].input == question
    assert zh[6].target == answer.replace(",", "")
    assert zh[6].id == "mgsm-zh-0007"
    assert zh[6].metadata == {"dataset": "mgsm", "language": "zh", "source_row": 7}
    assert "5600" in {it.target for it in en}  # upstream writes "5,600"


@needs_shared
def test_bbh_tasks_and_spot_check() -> None:
    items = import_dataset("bbh", SHARED / "bbh", {"task": "all"})
    by_task = Counter(str(it.metadata["task"]) for it in items)
    assert len(by_task) == 27
    assert by_task["penguins_in_a_table"] == 146
    raw = json.loads((SHARED / "bbh" / "bbh" / "boolean_expressions.json").read_text())
    seventh = next(it for it in items if it.id == "bbh-boolean_expressions-0007")
    assert seventh.input == raw["examples"][6]["input"]
    assert seventh.target == raw["examples"][6]["target"]
    assert seventh.metadata["task"] == "boolean_expressions"


@needs_shared
def test_bbh_one_task_from_the_folder_or_the_file() -> None:
    one = import_dataset("bbh", SHARED / "bbh", {"task": "date_understanding"})
    assert len(one) == 250
    assert {it.metadata["task"] for it in one} == {"date_understanding"}
    direct = import_dataset("bbh", SHARED / "bbh" / "bbh" / "date_understanding.json", {})
    assert [it.hash for it in direct] == [it.hash for it in one]
    inner = import_dataset("bbh", SHARED / "bbh" / "bbh", {"task": "date_understanding"})
    assert [it.hash for it in inner] == [it.hash for it in one]


@needs_shared
@pytest.mark.parametrize(("version", "count"), [("current", 790), ("v1", 817)])
def test_truthfulqa_choices_follow_file_order(version: str, count: int) -> None:
    rel = "mc_task.json" if version == "current" else "v1/mc_task.json"
    raw = json.loads((SHARED / "truthfulqa" / rel).read_text(encoding="utf-8"))
    items = import_dataset("truthfulqa_mc1", SHARED / "truthfulqa", {"version": version})
    assert len(items) == len(raw) == count
    for i in (0, 100, count - 1):
        targets = raw[i]["mc1_targets"]
        assert items[i].input == raw[i]["question"]
        assert items[i].choices == tuple(targets)
        assert targets[items[i].choices[items[i].answer_index or 0]] == 1
        assert items[i].answer_index is not None


@needs_shared
def test_truthfulqa_v1_by_path() -> None:
    by_option = import_dataset("truthfulqa_mc1", SHARED / "truthfulqa", {"version": "v1"})
    by_folder = import_dataset("truthfulqa_mc1", SHARED / "truthfulqa" / "v1", {})
    by_file = import_dataset("truthfulqa_mc1", SHARED / "truthfulqa" / "v1" / "mc_task.json", {})
    assert len(by_folder) == 817
    assert [it.hash for it in by_folder] == [it.hash for it in by_option]
    assert [it.hash for it in by_file] == [it.hash for it in by_option]


@needs_shared
def test_truthfulqa_shuffle_keeps_the_answer_and_is_stable() -> None:
    plain = import_dataset("truthfulqa_mc1", SHARED / "truthfulqa", {})
    shuffled = import_dataset("truthfulqa_mc1", SHARED / "truthfulqa", {"shuffle_choices": True})
    again = import_dataset("truthfulqa_mc1", SHARED / "truthfulqa", {"shuffle_choices": True})
    assert [it.hash for it in shuffled] == [it.hash for it in again]
    assert {it.answer_index for it in plain} == {0}  # upstream lists the true answer first
    for p, s in zip(plain, shuffled, strict=True):
        assert p.id == s.id
        assert sorted(p.choices) == sorted(s.choices)
        assert s.answer_index is not None
        assert p.answer_index is not None
        assert s.choices[s.answer_index] == p.choices[p.answer_index]
    positions = Counter(it.answer_index for it in shuffled)
    assert len(positions) >= 4
    assert max(positions.values()) < len(shuffled) / 2


@needs_shared
def test_safetybench_joins_answers_by_id() -> None:
    folder = SHARED / "safetybench_zh_subset"
    questions = json.loads((folder / "test_zh_subset.json").read_text(encoding="utf-8"))
    answers = json.loads((folder / "test_answers_zh_subset.json").read_text(encoding="utf-8"))
    items = import_dataset("safetybench_zh", folder, {})
    assert Counter(str(it.metadata["category"]) for it in items) == Counter(
        {c: 300 for c in {str(q["category"]) for q in questions}}
    )
    for i in (0, 1, 777, 2099):
        q = questions[i]
        it = items[i]
        assert it.id == f"safetybench-zh-{q['id']:05d}"
        assert it.input == q["question"]
        assert it.choices == tuple(q["options"])
        assert it.answer_index == answers[str(q["id"])]["answer"]
        assert it.metadata["source_id"] == q["id"]
    # a path to the question file finds the answers beside it
    direct = import_dataset("safetybench_zh", folder / "test_zh_subset.json", {})
    assert [x.hash for x in direct] == [x.hash for x in items]


# --- errors --------------------------------------------------------------------


def test_unknown_importer_lists_the_known_ones() -> None:
    with pytest.raises(SpecError) as exc:
        import_dataset("mmlu", None, {})
    assert exc.value.field == "items.importer"
    for name in IMPORTERS:
        assert name in str(exc.value)


@pytest.mark.parametrize(
    ("name", "options", "field", "words"),
    [
        ("gsm8k", {"split": "train"}, "items.options.split", "no option"),
        ("mgsm", {}, "items.options.language", "en | zh"),
        ("mgsm", {"language": "fr"}, "items.options.language", "not one of"),
        ("bbh", {"task": "chess"}, "items.options.task", "not one of"),
        ("truthfulqa_mc1", {"shuffle_choices": "yes"}, "items.options.shuffle_choices", "true"),
        ("truthfulqa_mc1", {"version": 1}, "items.options.version", "string"),
    ],
)
def test_bad_options(name: str, options: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(SpecError) as exc:
        import_dataset(name, Path("unused"), options)
    assert exc.value.field == field
    assert words in str(exc.value)


def test_missing_local_path(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no local copy") as exc:
        import_dataset("gsm8k", tmp_path / "absent", {})
    assert exc.value.path == tmp_path / "absent"


def test_folder_without_the_upstream_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"test\.jsonl") as exc:
        import_dataset("gsm8k", tmp_path, {})
    assert exc.value.path == tmp_path


def test_gsm8k_row_without_final_answer(tmp_path: Path) -> None:
    (tmp_path / "test.jsonl").write_text(
        json.dumps({"question": "q", "answer": "#### 4"})
        + "\n"
        + json.dumps({"question": "q2", "answer": "no marker"})
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match="####") as exc:
        import_dataset("gsm8k", tmp_path, {})
    assert (exc.value.line, exc.value.field) == (2, "answer")


def test_mgsm_answer_must_be_a_number(tmp_path: Path) -> None:
    (tmp_path / "mgsm_en.tsv").write_text("q one\t3\nq two\tthree\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not a number") as exc:
        import_dataset("mgsm", tmp_path, {"language": "en"})
    assert exc.value.line == 2


def test_safetybench_question_without_answer(tmp_path: Path) -> None:
    (tmp_path / "test_zh_subset.json").write_text(
        json.dumps([{"id": 5, "question": "问？", "options": ["是", "否"], "category": "X"}]),
        encoding="utf-8",
    )
    (tmp_path / "test_answers_zh_subset.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SpecError, match="no answer") as exc:
        import_dataset("safetybench_zh", tmp_path, {})
    assert exc.value.field == "5"


def test_truthfulqa_needs_exactly_one_true_choice(tmp_path: Path) -> None:
    rows = [{"question": "q?", "mc1_targets": {"a": 1, "b": 1}}]
    (tmp_path / "mc_task.json").write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(SpecError, match="exactly one") as exc:
        import_dataset("truthfulqa_mc1", tmp_path, {})
    assert exc.value.field == "[0].mc1_targets"


@needs_shared
def test_copy_in_another_folder_gives_the_same_items(tmp_path: Path) -> None:
    shutil.copytree(SHARED / "safetybench_zh_subset", tmp_path / "copy")
    a = import_dataset("safetybench_zh", tmp_path / "copy", {})
    b = import_dataset("safetybench_zh", SHARED / "safetybench_zh_subset", {})
    assert [x.hash for x in a] == [x.hash for x in b]
