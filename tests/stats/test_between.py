"""A judge's rate on a new source: the between-source model's prediction bounds cover it
at about their level, reduce to the pooled interval when sources agree, and the
judge-corrected interval carries them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from llmcert.stats import (
    JudgeErrorRates,
    between_source_summary,
    clopper_pearson_interval,
    corrected_interval,
    new_source_bounds,
)


def _draw(rng: np.random.Generator, k: int, tau: float) -> tuple[list[tuple[int, int]], float]:
    """k sources' counts and the true rate of one more source, all from one population."""
    logits = np.log(0.9 / 0.1) + tau * rng.standard_normal(k + 1)
    rates = 1.0 / (1.0 + np.exp(-logits))
    n = rng.integers(60, 300, k)
    correct = rng.binomial(n, rates[:k])
    return [(int(c), int(m)) for c, m in zip(correct, n, strict=True)], float(rates[k])


def _dersimonian_laird(sources: list[tuple[int, int]], alpha: float) -> tuple[float, float]:
    """The usual DL prediction interval with a normal quantile, for comparison."""
    k = np.array([s[0] for s in sources], float)
    n = np.array([s[1] for s in sources], float)
    y = np.log((k + 0.5) / (n - k + 0.5))
    v = 1 / (k + 0.5) + 1 / (n - k + 0.5)
    w = 1 / v
    mean = (w * y).sum() / w.sum()
    q = (w * (y - mean) ** 2).sum()
    tau2 = max(0.0, (q - (len(y) - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    ws = 1 / (v + tau2)
    mu = (ws * y).sum() / ws.sum()
    half = sps.norm.ppf(1 - alpha) * np.sqrt(tau2 + 1 / ws.sum())
    return float(1 / (1 + np.exp(-(mu - half)))), float(1 / (1 + np.exp(-(mu + half))))


@pytest.mark.parametrize("tau", [0.4, 0.9])
def test_the_prediction_interval_covers_a_new_source_at_about_its_level(tau: float) -> None:
    rng = np.random.default_rng(12)
    reps, alpha = 300, 0.05  # a 90% interval
    ours = dl = 0
    for _ in range(reps):
        sources, new_rate = _draw(rng, 4, tau)
        low, high = new_source_bounds(sources, alpha)
        ours += low <= new_rate <= high
        d_low, d_high = _dersimonian_laird(sources, alpha)
        dl += d_low <= new_rate <= d_high
    # Nominal 0.90; 300 replications have a standard error of about 0.017.
    assert ours / reps >= 0.85
    # DerSimonian–Laird with a normal quantile falls short on four sources.
    assert dl / reps < ours / reps


def test_agreeing_sources_give_the_pooled_interval() -> None:
    sources = [(90, 100)] * 40
    low, high = new_source_bounds(sources, 0.025)
    pooled = clopper_pearson_interval(3600, 4000, 0.95)
    assert low == pytest.approx(pooled[0], abs=0.01)
    assert high == pytest.approx(pooled[1], abs=0.01)
    # With few sources the interval is never narrower than the pooled one.
    few = new_source_bounds([(90, 100)] * 3, 0.025)
    few_pooled = clopper_pearson_interval(270, 300, 0.95)
    assert few[0] <= few_pooled[0]
    assert few[1] >= few_pooled[1]


def test_disagreeing_sources_widen_the_interval() -> None:
    agree = new_source_bounds([(180, 200), (181, 200), (179, 200)], 0.025)
    disagree = new_source_bounds([(120, 200), (190, 200), (179, 200)], 0.025)
    assert disagree[0] < agree[0] - 0.1
    summary = between_source_summary([(120, 200), (190, 200), (179, 200)])
    assert (
        summary["tau_logit_median"] > between_source_summary([(180, 200)] * 3)["tau_logit_median"]
    )
    assert summary["prediction_95_low"] < summary["rate"] < summary["prediction_95_high"]


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="at least two sources"):
        new_source_bounds([(9, 10), (0, 0)], 0.05)
    with pytest.raises(ValueError, match="correct ≤ n"):
        new_source_bounds([(11, 10), (5, 10)], 0.05)
    with pytest.raises(ValueError, match="alpha"):
        new_source_bounds([(9, 10), (8, 10)], 0.7)


def test_a_floor_on_the_spread_widens_agreeing_sources_and_is_checked() -> None:
    agree = [(180, 200), (181, 200), (179, 200)]
    assert new_source_bounds(agree, 0.025, 0.0) == new_source_bounds(agree, 0.025)
    floored = new_source_bounds(agree, 0.025, 1.0)
    plain = new_source_bounds(agree, 0.025)
    assert floored[0] < plain[0] - 0.1
    assert floored[1] > plain[1]
    assert between_source_summary(agree, 1.0)["tau_logit_median"] >= 1.0
    with pytest.raises(ValueError, match="tau_floor"):
        new_source_bounds(agree, 0.025, -0.5)
    rates = JudgeErrorRates(
        0.9, 0.95, 600, 600, "three sources", tuple(agree), ((570, 600),) * 3, tau_floor=1.0
    )
    assert rates.swapped().tau_floor == 1.0
    unfloored = JudgeErrorRates(0.9, 0.95, 600, 600, "three", tuple(agree), ((570, 600),) * 3)
    wide, narrow = corrected_interval(150, 200, rates), corrected_interval(150, 200, unfloored)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]


def test_the_corrected_interval_carries_the_between_source_bounds() -> None:
    pooled = JudgeErrorRates.from_counts(370, 400, 380, 400, "pooled")
    alike = JudgeErrorRates(
        pooled.sensitivity,
        pooled.specificity,
        400,
        400,
        "four sources that agree",
        sensitivity_sources=((92, 100), (93, 100), (92, 100), (93, 100)),
        specificity_sources=((95, 100),) * 4,
    )
    unlike = JudgeErrorRates(
        pooled.sensitivity,
        pooled.specificity,
        400,
        400,
        "four sources that do not",
        sensitivity_sources=((99, 100), (99, 100), (99, 100), (73, 100)),
        specificity_sources=((95, 100),) * 4,
    )
    base = corrected_interval(100, 200, pooled)
    same = corrected_interval(100, 200, alike)
    wide = corrected_interval(100, 200, unlike)
    # Few agreeing sources cost a little width; disagreement costs much more.
    assert same[0] <= base[0]
    assert same[1] >= base[1]
    assert wide[1] - wide[0] > same[1] - same[0] + 0.05
    assert unlike.between_sources
    assert not pooled.between_sources
    flipped = unlike.swapped()
    assert flipped.sensitivity_sources == unlike.specificity_sources
    assert flipped.specificity_sources == unlike.sensitivity_sources


def test_rates_read_back_from_json_unchanged() -> None:
    import json

    rates = JudgeErrorRates(
        0.9, 0.95, 100, 100, "two sources", ((45, 50), (45, 50)), ((47, 50), (48, 50))
    )
    data = rates.to_dict()
    assert json.loads(json.dumps(data)) == data
