"""The refusal judge's shipped calibration: it loads, belongs to the shipped judge, and
is what the held-out-by-model procedure gives on the XSTest completions."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.judges import RefusalJudge
from llmcert.judges._calfile import read_calibration
from llmcert.judges.refusal import calibration as cal
from llmcert.judges.refusal._agreement import XSTEST_LABELS, LabelledPair, agreement
from llmcert.stats import CorrectedBound, Counts, JudgeErrorRates, Verdict

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "xstest_completions_dev"
MODELS = ("gpt4", "llama2orig")


def stored() -> dict[str, object]:
    text = resources.files("llmcert.judges").joinpath("data", cal.CALIBRATION_FILE).read_text()
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def test_loads_with_sane_values() -> None:
    rates = cal.refusal_judge_error_rates()
    assert isinstance(rates, JudgeErrorRates)
    # Held-out binary agreement was about 95 %: both rates are high, neither perfect.
    assert 0.85 < rates.sensitivity < 1.0
    assert 0.85 < rates.specificity < 1.0
    assert rates.n_positive is not None
    assert rates.n_negative is not None
    assert "llmcert-refusal@" in rates.source
    assert "held out by source" in rates.source
    # Point rates from the pooled counts; bounds for a new source from every source's.
    data = stored()
    by_source = data["by_source"]
    assert isinstance(by_source, dict)
    assert len(by_source) >= 3
    assert data["counts"] == data["pooled"]
    assert rates.sensitivity_sources == tuple(
        (c["true_positives"], c["n_positive"]) for c in by_source.values() if c["n_positive"]
    )
    assert rates.between_sources
    between = data["between_source"]
    assert isinstance(between, dict)
    assert between["sensitivity"]["sources"] == len(by_source)
    # The new-source interval is wider than any one source's spread of point rates.
    lowest = min(c["true_positives"] / c["n_positive"] for c in by_source.values())
    assert between["sensitivity"]["prediction_95_low"] < lowest


def test_names_the_shipped_judge() -> None:
    data = stored()
    judge = RefusalJudge()
    assert data["judge"] == judge.identity()
    assert "counts only" in str(data["provenance"])
    assert data["sensitivity"] == pytest.approx(cal.refusal_judge_error_rates().sensitivity)


def test_rates_for_another_judge_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RefusalJudge, "digest", property(lambda self: "sha256:other"))
    with pytest.raises(SpecError, match="re-measure") as info:
        cal.refusal_judge_error_rates()
    assert info.value.field == "judge.digest"


def test_malformed_file_is_reported() -> None:
    broken = dict(stored(), counts={"true_positives": 10})
    with pytest.raises(SpecError, match="invalid calibration") as info:
        read_calibration(json.dumps(broken).encode(), "calibration.json")
    assert info.value.field.startswith("counts")


def test_binary_counts_from_confusion() -> None:
    human = [
        "full_compliance",
        "full_refusal",
        "partial_refusal",
        "full_refusal",
        "full_compliance",
    ]
    judged = [
        "full_refusal",
        "partial_refusal",
        "full_compliance",
        "full_refusal",
        "full_compliance",
    ]
    counts = cal.BinaryCounts.from_agreement(agreement(human, judged))
    # refusal vs partial refusal does not matter; partial counts as refusal
    assert counts == cal.BinaryCounts(2, 3, 1, 2)


def test_corrected_rule_accepts_the_shipped_rates() -> None:
    rule = CorrectedBound(cal.refusal_judge_error_rates())
    assert rule.decide(Counts(199, 200), 0.8, "at_least").verdict is Verdict.PASS
    assert rule.decide(Counts(10, 200), 0.8, "at_least").verdict is Verdict.FAIL
    # In between the verdict waits: a new style of refusing may hide most refusals from
    # the judge (sensitivity near its floor-widened lower bound), or a new style of
    # answering may read as refusals (specificity near its lower bound).
    for judged in (60, 100, 150, 190):
        assert rule.decide(Counts(judged, 200), 0.8, "at_least").verdict is Verdict.INCONCLUSIVE


def test_the_interval_covers_the_measured_shift_to_unseen_styles() -> None:
    import math

    from llmcert.stats import new_source_bounds

    data = stored()
    rates = cal.refusal_judge_error_rates()
    assert data["tau_floor"] == rates.tau_floor == cal.style_tau_floor()
    assert "three other models" in str(data["tau_floor_basis"])
    # Judge 1.0.0's fall from 0.94 to 0.58 is a logit shift the 95% prediction
    # interval must hold, measured from the calibration's centre.
    seen, unseen = cal.STYLE_SHIFT
    shift = math.log(seen / (1 - seen)) - math.log(unseen / (1 - unseen))
    assert 1.96 * rates.tau_floor >= shift
    centre = data["between_source"]["sensitivity"]["rate"]
    low, _ = new_source_bounds(rates.sensitivity_sources, 0.025, rates.tau_floor)
    assert math.log(low / (1 - low)) <= math.log(centre / (1 - centre)) - shift + 0.2
    # Without the floor the interval would not come near that shift.
    bare_low, _ = new_source_bounds(rates.sensitivity_sources, 0.025)
    assert bare_low > unseen + 0.2


def test_an_assessors_calibration_is_read_and_checked(tmp_path: Path) -> None:
    from llmcert.judges._calfile import held_out_calibration
    from llmcert.judges.agreement import BinaryStats, Rate

    def write(name: str, identity: dict[str, object], positive: str) -> Path:
        content = held_out_calibration(
            identity,
            {"assessed model": BinaryStats(Rate(95, 100), Rate(97, 100))},
            positive=positive,
            negative="other",
            method="every labelled answer judged once",
            provenance="counts only",
        )
        path = tmp_path / name
        path.write_text(json.dumps(content), encoding="utf-8")
        return path

    good = cal.read_refusal_calibration(write("good.json", RefusalJudge().identity(), "refusal"))
    assert good.error_rates().sensitivity == 0.95
    assert good.error_rates().tau_floor == 0.0
    assert good.digest.startswith("sha256:")
    assert good.source.endswith("good.json")
    with pytest.raises(SpecError, match="positive outcome") as info:
        cal.read_refusal_calibration(write("flipped.json", RefusalJudge().identity(), "compliance"))
    assert info.value.field == "positive"
    older = dict(RefusalJudge().identity(), version="0.9.0")
    with pytest.raises(SpecError, match="re-measure"):
        cal.read_refusal_calibration(write("older.json", older, "refusal"))
    with pytest.raises(SpecError, match="cannot read"):
        cal.read_refusal_calibration(tmp_path / "missing.json")


def load(model: str) -> list[LabelledPair]:
    with (DATA / f"xstest_v2_completions_{model}.csv").open(encoding="utf-8", newline="") as fh:
        return [
            LabelledPair(r["prompt"], r["completion"], XSTEST_LABELS[r["final_label"]])
            for r in csv.DictReader(fh)
        ]


@pytest.mark.skipif(
    not DATA.is_dir(), reason=f"XSTest completions not found beside the repository ({DATA})"
)
def test_recomputing_reproduces_the_stored_counts() -> None:
    held_out = cal.held_out_by_model({m: load(m) for m in MODELS})
    data = stored()
    by_source = data["by_source"]
    assert isinstance(by_source, dict)
    for model in MODELS:
        assert (
            cal.BinaryCounts.from_agreement(held_out.by_model[model]).to_json() == by_source[model]
        )


def test_holding_out_needs_two_models() -> None:
    with pytest.raises(ValueError, match="two models"):
        cal.held_out_by_model({"only": []})
