"""pass@k and item-level intervals: the estimator, the edges, and the rule on an Estimate."""

from __future__ import annotations

import itertools
import math

import pytest

from llmcert.stats import (
    Counts,
    EstimateBound,
    Verdict,
    item_mean_estimate,
    pass_at_k,
    pass_at_k_estimate,
)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 1, 6), (10, 3, 4), (4, 4, 2)]
)
def test_pass_at_k_equals_the_share_of_k_subsets_with_a_pass(n: int, c: int, k: int) -> None:
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    expected = sum(any(s) for s in subsets) / len(subsets)
    assert math.isclose(pass_at_k(n, c, k), expected)


def test_pass_at_k_needs_k_samples() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        pass_at_k(2, 1, 3)


@pytest.mark.parametrize("value", [False, True])
def test_interval_at_0_and_100_percent_is_not_a_point(value: bool) -> None:
    est = pass_at_k_estimate({str(i): [value] * 5 for i in range(40)}, 1, level=0.9)
    assert est.estimate == float(value)
    assert est.interval is not None
    low, high = est.interval
    assert high - low > 0.03
    assert (low == 0.0) if not value else (high == 1.0)


def test_interval_counts_problems_not_samples() -> None:
    few = pass_at_k_estimate({str(i): [i % 2 == 0] for i in range(30)}, 1, level=0.9)
    many = pass_at_k_estimate({str(i): [i % 2 == 0] * 20 for i in range(30)}, 1, level=0.9)
    assert few.n_items == many.n_items == 30
    assert few.interval == many.interval
    assert many.counts.n_scored == 600


def test_fractional_values_use_a_bootstrap_no_narrower_than_the_binomial() -> None:
    values = {str(i): (i % 5) / 4 for i in range(50)}
    est = item_mean_estimate("m", values, Counts(0, 0), level=0.9)
    assert est.interval is not None
    assert "bootstrap" in est.method
    assert est.interval[0] < est.estimate < est.interval[1]


def test_estimate_bound_passes_fails_and_waits() -> None:
    rule = EstimateBound(confidence=0.95)
    good = pass_at_k_estimate({str(i): [True] * 3 for i in range(120)}, 1, level=rule.level)
    bad = pass_at_k_estimate({str(i): [False] * 3 for i in range(120)}, 1, level=rule.level)
    few = pass_at_k_estimate({str(i): [True] for i in range(8)}, 1, level=rule.level)
    assert rule.decide(good, 0.5, "at_least", min_n=100).verdict is Verdict.PASS
    assert rule.decide(bad, 0.5, "at_least", min_n=100).verdict is Verdict.FAIL
    assert rule.decide(few, 0.5, "at_least", min_n=100).verdict is Verdict.INCONCLUSIVE
    assert rule.decide(bad, 0.1, "at_most", min_n=100).verdict is Verdict.PASS
    info = EstimateBound(confidence=0.95, informational=True).decide(bad, 0.5, "at_least")
    assert info.verdict is Verdict.INFO
    assert info.indicative is Verdict.FAIL


def test_estimate_bound_refuses_an_estimate_at_another_level() -> None:
    est = pass_at_k_estimate({"a": [True]}, 1, level=0.95)
    with pytest.raises(ValueError, match="level"):
        EstimateBound(confidence=0.95).decide(est, 0.5, "at_least")
