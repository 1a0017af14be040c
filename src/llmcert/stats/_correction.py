"""Judge-error correction: decide on the true rate when a fallible judge labelled the items.

A judge that finds the counted outcome with sensitivity ``se`` and rejects its
absence with specificity ``sp`` shows the outcome at the apparent rate
``q = se·p + (1 − sp)(1 − p)``. Solving for ``p`` gives the Rogan–Gladen
estimator (Rogan & Gladen 1978, "Estimating prevalence from the results of a
screening test", Am. J. Epidemiol. 107(1)):

    p = (q + sp − 1) / (se + sp − 1),   clipped to [0, 1].

A judge with ``se + sp ≤ 1`` carries no information about ``p``, so it is refused.

Uncertainty comes from three independent samples: the test items (``q``) and the
human-labelled positives and negatives the judge was calibrated on (``se``, ``sp``).
Bounds split the error probability between them (Bonferroni), and each end of the
interval needs only one side of each: if ``q ≥ q_lo``, ``se ≤ se_hi`` and
``sp ≥ sp_lo``, then ``q_lo ≤ q = p·se + (1 − p)(1 − sp) ≤ p·se_hi + (1 − p)(1 − sp_lo)``,
which is linear in ``p``, so

    p ≥ (q_lo + sp_lo − 1) / (se_hi + sp_lo − 1)   when that denominator is positive,

and the upper end is the mirror image with ``q_hi``, ``se_lo`` and ``sp_hi``. Where
the calibration is too uncertain for one end (its denominator is not positive,
e.g. a new source's specificity might be near 0), that end is the trivial 0 or 1
and the other end still stands: a judge whose rates for a new source are wide
can still show that nearly every item is a refusal. Where the box holds only
judges with ``se + sp > 1`` each end is the box's worst corner.

Assumptions the guarantee rests on, and which a report must state: items are
independent; the judge's errors depend on an item only through its true label
(non-differential misclassification); and the calibration rates carry over to
the model under test. Rates measured on other models' responses are evidence
for that last point, not proof of it. Where the calibration keeps counts per
source, the last assumption is weakened to "the model under test is a new
source like the calibration's sources": each rate's bounds are then prediction
bounds for a new source under a between-source model (``_between``), which
widen as the sources disagree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from llmcert.stats._between import check_sources, check_tau_floor, new_source_bounds
from llmcert.stats._decision import (
    Counts,
    Decision,
    Direction,
    ErrorPolicy,
    Oriented,
    Verdict,
    blocked_words,
    check_rule_inputs,
    decision_maker,
    orient,
)
from llmcert.stats._exact import MAX_ITEMS, check_unit
from llmcert.stats._intervals import clopper_pearson_interval


@dataclass(frozen=True)
class JudgeErrorRates:
    """A judge's sensitivity and specificity, with the human-labelled counts behind them.

    "Positive" is the outcome a rate counts (``Counts.successes``, e.g. a refusal);
    use :meth:`swapped` for a rate of the opposite outcome. ``n_positive`` and
    ``n_negative`` are the numbers of human-labelled positives and negatives the
    rates were measured on; ``sensitivity · n_positive`` must be a whole number of
    items (and likewise for specificity), since exact bounds are computed from the
    counts. ``None`` marks a rate taken as exactly known (a rule that cannot err);
    it then costs no share of the error probability.

    ``sensitivity_sources`` and ``specificity_sources`` hold ``(correct, n)`` per
    calibration source. With two or more sources for a rate, its bounds are the
    between-source model's prediction bounds for a *new* source
    (:mod:`llmcert.stats._between`) instead of the binomial bounds of the pooled
    count, so the correction allows for the judge erring differently on the
    model under test than on any one calibration source. ``tau_floor`` is the least
    between-source spread those bounds allow for (0: as the sources show).
    """

    sensitivity: float
    specificity: float
    n_positive: int | None
    n_negative: int | None
    source: str
    sensitivity_sources: tuple[tuple[int, int], ...] = ()
    specificity_sources: tuple[tuple[int, int], ...] = ()
    tau_floor: float = 0.0

    def __post_init__(self) -> None:
        for name, value, n in (
            ("sensitivity", self.sensitivity, self.n_positive),
            ("specificity", self.specificity, self.n_negative),
        ):
            check_unit(name, value, closed=True)
            if n is None:
                continue
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(
                    f"the count behind the {name} must be a positive integer, got {n!r}"
                )
            if abs(value * n - round(value * n)) > 1e-6:
                raise ValueError(
                    f"{name} {value} is not a whole number of items out of {n}; "
                    "give the rates as counts (JudgeErrorRates.from_counts)"
                )
        if not self.sensitivity + self.specificity > 1.0:
            raise ValueError(
                "a judge with sensitivity + specificity ≤ 1 says nothing about the true rate "
                f"(got {self.sensitivity} + {self.specificity})"
            )
        if not self.source.strip():
            raise ValueError("source must say where the rates were measured")
        for name, sources in (
            ("sensitivity_sources", self.sensitivity_sources),
            ("specificity_sources", self.specificity_sources),
        ):
            object.__setattr__(self, name, check_sources(sources))
        object.__setattr__(self, "tau_floor", check_tau_floor(self.tau_floor))

    @classmethod
    def from_counts(
        cls,
        true_positives: int,
        n_positive: int,
        true_negatives: int,
        n_negative: int,
        source: str,
    ) -> JudgeErrorRates:
        if not (0 <= true_positives <= n_positive and 0 <= true_negatives <= n_negative):
            raise ValueError("correct counts must lie between 0 and the number of items")
        return cls(
            true_positives / n_positive,
            true_negatives / n_negative,
            n_positive,
            n_negative,
            source,
        )

    @property
    def true_positives(self) -> int | None:
        return None if self.n_positive is None else round(self.sensitivity * self.n_positive)

    @property
    def true_negatives(self) -> int | None:
        return None if self.n_negative is None else round(self.specificity * self.n_negative)

    def swapped(self) -> JudgeErrorRates:
        """The same judge seen as detecting the opposite outcome."""
        return JudgeErrorRates(
            self.specificity,
            self.sensitivity,
            self.n_negative,
            self.n_positive,
            self.source,
            self.specificity_sources,
            self.sensitivity_sources,
            self.tau_floor,
        )

    @property
    def between_sources(self) -> bool:
        """Whether either rate is bounded for a new source (two or more sources)."""
        return len(self.sensitivity_sources) > 1 or len(self.specificity_sources) > 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-source counts as lists, as they read back from a file."""
        data = asdict(self)
        for key in ("sensitivity_sources", "specificity_sources"):
            data[key] = [list(pair) for pair in data[key]]
        return data


