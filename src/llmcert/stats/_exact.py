"""Exact binomial arithmetic shared by the confidence-bound rule and planning.

Everything here works in the *oriented* frame: the outcome counted is the
favourable one and the requirement reads "rate ≥ threshold" (an "at most"
requirement is turned round by counting the opposite outcome against
``1 - threshold``). A one-sided bound at level ``1 - alpha`` clears the
threshold exactly when the matching one-sided binomial test rejects, so the
verdict of the confidence-bound rule for ``x`` favourable outcomes in ``n``
items is fixed by two critical counts per ``n``:

* ``x_pass(n)``: the smallest ``x`` that passes (``n + 1`` when none does);
* ``x_fail(n)``: the largest ``x`` that fails (``-1`` when none does).

With these, the probability of each verdict at a given true rate is a sum of
binomial tails, computed for many ``n`` at once. numpy and scipy are imported
inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]
    FloatArray = npt.NDArray[np.float64]

BoundMethod = Literal["clopper-pearson", "wilson"]

#: Planning never looks past this many items; beyond it the answer is "too many to say".
MAX_ITEMS = 1 << 18


def critical_counts(
    n: IntArray, threshold: float, alpha: float, method: BoundMethod = "clopper-pearson"
) -> tuple[IntArray, IntArray]:
    """``(x_pass, x_fail)`` for every sample size in ``n`` (oriented frame).

    Looked up in a table per ``(threshold, alpha, method)`` that grows by doubling
    and is kept for the process, so repeated decisions and plans stay cheap.
    """
    import numpy as np

    n = np.asarray(n, dtype=np.int64)
    if n.size == 0:
        return n.copy(), n.copy()
    if int(n.min()) < 1:
        raise ValueError("sample sizes must be at least 1")
    x_pass, x_fail = _critical_table(float(threshold), float(alpha), method, int(n.max()))
    return x_pass[n - 1], x_fail[n - 1]


#: Critical counts for n = 1..len, per (threshold, alpha, method); a pure memo.
_TABLES: dict[tuple[float, float, str], tuple[IntArray, IntArray]] = {}
_MAX_TABLES = 32


def _critical_table(
    threshold: float, alpha: float, method: BoundMethod, largest: int
) -> tuple[IntArray, IntArray]:
    import numpy as np

    key = (threshold, alpha, method)
    have = _TABLES.get(key)
    done = 0 if have is None else have[0].size
    if done >= largest:
        assert have is not None
        return have
    size = 1 << max(10, (largest - 1).bit_length())
    x_pass, x_fail = _compute_critical(
        np.arange(done + 1, size + 1, dtype=np.int64), threshold, alpha, method
    )
    if have is not None:
        x_pass = np.concatenate([have[0], x_pass])
        x_fail = np.concatenate([have[1], x_fail])
    if key not in _TABLES and len(_TABLES) >= _MAX_TABLES:
        del _TABLES[next(iter(_TABLES))]
    _TABLES[key] = (x_pass, x_fail)
    return x_pass, x_fail


def _compute_critical(
    n: IntArray, threshold: float, alpha: float, method: BoundMethod
) -> tuple[IntArray, IntArray]:
    """The critical counts computed directly.

    Clopper–Pearson: the lower bound is ≥ ``threshold`` iff
    ``P(Bin(n, threshold) ≥ x) ≤ alpha``; the upper bound is < ``threshold`` iff
    ``P(Bin(n, threshold) ≤ x) < alpha``. Wilson: the same with the score
    statistic ``(x - n t) / sqrt(n t (1 - t))`` against the normal quantile.
    """
    import numpy as np
    from scipy.stats import binom

    n = np.asarray(n, dtype=np.int64)
    t = threshold
    if method == "wilson":
        z = NormalDist().inv_cdf(1.0 - alpha)
        spread = z * np.sqrt(n * t * (1.0 - t))
        x_pass = np.ceil(n * t + spread - 1e-9).astype(np.int64)
        x_fail = (np.ceil(n * t - spread - 1e-9) - 1).astype(np.int64)
        # The Wilson bounds are pinned to 0 and 1 at x = 0 and x = n.
        x_pass = np.maximum(x_pass, 1)
        x_fail = np.minimum(x_fail, n - 1)
    else:
        # Start from the normal approximation, then walk to the exact critical counts.
        z = NormalDist().inv_cdf(1.0 - alpha)
        spread = z * np.sqrt(n * t * (1.0 - t))
        x_pass = np.clip(np.ceil(n * t + spread), 0, n + 1).astype(np.int64)
        x_fail = np.clip(np.floor(n * t - spread), -1, n).astype(np.int64)
        for _ in range(10_000):
            down = (x_pass >= 1) & (binom.sf(x_pass - 2, n, t) <= alpha)
            up = (x_pass <= n) & (binom.sf(x_pass - 1, n, t) > alpha)
            x_pass = x_pass - down + up
            right = (x_fail < n) & (binom.cdf(x_fail + 1, n, t) < alpha)
            left = (x_fail >= 0) & (binom.cdf(x_fail, n, t) >= alpha)
            x_fail = x_fail + right - left
            if not (down.any() or up.any() or right.any() or left.any()):
                break
    x_pass = np.clip(x_pass, 0, n + 1)
    x_fail = np.clip(x_fail, -1, n)
    return x_pass, x_fail


def verdict_probabilities_at(
    n: IntArray,
    rate: float,
    threshold: float,
    alpha: float,
    *,
    min_n: int = 1,
    method: BoundMethod = "clopper-pearson",
) -> tuple[FloatArray, FloatArray]:
    """``(P(PASS), P(FAIL))`` of the confidence-bound rule after ``n`` items at ``rate``."""
    import numpy as np
    from scipy.stats import binom

    n = np.asarray(n, dtype=np.int64)
    x_pass, x_fail = critical_counts(n, threshold, alpha, method)
    p_pass = np.where(n >= min_n, binom.sf(x_pass - 1, n, rate), 0.0)
    p_fail = binom.cdf(x_fail, n, rate)
    return np.asarray(p_pass, dtype=np.float64), np.asarray(p_fail, dtype=np.float64)


def further_items_to_decide(
    pass_successes: int,
    fail_successes: int,
    n: int,
    rate: float,
    threshold: float,
    alpha: float,
    *,
    power: float,
    min_n: int = 1,
    method: BoundMethod = "clopper-pearson",
) -> int | None:
    """Fewest further items after which a verdict comes with probability ≥ ``power``.

    The further items are assumed to come at ``rate`` (in practice the current
    estimate). ``pass_successes`` and ``fail_successes`` differ only when
    missing outcomes are counted against each verdict in turn. Returns None when
    no number up to ``MAX_ITEMS`` is enough (e.g. the estimate sits on the
    threshold).
    """
    import numpy as np
    from scipy.stats import binom

    if rate == threshold and power > 2.0 * alpha:
        # At the threshold each verdict keeps a chance of at most about alpha.
        return None

    def decides(m: IntArray) -> npt.NDArray[np.bool_]:
        total = n + m
        x_pass, x_fail = critical_counts(total, threshold, alpha, method)
        p_pass = np.where(total >= min_n, binom.sf(x_pass - pass_successes - 1, m, rate), 0.0)
        p_fail = binom.cdf(x_fail - fail_successes, m, rate)
        return np.asarray(p_pass + p_fail >= power)

    return first_reaching(decides)


def first_reaching(test: Callable[[IntArray], npt.NDArray[np.bool_]]) -> int | None:
    """Smallest ``m`` in ``1..MAX_ITEMS`` with ``test`` true, for a test that is
    broadly increasing in ``m``: probe 1, 2, 4, … one at a time, then scan
    everything below the first success at once. None when even ``MAX_ITEMS`` fails.
    """
    import numpy as np

    m = 1
    while not bool(test(np.array([m], dtype=np.int64))[0]):
        if m >= MAX_ITEMS:
            return None
        m = min(2 * m, MAX_ITEMS)
    candidates = np.arange(1, m + 1, dtype=np.int64)
    return int(candidates[np.flatnonzero(test(candidates))[0]])


def first_sustained(ok: npt.NDArray[np.bool_]) -> int | None:
    """Index of the first element from which ``ok`` stays true to the end, or None."""
    import numpy as np

    if ok.size == 0 or not bool(ok[-1]):
        return None
    bad = np.flatnonzero(~ok)
    return 0 if bad.size == 0 else int(bad[-1]) + 1


def check_unit(name: str, value: float, *, closed: bool = False) -> None:
    """Reject rates and levels outside (0, 1), or [0, 1] when ``closed``."""
    inside = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
    if not (math.isfinite(value) and inside):
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
