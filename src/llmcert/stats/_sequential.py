"""Anytime-valid sequential testing: stop drawing items once the verdict is settled.

Method: a beta-binomial mixture likelihood ratio (Robbins 1970; the one-sided
form as in Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences"). In the oriented frame
("rate ≥ t"), after ``n`` items with ``S`` favourable outcomes

    E_pass(n) = ∫_{p ≥ t} (p/t)^S ((1-p)/(1-t))^(n-S) dπ(p)

with π a Beta prior restricted to ``[t, 1]``. For every true rate ``p ≤ t``
each ratio inside the integral has expectation ≤ 1 per item, so ``E_pass`` is a
non-negative supermartingale and Ville's inequality gives
``P(E_pass ever reaches 1/alpha) ≤ alpha``. ``E_fail`` is the mirror image with
π restricted to ``[0, t]``, a supermartingale whenever ``p ≥ t``. The test
declares PASS when ``E_pass ≥ 1/alpha`` (once ``min_n`` items count) and FAIL when
``E_fail ≥ 1/alpha``; each wrong verdict has probability ≤ alpha however the
stopping time is chosen, so it may look after every item. A run that reaches
the bank size unsettled is INCONCLUSIVE.

The prior is Beta(κt, κ(1−t)) (each parameter at least 1/2), i.e. centred on the
threshold with strength κ = ``prior_strength``; this puts weight on rates near
the threshold, where evidence is hardest to gather. Both E-values have closed
forms in regularized incomplete beta functions and depend on the outcomes only
through ``(S, n)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmcert.stats._decision import (
    Counts,
    Decision,
    Direction,
    ErrorPolicy,
    Oriented,
    Verdict,
    blocked_words,
    check_rule_inputs,
    orient,
)
from llmcert.stats._exact import first_reaching
from llmcert.stats._mixture import Side, log_evidence

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class SequentialTest:
    """One sequential run, fed one outcome at a time (see the module docstring).

    ``update(True/False)`` records a scored outcome, ``update(None)`` a missing
    one (a failed call, or with ``unscored=True`` an unscored response), which
    counts as the rule's ``error_policy`` says. ``update`` returns the verdict as
    soon as it is settled, else None; feeding a settled run is an error.
    """

    def __init__(
        self,
        rule: Sequential,
        threshold: float,
        direction: Direction,
        *,
        min_n: int = 1,
        max_items: int | None = None,
    ) -> None:
        self._alpha = check_rule_inputs(rule.confidence, min_n)
        if max_items is not None and max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        orient(Counts(0, 0), threshold, direction, rule.error_policy)  # validates the inputs
        self.rule, self.threshold, self.direction = rule, threshold, direction
        self.min_n, self.max_items = min_n, max_items
        self._s = self._n = self._err = self._uns = 0
        self._verdict: Verdict | None = None

    @property
    def counts(self) -> Counts:
        return Counts(self._s, self._n, self._err, self._uns)

    @property
    def verdict(self) -> Verdict | None:
        """The settled verdict, or None while the run goes on."""
        return self._verdict

    def update(self, outcome: bool | None, *, unscored: bool = False) -> Verdict | None:
        if self._verdict is not None:
            raise RuntimeError(f"the run is already settled ({self._verdict.value})")
        if outcome is None:
            if unscored:
                self._uns += 1
            else:
                self._err += 1
        else:
            self._n += 1
            self._s += bool(outcome)
        self._verdict = self._settle()
        return self._verdict

    def _settle(self) -> Verdict | None:
        o = self.rule.orient(self.counts, self.threshold, self.direction)
        if o.blocked:
            return Verdict.INCONCLUSIVE
        verdict = self.rule.verdict_for(o, self._alpha, self.min_n)
        if verdict is Verdict.INCONCLUSIVE:
            capped = self.max_items is not None and self.counts.n_total >= self.max_items
            return Verdict.INCONCLUSIVE if capped else None
        return verdict

    def decision(self) -> Decision:
        """The decision now: the settled verdict, or INCONCLUSIVE while unsettled."""
        return self.rule.explain(
            self.counts,
            self.threshold,
            self.direction,
            min_n=self.min_n,
            verdict=self._verdict or Verdict.INCONCLUSIVE,
            max_items=self.max_items,
        )


@dataclass(frozen=True)
class Sequential:
    """Anytime-valid sequential rule (beta-binomial mixture; see the module docstring).

    Each wrong verdict has probability ≤ ``1 - confidence`` at any stopping time.
    ``start()`` opens a run to feed item by item; ``run()`` feeds an iterable
    until settled; ``decide()`` judges a finished batch at its final count (one
    look, a special case of a stopping time, so the guarantee holds, though a
    fixed-size batch is better served by ``ConfidenceBound``).
    ``more_items_needed`` for an unsettled run is a plug-in figure: the fewest
    further items after which, if they matched the current estimate exactly,
    the evidence would settle the run.
    """

    confidence: float = 0.95
    error_policy: ErrorPolicy = "as_failure"
    prior_strength: float = 10.0
    name: str = field(default="sequential", init=False)

    def __post_init__(self) -> None:
        check_rule_inputs(self.confidence, 0)
        if not (math.isfinite(self.prior_strength) and self.prior_strength > 0):
            raise ValueError(f"prior_strength must be positive, got {self.prior_strength}")

    def start(
        self,
        threshold: float,
        direction: Direction,
        *,
        min_n: int = 1,
        max_items: int | None = None,
    ) -> SequentialTest:
        return SequentialTest(self, threshold, direction, min_n=min_n, max_items=max_items)

    def run(
        self,
        outcomes: Iterable[bool | None],
        threshold: float,
        direction: Direction,
        *,
        min_n: int = 1,
        max_items: int | None = None,
    ) -> Decision:
        """Feed outcomes until settled; an exhausted iterable ends INCONCLUSIVE."""
        test = self.start(threshold, direction, min_n=min_n, max_items=max_items)
        for outcome in outcomes:
            if test.update(outcome) is not None:
                break
        return test.decision()

    def decide(
        self, counts: Counts, threshold: float, direction: Direction, *, min_n: int = 1
    ) -> Decision:
        alpha = check_rule_inputs(self.confidence, min_n)
        o = self.orient(counts, threshold, direction)
        verdict = Verdict.INCONCLUSIVE if o.blocked else self.verdict_for(o, alpha, min_n)
        return self.explain(counts, threshold, direction, min_n=min_n, verdict=verdict)

    # -- shared by the batch and the item-by-item paths --------------------------------

    def orient(self, counts: Counts, threshold: float, direction: Direction) -> Oriented:
        return orient(counts, threshold, direction, self.error_policy)

    def evidence(self, o: Oriented) -> tuple[float, float]:
        """Log E-values (pass, fail) for oriented counts; 0 before any item."""
        if o.n == 0:
            return 0.0, 0.0
        lp = log_evidence(o.pass_successes, o.n, o.threshold, "pass", self.prior_strength)
        lf = log_evidence(o.fail_successes, o.n, o.threshold, "fail", self.prior_strength)
        return float(lp), float(lf)

    def verdict_for(self, o: Oriented, alpha: float, min_n: int) -> Verdict:
        level = math.log(1.0 / alpha)
        log_pass, log_fail = self.evidence(o)
        if log_pass >= level and o.n >= min_n:
            return Verdict.PASS
        if log_fail >= level:
            return Verdict.FAIL
        return Verdict.INCONCLUSIVE

    def explain(
        self,
        counts: Counts,
        threshold: float,
        direction: Direction,
        *,
        min_n: int,
        verdict: Verdict,
        max_items: int | None = None,
    ) -> Decision:
        alpha = 1.0 - self.confidence
        o = self.orient(counts, threshold, direction)
        log_pass, log_fail = self.evidence(o)
        params: dict[str, Any] = {
            "method": "beta-binomial mixture",
            "prior_strength": self.prior_strength,
            "error_policy": self.error_policy,
            "max_items": max_items,
            "e_value_pass": math.exp(min(log_pass, 700.0)),
            "e_value_fail": math.exp(min(log_fail, 700.0)),
        }
        estimate = None if o.estimate is None else o.outward(o.estimate, direction)
        interval = None
        if o.n:
            low, high = self._bounds(o, alpha)
            interval = o.outward_interval(low, high, direction)
        req = f"{'≥' if direction == 'at_least' else '≤'} {threshold:g}"
        more: int | None = None
        bar = f"1/α = {1.0 / alpha:.4g}"
        if verdict is Verdict.PASS:
            text = f"Evidence for {req} reached {params['e_value_pass']:.4g} ≥ {bar} after {o.n} items."
        elif verdict is Verdict.FAIL:
            text = f"Evidence against {req} reached {params['e_value_fail']:.4g} ≥ {bar} after {o.n} items."
        elif o.blocked:
            text = blocked_words(counts)
        else:
            more = self._plug_in_more(o, alpha, min_n)
            hint = (
                f"about {more} more items at the current rate would settle it"
                if more is not None
                else "the estimate is too close to the threshold to plan"
            )
            text = f"Undecided after {o.n} items: neither E-value reached {bar}; {hint}."
        return Decision(
            verdict,
            self.name,
            params,
            threshold,
            direction,
            self.confidence,
            estimate,
            interval,
            counts,
            o.n,
            min_n,
            more,
            text,
        )

    def _plug_in_more(self, o: Oriented, alpha: float, min_n: int) -> int | None:
        if o.estimate is None:
            return None
        import numpy as np

        level = math.log(1.0 / alpha)
        rate = o.estimate

        def settles(m: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
            total = o.n + m
            gain = m * rate
            lp = log_evidence(
                o.pass_successes + gain, total, o.threshold, "pass", self.prior_strength
            )
            lf = log_evidence(
                o.fail_successes + gain, total, o.threshold, "fail", self.prior_strength
            )
            return np.asarray(((lp >= level) & (total >= min_n)) | (lf >= level))

        return first_reaching(settles)

    def _bounds(self, o: Oriented, alpha: float) -> tuple[float, float]:
        """Anytime-valid one-sided bounds: thresholds the current evidence cannot reject."""
        level = math.log(1.0 / alpha)

        def rejected(t: float, side: Side) -> bool:
            s = o.pass_successes if side == "pass" else o.fail_successes
            return bool(log_evidence(s, o.n, t, side, self.prior_strength) >= level)

        def edge(side: Side) -> float:
            # pass side: small thresholds are rejected, large ones not; fail side mirrored.
            lo, hi = 1e-12, 1.0 - 1e-12
            if side == "pass" and not rejected(lo, side):
                return 0.0
            if side == "fail" and not rejected(hi, side):
                return 1.0
            for _ in range(50):
                mid = (lo + hi) / 2.0
                if rejected(mid, side) == (side == "pass"):
                    lo = mid
                else:
                    hi = mid
            return lo if side == "pass" else hi

        return edge("pass"), edge("fail")
