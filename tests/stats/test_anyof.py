"""Judge error on "any of k" rates: coverage where each bound is tight, and the rule."""

from __future__ import annotations

import random

import pytest

from llmcert.stats import (
    AnyOfBound,
    Counts,
    JudgeErrorRates,
    Verdict,
    any_of_interval,
    clopper_pearson_interval,
)

SIMS = 2000


def exact(se: float, sp: float) -> JudgeErrorRates:
    return JudgeErrorRates(se, sp, None, None, "known")


def misses(rng: random.Random, p: float, m: int, se: float) -> int:
    """Judged breaches when a breach's prompts are missed all together (no false alarm)."""
    return sum(1 for _ in range(m) if rng.random() < p and rng.random() < se)


def test_upper_end_covers_when_missed_breaches_are_the_error() -> None:
    # sp = 1, and all of a breached behaviour's prompts are missed at once with
    # probability 1 - se: q = se·p exactly, so the upper end p ≤ q / se is tight.
    rng = random.Random(1)
    p, m, k, se = 0.3, 150, 5, 0.7
    rates = exact(se, 1.0)
    ours = naive = 0
    for _ in range(SIMS):
        hits = misses(rng, p, m, se)
        ours += any_of_interval(hits, hits, m, rates, k)[1] < p
        naive += clopper_pearson_interval(hits, m, 0.95)[1] < p
    assert ours / SIMS <= 0.035  # one side of a 95% interval: 2.5% by design
    assert naive / SIMS > 0.5  # the judged labels alone under-state the breach rate


def test_lower_end_needs_the_union_bound_not_independence() -> None:
    # se = 1; a clean behaviour's false alarms are disjoint (at most one prompt each),
    # so P(some false alarm) = k(1 - sp) exactly while each prompt's rate is 1 - sp.
    # The independence formula 1 - sp^k is smaller and its lower end then misses.
    rng = random.Random(2)
    p, m, k, sp = 0.2, 400, 4, 0.95
    alarm = k * (1 - sp)
    rates = exact(1.0, sp)
    ours = independent = 0
    for _ in range(SIMS):
        hits = sum(1 for _ in range(m) if rng.random() < p or rng.random() < alarm)
        ours += any_of_interval(hits, hits, m, rates, k)[0] > p
        q_lo = clopper_pearson_interval(hits, m, 0.95)[0]
        f = 1 - sp**k
        independent += (q_lo - f) / (1 - f) > p
    assert ours / SIMS <= 0.035
    assert independent / SIMS > 0.045


def test_it_widens_the_judged_interval_and_more_answers_widen_it_further() -> None:
    rates = JudgeErrorRates.from_counts(90, 100, 195, 200, "human labels")
    judged = clopper_pearson_interval(20, 200, 0.95)
    one = any_of_interval(20, 20, 200, rates, 1)
    many = any_of_interval(20, 20, 200, rates, 20)
    assert one[0] <= judged[0]
    assert one[1] > judged[1]
    assert many[0] <= one[0]
    assert many[1] == pytest.approx(one[1])
    assert many[0] == 0.0  # 20 answers × 5% false alarms: a judged breach may be a false one
    perfect = any_of_interval(20, 25, 200, exact(1.0, 1.0), 20)
    assert perfect[0] == pytest.approx(clopper_pearson_interval(20, 200, 0.95)[0])
    assert perfect[1] == pytest.approx(clopper_pearson_interval(25, 200, 0.95)[1])


def test_bad_inputs_are_refused() -> None:
    rates = exact(0.9, 0.9)
    with pytest.raises(ValueError, match="items per unit"):
        any_of_interval(1, 1, 10, rates, 0)
    with pytest.raises(ValueError, match="low ≤ high"):
        any_of_interval(3, 2, 10, rates, 2)
    with pytest.raises(ValueError, match="items per unit"):
        AnyOfBound(rates, 0)


def test_the_rule_passes_on_the_upper_bound_and_the_correction_holds_verdicts_back() -> None:
    good = JudgeErrorRates.from_counts(199, 200, 199, 200, "human labels")
    weak = JudgeErrorRates.from_counts(60, 100, 199, 200, "human labels")
    counts = Counts(successes=2, n_scored=400)  # 2 of 400 behaviours broken
    assert AnyOfBound(good, 10).decide(counts, 0.05, "at_most").verdict is Verdict.PASS
    held = AnyOfBound(weak, 10).decide(counts, 0.02, "at_most")
    judged = AnyOfBound(exact(1.0, 1.0), 10).decide(counts, 0.02, "at_most")
    assert judged.verdict is Verdict.PASS  # on the judged labels alone
    assert held.verdict is Verdict.INCONCLUSIVE  # a judge that misses 40% cannot pass it
    assert held.interval is not None
    assert held.interval[1] > 0.02
    broken = Counts(successes=200, n_scored=400)
    assert AnyOfBound(good, 2).decide(broken, 0.10, "at_most").verdict is Verdict.FAIL
    # 40 answers a behaviour at ≤ 2.5% false alarms each: a judged breach proves nothing
    many = AnyOfBound(good, 40).decide(broken, 0.10, "at_most")
    assert many.verdict is Verdict.INCONCLUSIVE
    assert many.parameters["items_per_unit"] == 40


def test_missing_units_count_as_breaches_under_as_failure() -> None:
    rates = JudgeErrorRates.from_counts(199, 200, 199, 200, "human labels")
    clean = AnyOfBound(rates, 5).decide(Counts(0, 300), 0.05, "at_most")
    missing = AnyOfBound(rates, 5).decide(Counts(0, 280, 0, 20), 0.05, "at_most")
    assert clean.verdict is Verdict.PASS
    assert missing.verdict is not Verdict.PASS
    assert clean.interval is not None
    assert missing.interval is not None
    assert missing.interval[1] > clean.interval[1] + 20 / 300