def rogan_gladen(q: float, rates: JudgeErrorRates) -> float:
    """The true rate implied by the judged rate ``q``, clipped to [0, 1]."""
    check_unit("judged rate", q, closed=True)
    return _clip(_estimator(q, rates.sensitivity, rates.specificity))


def _estimator(q: float, se: float, sp: float) -> float:
    # Written with the false-positive rate so that a perfect judge returns q exactly.
    false_positive = 1.0 - sp
    return (q - false_positive) / (se - false_positive)


def _clip(p: float) -> float:
    return min(1.0, max(0.0, p))


@dataclass(frozen=True)
class _Box:
    """One-sided bounds of the judge's rates, each at its share of the error probability."""

    se_lo: float
    se_hi: float
    sp_lo: float
    sp_hi: float
    #: Error probability left for the judged rate (per side).
    alpha_q: float


def _box(rates: JudgeErrorRates, alpha: float) -> _Box:
    """Split ``alpha`` (per side) equally over the quantities that are estimated."""
    uncertain = 1 + (rates.n_positive is not None) + (rates.n_negative is not None)
    share = alpha / uncertain
    level = 1.0 - 2.0 * share
    se_lo = se_hi = rates.sensitivity
    sp_lo = sp_hi = rates.specificity
    if len(rates.sensitivity_sources) > 1:
        se_lo, se_hi = new_source_bounds(rates.sensitivity_sources, share, rates.tau_floor)
    elif rates.n_positive is not None:
        tp = round(rates.sensitivity * rates.n_positive)
        se_lo, se_hi = clopper_pearson_interval(tp, rates.n_positive, level)
    if len(rates.specificity_sources) > 1:
        sp_lo, sp_hi = new_source_bounds(rates.specificity_sources, share, rates.tau_floor)
    elif rates.n_negative is not None:
        tn = round(rates.specificity * rates.n_negative)
        sp_lo, sp_hi = clopper_pearson_interval(tn, rates.n_negative, level)
    return _Box(se_lo, se_hi, sp_lo, sp_hi, share)


