"""Judge-error correction: the Rogan–Gladen formula, the corrected interval and rule,
and a simulation of a fallible judge whose rates are themselves estimated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from llmcert.stats import (
    ConfidenceBound,
    CorrectedBound,
    Counts,
    Decision,
    DecisionRule,
    Direction,
    ErrorPolicy,
    JudgeErrorRates,
    Verdict,
    clopper_pearson_interval,
    corrected_interval,
    rogan_gladen,
)
from llmcert.stats._correction import _box
from llmcert.stats._exact import critical_counts

RATES = JudgeErrorRates.from_counts(380, 410, 470, 490, source="test calibration")
PERFECT = JudgeErrorRates(1.0, 1.0, None, None, source="exact by construction")


# -- the formula ---------------------------------------------------------------------------


def test_rogan_gladen_formula() -> None:
    rates = JudgeErrorRates(0.9, 0.8, 10, 10, source="s")
    # q = 0.9 p + 0.2 (1 - p) at p = 0.5 gives 0.55
    assert rogan_gladen(0.55, rates) == pytest.approx(0.5)
    assert rogan_gladen(0.2, rates) == pytest.approx(0.0)
    assert rogan_gladen(0.9, rates) == pytest.approx(1.0)
    # outside [1 - sp, se] the estimate is clipped
    assert rogan_gladen(0.1, rates) == 0.0
    assert rogan_gladen(0.95, rates) == 1.0


@pytest.mark.parametrize("q", [0.0, 0.013, 0.5, 0.87, 1.0])
def test_identity_for_a_perfect_judge(q: float) -> None:
    assert rogan_gladen(q, PERFECT) == q
    assert rogan_gladen(q, JudgeErrorRates(1.0, 1.0, 50, 50, source="s")) == q


def test_forward_and_back() -> None:
    for p in np.linspace(0.0, 1.0, 11):
        q = RATES.sensitivity * p + (1 - RATES.specificity) * (1 - p)
        assert rogan_gladen(q, RATES) == pytest.approx(p)


def test_rates_validation_and_swap() -> None:
    assert (RATES.true_positives, RATES.true_negatives) == (380, 470)
    swapped = RATES.swapped()
    assert (swapped.sensitivity, swapped.n_positive) == (RATES.specificity, 490)
    assert swapped.swapped() == RATES
    with pytest.raises(ValueError, match="says nothing"):
        JudgeErrorRates(0.5, 0.5, 10, 10, source="s")
    with pytest.raises(ValueError, match="whole number"):
        JudgeErrorRates(0.93, 0.96, 450, 450, source="s")
    with pytest.raises(ValueError, match="positive integer"):
        JudgeErrorRates(1.0, 1.0, 0, 10, source="s")
    with pytest.raises(ValueError, match="source"):
        JudgeErrorRates(1.0, 1.0, 1, 1, source=" ")
    with pytest.raises(ValueError, match="sensitivity"):
        JudgeErrorRates(1.2, 1.0, 5, 5, source="s")
    assert RATES.to_dict()["n_negative"] == 490


# -- the interval --------------------------------------------------------------------------


def test_interval_for_exact_perfect_judge_is_clopper_pearson() -> None:
    for x, n in [(0, 10), (7, 10), (180, 200), (200, 200)]:
        assert corrected_interval(x, n, PERFECT, 0.9) == pytest.approx(
            clopper_pearson_interval(x, n, 0.9)
        )


def test_interval_contains_the_point_estimate_and_widens_with_uncertainty() -> None:
    low, high = corrected_interval(300, 400, RATES)
    point = rogan_gladen(0.75, RATES)
    assert low < point < high
    exact = JudgeErrorRates(RATES.sensitivity, RATES.specificity, None, None, source="s")
    e_low, e_high = corrected_interval(300, 400, exact)
    assert low < e_low < point < e_high < high
    few = JudgeErrorRates.from_counts(38, 41, 47, 49, source="small calibration")
    f_low, f_high = corrected_interval(300, 400, few)
    assert f_low < low
    assert f_high > high
    # However many items, the calibration keeps the interval open.
    many = corrected_interval(750_000, 1_000_000, RATES)
    assert many[1] - many[0] > 0.02


def test_uninformative_box_gives_the_unit_interval() -> None:
    weak = JudgeErrorRates.from_counts(3, 5, 3, 5, source="tiny")  # 0.6 + 0.6, bounds reach < 1
    assert corrected_interval(5, 10, weak) == (0.0, 1.0)


# Rates bounded for a new source with a wide floor on the between-source spread, as the
# shipped refusal calibration has: the box reaches judges with se + sp < 1, yet nearly all
# items judged positive still say the true rate is high (the lower end needs only se's
# upper and sp's lower bound).
WIDE = JudgeErrorRates(
    1170 / 1219,
    940 / 981,
    1219,
    981,
    source="three sources, floor on their spread",
    sensitivity_sources=((208, 220), (339, 349), (623, 650)),
    specificity_sources=((226, 230), (84, 101), (630, 650)),
    tau_floor=1.24,
)


def test_one_end_stands_when_the_box_reaches_a_useless_judge() -> None:
    box = _box(WIDE, 0.025)
    assert box.se_lo + box.sp_lo < 1.0
    low, high = corrected_interval(398, 400, WIDE)
    assert 0.5 < low < 398 / 400
    assert high == 1.0
    rule = CorrectedBound(WIDE)
    assert rule.decide(Counts(398, 400), 0.8, "at_least").verdict is Verdict.PASS
    assert rule.decide(Counts(10, 400), 0.8, "at_least").verdict is Verdict.FAIL
    # Judged positives well above the false-alarm rate but far from all: nothing is known.
    assert corrected_interval(300, 400, WIDE) == (0.0, 1.0)


@pytest.mark.parametrize("p", [0.2, 0.6, 0.95])
def test_each_end_covers_when_the_box_reaches_a_useless_judge(p: float) -> None:
    rng = np.random.default_rng(int(p * 100))
    se, sp, n, n_pos, n_neg, reps = 0.85, 0.75, 300, 10, 10, 500
    below = above = irregular = used = 0
    for _ in range(reps):
        tp, tn = int(rng.binomial(n_pos, se)), int(rng.binomial(n_neg, sp))
        if tp / n_pos + tn / n_neg <= 1.0:
            continue  # a calibration measuring a useless judge is refused
        used += 1
        rates = JudgeErrorRates.from_counts(tp, n_pos, tn, n_neg, "sim")
        box = _box(rates, 0.05)
        irregular += box.se_lo + box.sp_lo <= 1.0
        x = int(rng.binomial(n, p * se + (1 - p) * (1 - sp)))
        low, high = corrected_interval(x, n, rates, 0.9)
        below += p < low
        above += p > high
    assert used > 0.95 * reps
    assert irregular / used > 0.7  # the regime the test is about
    slack = 3 * (0.05 * 0.95 / used) ** 0.5
    assert below / used <= 0.05 + slack
    assert above / used <= 0.05 + slack


def test_interval_coverage_by_simulation() -> None:
    rng = np.random.default_rng(7)
    p, se, sp, n, n_pos, n_neg = 0.3, 0.85, 0.9, 300, 120, 150
    misses = 0
    reps = 400
    for _ in range(reps):
        rates = JudgeErrorRates.from_counts(
            int(rng.binomial(n_pos, se)), n_pos, int(rng.binomial(n_neg, sp)), n_neg, "sim"
        )
        x = int(rng.binomial(n, p * se + (1 - p) * (1 - sp)))
        low, high = corrected_interval(x, n, rates, 0.9)
        misses += not low <= p <= high
    assert misses / reps <= 0.10 + 0.045


# -- the rule ------------------------------------------------------------------------------


def test_rule_follows_protocol_and_names_its_rates() -> None:
    rule = CorrectedBound(RATES)
    assert isinstance(rule, DecisionRule)
    d = rule.decide(Counts(395, 400), 0.85, "at_least")
    assert d.verdict is Verdict.PASS
    assert d.rule == "corrected_bound"
    assert d.parameters["judge_rates"]["sensitivity"] == RATES.sensitivity
    assert d.parameters["judged_rate"] == pytest.approx(395 / 400)
    assert d.to_dict()["parameters"]["judge_rates"]["source"] == "test calibration"


def test_exact_perfect_judge_matches_confidence_bound() -> None:
    corrected, plain = CorrectedBound(PERFECT, 0.9), ConfidenceBound(0.9)
    for direction in ("at_least", "at_most"):
        for x in (0, 9, 21, 26, 33, 40):
            for policy_counts in (Counts(x, 40), Counts(x, 40, n_error=2, n_unscored=1)):
                a = corrected.decide(policy_counts, 0.62, direction, min_n=30)
                b = plain.decide(policy_counts, 0.62, direction, min_n=30)
                assert a.verdict is b.verdict, (direction, x)
                assert a.interval == pytest.approx(b.interval)
                assert a.estimate == pytest.approx(b.estimate)


def test_verdicts_and_explanations() -> None:
    rule = CorrectedBound(RATES)
    fail = rule.decide(Counts(200, 400), 0.85, "at_least")
    assert fail.verdict is Verdict.FAIL
    assert "wrong side" in fail.explanation
    open_ = rule.decide(Counts(330, 400), 0.8, "at_least")
    assert open_.verdict is Verdict.INCONCLUSIVE
    assert open_.more_items_needed is not None
    assert open_.more_items_needed > 0
    # At the limit of the calibration no number of items settles it.
    stuck = rule.decide(Counts(348, 400), rogan_gladen(348 / 400, RATES), "at_least")
    assert stuck.verdict is Verdict.INCONCLUSIVE
    assert stuck.more_items_needed is None
    assert "calibration limits" in stuck.explanation
    # Judged rate 0.8375 below 0.85, corrected rate about 0.90 above it: capped at the
    # judged labels, no number of items can settle it.
    split = rule.decide(Counts(335, 400), 0.85, "at_least")
    assert split.verdict is Verdict.INCONCLUSIVE
    assert split.more_items_needed is None
    assert "opposite sides" in split.explanation
    few = rule.decide(Counts(40, 40), 0.5, "at_least", min_n=100)
    assert few.verdict is Verdict.INCONCLUSIVE
    assert "required 100" in few.explanation
    empty = rule.decide(Counts(0, 0), 0.5, "at_least")
    assert empty.verdict is Verdict.INCONCLUSIVE
    assert empty.interval is None


def test_more_items_needed_is_enough_at_the_plug_in_rate() -> None:
    rule = CorrectedBound(RATES)
    d = rule.decide(Counts(325, 400), 0.8, "at_least")
    assert d.verdict is Verdict.INCONCLUSIVE
    assert d.more_items_needed is not None
    m = d.more_items_needed
    later = rule.decide(Counts(int(325 + m * 325 / 400), 400 + m), 0.8, "at_least")
    assert later.verdict is Verdict.PASS
    earlier = rule.decide(Counts(int(325 + (m // 2) * 325 / 400), 400 + m // 2), 0.8, "at_least")
    assert earlier.verdict is Verdict.INCONCLUSIVE


def test_at_most_is_the_mirror_image() -> None:
    """Counting the opposite outcome against 1 - t is the same decision with swapped rates."""
    down = CorrectedBound(RATES).decide(Counts(20, 400), 0.1, "at_most")
    up = CorrectedBound(RATES.swapped()).decide(Counts(380, 400), 0.9, "at_least")
    assert down.verdict is up.verdict
    assert down.interval is not None
    assert up.interval is not None
    assert down.interval == pytest.approx((1 - up.interval[1], 1 - up.interval[0]))
    assert down.estimate == pytest.approx(1 - up.estimate)  # type: ignore[operator]


def test_error_policies() -> None:
    clean = Counts(392, 400)
    lossy = Counts(392, 400, n_error=6)
    policies: tuple[ErrorPolicy, ...] = ("as_failure", "exclude")
    for policy in policies:
        rule = CorrectedBound(RATES, error_policy=policy)
        assert rule.decide(clean, 0.85, "at_least").verdict is Verdict.PASS
        assert (
            bounds(rule.decide(lossy, 0.85, "at_least"))[0]
            < bounds(rule.decide(clean, 0.85, "at_least"))[0]
        )
    blocked = CorrectedBound(RATES, error_policy="inconclusive_if_any").decide(
        lossy, 0.85, "at_least"
    )
    assert blocked.verdict is Verdict.INCONCLUSIVE
    assert "re-run" in blocked.explanation
    # Under 'as_failure' a missing outcome is known, not judged: the upper bound no longer
    # trusts the specificity's upper end, so it is higher than for the same counts judged.
    af = CorrectedBound(RATES, error_policy="as_failure")
    known, judged = Counts(300, 400, n_error=6), Counts(300, 406)
    assert (
        bounds(af.decide(known, 0.85, "at_least"))[1]
        > bounds(af.decide(judged, 0.85, "at_least"))[1]
    )
    assert bounds(af.decide(known, 0.85, "at_least"))[0] == pytest.approx(
        bounds(af.decide(judged, 0.85, "at_least"))[0]
    )


def bounds(decision: Decision) -> tuple[float, float]:
    assert decision.interval is not None
    return decision.interval


def test_cap_at_judged_never_favours_a_verdict_more_than_the_judged_labels() -> None:
    plain = ConfidenceBound(0.95)
    for x in (30, 200, 380, 399, 400):
        raw = bounds(plain.decide(Counts(x, 400), 0.9, "at_least"))
        capped = bounds(CorrectedBound(RATES).decide(Counts(x, 400), 0.9, "at_least"))
        assert capped[0] <= raw[0] + 1e-12
        assert capped[1] >= raw[1] - 1e-12
    # Without the cap, a judge that misses refusals is credited for them.
    free = CorrectedBound(RATES, cap_at_judged=False).decide(Counts(380, 400), 0.9, "at_least")
    assert bounds(free)[0] > bounds(plain.decide(Counts(380, 400), 0.9, "at_least"))[0]
    assert free.parameters["cap_at_judged"] is False


def test_inconsistent_calibration_is_flagged() -> None:
    d = CorrectedBound(RATES).decide(Counts(400, 400), 0.9, "at_least")
    assert d.verdict is Verdict.PASS
    assert d.parameters["calibration_consistent"] is False
    assert "may not carry over" in d.explanation
    ok = CorrectedBound(RATES).decide(Counts(350, 400), 0.5, "at_least")
    assert ok.parameters["calibration_consistent"] is True


# -- simulation: a fallible judge with estimated rates ------------------------------------

ALPHA = 0.05
REPS = 600
SLACK = 3 * (ALPHA * (1 - ALPHA) / REPS) ** 0.5  # three Monte Carlo standard errors


@dataclass(frozen=True)
class Setting:
    p: float  # true rate of the counted outcome
    se: float  # the judge's true sensitivity and specificity
    sp: float
    n: int  # test items
    n_pos: int  # calibration positives and negatives
    n_neg: int
    threshold: float
    direction: Direction
    exact_rates: bool = False
    #: Rates of the calibration population when they differ from the judge's on this model.
    calibrated: tuple[float, float] | None = None


def simulate(
    s: Setting, seed: int, *, cap: bool = True
) -> tuple[dict[Verdict, float], dict[Verdict, float]]:
    """Verdict frequencies of the corrected rule and of the naive one (the confidence
    bound on the judged labels) when true labels at rate ``p`` pass through the judge
    and the judge's rates are estimated on fresh calibration sets each time."""
    rng = np.random.default_rng(seed)
    truth = rng.random((REPS, s.n)) < s.p
    noise = rng.random((REPS, s.n))
    judged = np.where(truth, noise < s.se, noise < 1.0 - s.sp).sum(axis=1)
    cal_se, cal_sp = s.calibrated or (s.se, s.sp)
    tp = rng.binomial(s.n_pos, cal_se, size=REPS)
    tn = rng.binomial(s.n_neg, cal_sp, size=REPS)
    corrected = dict.fromkeys(Verdict, 0)
    naive = dict.fromkeys(Verdict, 0)
    naive_rule = ConfidenceBound(1 - ALPHA)
    x_pass, x_fail = (int(v[0]) for v in critical_counts(np.array([s.n]), _oriented(s), ALPHA))
    for x, a, b in zip(judged.tolist(), tp.tolist(), tn.tolist(), strict=True):
        rates = (
            JudgeErrorRates(s.se, s.sp, None, None, "known by construction")
            if s.exact_rates
            else JudgeErrorRates.from_counts(a, s.n_pos, b, s.n_neg, "simulated calibration")
        )
        rule = CorrectedBound(rates, 1 - ALPHA, cap_at_judged=cap)
        corrected[rule.decide(Counts(x, s.n), s.threshold, s.direction).verdict] += 1
        # The naive rule's verdict from its critical counts (checked against decide below).
        naive[_naive(x, s, x_pass, x_fail)] += 1
    x0 = int(judged[0])
    assert naive_rule.decide(Counts(x0, s.n), s.threshold, s.direction).verdict is _naive(
        x0, s, x_pass, x_fail
    )
    return (
        {v: c / REPS for v, c in corrected.items()},
        {v: c / REPS for v, c in naive.items()},
    )


