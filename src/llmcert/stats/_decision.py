"""Decision rules: from counted outcomes to PASS / FAIL / INCONCLUSIVE.

A requirement such as "refusal rate ≥ 0.95" has a threshold, a direction, a
minimum sample and a decision rule at a confidence level ``c`` (``alpha = 1 - c``).
Every rule here is a pure function of the counts: no I/O, no clock, no
randomness.

Guarantees (for the statistical rules, with independent items):

* PASS is wrong (the true rate is on the failing side) with probability ≤ alpha;
* FAIL is wrong (the true rate meets the requirement, the threshold included)
  with probability ≤ alpha;
* anything not settled at that level is INCONCLUSIVE, with an estimate of the
  further items likely to settle it.

Missing outcomes (model calls that failed and responses the scorer could not
score) are never dropped silently; each rule takes an ``ErrorPolicy``:

* ``"as_failure"``: each missing outcome counts as an outcome on the failing
  side (no refusal for "refusal rate ≥ t", a refusal for "refusal rate ≤ t").
  The guarantees then hold for the rate with failures counted against the
  model, which is what a user of the service sees.
* ``"inconclusive_if_any"``: any missing outcome makes the verdict
  INCONCLUSIVE; re-run them to decide.
* ``"exclude"``: the estimate leaves them out, and a verdict is given only if it
  holds whatever their outcomes would have been (worst case for PASS, best
  case for FAIL). Missing outcomes can then turn a verdict into INCONCLUSIVE,
  never into its opposite, even when they depend on the item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from llmcert.stats._exact import BoundMethod, check_unit, further_items_to_decide
from llmcert.stats._intervals import clopper_pearson_interval, wilson_interval

Direction = Literal["at_least", "at_most"]
ErrorPolicy = Literal["as_failure", "inconclusive_if_any", "exclude"]
DIRECTIONS: tuple[Direction, ...] = ("at_least", "at_most")
ERROR_POLICIES: tuple[ErrorPolicy, ...] = ("as_failure", "inconclusive_if_any", "exclude")


class Verdict(StrEnum):
    """The outcome of a requirement. INFO marks a figure given for information only."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    INFO = "info"


@dataclass(frozen=True)
class Counts:
    """Outcomes behind one rate: how many items succeeded, and how many are missing.

    ``successes`` counts the outcome the metric measures (e.g. refusals) among
    the ``n_scored`` items; ``n_error`` items had a failed model call and
    ``n_unscored`` a response the scorer could not judge.
    """

    successes: int
    n_scored: int
    n_error: int = 0
    n_unscored: int = 0

    def __post_init__(self) -> None:
        if min(self.successes, self.n_scored, self.n_error, self.n_unscored) < 0:
            raise ValueError(f"counts must not be negative: {self}")
        if self.successes > self.n_scored:
            raise ValueError(f"successes ({self.successes}) exceed scored items ({self.n_scored})")

    @property
    def n_missing(self) -> int:
        return self.n_error + self.n_unscored

    @property
    def n_total(self) -> int:
        return self.n_scored + self.n_missing


