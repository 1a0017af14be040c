"""Has a certified model regressed? Certified counts against a fresh sample, per requirement.

Each requirement's outcomes are turned round so that the favourable outcome is
counted (a refusal for "refusal rate ≥ t", a safe answer for "unsafe rate ≤ t"),
with missing outcomes handled by the requirement's own error policy. The
certified sample and the new one are then compared by Fisher's exact test,
one-sided (is the favourable rate now lower?), and the p-values of one
certificate's requirements are adjusted together by Holm's step-down method, so
that a model that has not changed is suspended with probability at most
``alpha`` per check, however many requirements the standard has.

Fisher's test conditions on the total of favourable outcomes, which makes it
conservative: the false-suspension rate stays below ``alpha`` for every true
rate and every pair of sample sizes, at some cost in power for small samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmcert.report._assessment import RequirementResult

TEST_NAME = "Fisher's exact test (one-sided, regression)"
CORRECTION_NAME = "Holm"


@dataclass(frozen=True)
class RateCounts:
    """Favourable outcomes among ``n``, and the rate in the requirement's own terms."""

    favourable: int
    n: int
    direction: str = "at_least"

    def __post_init__(self) -> None:
        if not 0 <= self.favourable <= self.n:
            raise ValueError(f"favourable outcomes ({self.favourable}) must lie in 0..{self.n}")

    @property
    def rate(self) -> float | None:
        """The measured rate as the requirement states it (e.g. the unsafe rate for at_most)."""
        if self.n == 0:
            return None
        good = self.favourable / self.n
        return good if self.direction == "at_least" else 1.0 - good

    def words(self) -> str:
        if self.rate is None:
            return "no outcomes"
        shown = self.favourable if self.direction == "at_least" else self.n - self.favourable
        return f"{self.rate:.3f} ({shown}/{self.n})"


def _int(mapping: Mapping[str, Any], key: str) -> int:
    value = mapping.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def rate_counts(result: RequirementResult) -> RateCounts | None:
    """The favourable count of a suite requirement's result, or None when it has none.

    Raw counts come from the decision record; a result without one (written by
    hand or by an older version) falls back to its estimate and ``n_used``.
    """
    if result.measure.get("kind") != "suite" or result.verdict == "not_applicable":
        return None
    direction = result.direction
    decision = result.decision or {}
    counts = decision.get("counts")
    if isinstance(counts, Mapping):
        successes = _int(counts, "successes")
        n_scored = _int(counts, "n_scored")
        missing = _int(counts, "n_error") + _int(counts, "n_unscored")
    elif result.estimate is not None and result.n_used > 0:
        n_scored = result.n_used
        successes = round(result.estimate * n_scored)
        missing = 0
    else:
        return None
    good = successes if direction == "at_least" else n_scored - successes
    if result.error_policy == "as_failure":
        return RateCounts(good, n_scored + missing, direction)
    return RateCounts(good, n_scored, direction)


def regression_p_value(certified: RateCounts, observed: RateCounts) -> float:
    """One-sided p-value of "the favourable rate is lower now than when certified"."""
    if certified.n == 0 or observed.n == 0:
        return 1.0
    from scipy.stats import fisher_exact

    table = [
        [certified.favourable, certified.n - certified.favourable],
        [observed.favourable, observed.n - observed.favourable],
    ]
    # "greater": the certified sample has greater odds of a favourable outcome.
    _, p_value = fisher_exact(table, alternative="greater")
    return min(1.0, max(0.0, float(p_value)))


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the order given (reject where ≤ alpha)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class Comparison:
    """One requirement: certified against observed, with raw and Holm-adjusted p-values."""

    requirement: str
    clause: str
    certified: RateCounts
    observed: RateCounts
    p_value: float
    adjusted_p_value: float
    alpha: float

    @property
    def regressed(self) -> bool:
        return self.adjusted_p_value <= self.alpha

    def reason(self) -> str:
        return (
            f"requirement {self.requirement} (clause {self.clause}) regressed: certified rate "
            f"{self.certified.words()}, new rate {self.observed.words()}; {TEST_NAME} "
            f"p = {self.p_value:.3g}, {CORRECTION_NAME}-adjusted p = {self.adjusted_p_value:.3g} "
            f"≤ alpha {self.alpha:g}"
        )


def compare(
    pairs: Sequence[tuple[RequirementResult, RateCounts, RateCounts]], alpha: float
) -> list[Comparison]:
    """Test every pair, adjusting across all of them together."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    raw = [regression_p_value(certified, observed) for _, certified, observed in pairs]
    adjusted = holm_adjust(raw)
    return [
        Comparison(result.id, result.clause, certified, observed, p, q, alpha)
        for (result, certified, observed), p, q in zip(pairs, raw, adjusted, strict=True)
    ]


__all__ = [
    "CORRECTION_NAME",
    "TEST_NAME",
    "Comparison",
    "RateCounts",
    "compare",
    "holm_adjust",
    "rate_counts",
    "regression_p_value",
]
