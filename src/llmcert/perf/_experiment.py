"""One performance experiment: self-test, meter, load (or sweep), figures, in that order.

The meter runs over exactly the load, so energy and latency come from the same run.
Whatever could not be measured is said in ``unmeasured`` rather than left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmcert.perf._errors import MeterError
from llmcert.perf._metrics import Metrics, summarize
from llmcert.perf._run import LoadRun, run_load
from llmcert.perf._selftest import LAG_LIMIT_MS, SelfTest, self_test
from llmcert.perf._spec import LoadSpec, SLOSpec, WorkloadSpec, profile_digest
from llmcert.perf._sweep import Sweep, sweep
from llmcert.perf._targets import Target
from llmcert.perf._workload import build_requests, suite_prompts
from llmcert.perf.meters import EnergyMeter, EnergyReading, Unavailable

PERF_SCHEMA = "llmcert.perf/1"


class Energy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reading: EnergyReading
    joules_per_output_token: float | None
    average_watts: float | None


class PerfResult(BaseModel):
    """Everything one experiment measured, request by request; what a verdict reads."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field(PERF_SCHEMA, alias="schema")
    started_at: str
    finished_at: str
    target: str
    token_counting: str
    load: dict[str, Any]
    load_description: str
    workload: dict[str, Any]
    profile_digest: str
    slo: dict[str, Any]
    selftest: SelfTest | None
    reliable: bool
    reliability_notes: list[str]
    metrics: Metrics
    energy: Energy
    sweep: Sweep | None = None
    unmeasured: list[str] = Field(default_factory=list)
    traces: list[dict[str, Any]] = Field(
        default_factory=list, description="every request: schedule, send, each token, end"
    )
    sweep_traces: list[list[dict[str, Any]]] = Field(default_factory=list)


def _energy(reading: EnergyReading, metrics: Metrics) -> Energy:
    return Energy(
        reading=reading,
        joules_per_output_token=reading.per_token(metrics.output_tokens),
        average_watts=reading.average_watts,
    )


def _selftest_rate(load: LoadSpec) -> float:
    if load.mode == "open" and load.rate is not None:
        return load.rate
    return 50.0  # closed loop: no target rate; a moderate reference point


async def run_experiment(
    target: Target,
    load: LoadSpec,
    workload: WorkloadSpec,
    slo: SLOSpec,
    *,
    meter: EnergyMeter | None = None,
    selftest: bool = True,
    sweep_share: float | None = None,
    sweep_rates: list[float] | None = None,
    note: Callable[[str], None] | None = None,
) -> PerfResult:
    say = note or (lambda _m: None)
    started = datetime.now(UTC)
    unmeasured: list[str] = []
    notes: list[str] = []
    st: SelfTest | None = None
    if selftest:
        st = await self_test(_selftest_rate(load))
        say(st.describe())
        if not st.sustained:
            notes.append(
                f"the client could not keep up with {st.target_rate:g} req/s against a "
                f"zero-latency server (lag p99 {st.lag_p99_ms} ms > {LAG_LIMIT_MS} ms)"
            )
    else:
        unmeasured.append("client self-test (skipped on request)")
    prompts = suite_prompts(workload.suite) if workload.suite else None
    requests = build_requests(workload, load.requests, load.seed, prompts)
    meter = meter or Unavailable("no meter was given")
    await target.start()
    try:
        try:
            meter.start()
            reading_error: str | None = None
        except MeterError as exc:
            reading_error = str(exc)
        t_start = time.perf_counter()
        run: LoadRun = await run_load(target, load, requests)
        reading = _stop(meter, reading_error)
        say(f"load done in {time.perf_counter() - t_start:.1f} s")
        swept: Sweep | None = None
        sweep_runs: list[LoadRun] = []
        if sweep_share is not None:
            swept, sweep_runs = await sweep(
                target,
                load,
                workload,
                slo,
                share=sweep_share,
                rates=sweep_rates,
                prompts=prompts,
                on_step=lambda r, m, _run: say(
                    f"sweep {r:g} req/s: attainment {m.attainment.share:.3f}"
                ),
            )
    finally:
        await target.aclose()
    metrics = summarize(run.traces, run.duration, slo)
    if reading.provenance != "measured":
        unmeasured.append(f"energy ({reading.provenance}: {reading.detail})")
    lag = metrics.lag_ms.at(0.99)
    if lag is not None and lag.value is not None and lag.value > LAG_LIMIT_MS:
        notes.append(
            f"this run's schedule lag p99 was {lag.value:.1f} ms (> {LAG_LIMIT_MS} ms): its "
            "latencies include the client's own queueing"
        )
    if metrics.n_ok == 0:
        unmeasured.append("latency (no request completed: " + _top_error(metrics) + ")")
    return PerfResult(
        started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        target=target.name,
        token_counting=target.token_counting,
        load=load.model_dump(mode="json"),
        load_description=load.describe(),
        workload=workload.model_dump(mode="json"),
        profile_digest=profile_digest(load, workload),
        slo=slo.model_dump(mode="json"),
        selftest=st,
        reliable=not notes,
        reliability_notes=notes,
        metrics=metrics,
        energy=_energy(reading, metrics),
        sweep=swept,
        unmeasured=unmeasured,
        traces=[t.to_dict() for t in run.traces],
        sweep_traces=[[t.to_dict() for t in r.traces] for r in sweep_runs],
    )


def _stop(meter: EnergyMeter, error: str | None) -> EnergyReading:
    if error is None:
        try:
            return meter.stop()
        except MeterError as exc:
            error = str(exc)
    return EnergyReading(meter=meter.name, provenance="unavailable", detail=error)


def _top_error(metrics: Metrics) -> str:
    if not metrics.errors:
        return "no error recorded"
    name, count = max(metrics.errors.items(), key=lambda kv: kv[1])
    return f"{count}× {name}"
