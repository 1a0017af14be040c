"""Confidence intervals for rates measured on a finite test set.

Three intervals, each suited to a different shape of data:

* Wilson score: binary outcomes, one per independent item. Close to nominal
  coverage on average, even for small ``n`` and rates near 0 or 1 where the
  textbook Wald interval collapses.
* Clopper–Pearson: the same data when the guarantee must hold for every true
  rate (coverage is never below nominal), at the cost of a wider interval.
* Cluster bootstrap: repeated or fractional scores. Items, not answers, are
  the independent units, so whole items are resampled with all their repeats.

numpy and scipy are imported by the functions that need them, so importing the
module costs nothing at command-line start-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

#: Bootstrap rows drawn per block; bounds memory to a few MB whatever the size.
_BLOCK_CELLS = 1 << 20


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    return 1.0 - confidence


def _check_counts(successes: int, n: int) -> None:
    if n <= 0:
        raise ValueError(f"an interval needs at least one observation, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Guarantee: coverage is close to ``confidence`` when averaged over true rates
    and stays usable down to a handful of observations and at rates of 0 or 1;
    for particular rates it can dip a little below nominal. Use it for pass/fail
    scores with one answer per independent item (the default for accuracy).
    The bounds are 0 when ``successes == 0`` and 1 when ``successes == n``.
    """
    alpha = _check_confidence(confidence)
    _check_counts(successes, n)
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def clopper_pearson_interval(
    successes: int, n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a binomial proportion.

    Guarantee: for every true rate, coverage is at least ``confidence``; the price
    is a wider, conservative interval. Use it where a claim must not overstate
    certainty, e.g. when a decision rule compares the lower bound to a threshold
    and the sample is small. The lower bound is 0 when ``successes == 0`` and the
    upper bound is 1 when ``successes == n``.
    """
    alpha = _check_confidence(confidence)
    _check_counts(successes, n)
    from scipy.stats import beta

    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2.0, successes, n - successes + 1))
    high = (
        1.0 if successes == n else float(beta.ppf(1.0 - alpha / 2.0, successes + 1, n - successes))
    )
    return low, high


def cluster_bootstrap_interval(
    values_by_cluster: Sequence[Sequence[float]],
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the pooled mean, resampling whole clusters.

    Repeats of one item are correlated (same question, same model), so treating
    them as independent answers would make the interval too narrow. Resampling
    items with all their repeats keeps that correlation inside each draw.

    Guarantee: approximate; coverage approaches ``confidence`` as the number of
    clusters grows (tens of items or more). It is too narrow when there are few
    clusters or when every value is the same (the interval then has zero width).
    Use it for repeated items or fractional scores. Empty clusters are ignored.
    The result is a pure function of the data, ``n_boot`` and ``seed``.
    """
    import numpy as np

    alpha = _check_confidence(confidence)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    sums_list: list[float] = []
    counts_list: list[int] = []
    for cluster in values_by_cluster:
        if len(cluster) == 0:
            continue
        arr = np.asarray(cluster, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError("bootstrap values must be finite numbers")
        sums_list.append(float(arr.sum()))
        counts_list.append(len(cluster))
    if not counts_list:
        raise ValueError("an interval needs at least one value")
    sums = np.asarray(sums_list)
    counts = np.asarray(counts_list, dtype=np.float64)
    m = len(counts_list)
    rng = np.random.default_rng(seed)
    estimates = np.empty(n_boot, dtype=np.float64)
    rows = max(1, _BLOCK_CELLS // m)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, m, size=(stop - start, m))
        estimates[start:stop] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    low, high = np.quantile(estimates, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)
