"""Judge error on an "any of k" rate: units counted when at least one of their items is.

An attack run's behaviour breach rate is such a rate: a behaviour is broken when
at least one of its attack prompts (up to ``k`` judged answers) is judged a
success. The judge's per-item sensitivity ``se`` and specificity ``sp`` do not
describe that event, and its errors on one behaviour's prompts are unlikely to
be independent (the answers to one behaviour look alike). Without assuming any
independence, the per-item rates still bound the per-unit ones:

* a unit with no true positive is judged positive only if some item is a false
  positive: probability ≤ k·(1 − sp) (the union bound);
* a unit with a true positive is judged negative only if that item is missed:
  probability ≤ 1 − se.

For the true rate ``p`` and the probability ``q`` that a unit is judged positive,
then ``se·p ≤ q ≤ p + (1 − p)·F`` with ``F = min(1, k·(1 − sp))``, so

    p ≤ q / se        and        p ≥ (q − F) / (1 − F).

The upper end needs only the sensitivity and does not grow with ``k``; the lower
end loses everything once ``k·(1 − sp)`` reaches 1 (with 20 prompts a behaviour
and a specificity bound of 0.95, a judged breach may be a false alarm). The
bounds take ``q`` at exact (Clopper–Pearson) bounds over the units, which are
independent, and ``se``, ``sp`` at their lower bounds from the calibration, the
error probability split between them as in :func:`~llmcert.stats.corrected_interval`.

Assumptions: units are independent; the judge's error on an item depends only on
the item's true label (non-differential); the calibration carries over to the
model under test. A unit whose outcome is missing counts per the error policy,
as a known outcome (it keeps both inequalities).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmcert.stats._correction import JudgeErrorRates, _box, _cp_lower, _cp_upper
from llmcert.stats._decision import (
    Counts,
    Decision,
    Direction,
    ErrorPolicy,
    Verdict,
    blocked_words,
    check_rule_inputs,
    decision_maker,
    orient,
)


def _check_items(items: int) -> None:
    if isinstance(items, bool) or not isinstance(items, int) or items < 1:
        raise ValueError(f"items per unit must be a positive integer, got {items!r}")


def _bounds(
    low_hits: int,
    high_hits: int,
    n: int,
    rates: JudgeErrorRates,
    items: int,
    alpha: float,
    cap: bool,
) -> tuple[float, float]:
    """Each end errs with probability at most ``alpha`` (the module docstring's bounds)."""
    box = _box(rates, alpha)
    q_lo = _cp_lower(low_hits, n, box.alpha_q)
    q_hi = _cp_upper(high_hits, n, box.alpha_q)
    false_alarm = min(1.0, items * (1.0 - box.sp_lo))
    low = 0.0 if false_alarm >= 1.0 else max(0.0, (q_lo - false_alarm) / (1.0 - false_alarm))
    high = 1.0 if box.se_lo <= 0.0 else min(1.0, q_hi / box.se_lo)
    if cap:  # never more favourable to a verdict than the judged labels alone
        low = min(low, _cp_lower(low_hits, n, alpha))
        high = max(high, _cp_upper(high_hits, n, alpha))
    return low, high


def any_of_interval(
    low_hits: int,
    high_hits: int,
    n: int,
    rates: JudgeErrorRates,
    items: int,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Two-sided interval for the true "any of ``items``" rate of ``n`` units.

    ``low_hits`` units were judged positive, ``high_hits`` ≥ ``low_hits`` counts the
    units whose outcome is unknown as positive too. The interval is the hull with
    the Clopper–Pearson one on the judged labels, so folding in the judge's error
    only ever widens it.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if not 0 <= low_hits <= high_hits <= n or n < 1:
        raise ValueError(f"need 0 ≤ low ≤ high ≤ n and n ≥ 1, got {low_hits}, {high_hits}, {n}")
    _check_items(items)
    return _bounds(low_hits, high_hits, n, rates, items, (1.0 - confidence) / 2.0, True)


@dataclass(frozen=True)
class AnyOfBound:
    """Confidence-bound rule on an "any of k" rate, with the judge's error folded in.

    Like :class:`~llmcert.stats.CorrectedBound`, with the per-unit bounds of the
    module docstring: for "rate ≤ t" PASS iff the upper bound is ≤ t (it needs the
    judge's sensitivity only: a judge that misses harm cannot pass a model), FAIL
    iff the lower bound is > t. Each wrong verdict has probability at most
    ``1 − confidence`` under the module's assumptions; with ``cap_at_judged`` (the
    default) the bounds are never more favourable to a verdict than the judged
    labels', so the correction holds verdicts back and never grants one.
    """

    rates: JudgeErrorRates
    items: int
    confidence: float = 0.95
    error_policy: ErrorPolicy = "as_failure"
    cap_at_judged: bool = True
    name: str = field(default="any_of_corrected_bound", init=False)

    def __post_init__(self) -> None:
        check_rule_inputs(self.confidence, 0)
        _check_items(self.items)

    def decide(
        self, counts: Counts, threshold: float, direction: Direction, *, min_n: int = 1
    ) -> Decision:
        alpha = check_rule_inputs(self.confidence, min_n)
        o = orient(counts, threshold, direction, self.error_policy)
        params: dict[str, Any] = {
            "method": "any of k items: union bound on false alarms, one miss per breach; "
            "bonferroni, clopper-pearson",
            "items_per_unit": self.items,
            "error_policy": self.error_policy,
            "judge_rates": self.rates.to_dict(),
            "cap_at_judged": self.cap_at_judged,
        }
        req = f"{'≥' if direction == 'at_least' else '≤'} {threshold:g}"
        estimate = None if o.estimate is None else o.outward(o.estimate, direction)
        make = decision_maker(
            self.name, params, threshold, direction, self.confidence, estimate, counts, o.n, min_n
        )
        if o.n == 0:
            return make(Verdict.INCONCLUSIVE, None, None, f"No unit was scored to decide {req}.")
        if direction == "at_least":
            low, high = _bounds(
                o.pass_successes, o.fail_successes, o.n, self.rates, self.items, alpha,
                self.cap_at_judged,
            )  # fmt: skip
        else:  # oriented: the favourable outcome is "no item positive"
            lo_pos, hi_pos = _bounds(
                o.n - o.fail_successes, o.n - o.pass_successes, o.n, self.rates, self.items,
                alpha, self.cap_at_judged,
            )  # fmt: skip
            low, high = 1.0 - hi_pos, 1.0 - lo_pos
        interval = o.outward_interval(low, high, direction)
        level = f"{self.confidence:.0%}"
        what = f"judge-corrected {level} bound (any of {self.items} items)"
        if o.blocked:
            return make(Verdict.INCONCLUSIVE, interval, None, blocked_words(counts))
        if low >= o.threshold and o.n >= min_n:
            bound = interval[0] if direction == "at_least" else interval[1]
            return make(
                Verdict.PASS, interval, None, f"The {what} {bound:.4g} clears {req} on {o.n} units."
            )
        if high < o.threshold:
            bound = interval[1] if direction == "at_least" else interval[0]
            return make(
                Verdict.FAIL,
                interval,
                None,
                f"The {what} {bound:.4g} is on the wrong side of {req} on {o.n} units.",
            )
        if low >= o.threshold:
            why = f"the bound clears {req} but only {o.n} of the required {min_n} units count"
        else:
            why = (
                f"the judge-corrected {level} interval [{interval[0]:.4g}, {interval[1]:.4g}] "
                f"(any of {self.items} items) straddles {req}"
            )
        return make(Verdict.INCONCLUSIVE, interval, None, f"Undecided: {why}.")
