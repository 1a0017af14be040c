"""Quantiles of a latency with distribution-free bounds, and deciding "P99 ≤ limit".

Order-statistic bounds need no assumption on the distribution, only independent
samples: with ``X_(1) ≤ … ≤ X_(n)``, ``P(X_(k) ≥ q_p) = P(Bin(n, p) ≤ k - 1)``, so the
one-sided upper bound at level ``c`` is ``X_(k)`` for the smallest ``k`` with
``P(Bin(n, p) ≤ k - 1) ≥ c`` (and the lower bound mirrors it). A sample that never
completed (a failed or timed-out request) is an observation at +∞: it stays in the
count and can only push the bounds up.

"The ``p``-quantile is ≤ L" is decided through the one rule for rates:
``X_(k) ≤ L`` holds exactly when the count of samples ``≤ L`` reaches ``k``, which
is exactly when the exact (Clopper–Pearson) lower bound of the share of samples
``≤ L`` is ``≥ p``. So :class:`QuantileBound` counts the samples within the limit,
lets :class:`~llmcert.stats.ConfidenceBound` decide "share ≥ p" with the error
policy ``as_failure`` (a failed request never meets a latency limit), and reports
the quantile and its order-statistic interval, in the samples' unit, beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from llmcert.stats._decision import ConfidenceBound, Counts, Decision, Verdict, decision_maker

Provenance = Literal["measured", "estimated", "unavailable"]


def _binom_cdf(k: int, n: int, p: float) -> float:
    from scipy.stats import binom

    return float(binom.cdf(k, n, p))


def quantile_bounds(
    samples: Sequence[float], p: float, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """One-sided order-statistic bounds ``(lower, upper)`` on the ``p``-quantile.

    Each holds at ``confidence`` for any continuous distribution. ``None`` means there
    are too few samples for that bound (e.g. an upper bound on P99 needs n ≥ 299 at 95%).
    Samples may include ``math.inf`` for requests that never completed.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0.5, 1), got {confidence}")
    xs = sorted(samples)
    n = len(xs)
    if n == 0:
        return None, None
    alpha = 1.0 - confidence
    upper = None
    for k in range(math.floor(n * p), n + 1):  # smallest k with P(Bin ≤ k-1) ≥ c
        if k >= 1 and _binom_cdf(k - 1, n, p) >= confidence:
            upper = xs[k - 1]
            break
    lower = None
    for j in range(min(n, math.ceil(n * p) + 1), 0, -1):  # largest j with P(Bin ≤ j-1) ≤ alpha
        if _binom_cdf(j - 1, n, p) <= alpha:
            lower = xs[j - 1]
            break
    return lower, upper


def quantile(samples: Sequence[float], p: float) -> float | None:
    """The empirical ``p``-quantile (the ``ceil(n·p)``-th order statistic)."""
    xs = sorted(samples)
    if not xs:
        return None
    return xs[max(0, math.ceil(len(xs) * p) - 1)]


@dataclass(frozen=True)
class QuantileBound:
    """Decides "the ``p``-quantile of a latency is ≤ ``limit``" on order-statistic bounds.

    ``samples`` are the completed requests' latencies; ``n_failed`` requests that
    never completed count as +∞. PASS: the upper bound at ``confidence`` is ≤ limit
    (and at least ``min_n`` requests); FAIL: the lower bound is > limit.
    """

    confidence: float = 0.95
    name: str = field(default="quantile_bound", init=False)

    def decide(
        self,
        samples: Sequence[float],
        p: float,
        limit: float,
        *,
        n_failed: int = 0,
        min_n: int = 1,
        unit: str = "",
    ) -> Decision:
        within = sum(1 for x in samples if x <= limit)
        counts = Counts(within, len(samples), n_error=n_failed)
        base = ConfidenceBound(confidence=self.confidence, error_policy="as_failure")
        decision = base.decide(counts, p, "at_least", min_n=min_n)
        everything = list(samples) + [math.inf] * n_failed
        low, high = quantile_bounds(everything, p, self.confidence) if everything else (None, None)
        point = quantile(everything, p)
        label = f"P{p * 100:g}"
        params = {
            **decision.parameters,
            "quantile": p,
            "limit": limit,
            "unit": unit,
            "quantile_estimate": _finite(point),
            "quantile_lower": _finite(low),
            "quantile_upper": _finite(high),
        }
        bound = "upper" if decision.verdict is not Verdict.FAIL else "lower"
        value = high if bound == "upper" else low
        shown = "not bounded (too few requests)" if value is None else f"{_fmt(value)}{unit}"
        text = (
            f"{label} = {_fmt(point)}{unit} over {counts.n_total} requests "
            f"({n_failed} failed, counted as never answering); its {self.confidence:.0%} "
            f"{bound} bound is {shown} against the limit {_fmt(limit)}{unit}. "
            + decision.explanation
        )
        return replace(decision, rule=self.name, parameters=params, explanation=text)


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) else x


def _fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    return "∞" if math.isinf(x) else f"{x:.4g}"


@dataclass(frozen=True)
class MeasuredLimit:
    """Decides "value ≤ limit" (or ≥) on a single measured figure, such as energy per token.

    Only a figure labelled ``measured`` can PASS or FAIL. An ``estimated`` or
    ``unavailable`` one is INCONCLUSIVE whatever its value: an estimate from a
    nominal power rating is not evidence.
    """

    name: str = field(default="measured_limit", init=False)

    def decide(
        self,
        value: float | None,
        limit: float,
        provenance: Provenance,
        *,
        direction: Literal["at_most", "at_least"] = "at_most",
        source: str = "",
        unit: str = "",
    ) -> Decision:
        params = {"limit": limit, "provenance": provenance, "source": source, "unit": unit}
        make = decision_maker(self.name, params, 0.0, direction, None, value, Counts(0, 0), 0, 0)
        sign = "≤" if direction == "at_most" else "≥"
        req = f"{sign} {limit:g}{unit}"
        if provenance != "measured" or value is None:
            shown = "no figure" if value is None else f"{value:.4g}{unit}"
            return make(
                Verdict.INCONCLUSIVE,
                None,
                None,
                f"The figure is {provenance} ({shown}; {source or 'no meter'}); only a "
                f"measured figure can decide {req}.",
            )
        ok = value <= limit if direction == "at_most" else value >= limit
        return make(
            Verdict.PASS if ok else Verdict.FAIL,
            None,
            None,
            f"Measured {value:.4g}{unit} ({source}) {'meets' if ok else 'misses'} {req}.",
        )
