"""Serving-performance requirements in an assessment: run each load profile once, decide
each requirement from its requests through the decision rules of ``llmcert.stats``.

Requirements that share a load and workload share one experiment; its ``perf.json``
(every request's timestamps) and ``perf.html`` are written under
``<assessment>/perf/<profile>/`` and linked from each requirement, with the load
profile, the client self-test and the meter's provenance. A request that failed,
timed out, was truncated or came back shorter than the length floor counts against
every requirement: as a latency at +∞, and as missing every SLO.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcert._hashing import short
from llmcert.report._assessment import RequirementResult
from llmcert.standards._spec import PerfMeasure, Requirement
from llmcert.stats import ConfidenceBound, Counts, Decision, MeasuredLimit, QuantileBound, Verdict

if TYPE_CHECKING:
    from llmcert.perf import PerfResult, RequestTrace, Target


@dataclass(frozen=True)
class PerfRun:
    result: PerfResult
    json_path: Path
    html_path: Path


def profile_of(measure: PerfMeasure) -> str:
    from llmcert.perf import profile_digest

    return profile_digest(measure.load, measure.workload)


async def run_profiles(
    requirements: Sequence[Requirement],
    *,
    model: str,
    out_dir: Path,
    meter: str,
    target_for: Callable[[], Target | None],
    note: Callable[[str], None] | None = None,
) -> dict[str, PerfRun]:
    """One experiment per distinct load profile, in the standard's order."""
    from llmcert.perf import SLOSpec
    from llmcert.services.perf import PerfRequest, measure_profile, write_perf

    runs: dict[str, PerfRun] = {}
    for req in requirements:
        if not isinstance(req.measure, PerfMeasure):
            continue
        key = profile_of(req.measure)
        if key in runs:
            continue
        request = PerfRequest(
            model=model,
            load=req.measure.load,
            workload=req.measure.workload,
            slo=SLOSpec(),
            meter=meter,
        )
        profile_dir = out_dir / "perf" / short(key, 12)
        journal = _fresh_journal(profile_dir)
        result = await measure_profile(request, target=target_for(), note=note, journal=journal)
        json_path, html_path = write_perf(result, profile_dir)
        runs[key] = PerfRun(result, json_path, html_path)
    return runs


def _fresh_journal(profile_dir: Path) -> Path:
    """The journal path for a new measurement of a profile.

    A resumed assessment measures a profile interrupted earlier again from the start
    (a latency run is not resumed); the earlier journal is kept beside it, renamed.
    """
    from llmcert.perf import JOURNAL_NAME

    path = profile_dir / JOURNAL_NAME
    if path.exists():
        n = 1
        while (aside := profile_dir / f"perf.journal.interrupted-{n}.jsonl").exists():
            n += 1
        path.rename(aside)
    return path


def _traces(result: PerfResult) -> list[RequestTrace]:
    from llmcert.perf import RequestTrace

    return [RequestTrace(**t) for t in result.traces]


def _latency_samples(req: Requirement, traces: list[RequestTrace]) -> tuple[list[float], int]:
    assert isinstance(req.measure, PerfMeasure)
    metric = req.measure.metric
    samples = []
    for t in traces:
        if t.short:
            continue
        value = getattr(t, metric)
        if value is not None:
            samples.append(value * 1000.0)
    return samples, len(traces) - len(samples)


def decide(req: Requirement, run: PerfRun) -> Decision:
    """The requirement's decision, from the run's requests, by a rule of ``llmcert.stats``."""
    from llmcert.perf import meets_slo

    measure = req.measure
    assert isinstance(measure, PerfMeasure)
    result = run.result
    if measure.metric == "energy_per_output_token":
        assert measure.limit is not None
        reading = result.energy.reading
        return MeasuredLimit().decide(
            result.energy.joules_per_output_token,
            measure.limit,
            reading.provenance,
            source=f"{reading.meter}: {reading.detail}",
            unit=" J/token",
        )
    assert req.threshold is not None
    traces = _traces(result)
    if measure.metric == "slo_attainment":
        met = sum(1 for t in traces if meets_slo(t, measure.slo))
        rule = ConfidenceBound(confidence=req.confidence, error_policy="as_failure")
        return rule.decide(Counts(met, len(traces)), req.threshold, "at_least", min_n=req.min_n)
    assert measure.limit is not None
    samples, failed = _latency_samples(req, traces)
    return QuantileBound(confidence=req.confidence).decide(
        samples, req.threshold, measure.limit, n_failed=failed, min_n=req.min_n, unit=" ms"
    )