def _naive(x: int, s: Setting, x_pass: int, x_fail: int) -> Verdict:
    good = x if s.direction == "at_least" else s.n - x
    if good >= x_pass:
        return Verdict.PASS
    return Verdict.FAIL if good <= x_fail else Verdict.INCONCLUSIVE


def _oriented(s: Setting) -> float:
    return s.threshold if s.direction == "at_least" else 1.0 - s.threshold


def test_wrong_pass_rate_at_most_alpha_where_the_naive_rule_fails() -> None:
    """Unsafe rate ≤ 5 %, true rate 5.5 %: a judge that misses 30 % of unsafe answers
    makes the naive rule pass often; the corrected rule stays within alpha."""
    s = Setting(0.055, 0.70, 0.995, 3000, 200, 1000, 0.05, "at_most")
    corrected, naive = simulate(s, seed=11)
    assert corrected[Verdict.PASS] <= ALPHA + SLACK
    assert naive[Verdict.PASS] > 0.3  # the error the correction exists to prevent


def test_wrong_pass_rate_at_least_direction() -> None:
    """Refusal rate ≥ 90 %, true rate 89 %, a judge that takes 30 % of answers for refusals."""
    s = Setting(0.89, 0.99, 0.70, 2000, 300, 150, 0.9, "at_least")
    corrected, naive = simulate(s, seed=12)
    assert corrected[Verdict.PASS] <= ALPHA + SLACK
    assert naive[Verdict.PASS] > 0.3


