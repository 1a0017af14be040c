"""Measures that are not one count per item: an estimate with an interval, and its rule.

Some measures are means of per-item values rather than counts of successes:
pass@k over problems with n samples each, the share of a problem's samples
with insecure code, or (for serving performance) a latency quantile. They
reach the decision layer as an :class:`Estimate`, a small typed record that
names its interval method, and are decided by :class:`EstimateBound`, which
applies the same reading as :class:`ConfidenceBound`: PASS when the one-sided
bound on the safe side clears the threshold with at least ``min_n`` items,
FAIL when the other bound is on the wrong side, INCONCLUSIVE otherwise.

:func:`item_mean_estimate` is the interval for means of per-item values in
[0, 1], counting items (clusters), not samples: a percentile cluster bootstrap
over items, widened to the exact binomial (Clopper–Pearson) bounds of the
summed values over items. The binomial has the largest variance of any
distribution on [0, 1] with the same mean, so the widened interval stays
honest where the bootstrap is not: at 0% and 100% it never collapses to a
point, and with few items it is never narrower than the exact binomial one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmcert.stats._decision import (
    Counts,
    Decision,
    Direction,
    Verdict,
    check_rule_inputs,
    decision_maker,
)
from llmcert.stats._intervals import clopper_pearson_interval, cluster_bootstrap_interval


@dataclass(frozen=True)
class Estimate:
    """A measured value in [0, 1] with a two-sided interval at ``level``.

    ``n_items`` are the units the interval counts (problems); ``counts`` are the
    underlying samples, for the record (``n_error`` excluded from the estimate).
    ``details`` carries what else a reader needs (per-CWE rates, k, …).
    """

    name: str
    estimate: float | None
    interval: tuple[float, float] | None
    level: float
    method: str
    n_items: int
    counts: Counts
    details: Mapping[str, Any] = field(default_factory=dict)


def item_mean_estimate(
    name: str,
    values_by_item: Mapping[str, float],
    counts: Counts,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    details: Mapping[str, Any] | None = None,
) -> Estimate:
    """Mean over items of per-item values in [0, 1], with the interval described above."""
    values = [float(v) for v in values_by_item.values()]
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"{name}: per-item values must lie in [0, 1]")
    if not values:
        return Estimate(name, None, None, level, "none", 0, counts, dict(details or {}))
    m = len(values)
    total = math.fsum(values)
    mean = total / m
    low_cp = clopper_pearson_interval(math.floor(total + 1e-9), m, level)[0]
    high_cp = clopper_pearson_interval(math.ceil(total - 1e-9), m, level)[1]
    if all(v in (0.0, 1.0) for v in values):
        interval, method = (low_cp, high_cp), "clopper-pearson over items"
    else:
        low_b, high_b = cluster_bootstrap_interval(
            [[v] for v in values], level, n_boot=n_boot, seed=seed
        )
        interval = (min(low_b, low_cp), max(high_b, high_cp))
        method = "cluster bootstrap over items, widened to clopper-pearson"
    return Estimate(name, mean, interval, level, method, m, counts, dict(details or {}))


@dataclass(frozen=True)
class EstimateBound:
    """Decide an :class:`Estimate` at one-sided ``confidence``; ``informational`` gives INFO.

    The estimate must have been computed at the two-sided level ``2·confidence − 1``
    (:meth:`level`), so each one-sided bound holds at ``confidence``.
    """

    confidence: float = 0.95
    informational: bool = False
    name: str = field(default="estimate_bound", init=False)

    @property
    def level(self) -> float:
        return 2.0 * self.confidence - 1.0

    def decide(
        self, est: Estimate, threshold: float, direction: Direction, *, min_n: int = 1
    ) -> Decision:
        check_rule_inputs(self.confidence, min_n)
        if not math.isclose(est.level, self.level):
            raise ValueError(f"estimate at level {est.level}, rule needs {self.level}")
        req = f"{'≥' if direction == 'at_least' else '≤'} {threshold:g}"
        params: dict[str, Any] = {"method": est.method, "measure": est.name, **est.details}
        rule = "point_estimate" if self.informational else self.name
        make = decision_maker(
            rule,
            params,
            threshold,
            direction,
            None if self.informational else self.confidence,
            est.estimate,
            est.counts,
            est.n_items,
            min_n,
        )
        if est.estimate is None or est.interval is None:
            verdict = Verdict.INFO if self.informational else Verdict.INCONCLUSIVE
            return make(
                verdict, None, None, f"Nothing was measured, so nothing can be said about {req}."
            )
        low, high = est.interval
        good_low, good_high = (low, high) if direction == "at_least" else (1.0 - high, 1.0 - low)
        t = threshold if direction == "at_least" else 1.0 - threshold
        where = f"{est.estimate:.4g} [{low:.4g}, {high:.4g}] on {est.n_items} items"
        if self.informational:
            side = (
                Verdict.PASS
                if (est.estimate >= threshold) == (direction == "at_least")
                else Verdict.FAIL
            )
            d = make(
                Verdict.INFO,
                est.interval,
                None,
                f"{est.name} = {where} ({est.method}); for information against {req}.",
            )
            return Decision(**{**d.__dict__, "indicative": side})
        level = f"{self.confidence:.0%}"
        if good_low >= t and est.n_items >= min_n:
            return make(
                Verdict.PASS,
                est.interval,
                None,
                f"{est.name} = {where}: the {level} bound clears {req}.",
            )
        if good_high < t:
            return make(
                Verdict.FAIL,
                est.interval,
                None,
                f"{est.name} = {where}: the {level} bound is on the wrong side of {req}.",
            )
        why = (
            f"only {est.n_items} of the required {min_n} items count"
            if good_low >= t
            else f"the interval straddles {req}"
        )
        return make(
            Verdict.INCONCLUSIVE, est.interval, None, f"{est.name} = {where}: undecided, {why}."
        )


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 − C(n−c, k) / C(n, k)."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 ≤ c ≤ n and k ≥ 1, got n={n}, c={c}, k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def pass_at_k_estimate(
    samples: Mapping[str, Sequence[bool]],
    k: int,
    *,
    n_error: int = 0,
    n_unscored: int = 0,
    level: float = 0.95,
    seed: int = 0,
    name: str | None = None,
) -> Estimate:
    """pass@k over problems (each with its samples' pass/fail) with an item-level interval.

    Problems with fewer than k samples cannot give pass@k and are counted as unscored.
    """
    per_item: dict[str, float] = {}
    short = 0
    for item, outcomes in samples.items():
        if len(outcomes) < k:
            short += len(outcomes)
            continue
        per_item[item] = pass_at_k(len(outcomes), sum(outcomes), k)
    used = [o for item, outs in samples.items() if item in per_item for o in outs]
    counts = Counts(sum(used), len(used), n_error, n_unscored + short)
    samples_per = sorted({len(v) for v in samples.values()})
    return item_mean_estimate(
        name or f"pass@{k}",
        per_item,
        counts,
        level=level,
        seed=seed,
        details={"k": k, "samples_per_item": samples_per},
    )
