"""Sample-size planning against brute force, and the ``plan`` command."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from scipy.stats import binom
from typer.testing import CliRunner

from llmcert.cli._plan import plan_command
from llmcert.stats import (
    ConfidenceBound,
    Counts,
    Direction,
    Verdict,
    clopper_pearson_interval,
    items_needed,
    sequential_items_needed,
    sequential_outlook,
    verdict_probabilities,
)


def brute_probabilities(
    n: int, rate: float, threshold: float, direction: Direction, confidence: float
) -> dict[Verdict, float]:
    """Sum the binomial probability of every count times the rule's own verdict."""
    rule = ConfidenceBound(confidence=confidence)
    out = dict.fromkeys((Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE), 0.0)
    for x in range(n + 1):
        verdict = rule.decide(Counts(x, n), threshold, direction).verdict
        out[verdict] += float(binom.pmf(x, n, rate))
    return out


@pytest.mark.parametrize(("threshold", "direction"), [(0.8, "at_least"), (0.3, "at_most")])
def test_verdict_probabilities_match_brute_force(threshold: float, direction: Direction) -> None:
    for n in (5, 17, 40):
        for rate in (threshold - 0.15, threshold, threshold + 0.1):
            exact = verdict_probabilities(threshold, direction, n=n, rate=rate)
            brute = brute_probabilities(n, rate, threshold, direction, 0.95)
            for v in brute:
                assert exact[v] == pytest.approx(brute[v], abs=1e-9)


def test_items_needed_matches_brute_force_power() -> None:
    threshold, margin, power = 0.7, 0.15, 0.8
    n = items_needed(threshold, "at_least", margin=margin, power=power)
    ok = []
    for size in range(1, 3 * n):
        # Straight from the Clopper–Pearson bounds, one-sided at 95%.
        bounds = [clopper_pearson_interval(x, size, 0.90) for x in range(size + 1)]
        passes = np.array([low >= threshold for low, _ in bounds])
        fails = np.array([high < threshold for _, high in bounds])
        pmf_good = binom.pmf(np.arange(size + 1), size, threshold + margin)
        pmf_bad = binom.pmf(np.arange(size + 1), size, threshold - margin)
        ok.append(pmf_good[passes].sum() >= power and pmf_bad[fails].sum() >= power)
    # n is the first size from which every larger size has the power.
    assert all(ok[n - 1 :])
    assert not ok[n - 2]


def test_items_needed_is_close_to_the_normal_approximation() -> None:
    n = items_needed(0.95, "at_least", margin=0.02, confidence=0.95, power=0.8)
    # (z_alpha + z_beta)^2 p(1-p) / m^2 at the harder (failing) side.
    approx = (1.645 + 0.842) ** 2 * 0.93 * 0.07 / 0.02**2
    assert 0.8 * approx < n < 1.3 * approx
    assert items_needed(0.05, "at_most", margin=0.02) == n
    assert items_needed(0.95, "at_least", margin=0.02, min_n=5000) == 5000
    assert (
        items_needed(0.95, "at_least", margin=0.04)
        < n
        < items_needed(0.95, "at_least", margin=0.02, power=0.9)
    )


def test_assumed_rate_plans_for_one_side() -> None:
    clear = items_needed(0.95, "at_least", assumed_rate=0.99)
    probs = verdict_probabilities(0.95, "at_least", n=clear, rate=0.99)
    assert probs[Verdict.PASS] >= 0.8
    assert items_needed(0.95, "at_least", assumed_rate=0.97) > clear
    with pytest.raises(ValueError, match="equals the threshold"):
        items_needed(0.95, "at_least", assumed_rate=0.95)
    with pytest.raises(ValueError, match="exactly one"):
        items_needed(0.95, "at_least")
    with pytest.raises(ValueError, match="leaves"):
        items_needed(0.99, "at_least", margin=0.02)


def test_sequential_plan_reaches_the_power_it_promises() -> None:
    bank = sequential_items_needed(0.9, "at_least", margin=0.05, runs=1000, seed=0)
    fixed = items_needed(0.9, "at_least", margin=0.05)
    assert fixed < bank < 4 * fixed  # anytime validity costs some worst-case items
    good = sequential_outlook(0.9, "at_least", rate=0.95, max_items=bank, runs=2000, seed=9)
    bad = sequential_outlook(0.9, "at_least", rate=0.85, max_items=bank, runs=2000, seed=10)
    assert good.p_pass >= 0.75
    assert bad.p_fail >= 0.75
    assert good.items_mean < fixed
    assert bad.items_mean < fixed


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("plan")(plan_command)
    app.command("other")(lambda: None)  # keeps "plan" a subcommand
    return app


def test_plan_command_prints_the_size_and_expected_verdicts() -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "plan",
            "--threshold",
            "0.95",
            "--direction",
            "at_least",
            "--margin",
            "0.02",
            "--confidence",
            "0.95",
        ],
    )
    assert result.exit_code == 0, result.output
    n = items_needed(0.95, "at_least", margin=0.02)
    assert f"items needed (confidence-bound rule, exact binomial): {n}" in result.output
    assert "0.97" in result.output
    assert "0.93" in result.output
    p = verdict_probabilities(0.95, "at_least", n=n, rate=0.93)[Verdict.FAIL]
    assert f"{p:.3f}" in result.output


def test_plan_command_sequential_and_bad_input() -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "plan",
            "-t",
            "0.05",
            "-d",
            "at_most",
            "-m",
            "0.03",
            "--rule",
            "sequential",
            "--runs",
            "500",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bank size needed (sequential rule" in result.output
    assert "items drawn" in result.output
    bad = CliRunner().invoke(_app(), ["plan", "-t", "0.99", "-m", "0.02"])
    assert bad.exit_code == 2
    assert "leaves [0, 1]" in bad.output


def test_planning_is_pure() -> None:
    assert items_needed(0.9, "at_most", margin=0.03) == items_needed(0.9, "at_most", margin=0.03)
    a = sequential_outlook(0.95, "at_least", rate=0.97, max_items=200, runs=300, seed=4)
    b = sequential_outlook(0.95, "at_least", rate=0.97, max_items=200, runs=300, seed=4)
    assert a == b
    assert np.isfinite(a.items_mean)