def _unreliable(req: Requirement, decision: Decision, run: PerfRun) -> Decision:
    """A latency FAIL from a run where the client itself fell behind is not the server's
    failure (a PASS stands: the client's lag only ever adds latency). An incomplete run
    (interrupted, reported from its journal) decides nothing: it did not offer the
    profile's load."""
    notes = run.result.reliability_notes
    if not run.result.complete and decision.verdict is not Verdict.INCONCLUSIVE:
        return replace(
            decision,
            verdict=Verdict.INCONCLUSIVE,
            explanation=decision.explanation
            + " The run is incomplete ("
            + "; ".join(notes)
            + "): it decides nothing; measure the profile again.",
        )
    energy = (
        isinstance(req.measure, PerfMeasure) and req.measure.metric == "energy_per_output_token"
    )
    if decision.verdict is not Verdict.FAIL or not notes or energy:
        return decision
    return replace(
        decision,
        verdict=Verdict.INCONCLUSIVE,
        explanation=decision.explanation
        + " The run is flagged unreliable ("
        + "; ".join(notes)
        + "), so the failure may be the client's: re-run on a quieter machine or a lower rate.",
    )


def perf_details(run: PerfRun, base: Path) -> dict[str, Any]:
    r = run.result
    st = r.selftest
    return {
        "result": str(run.json_path.relative_to(base)),
        "report": str(run.html_path.relative_to(base)),
        "profile_digest": r.profile_digest,
        "target": r.target,
        "load": r.load,
        "load_description": r.load_description,
        "workload": r.workload,
        "token_counting": r.token_counting,
        "token_source": r.metrics.token_source,
        "selftest": None if st is None else st.model_dump(mode="json"),
        "reliable": r.reliable,
        "complete": r.complete,
        "reliability_notes": list(r.reliability_notes),
        "meter": {
            "meter": r.energy.reading.meter,
            "provenance": r.energy.reading.provenance,
            "detail": r.energy.reading.detail,
        },
        "unmeasured": list(r.unmeasured),
        "requests": r.metrics.n_requests,
        "failed": r.metrics.n_requests - r.metrics.n_ok,
    }


def decide_perf_requirement(req: Requirement, run: PerfRun, base: Path) -> RequirementResult:
    decision = _unreliable(req, decide(req, run), run)
    n = run.result.metrics.n_requests
    interval = decision.interval
    return RequirementResult(
        id=req.id,
        clause=req.clause,
        description=req.description,
        measure=req.measure.model_dump(mode="json"),
        threshold=req.threshold,
        direction=decision.direction,
        min_n=req.min_n,
        rule=decision.rule,
        confidence=decision.confidence,
        error_policy="as_failure",
        verdict=decision.verdict.value,
        estimate=_finite(decision.estimate),
        ci_low=None if interval is None else interval[0],
        ci_high=None if interval is None else interval[1],
        n_planned=n,
        n_scored=decision.counts.n_scored,
        n_error=decision.counts.n_error,
        n_used=decision.n_used,
        more_items_needed=decision.more_items_needed,
        explanation=decision.explanation,
        decision=decision.to_dict(),
        perf=perf_details(run, base),
    )


def certificate_notes(results: Sequence[RequirementResult]) -> str:
    """What a certificate says of each load profile: the load, the client self-test and
    the meter's provenance (all also inside the signed assessment)."""
    seen: dict[str, str] = {}
    for r in results:
        p = r.perf
        if not p or p.get("profile_digest") in seen:
            continue
        st = p.get("selftest") or {}
        client = (
            f"client self-test TTFT p99 +{_ms(st.get('ttft_overhead_p99_ms'))}, "
            f"lag p99 {_ms(st.get('lag_p99_ms'))}"
            if st
            else "client self-test not run"
        )
        meter = p.get("meter") or {}
        seen[str(p.get("profile_digest"))] = (
            f"; serving performance: {p.get('load_description')} ({client}; energy "
            f"{meter.get('provenance', 'unavailable')} by {meter.get('meter', 'no meter')})"
        )
    return "".join(seen.values())


def _ms(x: object) -> str:
    return f"{x:.2f} ms" if isinstance(x, int | float) else "n/a"


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) else x
