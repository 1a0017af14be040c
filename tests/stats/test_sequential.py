"""The anytime-valid sequential rule: error rates, early stopping, item-by-item use."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from llmcert.stats import (
    ConfidenceBound,
    Counts,
    Direction,
    Sequential,
    Verdict,
    sequential_outlook,
)
from llmcert.stats._mixture import log_evidence, simulate_runs, stopping_boundaries

ALPHA = 0.05
RUNS = 4000


@pytest.mark.parametrize("threshold", [0.05, 0.9, 0.95])
@pytest.mark.parametrize("direction", ["at_least", "at_most"])
def test_wrong_verdicts_stay_below_alpha_at_the_threshold(
    threshold: float, direction: Direction
) -> None:
    out = sequential_outlook(
        threshold, direction, rate=threshold, max_items=1000, runs=RUNS, seed=7
    )
    tol = 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)
    assert out.p_pass <= ALPHA + tol
    assert out.p_fail <= ALPHA + tol


@pytest.mark.parametrize(("threshold", "direction"), [(0.95, "at_least"), (0.05, "at_most")])
def test_power_and_early_stopping_on_clear_cut_models(
    threshold: float, direction: Direction
) -> None:
    good = 1 if direction == "at_least" else -1
    safe = sequential_outlook(
        threshold, direction, rate=threshold + good * 0.04, max_items=500, runs=RUNS, seed=1
    )
    unsafe = sequential_outlook(
        threshold, direction, rate=threshold - good * 0.05, max_items=500, runs=RUNS, seed=2
    )
    print(
        f"sequential: safe PASS {safe.p_pass:.3f} median {safe.items_median}; "
        f"unsafe FAIL {unsafe.p_fail:.3f} median {unsafe.items_median}"
    )
    assert safe.p_pass >= 0.95
    assert safe.p_fail <= 0.01
    assert unsafe.p_fail >= 0.8
    assert unsafe.p_pass <= 0.01
    assert safe.items_median <= 200  # against 500 for the whole bank
    assert unsafe.items_median <= 250


def test_stopping_boundaries_match_the_evidence() -> None:
    b_pass, b_fail = stopping_boundaries(300, 0.95, ALPHA, min_n=20)
    level = math.log(1 / ALPHA)
    for n in (1, 19, 20, 60, 137, 300):
        counts = np.arange(n + 1)
        lp = log_evidence(counts, n, 0.95, "pass")
        lf = log_evidence(counts, n, 0.95, "fail")
        passing = np.flatnonzero(lp >= level)
        failing = np.flatnonzero(lf >= level)
        want_pass = passing[0] if passing.size and n >= 20 else n + 1
        want_fail = failing[-1] if failing.size else -1
        assert b_pass[n - 1] == want_pass
        assert b_fail[n - 1] == want_fail
        # Monotone in the count (−inf where a tail underflows), so the boundary
        # splits the counts cleanly.
        for values, sign in ((lp, 1), (lf, -1)):
            finite = np.isfinite(values)
            assert np.all(sign * np.diff(values[finite]) > 0)
            assert np.all(np.diff(finite.astype(int)) * sign >= 0)


def test_item_by_item_matches_the_simulation() -> None:
    rng = np.random.default_rng(3)
    rule = Sequential()
    b_pass, b_fail = stopping_boundaries(400, 0.9, ALPHA)
    for _ in range(20):
        outcomes = rng.random(400) < rng.choice([0.8, 0.9, 0.97])
        test = rule.start(0.9, "at_least", max_items=400)
        for x in outcomes:
            if test.update(bool(x)) is not None:
                break
        n = test.counts.n_scored
        path = np.cumsum(outcomes)
        crossed = np.flatnonzero((path >= b_pass) | (path <= b_fail))
        expected_n = int(crossed[0]) + 1 if crossed.size else 400
        assert n == expected_n
        assert test.verdict is not None
        if crossed.size:
            assert test.verdict is (Verdict.PASS if path[n - 1] >= b_pass[n - 1] else Verdict.FAIL)
        else:
            assert test.verdict is Verdict.INCONCLUSIVE


def test_run_stops_as_soon_as_settled_and_reports_an_anytime_interval() -> None:
    rng = np.random.default_rng(11)
    drawn = 0

    def bank() -> Iterator[bool]:
        nonlocal drawn
        for x in rng.random(500) < 0.99:
            drawn += 1
            yield bool(x)

    decision = Sequential().run(bank(), 0.95, "at_least", max_items=500)
    assert decision.verdict is Verdict.PASS
    assert drawn == decision.n_used < 500
    assert decision.interval is not None
    assert decision.interval[0] >= 0.95 - 1e-6
    assert decision.estimate is not None
    assert decision.interval[0] <= decision.estimate <= decision.interval[1]
    assert decision.parameters["e_value_pass"] >= 1 / ALPHA
    assert decision.more_items_needed is None


def test_a_settled_run_refuses_more_items() -> None:
    test = Sequential().start(0.5, "at_least")
    while test.update(True) is None:
        pass
    assert test.verdict is Verdict.PASS
    with pytest.raises(RuntimeError, match="settled"):
        test.update(True)


def test_cap_gives_inconclusive_with_a_plug_in_estimate() -> None:
    rule = Sequential()
    outcomes = ([True] * 24 + [False]) * 4  # 0.96 against 0.95: far from settled at 100
    decision = rule.run(outcomes, 0.95, "at_least", max_items=100)
    assert decision.verdict is Verdict.INCONCLUSIVE
    assert decision.more_items_needed is not None
    assert decision.more_items_needed > 100
    assert "Undecided after 100 items" in decision.explanation


def test_min_n_holds_pass_back_but_not_fail() -> None:
    rule = Sequential()
    passing = rule.run([True] * 400, 0.9, "at_least", min_n=300)
    assert passing.verdict is Verdict.PASS
    assert passing.n_used == 300
    failing = rule.run([False] * 400, 0.9, "at_least", min_n=300)
    assert failing.verdict is Verdict.FAIL
    assert failing.n_used < 10


def test_error_policies_in_a_sequential_run() -> None:
    outcomes: list[bool | None] = [True] * 30 + [None] + [True] * 400
    strict = Sequential(error_policy="inconclusive_if_any").run(outcomes, 0.9, "at_least")
    assert strict.verdict is Verdict.INCONCLUSIVE
    assert strict.counts.n_error == 1
    assert strict.n_used == 30
    counted = Sequential(error_policy="as_failure").run(outcomes, 0.9, "at_least")
    assert counted.verdict is Verdict.PASS
    assert counted.counts.n_error == 1
    assert counted.estimate is not None
    assert counted.estimate < 1.0
    failing = [None] * 40
    assert (
        Sequential(error_policy="as_failure").run(failing, 0.9, "at_least").verdict is Verdict.FAIL
    )
    # Under "exclude" missing outcomes can only hold a verdict back.
    assert Sequential(error_policy="exclude").run(failing, 0.9, "at_least").verdict is (
        Verdict.INCONCLUSIVE
    )


def test_batch_decision_is_one_look_at_the_final_count() -> None:
    rule = Sequential()
    decision = rule.decide(Counts(480, 500), 0.9, "at_least")
    assert decision.verdict is Verdict.PASS
    assert decision.rule == "sequential"
    # Anytime validity costs power against a fixed-sample bound on the same data.
    close = Counts(463, 500)
    assert ConfidenceBound().decide(close, 0.9, "at_least").verdict is Verdict.PASS
    assert rule.decide(close, 0.9, "at_least").verdict is Verdict.INCONCLUSIVE


def test_runs_are_reproducible() -> None:
    a = simulate_runs(0.97, 0.95, ALPHA, max_items=300, n_runs=200, seed=5)
    b = simulate_runs(0.97, 0.95, ALPHA, max_items=300, n_runs=200, seed=5)
    assert np.array_equal(a.items, b.items)
    assert np.array_equal(a.verdicts, b.verdicts)
