"""Order-statistic quantile bounds and the decisions made on them."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcert.stats import MeasuredLimit, QuantileBound, Verdict, quantile, quantile_bounds


def test_the_upper_bound_on_p99_needs_299_samples_at_95_percent() -> None:
    # P(X_(n) >= q_0.99) = 1 - 0.99**n reaches 0.95 only at n = 299.
    assert quantile_bounds([1.0] * 298, 0.99, 0.95)[1] is None
    assert quantile_bounds([1.0] * 299, 0.99, 0.95)[1] == 1.0


def test_the_median_bounds_are_the_textbook_order_statistics() -> None:
    xs = [float(i) for i in range(1, 21)]  # n = 20
    low, high = quantile_bounds(xs, 0.5, 0.95)
    # P(Bin(20, .5) <= 5) = 0.0207 <= .05 < P(Bin <= 6) = 0.0577 -> lower X_(6);
    # P(Bin <= 13) = 0.9423 < .95 <= P(Bin <= 14) = 0.9793 -> upper X_(15).
    assert (low, high) == (6.0, 15.0)


def test_bounds_cover_the_true_quantile_at_least_at_the_stated_level() -> None:
    rng = random.Random(7)
    true_q = -math.log(1 - 0.9)  # 0.9-quantile of Exp(1)
    upper_ok = lower_ok = 0
    runs = 1500
    for _ in range(runs):
        xs = [rng.expovariate(1.0) for _ in range(60)]
        low, high = quantile_bounds(xs, 0.9, 0.9)
        upper_ok += high is not None and high >= true_q
        lower_ok += low is not None and low <= true_q
    # Each one-sided bound covers with probability >= 0.9 (exact up to discreteness);
    # 0.87 leaves room for simulation error (sd about 0.008).
    assert upper_ok / runs >= 0.87
    assert lower_ok / runs >= 0.87


@settings(max_examples=60, deadline=None)
@given(
    samples=st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=400),
    failed=st.integers(0, 20),
    limit=st.floats(0, 1000, allow_nan=False),
    p=st.sampled_from([0.5, 0.9, 0.99]),
)
def test_the_verdict_is_exactly_the_order_statistic_bound_against_the_limit(
    samples: list[float], failed: int, limit: float, p: float
) -> None:
    decision = QuantileBound(confidence=0.95).decide(samples, p, limit, n_failed=failed)
    low, high = quantile_bounds([*samples, *[math.inf] * failed], p, 0.95)
    assert (decision.verdict is Verdict.PASS) == (high is not None and high <= limit)
    assert (decision.verdict is Verdict.FAIL) == (low is not None and low > limit)


def test_failed_requests_count_as_never_answering() -> None:
    fast = [10.0] * 400
    assert QuantileBound().decide(fast, 0.99, 100.0).verdict is Verdict.PASS
    slow = QuantileBound().decide(fast, 0.99, 100.0, n_failed=20)
    assert slow.verdict is Verdict.FAIL
    assert slow.counts.n_error == 20
    assert "20 failed" in slow.explanation


def test_the_estimate_and_bounds_are_reported_in_the_samples_unit() -> None:
    xs = [float(i) for i in range(1, 501)]
    d = QuantileBound().decide(xs, 0.9, 600.0, unit=" ms")
    assert d.parameters["quantile_estimate"] == quantile(xs, 0.9) == 450.0
    assert d.parameters["quantile_lower"] <= 450.0 <= d.parameters["quantile_upper"]
    assert d.verdict is Verdict.PASS


@pytest.mark.parametrize("provenance", ["estimated", "unavailable"])
def test_only_a_measured_figure_can_pass_or_fail(provenance: str) -> None:
    rule = MeasuredLimit()
    assert rule.decide(0.1, 1.0, provenance).verdict is Verdict.INCONCLUSIVE  # type: ignore[arg-type]
    assert rule.decide(0.1, 1.0, "measured").verdict is Verdict.PASS
    assert rule.decide(3.0, 1.0, "measured").verdict is Verdict.FAIL
    assert rule.decide(None, 1.0, "measured").verdict is Verdict.INCONCLUSIVE
