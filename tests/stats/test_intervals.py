"""Intervals: agreement with scipy, edge cases, monotonicity and coverage."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom, binomtest

from llmcert.stats import (
    clopper_pearson_interval,
    cluster_bootstrap_interval,
    wilson_interval,
)

Interval = Callable[..., tuple[float, float]]

CASES = [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (1, 20), (50, 100), (99, 100), (0, 250)]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(k: int, n: int, confidence: float) -> None:
    ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = wilson_interval(k, n, confidence)
    assert low == pytest.approx(ref.low, abs=1e-12)
    assert high == pytest.approx(ref.high, abs=1e-12)


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_clopper_pearson_matches_scipy(k: int, n: int, confidence: float) -> None:
    ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    low, high = clopper_pearson_interval(k, n, confidence)
    assert low == pytest.approx(ref.low, abs=1e-9)
    assert high == pytest.approx(ref.high, abs=1e-9)


@pytest.mark.parametrize("interval", [wilson_interval, clopper_pearson_interval])
def test_bounds_are_exact_at_zero_and_n(interval: Interval) -> None:
    low0, high0 = interval(0, 37)
    lown, highn = interval(37, 37)
    assert low0 == 0.0
    assert 0.0 < high0 < 1.0
    assert highn == 1.0
    assert 0.0 < lown < 1.0


def test_clopper_pearson_single_trial_known_values() -> None:
    # One success in one trial: lower bound solves p = alpha/2.
    assert clopper_pearson_interval(1, 1) == pytest.approx((0.025, 1.0))
    assert clopper_pearson_interval(0, 1) == pytest.approx((0.0, 0.975))


@pytest.mark.parametrize("interval", [wilson_interval, clopper_pearson_interval])
def test_rejects_bad_arguments(interval: Interval) -> None:
    with pytest.raises(ValueError, match="at least one"):
        interval(0, 0)
    with pytest.raises(ValueError, match="between 0 and n"):
        interval(11, 10)
    with pytest.raises(ValueError, match="between 0 and n"):
        interval(-1, 10)
    with pytest.raises(ValueError, match="confidence"):
        interval(3, 10, 1.0)


@pytest.mark.parametrize("interval", [wilson_interval, clopper_pearson_interval])
def test_monotone_in_successes_and_confidence(interval: Interval) -> None:
    n = 40
    bounds = [interval(k, n) for k in range(n + 1)]
    lows = [b[0] for b in bounds]
    highs = [b[1] for b in bounds]
    assert all(a < b for a, b in itertools.pairwise(lows))
    assert all(a < b for a, b in itertools.pairwise(highs))
    for k in (0, 7, 20, 40):
        w90 = interval(k, n, 0.90)
        w99 = interval(k, n, 0.99)
        assert w99[0] <= w90[0]
        assert w99[1] >= w90[1]
        assert (w99[1] - w99[0]) > (w90[1] - w90[0])


@pytest.mark.parametrize("interval", [wilson_interval, clopper_pearson_interval])
def test_narrows_with_more_data(interval: Interval) -> None:
    widths = [interval(n // 4, n)[1] - interval(n // 4, n)[0] for n in (20, 80, 320, 1280)]
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] < widths[0] / 4


@given(n=st.integers(1, 5000), data=st.data())
def test_intervals_contain_the_point_estimate(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    for interval in (wilson_interval, clopper_pearson_interval):
        low, high = interval(k, n)
        assert 0.0 <= low <= k / n <= high <= 1.0


def test_coverage_simulation_at_p_0_9() -> None:
    rng = np.random.default_rng(20261101)
    p, n, sims = 0.9, 100, 2000
    draws = rng.binomial(n, p, size=sims)
    cache = {
        int(k): (wilson_interval(int(k), n), clopper_pearson_interval(int(k), n))
        for k in set(draws)
    }
    wilson_hits = sum(cache[int(k)][0][0] <= p <= cache[int(k)][0][1] for k in draws)
    cp_hits = sum(cache[int(k)][1][0] <= p <= cache[int(k)][1][1] for k in draws)
    assert abs(wilson_hits / sims - 0.95) < 0.025
    assert cp_hits / sims >= 0.95


@pytest.mark.parametrize("p", [0.02, 0.1, 0.37, 0.5, 0.8, 0.95, 0.99])
def test_exact_coverage_over_rates(p: float) -> None:
    """Coverage computed exactly from the binomial pmf, no sampling noise."""
    n = 30
    pmf = binom.pmf(np.arange(n + 1), n, p)

    def coverage(interval: Interval) -> float:
        return float(
            sum(pmf[k] for k in range(n + 1) if interval(k, n)[0] <= p <= interval(k, n)[1])
        )

    assert coverage(clopper_pearson_interval) >= 0.95
    assert coverage(wilson_interval) > 0.90


def _clusters(
    rng: np.random.Generator, items: int, repeats: int, correlated: bool
) -> list[list[float]]:
    if correlated:
        per_item = rng.random(items) < 0.7
        return [[float(v)] * repeats for v in per_item]
    return [list((rng.random(repeats) < 0.7).astype(float)) for _ in range(items)]


def test_bootstrap_is_deterministic_given_seed() -> None:
    data = _clusters(np.random.default_rng(1), 300, 5, correlated=False)
    a = cluster_bootstrap_interval(data, seed=7)
    assert a == cluster_bootstrap_interval(data, seed=7)
    assert a != cluster_bootstrap_interval(data, seed=8)
    flat = [v for c in data for v in c]
    assert a[0] < sum(flat) / len(flat) < a[1]


def test_bootstrap_widens_with_within_item_correlation() -> None:
    rng = np.random.default_rng(2)
    independent = cluster_bootstrap_interval(_clusters(rng, 400, 5, correlated=False))
    correlated = cluster_bootstrap_interval(_clusters(rng, 400, 5, correlated=True))
    w_ind = independent[1] - independent[0]
    w_cor = correlated[1] - correlated[0]
    # Identical repeats are worth one observation each: about sqrt(5) times wider.
    assert w_cor > 1.6 * w_ind


def test_bootstrap_of_single_values_agrees_with_wilson() -> None:
    rng = np.random.default_rng(3)
    values = (rng.random(1000) < 0.4).astype(float)
    low, high = cluster_bootstrap_interval([[v] for v in values])
    wl, wh = wilson_interval(int(values.sum()), len(values))
    assert (high - low) == pytest.approx(wh - wl, rel=0.15)
    assert low == pytest.approx(wl, abs=0.01)


def test_bootstrap_handles_uneven_and_empty_clusters() -> None:
    data: list[list[float]] = [[1.0, 1.0, 0.0], [], [0.25], [0.5, 0.75]] * 20
    low, high = cluster_bootstrap_interval(data, n_boot=500)
    pooled = (2.0 + 0.25 + 1.25) / 6
    assert low < pooled < high
    assert low >= 0.0
    assert high <= 1.0


def test_bootstrap_scales_to_large_runs() -> None:
    data = _clusters(np.random.default_rng(4), 2000, 5, correlated=False)
    low, high = cluster_bootstrap_interval(data, n_boot=2000)
    assert 0.67 < low < 0.7 < high < 0.73


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        cluster_bootstrap_interval([[], []])
    with pytest.raises(ValueError, match="finite"):
        cluster_bootstrap_interval([[1.0], [float("nan")]])
    with pytest.raises(ValueError, match="n_boot"):
        cluster_bootstrap_interval([[1.0]], n_boot=0)
    with pytest.raises(ValueError, match="confidence"):
        cluster_bootstrap_interval([[1.0]], confidence=0.0)
