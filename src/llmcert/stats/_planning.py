"""Sample-size planning: how many items a requirement needs to be decided.

"Decided at margin m" means: if the true rate is ``m`` on the passing side of
the threshold the verdict is PASS, and if it is ``m`` on the failing side the
verdict is FAIL, each with probability at least ``power``. (At the threshold
itself either verdict is wrong at most ``1 - confidence`` of the time, whatever
the sample size.)

* Confidence-bound rule: exact. Verdict probabilities are binomial tails at the
  rule's critical counts (see ``_exact``), computed for every sample size. The
  power of a discrete test zig-zags with ``n``, so the answer is the smallest
  ``n`` from which the power stays above target for every larger size
  searched (at least twice the first size that reaches it), not merely the
  first size that happens to reach it.
* Sequential rule: by simulation with a fixed seed (the stopping time has no
  useful closed form). The answer is the bank size by which the right verdict
  has arrived in a ``power`` share of simulated runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmcert.stats._decision import Direction, Verdict, check_rule_inputs
from llmcert.stats._exact import (
    MAX_ITEMS,
    BoundMethod,
    check_unit,
    first_sustained,
    verdict_probabilities_at,
)
from llmcert.stats._mixture import simulate_runs


def _oriented(threshold: float, direction: Direction) -> float:
    check_unit("threshold", threshold)
    if direction not in ("at_least", "at_most"):
        raise ValueError(f"direction must be 'at_least' or 'at_most', got {direction!r}")
    return threshold if direction == "at_least" else 1.0 - threshold


def planned_rates(
    threshold: float, direction: Direction, margin: float | None, assumed_rate: float | None
) -> list[tuple[float, Verdict]]:
    """The true rates to plan for (in the caller's frame) and the verdict each should get."""
    _oriented(threshold, direction)
    if (margin is None) == (assumed_rate is None):
        raise ValueError("give exactly one of margin and assumed_rate")
    good = 1.0 if direction == "at_least" else -1.0
    if assumed_rate is not None:
        check_unit("assumed_rate", assumed_rate, closed=True)
        if assumed_rate == threshold:
            raise ValueError("assumed_rate equals the threshold: no sample size decides it")
        passing = (assumed_rate - threshold) * good > 0
        return [(assumed_rate, Verdict.PASS if passing else Verdict.FAIL)]
    assert margin is not None
    if not (math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be positive, got {margin}")
    rates = [(threshold + good * margin, Verdict.PASS), (threshold - good * margin, Verdict.FAIL)]
    for rate, _ in rates:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(
                f"threshold {threshold:g} ± margin {margin:g} leaves [0, 1]; use a smaller margin"
            )
    return rates


def _orient_rate(rate: float, direction: Direction) -> float:
    return rate if direction == "at_least" else 1.0 - rate


def verdict_probabilities(
    threshold: float,
    direction: Direction,
    *,
    n: int,
    rate: float,
    confidence: float = 0.95,
    min_n: int = 1,
    method: BoundMethod = "clopper-pearson",
) -> dict[Verdict, float]:
    """Exact probability of each verdict of ``ConfidenceBound`` on ``n`` items at ``rate``."""
    import numpy as np

    alpha = check_rule_inputs(confidence, min_n)
    t = _oriented(threshold, direction)
    check_unit("rate", rate, closed=True)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    p_pass, p_fail = verdict_probabilities_at(
        np.array([n]), _orient_rate(rate, direction), t, alpha, min_n=min_n, method=method
    )
    pp, pf = float(p_pass[0]), float(p_fail[0])
    return {Verdict.PASS: pp, Verdict.FAIL: pf, Verdict.INCONCLUSIVE: max(0.0, 1.0 - pp - pf)}


def items_needed(
    threshold: float,
    direction: Direction,
    *,
    margin: float | None = None,
    confidence: float = 0.95,
    assumed_rate: float | None = None,
    power: float = 0.8,
    min_n: int = 1,
    method: BoundMethod = "clopper-pearson",
) -> int:
    """Items the confidence-bound rule needs to decide at ``margin`` (or at one ``assumed_rate``).

    Exact binomial search (see the module docstring). Never less than ``min_n``.
    Raises ValueError when more than about a million items would be needed.
    """
    import numpy as np

    alpha = check_rule_inputs(confidence, min_n)
    check_unit("power", power)
    t = _oriented(threshold, direction)
    targets = [
        (_orient_rate(r, direction), v)
        for r, v in planned_rates(threshold, direction, margin, assumed_rate)
    ]
    horizon = 256
    while horizon <= 2 * MAX_ITEMS:
        n = np.arange(1, horizon + 1, dtype=np.int64)
        ok = np.ones(n.size, dtype=bool)
        for rate, want in targets:
            p_pass, p_fail = verdict_probabilities_at(n, rate, t, alpha, min_n=min_n, method=method)
            ok &= (p_pass if want is Verdict.PASS else p_fail) >= power
        first = first_sustained(ok)
        hits = np.flatnonzero(ok)
        if first is not None and hits.size and hits[0] < horizon // 2:
            return max(int(n[first]), min_n)
        horizon *= 2
    raise ValueError(f"more than {MAX_ITEMS} items would be needed; widen the margin")


@dataclass(frozen=True)
class SequentialOutlook:
    """What the sequential rule does at one true rate, from simulated runs.

    ``items_*`` count items drawn per run (at most ``max_items``); the ``p_*``
    fields are verdict frequencies over ``runs`` runs.
    """

    rate: float
    max_items: int
    runs: int
    items_mean: float
    items_median: float
    items_p90: float
    p_pass: float
    p_fail: float
    p_inconclusive: float


def sequential_outlook(
    threshold: float,
    direction: Direction,
    *,
    rate: float,
    max_items: int,
    confidence: float = 0.95,
    min_n: int = 1,
    prior_strength: float = 10.0,
    runs: int = 2000,
    seed: int = 0,
) -> SequentialOutlook:
    """Simulate ``runs`` sequential runs on a bank of ``max_items`` items at ``rate``."""
    import numpy as np

    alpha = check_rule_inputs(confidence, min_n)
    t = _oriented(threshold, direction)
    check_unit("rate", rate, closed=True)
    if max_items < 1 or runs < 1:
        raise ValueError("max_items and runs must be at least 1")
    sim = simulate_runs(
        _orient_rate(rate, direction),
        t,
        alpha,
        max_items=max_items,
        n_runs=runs,
        seed=seed,
        prior_strength=prior_strength,
        min_n=min_n,
    )
    items = sim.items.astype(np.float64)
    return SequentialOutlook(
        rate=rate,
        max_items=max_items,
        runs=runs,
        items_mean=float(items.mean()),
        items_median=float(np.median(items)),
        items_p90=float(np.quantile(items, 0.9)),
        p_pass=float(np.mean(sim.verdicts == 1)),
        p_fail=float(np.mean(sim.verdicts == -1)),
        p_inconclusive=float(np.mean(sim.verdicts == 0)),
    )


def sequential_items_needed(
    threshold: float,
    direction: Direction,
    *,
    margin: float | None = None,
    confidence: float = 0.95,
    assumed_rate: float | None = None,
    power: float = 0.8,
    min_n: int = 1,
    prior_strength: float = 10.0,
    runs: int = 2000,
    seed: int = 0,
) -> int:
    """Bank size at which the sequential rule reaches the right verdict with ``power``.

    By simulation (``runs`` runs per planned rate, seeded). Runs usually stop far
    earlier; see ``sequential_outlook`` for the items they draw.
    """
    import numpy as np

    alpha = check_rule_inputs(confidence, min_n)
    check_unit("power", power)
    t = _oriented(threshold, direction)
    targets = planned_rates(threshold, direction, margin, assumed_rate)
    horizon = max(
        64,
        2
        * items_needed(
            threshold,
            direction,
            margin=margin,
            confidence=confidence,
            assumed_rate=assumed_rate,
            power=power,
            min_n=min_n,
        ),
    )
    rank = math.ceil(power * runs) - 1
    while horizon <= 4 * MAX_ITEMS:
        needed = 0
        for k, (rate, want) in enumerate(targets):
            sim = simulate_runs(
                _orient_rate(rate, direction),
                t,
                alpha,
                max_items=horizon,
                n_runs=runs,
                seed=seed + k,
                prior_strength=prior_strength,
                min_n=min_n,
            )
            code = 1 if want is Verdict.PASS else -1
            times = np.sort(np.where(sim.verdicts == code, sim.items, np.iinfo(np.int64).max))
            if times[rank] > horizon:
                needed = -1
                break
            needed = max(needed, int(times[rank]))
        if needed > 0:
            return max(needed, min_n)
        horizon *= 2
    raise ValueError(f"more than {4 * MAX_ITEMS} items would be needed; widen the margin")
