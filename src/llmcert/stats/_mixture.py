"""The beta-binomial mixture E-values behind the sequential rule, and fast simulation.

See ``_sequential`` for the method and its guarantee. Everything here is in the
oriented frame ("rate ≥ t") and vectorised over numpy arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Side = Literal["pass", "fail"]


def log_evidence(
    successes: Any, n: Any, threshold: float, side: Side, prior_strength: float = 10.0
) -> Any:
    """Log E-value against "not PASS" (``side="pass"``) or "not FAIL" (``"fail"``).

    Oriented frame; works elementwise on numpy arrays and accepts fractional
    ``successes`` (used for plug-in projections).
    """
    import numpy as np
    from scipy.special import betainc, betaln

    s = np.asarray(successes, dtype=np.float64)
    n_arr = np.asarray(n, dtype=np.float64)
    t = threshold
    a = max(prior_strength * t, 0.5)
    b = max(prior_strength * (1.0 - t), 0.5)
    post_a, post_b = a + s, b + n_arr - s
    with np.errstate(divide="ignore"):
        if side == "pass":
            tail = np.log(betainc(post_b, post_a, 1.0 - t)) - math.log(betainc(b, a, 1.0 - t))
        else:
            tail = np.log(betainc(post_a, post_b, t)) - math.log(betainc(a, b, t))
    return (
        betaln(post_a, post_b)
        - betaln(a, b)
        + tail
        - s * math.log(t)
        - (n_arr - s) * math.log1p(-t)
    )


def stopping_boundaries(
    max_items: int,
    threshold: float,
    alpha: float,
    *,
    prior_strength: float = 10.0,
    min_n: int = 1,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per ``n = 1..max_items``: the smallest count that stops with PASS (``n+1`` if
    none) and the largest that stops with FAIL (``-1`` if none). Oriented frame.

    E_pass grows and E_fail shrinks with the count, so an integer bisection over
    counts, run for all ``n`` at once, finds both.
    """
    import numpy as np

    n = np.arange(1, max_items + 1, dtype=np.int64)
    level = math.log(1.0 / alpha)

    def search(side: Side) -> npt.NDArray[np.int64]:
        rising = side == "pass"
        hit_edge = log_evidence(n if rising else 0 * n, n, threshold, side, prior_strength) >= level
        lo = np.full_like(n, -1) if rising else np.zeros_like(n)
        hi = n.copy() if rising else n + 1
        # Invariant (rising): count lo does not stop, hi does; mirrored for FAIL.
        while np.any(hi - lo > 1):
            mid = (lo + hi) // 2
            stops = log_evidence(mid, n, threshold, side, prior_strength) >= level
            if rising:
                hi, lo = np.where(stops, mid, hi), np.where(stops, lo, mid)
            else:
                lo, hi = np.where(stops, mid, lo), np.where(stops, hi, mid)
        if rising:
            return np.where(hit_edge & (n >= min_n), hi, n + 1)
        return np.where(hit_edge, lo, -1)

    return search("pass"), search("fail")


@dataclass(frozen=True)
class SimulatedRuns:
    """Outcome of many simulated sequential runs: items drawn and verdict of each."""

    items: npt.NDArray[np.int64]
    verdicts: npt.NDArray[np.int8]  # 1 PASS, -1 FAIL, 0 INCONCLUSIVE


def simulate_runs(
    rate: float,
    threshold: float,
    alpha: float,
    *,
    max_items: int,
    n_runs: int,
    seed: int,
    prior_strength: float = 10.0,
    min_n: int = 1,
) -> SimulatedRuns:
    """Simulate the sequential test on independent items at ``rate`` (oriented frame)."""
    import numpy as np

    b_pass, b_fail = stopping_boundaries(
        max_items, threshold, alpha, prior_strength=prior_strength, min_n=min_n
    )
    rng = np.random.default_rng(seed)
    items = np.full(n_runs, max_items, dtype=np.int64)
    verdicts = np.zeros(n_runs, dtype=np.int8)
    running = np.ones(n_runs, dtype=bool)
    total = np.zeros(n_runs, dtype=np.int64)
    block = 512
    for start in range(0, max_items, block):
        stop = min(start + block, max_items)
        rows = np.flatnonzero(running)
        if rows.size == 0:
            break
        draws = rng.random((rows.size, stop - start)) < rate
        path = total[rows, None] + np.cumsum(draws, axis=1)
        up = path >= b_pass[None, start:stop]
        down = path <= b_fail[None, start:stop]
        hit = up | down
        done = hit.any(axis=1)
        first = hit.argmax(axis=1)
        done_rows = rows[done]
        items[done_rows] = start + first[done] + 1
        verdicts[done_rows] = np.where(up[done, first[done]], 1, -1)
        running[done_rows] = False
        total[rows] = path[:, -1]
    return SimulatedRuns(items, verdicts)
