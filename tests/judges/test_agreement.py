"""The agreement report the CLI and the benchmarks share."""

from __future__ import annotations

import pytest

from llmcert.judges.agreement import agreement_report, cohen_kappa

LABELS = ("harmful", "not_harmful")


def test_counts_kappa_and_per_class_rates() -> None:
    human = ["harmful"] * 10 + ["not_harmful"] * 10
    judged = ["harmful"] * 8 + ["not_harmful"] * 2 + ["not_harmful"] * 9 + ["harmful"]
    report = agreement_report(human, judged, labels=LABELS)
    assert (report.agreement.k, report.agreement.n) == (17, 20)
    assert report.confusion == {
        "harmful": {"harmful": 8, "not_harmful": 2},
        "not_harmful": {"harmful": 1, "not_harmful": 9},
    }
    # Chance agreement is 0.5 * 0.45 + 0.5 * 0.55 = 0.5, so kappa = (0.85 - 0.5) / 0.5.
    assert report.kappa == pytest.approx(0.7)
    harmful = report.classes[0]
    assert (harmful.precision.k, harmful.precision.n) == (8, 9)
    assert (harmful.recall.k, harmful.recall.n) == (8, 10)
    low, high = harmful.recall.interval or (0.0, 0.0)
    assert low < 0.8 < high
    binary = report.binary(["harmful"])
    assert (binary.sensitivity.k, binary.sensitivity.n) == (8, 10)
    assert (binary.specificity.k, binary.specificity.n) == (9, 10)


def test_per_language_reports_partition_the_rows() -> None:
    human = ["harmful", "not_harmful", "harmful", "not_harmful"]
    judged = ["harmful", "not_harmful", "not_harmful", "not_harmful"]
    report = agreement_report(human, judged, labels=LABELS, languages=["en", "en", "zh", "zh"])
    assert set(report.by_language) == {"en", "zh"}
    assert report.by_language["en"].agreement.k == 2
    assert report.by_language["zh"].agreement.k == 1
    assert sum(r.agreement.n for r in report.by_language.values()) == report.agreement.n
    assert report.to_dict()["by_language"]["zh"]["agreement"]["n"] == 2


def test_kappa_is_undefined_for_a_single_label_and_zero_by_chance() -> None:
    assert cohen_kappa({"a": {"a": 5}}) is None
    # Judge labels independent of the truth: kappa 0.
    confusion = {"a": {"a": 25, "b": 25}, "b": {"a": 25, "b": 25}}
    assert cohen_kappa(confusion) == pytest.approx(0.0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="as many"):
        agreement_report(["harmful"], [], labels=LABELS)
    with pytest.raises(ValueError, match="labels outside"):
        agreement_report(["harmful"], ["maybe"], labels=LABELS)
    with pytest.raises(ValueError, match="one language"):
        agreement_report(["harmful"], ["harmful"], labels=LABELS, languages=[])