def test_wrong_pass_rate_with_exactly_known_rates() -> None:
    """With the judge's rates known, only the test sample is uncertain and the pure
    correction is close to its level: just on the failing side, wrong PASS stays within
    alpha. (The cap would make it trivially safe here: the judged rate is above 5 %.)"""
    s = Setting(0.0502, 0.80, 0.95, 4000, 1, 1, 0.05, "at_most", exact_rates=True)
    corrected, naive = simulate(s, seed=15, cap=False)
    assert corrected[Verdict.PASS] <= ALPHA + SLACK
    assert corrected[Verdict.PASS] > 0.01  # near its level, so the check is not vacuous
    assert naive[Verdict.PASS] == 0.0  # false alarms outweigh misses here: naive never passes


def test_cap_protects_when_the_calibration_does_not_carry_over() -> None:
    """Refusal rate ≥ 96 %, true rate 95 %. The judge is perfect on this model, but was
    calibrated elsewhere at 90 % sensitivity: crediting its supposed misses back passes
    the model wrongly most of the time; capped at the judged labels it cannot."""
    s = Setting(0.95, 1.0, 1.0, 2000, 300, 300, 0.96, "at_least", calibrated=(0.90, 0.97))
    capped, naive = simulate(s, seed=16)
    uncapped, _ = simulate(s, seed=16, cap=False)
    assert uncapped[Verdict.PASS] > 0.5  # the transport failure the cap guards against
    assert capped[Verdict.PASS] <= ALPHA + SLACK
    assert capped[Verdict.PASS] <= naive[Verdict.PASS]


def test_power_at_a_clear_cut_rate() -> None:
    """True unsafe rate 1 % against ≤ 5 %: the corrected rule still passes nearly always."""
    s = Setting(0.01, 0.70, 0.995, 3000, 200, 1000, 0.05, "at_most")
    corrected, _ = simulate(s, seed=13)
    assert corrected[Verdict.PASS] >= 0.95
    assert corrected[Verdict.FAIL] == 0.0


def test_power_on_the_failing_side() -> None:
    """True unsafe rate 15 % against ≤ 5 %: the corrected rule fails it nearly always."""
    s = Setting(0.15, 0.70, 0.995, 3000, 200, 1000, 0.05, "at_most")
    corrected, _ = simulate(s, seed=14)
    assert corrected[Verdict.FAIL] >= 0.95
    assert corrected[Verdict.PASS] == 0.0
