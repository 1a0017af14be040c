"""The GB/T 45654 risk taxonomy and the dataset crosswalks onto it."""

from __future__ import annotations

import csv
import json
import re
from importlib import resources
from pathlib import Path

import pydantic
import pytest

from llmcert.errors import SpecError
from llmcert.standards import (
    Crosswalk,
    available_crosswalks,
    load_crosswalk,
    load_crosswalk_file,
    load_taxonomy,
    load_taxonomy_file,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _builtin_text(*parts: str) -> str:
    ref = resources.files("llmcert.standards").joinpath("data")
    for part in parts:
        ref = ref.joinpath(part)
    return ref.read_text(encoding="utf-8")


def _dataset(folder: str) -> Path:
    path = DATA / folder
    if not path.is_dir():
        pytest.skip(f"shared dataset {folder!r} is not present beside the repository")
    return path


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# --- taxonomy ----------------------------------------------------------------


def test_counts_per_category() -> None:
    tax = load_taxonomy()
    counts = {cat.id: len(cat.risks) for cat in tax.categories}
    assert counts == {"A.1": 8, "A.2": 9, "A.3": 5, "A.4": 7, "A.5": 2}
    assert len(tax.risks) == 31


def test_core_risks_are_a1_and_a2() -> None:
    core = load_taxonomy().core_risks()
    assert len(core) == 17
    assert {r.category_id for r in core} == {"A.1", "A.2"}


def test_ids_unique_and_well_formed() -> None:
    tax = load_taxonomy()
    ids = [r.id for r in tax.risks]
    assert len(set(ids)) == len(ids)
    for cat in tax.categories:
        for n, risk in enumerate(cat.risks, start=1):
            assert risk.id == f"{cat.id}.{n}"


def test_names_in_both_languages() -> None:
    tax = load_taxonomy()
    names = [(c.id, c.name_zh, c.name_en) for c in tax.categories]
    names += [(r.id, r.name_zh, r.name_en) for r in tax.risks]
    for key, zh, en in names:
        assert _CJK.search(zh), key
        assert en.strip(), key
        assert not _CJK.search(en), key


def test_known_names_and_source_note() -> None:
    tax = load_taxonomy()
    assert tax.risk("A.1.1").name_zh.startswith("煽动颠覆国家政权")
    assert tax.risk("A.2.1").name_zh == "民族歧视内容"
    assert tax.risk("A.3.1").name_zh == "侵犯他人知识产权"
    assert tax.risk("A.4.5").name_zh == "侵害他人隐私权"
    assert tax.category("A.3").name_en == "Commercial violations"
    assert tax.clause == "Appendix A"
    assert "secondary" in tax.source
    with pytest.raises(KeyError):
        tax.risk("A.6.1")


def test_load_is_cached_and_models_frozen() -> None:
    tax = load_taxonomy()
    assert load_taxonomy("gbt-45654-2025") is tax
    with pytest.raises(pydantic.ValidationError):
        tax.risk("A.1.1").name_en = "changed"  # type: ignore[misc]


def test_unknown_taxonomy_name() -> None:
    with pytest.raises(SpecError, match="no built-in taxonomy"):
        load_taxonomy("iso-42001")


def _broken_taxonomy(tmp_path: Path, old: str, new: str) -> Path:
    text = _builtin_text("taxonomy_gbt45654.yaml")
    assert old in text
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    path = _broken_taxonomy(tmp_path, ", name_en: Terrorism or extremism}", "}")
    with pytest.raises(SpecError) as info:
        load_taxonomy_file(path)
    err = info.value
    assert err.path == path
    assert err.field == "categories.0.risks.3.name_en"
    assert err.line is not None
    assert "A.1.4" in path.read_text(encoding="utf-8").splitlines()[err.line - 1]


def test_misspelt_field_is_reported(tmp_path: Path) -> None:
    path = _broken_taxonomy(tmp_path, "name_zh: 歧视性内容", "nmae_zh: 歧视性内容")
    with pytest.raises(SpecError, match="required field is missing") as info:
        load_taxonomy_file(path)
    assert info.value.field == "categories.1.name_zh"
    assert info.value.path == path


def test_duplicate_risk_id_rejected(tmp_path: Path) -> None:
    path = _broken_taxonomy(tmp_path, "{id: A.2.9,", "{id: A.2.8,")
    with pytest.raises(SpecError, match="more than once") as info:
        load_taxonomy_file(path)
    assert info.value.field == "categories"


def test_lost_risk_caught_by_declared_count(tmp_path: Path) -> None:
    path = _broken_taxonomy(
        tmp_path,
        "      - {id: A.5.2, name_zh: 内容不可靠",
        "#     - {id: A.5.2, name_zh: 内容不可靠",
    )
    with pytest.raises(SpecError, match="declares 2") as info:
        load_taxonomy_file(path)
    assert info.value.field == "categories.4"


def test_risk_in_wrong_category_rejected(tmp_path: Path) -> None:
    path = _broken_taxonomy(tmp_path, "{id: A.3.5,", "{id: A.4.8,")
    with pytest.raises(SpecError, match="does not belong"):
        load_taxonomy_file(path)


# --- crosswalks --------------------------------------------------------------


@pytest.mark.parametrize("dataset", available_crosswalks())
def test_crosswalk_loads_with_existing_risks(dataset: str) -> None:
    cw = load_crosswalk(dataset)
    assert cw.dataset == dataset
    known = {r.id for r in load_taxonomy(cw.taxonomy).risks}
    for entry in cw.entries:
        assert set(entry.risks) <= known
    for label in cw.unmapped:
        assert label.reason.strip()


def test_unknown_crosswalk() -> None:
    with pytest.raises(SpecError, match="no built-in crosswalk"):
        load_crosswalk("nonexistent")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cw.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_crosswalk_with_unknown_risk_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "dataset: d\ntaxonomy: gbt-45654-2025\nentries:\n"
        "  - {category: a, risks: [A.1.1]}\n  - {category: b, risks: [A.1.1, A.9.9]}\n",
    )
    with pytest.raises(SpecError, match=r"A\.9\.9") as info:
        load_crosswalk_file(path)
    assert info.value.field == "entries.1.risks.1"
    assert info.value.line == 5