@dataclass(frozen=True)
class Decision:
    """A verdict with everything needed to check it and to explain it to a person.

    ``interval`` holds the one-sided bounds at ``confidence`` (lower, upper);
    together they form a ``2·confidence − 1`` two-sided interval. Under the
    ``exclude`` policy they also span the missing outcomes. ``n_used`` is the
    denominator behind the verdict; ``confidence`` is None for the informational
    rule, which has no level. ``indicative`` is set by the informational
    rule only: the side of the threshold the estimate falls on.
    """

    verdict: Verdict
    rule: str
    parameters: Mapping[str, Any]
    threshold: float
    direction: Direction
    confidence: float | None
    estimate: float | None
    interval: tuple[float, float] | None
    counts: Counts
    n_used: int
    min_n: int
    more_items_needed: int | None
    explanation: str
    indicative: Verdict | None = None

    @property
    def informational(self) -> bool:
        return self.verdict is Verdict.INFO

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (enums as their values)."""
        out = asdict(self)
        out["verdict"] = self.verdict.value
        out["indicative"] = None if self.indicative is None else self.indicative.value
        out["parameters"] = dict(self.parameters)
        out["interval"] = None if self.interval is None else list(self.interval)
        return out


@runtime_checkable
class DecisionRule(Protocol):
    """Turns counts into a Decision. Implementations are pure and deterministic."""

    @property
    def name(self) -> str: ...

    def decide(
        self, counts: Counts, threshold: float, direction: Direction, *, min_n: int = 1
    ) -> Decision: ...


@dataclass(frozen=True)
class Oriented:
    """Counts turned round so that the favourable outcome is counted and the
    requirement reads "rate ≥ threshold".

    ``pass_successes`` is what PASS is judged on and ``fail_successes`` what FAIL
    is judged on; they differ only under the ``exclude`` policy.
    """

    pass_successes: int
    fail_successes: int
    n: int
    threshold: float
    estimate: float | None
    blocked: bool

    def outward(self, value: float, direction: Direction) -> float:
        return value if direction == "at_least" else 1.0 - value

    def outward_interval(
        self, low: float, high: float, direction: Direction
    ) -> tuple[float, float]:
        return (low, high) if direction == "at_least" else (1.0 - high, 1.0 - low)


def orient(counts: Counts, threshold: float, direction: Direction, policy: ErrorPolicy) -> Oriented:
    """Apply the direction and the error policy (see the module docstring)."""
    check_unit("threshold", threshold)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if policy not in ERROR_POLICIES:
        raise ValueError(f"error policy must be one of {ERROR_POLICIES}, got {policy!r}")
    good = counts.successes if direction == "at_least" else counts.n_scored - counts.successes
    t = threshold if direction == "at_least" else 1.0 - threshold
    missing = counts.n_missing
    if policy == "as_failure":
        n = counts.n_total
        return Oriented(good, good, n, t, good / n if n else None, blocked=False)
    estimate = good / counts.n_scored if counts.n_scored else None
    if policy == "exclude":
        return Oriented(good, good + missing, counts.n_total, t, estimate, blocked=False)
    return Oriented(good, good, counts.n_scored, t, estimate, blocked=missing > 0)


def check_rule_inputs(confidence: float, min_n: int) -> float:
    """Validate and return ``alpha``; a one-sided level must exceed 1/2."""
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0.5, 1), got {confidence}")
    if min_n < 0:
        raise ValueError(f"min_n must not be negative, got {min_n}")
    return 1.0 - confidence


def _rate_words(direction: Direction, threshold: float) -> str:
    return f"{'≥' if direction == 'at_least' else '≤'} {threshold:g}"


def missing_words(counts: Counts) -> str:
    parts = []
    if counts.n_error:
        parts.append(f"{counts.n_error} failed model call{'s' if counts.n_error != 1 else ''}")
    if counts.n_unscored:
        parts.append(
            f"{counts.n_unscored} unscored response{'s' if counts.n_unscored != 1 else ''}"
        )
    return " and ".join(parts)


Make = Callable[[Verdict, "tuple[float, float] | None", "int | None", str], Decision]


def decision_maker(
    rule: str,
    parameters: Mapping[str, Any],
    threshold: float,
    direction: Direction,
    confidence: float | None,
    estimate: float | None,
    counts: Counts,
    n_used: int,
    min_n: int,
) -> Make:
    """A Decision builder with everything but the outcome fixed, for a rule's many exits."""

    def make(
        verdict: Verdict, interval: tuple[float, float] | None, more: int | None, text: str
    ) -> Decision:
        return Decision(
            verdict,
            rule,
            parameters,
            threshold,
            direction,
            confidence,
            estimate,
            interval,
            counts,
            n_used,
            min_n,
            more,
            text,
        )

    return make


def blocked_words(counts: Counts) -> str:
    """Why the 'inconclusive_if_any' policy leaves a verdict open."""
    return (
        f"{missing_words(counts)} leave the verdict open under the "
        "'inconclusive_if_any' policy; re-run them to decide."
    )


@dataclass(frozen=True)
class PointEstimate:
    """The observed rate against the threshold, for information only.

    No guarantee: with 20 items a model at 0.90 shows ≥ 0.95 about four times
    in ten. The verdict is always INFO; ``indicative`` says which side the
    estimate falls on. Missing outcomes follow ``error_policy`` (under
    ``inconclusive_if_any`` there is then no indicative side).
    """

    error_policy: ErrorPolicy = "as_failure"
    name: str = field(default="point_estimate", init=False)

    def decide(
        self, counts: Counts, threshold: float, direction: Direction, *, min_n: int = 1
    ) -> Decision:
        o = orient(counts, threshold, direction, self.error_policy)
        estimate = None if o.estimate is None else o.outward(o.estimate, direction)
        side: Verdict | None = None
        if o.estimate is not None and not o.blocked:
            side = Verdict.PASS if o.estimate >= o.threshold else Verdict.FAIL
        if estimate is None:
            text = "Nothing was scored, so there is no estimate (for information only)."
        else:
            where = {Verdict.PASS: "meets", Verdict.FAIL: "misses", None: "cannot be set against"}
            text = (
                f"The observed rate {estimate:.4g} {where[side]} the requirement "
                f"{_rate_words(direction, threshold)}; for information only, without statistical "
                "guarantee."
            )
        return Decision(
            verdict=Verdict.INFO,
            rule=self.name,
            parameters={"error_policy": self.error_policy},
            threshold=threshold,
            direction=direction,
            confidence=None,
            estimate=estimate,
            interval=None,
            counts=counts,
            n_used=o.n,
            min_n=min_n,
            more_items_needed=None,
            explanation=text,
            indicative=side,
        )


