"""From traces to figures: latency quantiles with bounds, throughput, SLO attainment, goodput.

Every figure names its denominator. Failed, timed-out and truncated requests stay
in the counts: they are latencies at +∞ for the quantile bounds and never meet an
SLO. Request throughput counts completed requests only; goodput (as ``vllm bench
serve`` defines it) counts those meeting every SLO, per second of the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from llmcert.perf._spec import SLOSpec
from llmcert.perf._trace import RequestTrace
from llmcert.stats import clopper_pearson_interval, quantile, quantile_bounds

QUANTILES = (0.5, 0.9, 0.99)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuantileFigure(_Model):
    p: float
    value: float | None
    lower: float | None
    upper: float | None


class Distribution(_Model):
    """One latency in milliseconds: n, mean, and quantiles with order-statistic bounds.

    ``n`` counts the samples behind it; ``n_missing`` the requests that have none
    (failed, timed out, or too short to define it), which the bounds count at +∞
    for TTFT and end-to-end latency.
    """

    n: int
    n_missing: int
    mean: float | None
    quantiles: list[QuantileFigure]
    confidence: float

    def at(self, p: float) -> QuantileFigure | None:
        return next((q for q in self.quantiles if abs(q.p - p) < 1e-12), None)


def distribution(
    values_ms: Sequence[float], n_missing: int, confidence: float, *, missing_as_inf: bool
) -> Distribution:
    finite = list(values_ms)
    pool = finite + ([math.inf] * n_missing if missing_as_inf else [])
    figures = []
    for p in QUANTILES:
        low, high = quantile_bounds(pool, p, confidence) if pool else (None, None)
        value = quantile(pool, p)
        figures.append(QuantileFigure(p=p, value=_fin(value), lower=_fin(low), upper=_fin(high)))
    mean = sum(finite) / len(finite) if finite else None
    return Distribution(
        n=len(finite), n_missing=n_missing, mean=mean, quantiles=figures, confidence=confidence
    )


def _fin(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) else x


class Attainment(_Model):
    """Share of all requests meeting every SLO, with its exact two-sided interval."""

    met: int
    n: int
    share: float | None
    ci_low: float | None
    ci_high: float | None


class Metrics(_Model):
    """Figures of one load."""

    n_requests: int
    n_ok: int
    n_error: int
    n_timeout: int
    n_truncated: int
    n_short: int
    duration_s: float
    request_throughput: float
    output_token_throughput: float
    output_tokens: int
    token_source: dict[str, int]
    ttft_ms: Distribution
    tpot_ms: Distribution
    itl_ms: Distribution
    e2e_ms: Distribution
    lag_ms: Distribution
    slo: dict[str, float | None]
    attainment: Attainment
    goodput_at_load: float
    errors: dict[str, int]


def meets_slo(trace: RequestTrace, slo: SLOSpec) -> bool:
    """Complete, not below the length floor, and within every limit given."""
    if trace.status != "ok" or trace.short:
        return False
    checks = (
        ("ttft", slo.ttft_ms, trace.ttft),
        ("tpot", slo.tpot_ms, trace.tpot),
        ("e2e", slo.e2e_ms, trace.e2e),
    )
    for name, limit, value in checks:
        if limit is None:
            continue
        if value is None:
            if name == "tpot":  # a one-token answer has no TPOT to miss
                continue
            return False
        if value * 1000.0 > limit:
            return False
    return True


def summarize(
    traces: Sequence[RequestTrace], duration: float, slo: SLOSpec, confidence: float = 0.95
) -> Metrics:
    n = len(traces)
    ok = [t for t in traces if t.status == "ok"]
    ttft = [t.ttft * 1000 for t in ok if t.ttft is not None]
    e2e = [t.e2e * 1000 for t in ok if t.e2e is not None]
    tpot = [t.tpot * 1000 for t in ok if t.tpot is not None]
    itl = [g * 1000 for t in ok for g in t.itl]
    lag = [t.lag * 1000 for t in traces if t.lag is not None]
    out_tokens = sum(t.output_tokens or 0 for t in ok)
    met = sum(1 for t in traces if meets_slo(t, slo))
    ci = clopper_pearson_interval(met, n, confidence) if n else (None, None)
    sources: dict[str, int] = {}
    for t in ok:
        sources[t.token_source] = sources.get(t.token_source, 0) + 1
    errors: dict[str, int] = {}
    for t in traces:
        if t.status != "ok" and t.error:
            key = t.error[:160]  # the whole message: "HTTP 400" alone says too little
            errors[key] = errors.get(key, 0) + 1
    span = max(duration, 1e-9)
    return Metrics(
        n_requests=n,
        n_ok=len(ok),
        n_error=sum(t.status == "error" for t in traces),
        n_timeout=sum(t.status == "timeout" for t in traces),
        n_truncated=sum(t.status == "truncated" for t in traces),
        n_short=sum(1 for t in ok if t.short),
        duration_s=duration,
        request_throughput=len(ok) / span,
        output_token_throughput=out_tokens / span,
        output_tokens=out_tokens,
        token_source=sources,
        ttft_ms=distribution(ttft, n - len(ttft), confidence, missing_as_inf=True),
        tpot_ms=distribution(tpot, n - len(tpot), confidence, missing_as_inf=False),
        itl_ms=distribution(itl, 0, confidence, missing_as_inf=False),
        e2e_ms=distribution(e2e, n - len(e2e), confidence, missing_as_inf=True),
        lag_ms=distribution(lag, n - len(lag), confidence, missing_as_inf=False),
        slo=slo.model_dump(),
        attainment=Attainment(
            met=met, n=n, share=met / n if n else None, ci_low=ci[0], ci_high=ci[1]
        ),
        goodput_at_load=met / span,
        errors=errors,
    )


def table(metrics: Metrics) -> list[tuple[str, Any]]:
    """Rows for a console summary."""
    rows: list[tuple[str, Any]] = []
    for name in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "lag_ms"):
        d: Distribution = getattr(metrics, name)
        rows.append((name, d))
    return rows
