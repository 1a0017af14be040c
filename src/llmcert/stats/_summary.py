"""From per-item scores to one MetricResult with an interval and honest counts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from llmcert.report._schema import MetricResult
from llmcert.stats._intervals import (
    clopper_pearson_interval,
    cluster_bootstrap_interval,
    wilson_interval,
)

Method = Literal["auto", "wilson", "clopper-pearson", "cluster-bootstrap"]
_METHODS = ("auto", "wilson", "clopper-pearson", "cluster-bootstrap")


def _binomial_items(scored: list[list[float]]) -> tuple[int, int] | None:
    """``(successes, n)`` over items when the data are one binary trial per item.

    That holds when each item has one 0/1 value, and also when all repeats of
    each item agree and every item has as many of them (temperature 0): the
    repeats then carry no further information and the pooled mean equals the
    item-level proportion. A bootstrap would give a zero-width interval when all
    values agree; the binomial interval does not.
    """
    flat = [v for values in scored for v in values]
    if any(v not in (0.0, 1.0) for v in flat):
        return None
    if any(len(values) != 1 for values in scored):
        sizes = {len(values) for values in scored}
        all_same = len(set(flat)) == 1
        constant = all(len(set(values)) == 1 for values in scored)
        if not constant or (len(sizes) != 1 and not all_same):
            return None
    return sum(1 for values in scored if values[0] == 1.0), len(scored)


def summarize(
    name: str,
    values_by_item: Mapping[str, Sequence[float]],
    *,
    n_error: int,
    n_unscored: int,
    n_planned: int,
    confidence: float = 0.95,
    group: Mapping[str, str] | None = None,
    method: Method = "auto",
    n_boot: int = 2000,
    seed: int = 0,
) -> MetricResult:
    """Estimate one metric and its interval from the scored values of each item.

    ``values_by_item`` holds only *scored* values (one per scored repeat); items
    whose units all failed or went unscored may map to an empty list. The
    estimate is the mean of all scored values. Failed model calls (``n_error``)
    and unscored units are reported but kept out of the denominator and never
    counted as wrong, so an outage cannot masquerade as a low score.

    Method choice with ``"auto"``: one 0/1 value per item → Wilson; repeats or
    fractional scores → cluster bootstrap over items; nothing scored → no
    estimate (method ``"none"``). Repeats that agree within every item (as under
    deterministic decoding) are one trial per item and get the binomial interval
    over items, which never claims a zero-width interval. The interval carries
    the coverage guarantee of the method it names (see each function). Asking for ``"wilson"`` or ``"clopper-pearson"``
    selects that binomial interval where the data are binomial and falls back to
    the cluster bootstrap where they are not; ``method`` in the result always
    names what was actually used. ``n_items`` counts items with a scored value.
    """
    if method not in _METHODS:
        raise ValueError(f"unknown interval method {method!r}; choose one of {_METHODS}")
    if min(n_error, n_unscored, n_planned) < 0:
        raise ValueError("counts must not be negative")
    scored = [list(map(float, values)) for values in values_by_item.values() if len(values) > 0]
    if any(not math.isfinite(v) for values in scored for v in values):
        raise ValueError(f"metric {name!r}: scores must be finite numbers")
    n_scored = sum(len(values) for values in scored)
    if n_scored + n_error + n_unscored > n_planned:
        raise ValueError(
            f"metric {name!r}: {n_scored} scored + {n_error} errors + {n_unscored} unscored "
            f"exceeds the {n_planned} units planned"
        )
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    used = "none"
    if n_scored > 0:
        estimate = math.fsum(v for values in scored for v in values) / n_scored
        low, high, used = _interval(scored, method, confidence, n_boot, seed)
    return MetricResult(
        name=name,
        group=dict(group or {}),
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method=used,
        n_items=len(scored),
        n_planned=n_planned,
        n_scored=n_scored,
        n_error=n_error,
        n_unscored=n_unscored,
    )


def _interval(
    scored: list[list[float]], method: Method, confidence: float, n_boot: int, seed: int
) -> tuple[float, float, str]:
    binomial = None if method == "cluster-bootstrap" else _binomial_items(scored)
    if binomial is None:
        low, high = cluster_bootstrap_interval(scored, confidence, n_boot=n_boot, seed=seed)
        return low, high, "cluster-bootstrap"
    successes, n = binomial
    if method == "clopper-pearson":
        return (*clopper_pearson_interval(successes, n, confidence), "clopper-pearson")
    return (*wilson_interval(successes, n, confidence), "wilson")