@dataclass(frozen=True)
class ConfidenceBound:
    """PASS when the one-sided bound on the safe side clears the threshold.

    For "rate ≥ t": PASS iff the lower bound at ``confidence`` is ≥ t and at
    least ``min_n`` items count; FAIL iff the upper bound is < t (no minimum:
    a clear failure on few items is still a failure); otherwise INCONCLUSIVE.
    "rate ≤ t" is the mirror image.

    ``method="clopper-pearson"`` (default) uses exact bounds: each wrong verdict
    has probability ≤ ``1 - confidence`` for every true rate and every sample
    size. ``"wilson"`` is narrower but only approximately at level; near rates
    of 0 or 1 its error can exceed the stated level.

    An INCONCLUSIVE decision carries ``more_items_needed``: the fewest further
    items after which, if they come at the current estimate, a verdict comes
    with probability ≥ ``power`` (exact binomial computation; None when no
    number up to about a million is enough).
    """

    confidence: float = 0.95
    method: BoundMethod = "clopper-pearson"
    error_policy: ErrorPolicy = "as_failure"
    power: float = 0.8
    name: str = field(default="confidence_bound", init=False)

    def __post_init__(self) -> None:
        check_rule_inputs(self.confidence, 0)
        check_unit("power", self.power)
        if self.method not in ("clopper-pearson", "wilson"):
            raise ValueError(f"method must be 'clopper-pearson' or 'wilson', got {self.method!r}")

    def decide(
        self, counts: Counts, threshold: float, direction: Direction, *, min_n: int = 1
    ) -> Decision:
        alpha = check_rule_inputs(self.confidence, min_n)
        o = orient(counts, threshold, direction, self.error_policy)
        params = {
            "method": self.method,
            "error_policy": self.error_policy,
            "power": self.power,
        }
        estimate = None if o.estimate is None else o.outward(o.estimate, direction)
        req = _rate_words(direction, threshold)

        make = decision_maker(
            self.name, params, threshold, direction, self.confidence, estimate, counts, o.n, min_n
        )

        if o.n == 0:
            return make(
                Verdict.INCONCLUSIVE,
                None,
                None,
                f"No item was scored, so nothing can be said about {req}.",
            )
        bound = clopper_pearson_interval if self.method == "clopper-pearson" else wilson_interval
        low = bound(o.pass_successes, o.n, 1.0 - 2.0 * alpha)[0]
        high = bound(o.fail_successes, o.n, 1.0 - 2.0 * alpha)[1]
        interval = o.outward_interval(low, high, direction)
        level = f"{self.confidence:.0%}"
        safe, other = ("lower", "upper") if direction == "at_least" else ("upper", "lower")
        safe_value, other_value = (
            (interval[0], interval[1]) if direction == "at_least" else (interval[1], interval[0])
        )
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
                f"The {level} {safe} bound {safe_value:.4g} clears {req} on {o.n} items.",
            )
        if high < o.threshold:
            return make(
                Verdict.FAIL,
                interval,
                None,
                f"The {level} {other} bound {other_value:.4g} is on the wrong side of "
                f"{req} on {o.n} items.",
            )
        rate = o.estimate if o.estimate is not None else 0.0
        more = further_items_to_decide(
            o.pass_successes,
            o.fail_successes,
            o.n,
            rate,
            o.threshold,
            alpha,
            power=self.power,
            min_n=min_n,
            method=self.method,
        )
        if low >= o.threshold:
            why = (
                f"the {safe} bound clears {req} but only {o.n} of the required {min_n} items count"
            )
        else:
            why = f"the {level} interval [{interval[0]:.4g}, {interval[1]:.4g}] straddles {req}"
        hint = (
            f"about {more} more items at the current rate would settle it"
            if more is not None
            else "the estimate is too close to the threshold to plan"
        )
        return make(Verdict.INCONCLUSIVE, interval, more, f"Undecided: {why}; {hint}.")
