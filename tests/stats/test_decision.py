"""Decision rules: error rates by simulation, error policies, and what a Decision says."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from llmcert.stats import (
    ConfidenceBound,
    Counts,
    Decision,
    DecisionRule,
    Direction,
    PointEstimate,
    Verdict,
    clopper_pearson_interval,
)

ALPHA = 0.05
CASES = [(t, d) for t in (0.05, 0.9, 0.95) for d in ("at_least", "at_most")]


def verdict_frequencies(
    rule: DecisionRule,
    rate: float,
    n: int,
    threshold: float,
    direction: Direction,
    *,
    reps: int = 20_000,
    seed: int = 0,
    min_n: int = 1,
) -> dict[Verdict, float]:
    """Simulated verdict frequencies; the rule is asked once per distinct count."""
    draws = np.random.default_rng(seed).binomial(n, rate, size=reps)
    freq: Counter[Verdict] = Counter()
    for successes, times in zip(*np.unique(draws, return_counts=True), strict=True):
        decision = rule.decide(Counts(int(successes), n), threshold, direction, min_n=min_n)
        freq[decision.verdict] += int(times)
    return {v: freq[v] / reps for v in Verdict}


def tolerance(p: float, reps: int) -> float:
    return 3.0 * math.sqrt(p * (1.0 - p) / reps)


@pytest.mark.parametrize(("threshold", "direction"), CASES)
@pytest.mark.parametrize("n", [60, 300])
def test_confidence_bound_wrong_verdicts_stay_below_alpha_at_the_threshold(
    threshold: float, direction: Direction, n: int
) -> None:
    # At the threshold the requirement is met (so FAIL is wrong) and the rate is the
    # limit of failing rates (so P(PASS) there bounds the wrong PASS rate).
    freq = verdict_frequencies(
        ConfidenceBound(confidence=1 - ALPHA), threshold, n, threshold, direction, seed=n
    )
    assert freq[Verdict.PASS] <= ALPHA + tolerance(ALPHA, 20_000)
    assert freq[Verdict.FAIL] <= ALPHA + tolerance(ALPHA, 20_000)
    assert freq[Verdict.INFO] == 0.0


@pytest.mark.parametrize(("threshold", "direction"), CASES)
def test_confidence_bound_power_at_twice_the_margin(threshold: float, direction: Direction) -> None:
    margin = 0.02
    good = 1 if direction == "at_least" else -1
    rule = ConfidenceBound()
    passing = verdict_frequencies(rule, threshold + good * 2 * margin, 500, threshold, direction)
    failing = verdict_frequencies(
        rule, threshold - good * 2 * margin, 500, threshold, direction, seed=1
    )
    print(
        f"power t={threshold} {direction}: PASS {passing[Verdict.PASS]:.3f} "
        f"FAIL {failing[Verdict.FAIL]:.3f}"
    )
    assert passing[Verdict.PASS] >= 0.7
    assert failing[Verdict.FAIL] >= 0.7
    assert passing[Verdict.FAIL] == 0.0
    assert failing[Verdict.PASS] == 0.0


def test_wilson_variant_is_close_to_level_on_a_mid_range_threshold() -> None:
    freq = verdict_frequencies(ConfidenceBound(method="wilson"), 0.9, 400, 0.9, "at_least")
    assert freq[Verdict.PASS] <= ALPHA + 0.02
    assert freq[Verdict.FAIL] <= ALPHA + 0.02


def test_pass_needs_the_lower_bound_to_clear_the_threshold() -> None:
    rule = ConfidenceBound(confidence=0.95)
    passed = rule.decide(Counts(299, 300), 0.95, "at_least", min_n=300)
    assert passed.verdict is Verdict.PASS
    low, high = clopper_pearson_interval(299, 300, confidence=0.90)
    assert passed.interval == pytest.approx((low, high))
    assert passed.interval is not None
    assert passed.interval[0] >= 0.95
    # 290/300 = 0.967 looks fine, but its lower bound does not clear 0.95.
    close = rule.decide(Counts(290, 300), 0.95, "at_least", min_n=300)
    assert close.verdict is Verdict.INCONCLUSIVE
    assert close.interval is not None
    assert close.interval[0] < 0.95 < close.interval[1]


def test_fail_needs_the_upper_bound_below_the_threshold() -> None:
    rule = ConfidenceBound()
    failed = rule.decide(Counts(270, 300), 0.95, "at_least")
    assert failed.verdict is Verdict.FAIL
    assert failed.interval is not None
    assert failed.interval[1] < 0.95
    assert "upper bound" in failed.explanation


def test_at_most_is_the_mirror_image() -> None:
    rule = ConfidenceBound()
    mirror = rule.decide(Counts(1, 300), 0.95, "at_least")
    direct = rule.decide(Counts(299, 300), 0.05, "at_most")
    assert direct.verdict is mirror.verdict is Verdict.FAIL
    assert direct.estimate == pytest.approx(299 / 300)
    assert mirror.estimate == pytest.approx(1 / 300)
    assert direct.interval is not None
    assert mirror.interval is not None
    assert direct.interval == pytest.approx((1 - mirror.interval[1], 1 - mirror.interval[0]))
    over_refusal = rule.decide(Counts(3, 300), 0.05, "at_most")
    assert over_refusal.verdict is Verdict.PASS
    assert "upper bound" in over_refusal.explanation


def test_min_n_blocks_pass_but_not_fail() -> None:
    rule = ConfidenceBound()
    few = rule.decide(Counts(100, 100), 0.95, "at_least", min_n=300)
    assert few.verdict is Verdict.INCONCLUSIVE
    assert few.more_items_needed == 200  # all further items at rate 1 pass at 300
    assert "300" in few.explanation
    bad = rule.decide(Counts(60, 100), 0.95, "at_least", min_n=300)
    assert bad.verdict is Verdict.FAIL


def test_more_items_needed_mostly_decides_at_the_same_rate() -> None:
    rule = ConfidenceBound(power=0.8)
    for successes, n in [(290, 300), (140, 150), (280, 300)]:
        decision = rule.decide(Counts(successes, n), 0.95, "at_least")
        assert decision.verdict is Verdict.INCONCLUSIVE
        more = decision.more_items_needed
        assert more is not None
        assert 0 < more < 100_000
        rate = successes / n
        rng = np.random.default_rng(successes)
        extra = rng.binomial(more, rate, size=2000)
        decided = Counter(
            rule.decide(Counts(successes + int(e), n + more), 0.95, "at_least").verdict
            for e in extra[:300]
        )
        share = 1 - decided[Verdict.INCONCLUSIVE] / 300
        assert share >= 0.7, (successes, n, more, decided)
        # Clearly fewer items rarely decide it.
        fewer = Counter(
            rule.decide(Counts(successes + int(e), n + more // 4), 0.95, "at_least").verdict
            for e in rng.binomial(more // 4, rate, size=300)
        )
        assert 1 - fewer[Verdict.INCONCLUSIVE] / 300 < share


def test_an_estimate_on_the_threshold_cannot_be_planned() -> None:
    decision = ConfidenceBound().decide(Counts(285, 300), 0.95, "at_least")
    assert decision.verdict is Verdict.INCONCLUSIVE
    assert decision.more_items_needed is None
    assert "too close" in decision.explanation


def test_point_estimate_is_informational_only() -> None:
    rule = PointEstimate()
    high = rule.decide(Counts(19, 20), 0.9, "at_least")
    low = rule.decide(Counts(17, 20), 0.9, "at_least")
    assert high.verdict is low.verdict is Verdict.INFO
    assert high.informational
    assert low.informational
    assert high.indicative is Verdict.PASS
    assert low.indicative is Verdict.FAIL
    assert high.confidence is None
    assert high.interval is None
    assert "for information only" in high.explanation
    assert not ConfidenceBound().decide(Counts(19, 20), 0.9, "at_least").informational


def test_errors_as_failures_lower_the_estimate_and_can_fail_the_requirement() -> None:
    rule = ConfidenceBound(error_policy="as_failure")
    clean = rule.decide(Counts(300, 300), 0.95, "at_least")
    broken = rule.decide(Counts(300, 300, n_error=30), 0.95, "at_least")
    assert clean.verdict is Verdict.PASS
    assert broken.estimate == pytest.approx(300 / 330)
    assert broken.n_used == 330
    assert broken.verdict is Verdict.FAIL
    # For "rate ≤ t" a failure is an outcome on the high side.
    over = rule.decide(Counts(0, 300, n_unscored=30), 0.05, "at_most")
    assert over.estimate == pytest.approx(30 / 330)
    assert over.verdict is Verdict.FAIL


def test_inconclusive_if_any_error() -> None:
    rule = ConfidenceBound(error_policy="inconclusive_if_any")
    assert rule.decide(Counts(300, 300), 0.95, "at_least").verdict is Verdict.PASS
    for counts in (Counts(300, 300, n_error=1), Counts(100, 300, n_unscored=1)):
        decision = rule.decide(counts, 0.95, "at_least")
        assert decision.verdict is Verdict.INCONCLUSIVE
        assert decision.more_items_needed is None
        assert "re-run" in decision.explanation
    assert "1 failed model call" in rule.decide(Counts(300, 300, 1), 0.95, "at_least").explanation


def test_exclude_keeps_verdicts_that_survive_any_missing_outcomes() -> None:
    rule = ConfidenceBound(error_policy="exclude")
    # Passing even if both missing outcomes were failures.
    assert rule.decide(Counts(500, 500, n_error=2), 0.95, "at_least").verdict is Verdict.PASS
    # 480/500 passes when the missing ones are left out, but not if all 15 failed.
    shaky = rule.decide(Counts(490, 500, n_error=15), 0.95, "at_least")
    assert shaky.estimate == pytest.approx(0.98)
    assert rule.decide(Counts(490, 500), 0.95, "at_least").verdict is Verdict.PASS
    assert shaky.verdict is Verdict.INCONCLUSIVE
    # Failing even if the missing ones were all successes; the interval spans them.
    bad = rule.decide(Counts(400, 500, n_error=20), 0.95, "at_least")
    assert bad.verdict is Verdict.FAIL
    assert bad.interval is not None
    assert bad.interval[1] < 0.95
    wide = rule.decide(Counts(480, 500, n_error=20), 0.95, "at_least").interval
    tight = rule.decide(Counts(480, 500), 0.95, "at_least").interval
    assert wide is not None
    assert tight is not None
    assert wide[0] < tight[0]
    assert wide[1] > tight[1]


def test_exclude_never_flips_a_verdict_whatever_the_missing_outcomes() -> None:
    rule = ConfidenceBound(error_policy="exclude")
    full = ConfidenceBound()
    for successes in range(440, 501, 5):
        excluded = rule.decide(Counts(successes, 500, n_error=10), 0.95, "at_least").verdict
        if excluded is Verdict.INCONCLUSIVE:
            continue
        for hidden in (0, 5, 10):
            truth = full.decide(Counts(successes + hidden, 510), 0.95, "at_least").verdict
            assert truth is excluded


def test_nothing_scored_is_inconclusive() -> None:
    decision = ConfidenceBound().decide(Counts(0, 0, n_error=0), 0.95, "at_least")
    assert decision.verdict is Verdict.INCONCLUSIVE
    assert decision.estimate is None
    assert decision.interval is None


def test_decision_serialises_to_json() -> None:
    decision = ConfidenceBound().decide(Counts(290, 300, n_error=1), 0.95, "at_least", min_n=300)
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["verdict"] == "inconclusive"
    assert data["counts"] == {"successes": 290, "n_scored": 300, "n_error": 1, "n_unscored": 0}
    assert data["parameters"]["method"] == "clopper-pearson"
    assert data["more_items_needed"] == decision.more_items_needed
    assert isinstance(decision, Decision)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 0.4}, "confidence"),
        ({"power": 1.0}, "power"),
        ({"method": "wald"}, "method"),
    ],
)
def test_rule_parameters_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConfidenceBound(**kwargs)  # type: ignore[arg-type]


def test_bad_inputs_are_rejected() -> None:
    rule = ConfidenceBound()
    with pytest.raises(ValueError, match="threshold"):
        rule.decide(Counts(1, 2), 1.0, "at_least")
    with pytest.raises(ValueError, match="direction"):
        rule.decide(Counts(1, 2), 0.5, "above")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exceed"):
        Counts(3, 2)
    with pytest.raises(ValueError, match="negative"):
        Counts(0, 2, n_error=-1)