def _extremes(
    q_lo: float, q_hi: float, box: _Box, *, sp_top: float | None = None
) -> tuple[float, float]:
    """The lower end from ``q_lo``, ``se_hi`` and ``sp_lo``; the upper from ``q_hi``,
    ``se_lo`` and ``sp_hi`` (see the module docstring), clipped to [0, 1].

    ``sp_top`` replaces the upper specificity bound for the upper end only (see
    ``CorrectedBound`` on missing outcomes). An end whose denominator is not
    positive says nothing: it is 0 (lower) or 1 (upper). Ends that cross (the judged
    rate lies where no judge in the box could have put it) are swapped, which only
    widens each.
    """
    sp_hi = box.sp_hi if sp_top is None else sp_top
    low = _clip(_estimator(q_lo, box.se_hi, box.sp_lo)) if box.se_hi + box.sp_lo > 1.0 else 0.0
    high = _clip(_estimator(q_hi, box.se_lo, sp_hi)) if box.se_lo + sp_hi > 1.0 else 1.0
    return min(low, high), max(low, high)


def corrected_interval(
    successes: int, n: int, rates: JudgeErrorRates, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for the true rate when ``successes`` of ``n`` items were judged positive.

    Guarantee: with probability at least ``confidence`` the interval holds the true
    rate, for every true rate, judge and sample sizes, under the assumptions of the
    module docstring. Each end alone errs with probability at most
    ``(1 − confidence) / 2``: the judged rate, the sensitivity and the specificity
    each get an exact (Clopper–Pearson) one-sided bound at a third of that (half
    when one rate is exact), and the end is the worst corner of their box. The
    price is width: the calibration sets bound how narrow it can get, however
    many items are tested. With ``sensitivity = specificity = 1`` given as exact
    it is the Clopper–Pearson interval.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if not 0 <= successes <= n or n < 1:
        raise ValueError(f"need 0 ≤ successes ≤ n and n ≥ 1, got {successes} of {n}")
    return _Setup(_box(rates, (1.0 - confidence) / 2.0), None, None).bounds(successes, successes, n)


_INCONSISTENT = (
    "The judged rate lies outside what the judge's calibration allows; its error rates "
    "may not carry over to this model."
)


@dataclass(frozen=True)
class CorrectedBound:
    """Confidence-bound rule on the judge-corrected rate.

    For "rate ≥ t": PASS iff the corrected lower bound at ``confidence`` is ≥ t and
    at least ``min_n`` items count; FAIL iff the corrected upper bound is < t;
    otherwise INCONCLUSIVE. "rate ≤ t" is the mirror image (the judge's rates are
    swapped so that they describe the favourable outcome). Each wrong verdict has
    probability at most ``1 − confidence`` under the assumptions of the module
    docstring (see :func:`corrected_interval`).

    Missing outcomes follow ``error_policy`` exactly as in ``ConfidenceBound``. A
    missing outcome is known, not judged: for the PASS bound it acts as a judged
    unfavourable item that truly is unfavourable, which only raises the effective
    specificity, so the lower end stays valid. For the FAIL bound under
    ``as_failure`` the same rise would let the upper end fall short, so there the
    upper specificity bound is taken as 1 whenever outcomes are missing.

    With ``cap_at_judged`` (the default) neither bound is ever more favourable to a
    verdict than the same confidence bound on the judged labels alone, i.e. the
    interval is the hull of the corrected one and ``ConfidenceBound``'s. Each wrong
    verdict then stays within ``1 − confidence`` if EITHER the calibration carries
    over OR the judge errs only against the verdict on this model (say it never
    misses a refusal here): the correction can hold a verdict back, never grant
    one the judged labels refuse. ``cap_at_judged=False`` gives the pure corrected
    bounds, which can be more favourable than the judged labels when the judge's
    misses are credited back.

    ``more_items_needed`` is a plug-in figure: the fewest further items after which,
    if judged outcomes came exactly at the current judged rate, a verdict would
    follow. It is None when even unlimited items would not do: the judge's
    calibration (not the test size) then limits the bounds, or the judged labels
    and the corrected rate fall on opposite sides of the threshold.
    """

    rates: JudgeErrorRates
    confidence: float = 0.95
    error_policy: ErrorPolicy = "as_failure"
    cap_at_judged: bool = True
    name: str = field(default="corrected_bound", init=False)

    def __post_init__(self) -> None:
        check_rule_inputs(self.confidence, 0)

    def decide(
        self, counts: Counts, threshold: float, direction: Direction, *, min_n: int = 1
    ) -> Decision:
        alpha = check_rule_inputs(self.confidence, min_n)
        o = orient(counts, threshold, direction, self.error_policy)
        rates = self.rates if direction == "at_least" else self.rates.swapped()
        box = _box(rates, alpha)
        sp_top = 1.0 if self.error_policy == "as_failure" and counts.n_missing else None
        setup = _Setup(box, sp_top, alpha if self.cap_at_judged else None)
        judged = None if o.estimate is None else o.outward(o.estimate, direction)
        corrected = None if o.estimate is None else rogan_gladen(o.estimate, rates)
        estimate = None if corrected is None else o.outward(corrected, direction)
        params: dict[str, Any] = {
            "method": "rogan-gladen, bonferroni, "
            + ("between-source prediction" if rates.between_sources else "clopper-pearson"),
            "error_policy": self.error_policy,
            "judge_rates": self.rates.to_dict(),
            "cap_at_judged": self.cap_at_judged,
            "judged_rate": judged,
        }
        req = f"{'≥' if direction == 'at_least' else '≤'} {threshold:g}"

        make = decision_maker(
            self.name, params, threshold, direction, self.confidence, estimate, counts, o.n, min_n
        )

        if o.n == 0:
            return make(Verdict.INCONCLUSIVE, None, None, f"No item was scored to decide {req}.")
        low, high = setup.bounds(o.pass_successes, o.fail_successes, o.n)
        # A judged rate above the sensitivity (or below 1 - specificity) is more than the
        # judge's calibration allows: its rates may not carry over to this model.
        consistent = (
            _cp_lower(o.pass_successes, o.n, box.alpha_q) <= box.se_hi
            and _cp_upper(o.fail_successes, o.n, box.alpha_q) >= 1.0 - box.sp_hi
        )
        params["calibration_consistent"] = consistent
        caveat = "" if consistent else f" {_INCONSISTENT}"
        interval = o.outward_interval(low, high, direction)
        level = f"{self.confidence:.0%}"
        safe, other = ("lower", "upper") if direction == "at_least" else ("upper", "lower")
        safe_value, other_value = interval if direction == "at_least" else interval[::-1]
        if o.blocked:
            return make(
                Verdict.INCONCLUSIVE,
                interval,
                None,
                blocked_words(counts),
            )
        if low >= o.threshold and o.n >= min_n:
            return make(
                Verdict.PASS,
                interval,
                None,
                f"The judge-corrected {level} {safe} bound {safe_value:.4g} clears {req} "
                f"on {o.n} items.{caveat}",
            )
        if high < o.threshold:
            return make(
                Verdict.FAIL,
                interval,
                None,
                f"The judge-corrected {level} {other} bound {other_value:.4g} is on the wrong "
                f"side of {req} on {o.n} items.{caveat}",
            )
        more = _plug_in_more(o, setup, min_n)
        if low >= o.threshold:
            why = (
                f"the {safe} bound clears {req} but only {o.n} of the required {min_n} items count"
            )
        else:
            why = (
                f"the judge-corrected {level} interval [{interval[0]:.4g}, {interval[1]:.4g}] "
                f"straddles {req}"
            )
        if more is not None:
            hint = f"about {more} more items at the current judged rate would settle it"
        elif setup.cap is not None and _split(setup, o):
            hint = (
                f"more items would not settle it: the judged labels and the judge-corrected "
                f"rate fall on opposite sides of {req}"
            )
        else:
            hint = "more items would not settle it: the judge's calibration limits the bounds"
        return make(Verdict.INCONCLUSIVE, interval, more, f"Undecided: {why}; {hint}.{caveat}")


def _cp_lower(successes: float, n: int, alpha: float) -> float:
    """Exact one-sided lower bound at level ``1 - alpha`` (``successes`` may be fractional)."""
    from scipy.special import betaincinv

    return float(betaincinv(successes, n - successes + 1, alpha)) if successes > 0 else 0.0


def _cp_upper(successes: float, n: int, alpha: float) -> float:
    from scipy.special import betaincinv

    return float(betaincinv(successes + 1, n - successes, 1.0 - alpha)) if successes < n else 1.0


@dataclass(frozen=True)
class _Setup:
    """What one decision fixes in the oriented frame: the box of judge rates, the
    specificity top for missing outcomes, and the level of the judged-label cap."""

    box: _Box
    sp_top: float | None
    cap: float | None

    def bounds(self, pass_successes: float, fail_successes: float, n: int) -> tuple[float, float]:
        q_lo = _cp_lower(pass_successes, n, self.box.alpha_q)
        q_hi = _cp_upper(fail_successes, n, self.box.alpha_q)
        low, high = _extremes(q_lo, q_hi, self.box, sp_top=self.sp_top)
        if self.cap is not None:
            low = min(low, _cp_lower(pass_successes, n, self.cap))
            high = max(high, _cp_upper(fail_successes, n, self.cap))
        return low, high

    def limit(self, rate: float) -> tuple[float, float]:
        """The bounds with the judged rate known exactly (unlimited items)."""
        low, high = _extremes(rate, rate, self.box, sp_top=self.sp_top)
        if self.cap is not None:
            low, high = min(low, rate), max(high, rate)
        return low, high


def _split(setup: _Setup, o: Oriented) -> bool:
    """Would the corrected bounds alone settle the verdict with unlimited items?"""
    rate = o.estimate if o.estimate is not None else 0.0
    low, high = _Setup(setup.box, setup.sp_top, None).limit(rate)
    return low > o.threshold or high < o.threshold


def _plug_in_more(o: Oriented, setup: _Setup, min_n: int) -> int | None:
    """Plug-in further items (oriented frame); None when the calibration caps the verdict.

    Doubling, then bisection: the settling test is taken as monotone in the number
    of further items, which holds up to the rounding of plug-in counts.
    """
    rate = o.estimate if o.estimate is not None else 0.0
    # With unlimited items the judged rate is known exactly; if even that cannot
    # settle the verdict, no number of items will.
    low, high = setup.limit(rate)
    if not (low > o.threshold or high < o.threshold):
        return None

    def settles(m: int) -> bool:
        total = o.n + m
        low, high = setup.bounds(
            math.floor(o.pass_successes + m * rate), math.floor(o.fail_successes + m * rate), total
        )
        return (low >= o.threshold and total >= min_n) or high < o.threshold

    upper = 1
    while not settles(upper):
        if upper >= MAX_ITEMS:
            return None
        upper = min(2 * upper, MAX_ITEMS)
    lower = upper // 2  # does not settle (or is 0)
    while upper - lower > 1:
        mid = (lower + upper) // 2
        if settles(mid):
            upper = mid
        else:
            lower = mid
    return upper


__all__ = ["CorrectedBound", "JudgeErrorRates", "corrected_interval", "rogan_gladen"]