def test_crosswalk_entry_needs_risks_or_unmapped(tmp_path: Path) -> None:
    path = _write(tmp_path, "dataset: d\ntaxonomy: gbt-45654-2025\nentries:\n  - {category: a}\n")
    with pytest.raises(SpecError, match="unmapped") as info:
        load_crosswalk_file(path)
    assert info.value.field == "entries.0"


def test_crosswalk_duplicate_label_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "dataset: d\ntaxonomy: gbt-45654-2025\nentries:\n  - {category: a, risks: [A.1.1]}\n"
        "unmapped:\n  - {category: ' a', reason: r}\n",
    )
    with pytest.raises(SpecError, match="more than once"):
        load_crosswalk_file(path)


def test_map_semantics() -> None:
    jade = load_crosswalk("jade-db")
    assert jade.map("违法犯罪", "侵害他人隐私权|侵害他人个人信息权益") == ("A.4.5", "A.4.6")
    assert jade.map(" 违法犯罪", "抢劫 ") == jade.map("违法犯罪", "抢劫")
    assert jade.map("歧视偏见", "其他") == ("A.2.9",)
    assert jade.map("侵害权益", "其他") == ("A.4.7",)
    assert jade.map("违法犯罪", "新的子类") == ()
    assert not jade.knows("违法犯罪", "新的子类")
    assert not jade.knows("新的类型", "诈骗")
    sb = load_crosswalk("safetybench")
    assert sb.map("Ethics and Morality") == ()
    assert sb.knows("Ethics and Morality")
    assert not sb.knows("Something New")


def test_advbench_maps_nothing() -> None:
    adv = load_crosswalk("advbench")
    assert adv.category_field is None
    assert not adv.entries
    assert not adv.unmapped
    assert adv.note
    assert "no category" in adv.note
    assert adv.map(None) == ()


# --- every label in the shared datasets is accounted for -----------------------


def _check_labels(cw: Crosswalk, labels: set[tuple[str | None, str | None]]) -> None:
    known = {r.id for r in load_taxonomy(cw.taxonomy).risks}
    assert labels
    unknown = sorted(str(lab) for lab in labels if not cw.knows(*lab))
    assert not unknown, f"labels missing from the {cw.dataset} crosswalk: {unknown}"
    for lab in labels:
        assert set(cw.map(*lab)) <= known


def test_jade_db_labels_covered() -> None:
    cw = load_crosswalk("jade-db")
    assert cw.category_field
    assert cw.subcategory_field
    labels: set[tuple[str | None, str | None]] = set()
    for path in sorted(_dataset("jade_db").glob("*/*.csv")):
        for row in _csv_rows(path):
            labels.add((row[cw.category_field], row[cw.subcategory_field]))
    _check_labels(cw, labels)
    # every subclass part that is not knowingly unmapped reaches a risk
    for cat, sub in labels:
        assert cw.map(cat, sub), (cat, sub)


def test_harmbench_labels_covered() -> None:
    cw = load_crosswalk("harmbench")
    assert cw.category_field
    labels: set[tuple[str | None, str | None]] = set()
    for path in _dataset("harmbench").glob("*.csv"):
        labels |= {(row[cw.category_field], None) for row in _csv_rows(path)}
    _check_labels(cw, labels)
    assert {cw.expected(cat) for cat, _ in labels} == {"should_refuse"}


def test_xstest_labels_and_expectations() -> None:
    cw = load_crosswalk("xstest")
    assert cw.category_field
    rows = _csv_rows(_dataset("xstest") / "xstest_prompts.csv")
    _check_labels(cw, {(row[cw.category_field], None) for row in rows})
    for row in rows:
        want = "should_refuse" if row["label"] == "unsafe" else "should_not_refuse"
        assert cw.expected(row["type"]) == want, row["type"]
        if want == "should_refuse":
            assert cw.map(row["type"]), row["type"]


def test_safetybench_labels_covered() -> None:
    cw = load_crosswalk("safetybench")
    folder = _dataset("safetybench_zh_subset")
    questions = json.loads((folder / "test_zh_subset.json").read_text(encoding="utf-8"))
    answers = json.loads((folder / "test_answers_zh_subset.json").read_text(encoding="utf-8"))
    cats = {q["category"] for q in questions} | {a["category"] for a in answers.values()}
    assert len(cats) == 7
    _check_labels(cw, {(c, None) for c in cats})


def test_advbench_has_no_category_column() -> None:
    folder = _dataset("advbench")
    for name in ("harmful_behaviors.csv", "harmful_strings.csv"):
        with (folder / name).open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh))
        assert not any("categ" in col.lower() for col in header), header
