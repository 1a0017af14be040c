"""The built-in GB/T 45654-2025 starter banks: they load, cover every risk and topic in
both languages, and honestly fall short of the §8 minimums."""

from __future__ import annotations

import re
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pytest

from llmcert.items import Item
from llmcert.standards import coverage, dedupe, gbt45654_minimums, load_taxonomy, read_bank
from llmcert.standards.banks import SHOULD_NOT_REFUSE_TOPICS, BankKind
from llmcert.suites import Suite, load_suite

BUILTIN = Path(str(files("llmcert.suites") / "builtin"))
SUITES = ("gbt45654-should-refuse", "gbt45654-should-not-refuse", "gbt45654-generated")
KIND: dict[str, BankKind] = {
    "gbt45654-should-refuse": "should_refuse",
    "gbt45654-should-not-refuse": "should_not_refuse",
    "gbt45654-generated": "generated",
}
ID_PREFIX = {
    "gbt45654-should-refuse": "sr",
    "gbt45654-should-not-refuse": "snr",
    "gbt45654-generated": "gen",
}
HAN = re.compile(r"[\u4e00-\u9fff]")
TAXONOMY = load_taxonomy()
ALL_RISKS = {r.id for r in TAXONOMY.risks}
CORE_RISKS = {r.id for r in TAXONOMY.core_risks()}


def suite(name: str) -> Suite:
    return load_suite(BUILTIN / name / "suite.yaml")


def per_language(items: tuple[Item, ...], key: str) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for it in items:
        values = it.metadata[key]
        for value in values if isinstance(values, list) else [values]:
            counts[(value, it.metadata["language"])] += 1
    return counts


@pytest.mark.parametrize("name", SUITES)
def test_suite_loads_with_small_deterministic_generation(name: str) -> None:
    s = suite(name)
    spec = s.spec
    assert spec.name == name
    assert spec.languages == ("en", "zh")
    assert spec.prompt.kind == "chat"
    assert spec.prompt.template == "{{ input }}"
    assert spec.generation.max_tokens == 64
    assert spec.generation.temperature == 0.0
    assert spec.metrics == ("accuracy",)
    assert spec.group_by == ("language",)
    assert s.digest == suite(name).digest


def test_scorers_match_what_each_bank_measures() -> None:
    assert suite("gbt45654-should-refuse").spec.scorer.model_dump() == {
        "name": "refusal",
        "args": {"expect": "refuse"},
    }
    assert suite("gbt45654-should-not-refuse").spec.scorer.model_dump() == {
        "name": "refusal",
        "args": {"expect": "comply"},
    }
    generated = suite("gbt45654-generated").spec.scorer
    assert generated.name == "keyword"
    assert generated.args == {"risks": "item", "refusal_counts_as_qualified": True}


@pytest.mark.parametrize("name", SUITES)
def test_items_are_unique_well_formed_and_in_the_language_they_claim(name: str) -> None:
    items = suite(name).items
    assert len({it.id for it in items}) == len(items)
    kept, dropped = dedupe(items)
    assert dropped == []
    assert len(kept) == len(items)
    for it in items:
        meta = it.metadata
        assert it.id.startswith(f"{ID_PREFIX[name]}-")
        assert it.id.endswith(("-01", "-02"))
        assert f"-{meta['language']}-" in it.id
        assert meta["language"] in ("zh", "en")
        assert bool(HAN.search(it.input)) == (meta["language"] == "zh"), it.id
        assert isinstance(meta["risks"], list)
        assert set(meta["risks"]) <= ALL_RISKS, it.id
        if name != "gbt45654-should-not-refuse":
            assert len(meta["risks"]) == 1
            assert meta["category"] == meta["risks"][0].rsplit(".", 1)[0]
            assert meta["risks"][0] in it.id


def test_should_refuse_covers_every_core_risk_in_both_languages() -> None:
    items = suite("gbt45654-should-refuse").items
    counts = per_language(items, "risks")
    assert {risk for risk, _ in counts} == CORE_RISKS
    for risk in CORE_RISKS:
        assert min(counts[(risk, "zh")], counts[(risk, "en")]) >= 2, risk
    assert len(items) >= 68


def test_generated_covers_every_risk_in_both_languages() -> None:
    items = suite("gbt45654-generated").items
    counts = per_language(items, "risks")
    assert {risk for risk, _ in counts} == ALL_RISKS
    for risk in ALL_RISKS:
        assert min(counts[(risk, "zh")], counts[(risk, "en")]) >= 1, risk
    assert len(items) >= 62


def test_should_not_refuse_covers_every_topic_in_both_languages() -> None:
    items = suite("gbt45654-should-not-refuse").items
    counts = per_language(items, "topic")
    assert {topic for topic, _ in counts} == set(SHOULD_NOT_REFUSE_TOPICS)
    assert len(SHOULD_NOT_REFUSE_TOPICS) == 13
    for topic in SHOULD_NOT_REFUSE_TOPICS:
        assert min(counts[(topic, "zh")], counts[(topic, "en")]) >= 2, topic
    assert len(items) >= 52
    assert all("category" not in it.metadata for it in items)


def test_banks_read_with_read_bank_keep_their_risks() -> None:
    path = BUILTIN / "gbt45654-should-refuse" / "items.jsonl"
    bank = read_bank(path)
    assert [it.id for it in bank] == [it.id for it in suite("gbt45654-should-refuse").items]
    assert all(it.metadata["risks"] for it in bank)


@pytest.mark.parametrize("name", SUITES)
def test_starter_banks_fall_short_of_section_8_and_say_where(name: str) -> None:
    kind = KIND[name]
    items = suite(name).items
    minimums, total_min = gbt45654_minimums(kind)
    by = "topic" if kind == "should_not_refuse" else "risks"
    report = coverage(items, minimums, total_min=total_min, by=by)
    assert not report.ok
    assert report.total == len(items) < total_min
    assert f"the bank has {len(items)} items, below the minimum of {total_min}" in report.shortfalls
    assert all(not row.ok for row in report.risks)  # no risk or topic is at its minimum yet
    assert len(report.shortfalls) == len(minimums) + 1
    first = report.risks[0]
    noun = "topic" if kind == "should_not_refuse" else "risk"
    assert (
        f"{noun} {first.risk} has {first.count} items, below the minimum of {first.minimum}"
        in report.shortfalls
    )
    assert first.count > 0


def test_section_8_minimums_are_the_expected_numbers() -> None:
    refuse, refuse_total = gbt45654_minimums("should_refuse")
    generated, generated_total = gbt45654_minimums("generated")
    topics, topics_total = gbt45654_minimums("should_not_refuse")
    assert (refuse_total, generated_total, topics_total) == (500, 2000, 500)
    assert refuse == {r: 20 for r in CORE_RISKS}
    assert generated["A.1.4"] == 50
    assert generated["A.3.1"] == 20
    assert topics == {t: 20 for t in SHOULD_NOT_REFUSE_TOPICS}
