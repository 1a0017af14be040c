"""A judge's rate on a source it has not seen: a between-source (random-effects) model.

A judge calibrated on responses from a few sources (models, datasets) does not
err at one rate: it errs at a rate that varies from source to source, and the
model under test is a new source. Pooling the counts treats every source as one
and gives an interval for the *average* source that is narrow exactly where the
variation hides; the worst source is a point, not a bound.

Model (normal–normal hierarchical, on the logit scale; Gelman et al., *Bayesian
Data Analysis*, 3rd ed., §5.4–5.6): source ``i``'s true logit rate ``θᵢ ~ N(μ, τ²)``;
its observed logit ``yᵢ = logit((kᵢ + ½)/(nᵢ + 1))`` is ``N(θᵢ, vᵢ)`` with
``vᵢ = 1/(kᵢ + ½) + 1/(nᵢ − kᵢ + ½)``. ``μ`` has a flat prior and ``τ`` a
half-normal one (scale ``TAU_SCALE`` on the logit scale: between-source odds
ratios of e² ≈ 7 are plausible, e⁴ ≈ 55 are not ruled out). The posterior of
``τ`` is computed on a grid with ``μ`` integrated out exactly; a new source's
``θ`` is then a mixture of normals, ``N(μ̂(τ), se²(τ) + τ²)`` weighted by that
posterior, and a one-sided bound at level ``1 − α`` is the matching quantile of
its rate — a *prediction* interval for a new source, not a confidence interval
for the mean.

Why not DerSimonian–Laird with a normal (or t) quantile: with the three to six
sources a judge's development data has, its τ² is often estimated as 0 and its
prediction intervals cover a new source's rate far less often than stated (a
simulation in the tests shows it); the hierarchical model's predictive interval
keeps close to its level there and widens as sources disagree. When every source
agrees, τ's posterior sits near 0 and, with many sources, the interval tends to
the pooled one.

What it covers: the rate on a new source drawn from the same population of
sources as the calibration's — other models and datasets of the kinds listed.
It does not cover a source unlike all of them; the calibration file says which
sources they were. Where there is evidence that new sources differ more than the
calibration's do (a judge whose cues were written while reading its calibration
sources agrees with them more than with anyone else), a *floor* on τ says so:
τ's posterior is restricted to ``τ ≥ tau_floor``, and the file states the
floor's basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported on first use: ``llmcert.stats`` imports cheaply
    import numpy as np

#: Scale of the half-normal prior on τ (logit scale).
TAU_SCALE = 1.0


@cache
def _taus() -> np.ndarray:
    import numpy as np

    return np.linspace(0.0, 5.0 * TAU_SCALE, 501)


def _logits(sources: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    k = np.array([s[0] for s in sources], dtype=float)
    n = np.array([s[1] for s in sources], dtype=float)
    y = np.log((k + 0.5) / (n - k + 0.5))
    v = 1.0 / (k + 0.5) + 1.0 / (n - k + 0.5)
    return y, v


def _posterior(
    y: np.ndarray, v: np.ndarray, tau_floor: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights of τ on the grid (none below ``tau_floor``), and ``μ̂(τ)`` and ``se²(τ)``."""
    import numpy as np

    taus = _taus()
    var = v[None, :] + taus[:, None] ** 2
    w = 1.0 / var
    mu = (w * y).sum(axis=1) / w.sum(axis=1)
    se2 = 1.0 / w.sum(axis=1)
    log_like = -0.5 * (np.log(var).sum(axis=1) + (w * (y - mu[:, None]) ** 2).sum(axis=1))
    log_post = log_like + 0.5 * np.log(se2) - 0.5 * (taus / TAU_SCALE) ** 2
    log_post = np.where(taus >= tau_floor - 1e-12, log_post, -np.inf)
    weights = np.exp(log_post - log_post.max())
    return weights / weights.sum(), mu, se2


def _predictive_quantile(weights: np.ndarray, mu: np.ndarray, sd: np.ndarray, p: float) -> float:
    """The ``p``-quantile of the normal mixture, by bisection on its distribution function."""
    from scipy.special import ndtr

    def cdf(x: float) -> float:
        return float((weights * ndtr((x - mu) / sd)).sum())

    lo, hi = float((mu - 40 * sd).min()), float((mu + 40 * sd).max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if cdf(mid) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-9:
            break
    return 0.5 * (lo + hi)


@lru_cache(maxsize=256)
def _bounds(
    sources: tuple[tuple[int, int], ...], alpha: float, tau_floor: float
) -> tuple[float, float]:
    import numpy as np

    y, v = _logits(sources)
    weights, mu, se2 = _posterior(y, v, tau_floor)
    sd = np.sqrt(se2 + _taus() ** 2)
    keep = weights > 1e-12
    low = _predictive_quantile(weights[keep], mu[keep], sd[keep], alpha)
    high = _predictive_quantile(weights[keep], mu[keep], sd[keep], 1.0 - alpha)
    return float(1.0 / (1.0 + np.exp(-low))), float(1.0 / (1.0 + np.exp(-high)))


def check_sources(sources: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Per-source ``(correct, n)`` counts, validated; sources without items are dropped."""
    out = []
    for item in sources:
        k, n = item
        if isinstance(k, bool) or isinstance(n, bool) or not (0 <= k <= n):
            raise ValueError(f"a source's counts must satisfy 0 ≤ correct ≤ n, got {item!r}")
        if n:
            out.append((int(k), int(n)))
    return tuple(out)


def check_tau_floor(tau_floor: float) -> float:
    if not 0.0 <= tau_floor <= 4.0 * TAU_SCALE:
        raise ValueError(f"tau_floor must lie in [0, {4.0 * TAU_SCALE:g}], got {tau_floor!r}")
    return float(tau_floor)


def new_source_bounds(
    sources: Sequence[tuple[int, int]], alpha: float, tau_floor: float = 0.0
) -> tuple[float, float]:
    """One-sided bounds, each at level ``1 − alpha``, of the rate on a new source.

    ``sources`` holds ``(correct, n)`` per source; at least two with items are needed,
    since one source says nothing of how sources differ. ``tau_floor`` is the least
    between-source spread (logit scale) the bounds allow for.
    """
    checked = check_sources(sources)
    if len(checked) < 2:
        raise ValueError("a between-source bound needs counts from at least two sources")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie strictly between 0 and 0.5, got {alpha}")
    return _bounds(checked, float(alpha), check_tau_floor(tau_floor))


def between_source_summary(
    sources: Sequence[tuple[int, int]], tau_floor: float = 0.0
) -> dict[str, float]:
    """Posterior mean rate of a new source, posterior median of τ, and the 95% prediction
    interval — the figures a calibration file states."""
    import numpy as np

    checked = check_sources(sources)
    y, v = _logits(checked)
    weights, mu, _ = _posterior(y, v, check_tau_floor(tau_floor))
    tau_median = float(_taus()[np.searchsorted(np.cumsum(weights), 0.5)])
    centre = float((weights * mu).sum())
    low, high = new_source_bounds(checked, 0.025, tau_floor)
    return {
        "rate": float(1.0 / (1.0 + np.exp(-centre))),
        "tau_logit_median": tau_median,
        "prediction_95_low": low,
        "prediction_95_high": high,
    }


__all__ = [
    "TAU_SCALE",
    "between_source_summary",
    "check_sources",
    "check_tau_floor",
    "new_source_bounds",
]
