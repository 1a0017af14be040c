"""One performance experiment: self-test, meter, load (or sweep), figures, in that order.

The meter runs over exactly the load, so energy and latency come from the same run.
Whatever could not be measured is said in ``unmeasured`` rather than left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmcert.perf._errors import MeterError
from llmcert.perf._journal import PerfJournal, read_journal
from llmcert.perf._metrics import Metrics, summarize
from llmcert.perf._run import LoadRun, run_load
from llmcert.perf._selftest import LAG_LIMIT_MS, SelfTest, self_test
from llmcert.perf._spec import LoadSpec, SLOSpec, WorkloadSpec, profile_digest
from llmcert.perf._sweep import Sweep, SweepStep, read_goodput, sweep
from llmcert.perf._targets import Target
from llmcert.perf._trace import RequestTrace
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
    #: How token arrivals were timed: ``kernel`` (when the bytes reached the client's
    #: socket, SO_TIMESTAMPNS), ``read`` (when the client read them, its wake-up
    #: included: TLS, or no kernel stamps), ``mixed``; ``in-process`` for a target that
    #: times tokens as it generates them (no socket); None when nothing streamed.
    receive_stamp: str | None = None
    reliable: bool
    reliability_notes: list[str]
    #: False for a run interrupted before its end (reported from its journal): no
    #: requirement passes on it.
    complete: bool = True
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
    journal: Path | None = None,
) -> PerfResult:
    """Run the experiment; with ``journal``, every finished request is on disk as it
    finishes (see ``perf._journal``), so an interrupted run can still be reported."""
    say = note or (lambda _m: None)
    header = {
        "started_at": datetime.now(UTC).isoformat(),
        "target": target.name,
        "token_counting": target.token_counting,
        # Where token arrivals are timed: at a socket (see ``receive_stamp``) or in-process.
        "arrival_timing": getattr(target, "arrival_timing", "socket"),
        "load": load.model_dump(mode="json"),
        "workload": workload.model_dump(mode="json"),
        "slo": slo.model_dump(mode="json"),
        "sweep_share": sweep_share,
        "selftest": selftest,
    }
    log = PerfJournal(journal, header) if journal is not None else None
    try:
        return await _measure(
            target, load, workload, slo, meter, selftest, sweep_share, sweep_rates, say,
            header, log,
        )  # fmt: skip
    finally:
        if log is not None:
            log.close()


async def _measure(
    target: Target,
    load: LoadSpec,
    workload: WorkloadSpec,
    slo: SLOSpec,
    meter: EnergyMeter | None,
    selftest: bool,
    sweep_share: float | None,
    sweep_rates: list[float] | None,
    say: Callable[[str], None],
    header: dict[str, Any],
    log: PerfJournal | None,
) -> PerfResult:
    st: SelfTest | None = None
    if selftest:
        st = await self_test(_selftest_rate(load))
        say(st.describe())
        if log is not None:
            log.record("selftest", st.model_dump(mode="json"))
    prompts = suite_prompts(workload.suite) if workload.suite else None
    requests = build_requests(workload, load.requests, load.seed, prompts)
    meter = meter or Unavailable("no meter was given")
    on_done = None
    if log is not None:
        record = log.record

        def on_done(trace: RequestTrace) -> None:
            record("trace", {"trace": trace.to_dict()})

    await target.start()
    try:
        try:
            meter.start()
            reading_error: str | None = None
        except MeterError as exc:
            reading_error = str(exc)
        if log is not None:
            log.record("load_started", {"at": datetime.now(UTC).isoformat()})
        t_start = time.perf_counter()
        run: LoadRun = await run_load(target, load, requests, on_done=on_done)
        reading = _stop(meter, reading_error)
        if log is not None:
            log.record(
                "load_done",
                {"duration": run.duration, "reading": reading.model_dump(mode="json")},
            )
            log.sync()
        say(f"load done in {time.perf_counter() - t_start:.1f} s")
        sweep_runs: list[LoadRun] = []
        if sweep_share is not None:

            def on_step(rate: float, m: Metrics, step_run: LoadRun) -> None:
                say(f"sweep {rate:g} req/s: attainment {m.attainment.share:.3f}")
                if log is not None:
                    log.record(
                        "sweep_step",
                        {
                            "rate": rate,
                            "duration": step_run.duration,
                            "traces": [t.to_dict() for t in step_run.traces],
                        },
                    )
                    log.sync()

            _, sweep_runs = await sweep(
                target,
                load,
                workload,
                slo,
                share=sweep_share,
                rates=sweep_rates,
                prompts=prompts,
                on_step=on_step,
            )
    finally:
        await target.aclose()
    finished_at = datetime.now(UTC).isoformat()
    if log is not None:
        log.record("end", {"finished_at": finished_at})
    return assemble(
        header,
        st,
        [t.to_dict() for t in run.traces],
        run.duration,
        reading,
        [(r.load.rate or 0.0, r.duration, [t.to_dict() for t in r.traces]) for r in sweep_runs],
        finished_at=finished_at,
        selftest_skipped=not selftest,
    )


def assemble(
    header: dict[str, Any],
    st: SelfTest | None,
    traces: list[dict[str, Any]],
    duration: float,
    reading: EnergyReading,
    sweep_steps: list[tuple[float, float, list[dict[str, Any]]]],
    *,
    finished_at: str,
    selftest_skipped: bool = False,
    incomplete: str | None = None,
) -> PerfResult:
    """The result of a run from what it recorded: the live run's, or a journal's."""
    from llmcert.perf._trace import RequestTrace, receive_stamp

    load = LoadSpec.model_validate(header["load"])
    workload = WorkloadSpec.model_validate(header["workload"])
    slo = SLOSpec.model_validate(header["slo"])
    unmeasured: list[str] = []
    notes: list[str] = []
    if incomplete is not None:
        notes.append(incomplete)
    if st is not None and not st.sustained:
        notes.append(
            f"the client could not keep up with {st.target_rate:g} req/s against a "
            f"zero-latency server (lag p99 {_ms(st.lag_p99_ms)} > {LAG_LIMIT_MS:g} ms)"
        )
    if st is None:
        unmeasured.append(
            "client self-test (skipped on request)"
            if selftest_skipped
            else "client self-test (the run was interrupted before it finished)"
        )
    metrics_traces = [RequestTrace(**t) for t in traces]
    metrics = summarize(metrics_traces, duration, slo)
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
    if incomplete is not None and len(traces) < load.requests:
        unmeasured.append(
            f"{load.requests - len(traces)} of {load.requests} requests never finished "
            "(the run was interrupted; they are left out, not counted as passing)"
        )
    swept: Sweep | None = None
    share = header.get("sweep_share")
    if share is not None and sweep_steps:
        steps = [
            SweepStep(rate=rate, metrics=summarize([RequestTrace(**t) for t in ts], secs, slo))
            for rate, secs, ts in sweep_steps
        ]
        steps.sort(key=lambda x: x.rate)
        observed, confident = read_goodput(steps, share)
        swept = Sweep(
            share=share, steps=steps, goodput_observed=observed, goodput_confident=confident
        )
    if share is not None and incomplete is not None:
        unmeasured.append("the sweep (interrupted; its goodput is not final)")
    return PerfResult(
        started_at=header["started_at"],
        finished_at=finished_at,
        target=header["target"],
        token_counting=header["token_counting"],
        load=load.model_dump(mode="json"),
        load_description=load.describe(),
        workload=workload.model_dump(mode="json"),
        profile_digest=profile_digest(load, workload),
        slo=slo.model_dump(mode="json"),
        selftest=st,
        receive_stamp=(
            "in-process"
            if header.get("arrival_timing") == "in-process"
            else receive_stamp(metrics_traces)
        ),
        reliable=not notes,
        reliability_notes=notes,
        complete=incomplete is None,
        metrics=metrics,
        energy=_energy(reading, metrics),
        sweep=swept,
        unmeasured=unmeasured,
        traces=traces,
        sweep_traces=[ts for _, _, ts in sweep_steps],
    )


def result_from_journal(location: Path) -> PerfResult:
    """The report of a journalled run; an interrupted one is marked incomplete."""
    c = read_journal(location)
    st = SelfTest.model_validate(c.selftest) if c.selftest is not None else None
    if c.load_done is not None:
        duration = float(c.load_done["duration"])
        reading = EnergyReading.model_validate(c.load_done["reading"])
    else:
        ends = [t.get("end") or t.get("sent") or 0.0 for t in c.traces]
        duration = max(ends, default=0.0)
        reading = EnergyReading(
            meter="none",
            provenance="unavailable",
            detail="the run was interrupted before the meter was read",
        )
    incomplete = None
    if not c.complete:
        where = "during the load" if c.load_done is None else "during the sweep, after the load"
        incomplete = (
            f"the run was interrupted {where} ({len(c.traces)} of "
            f"{c.header['load']['requests']} requests finished): incomplete, so no "
            "requirement can pass on it"
        )
    steps = [(float(s["rate"]), float(s["duration"]), s["traces"]) for s in c.sweep_steps]
    return assemble(
        c.header,
        st,
        c.traces,
        duration,
        reading,
        steps,
        finished_at=(c.end or {}).get("finished_at", ""),
        selftest_skipped=not c.header.get("selftest", True),
        incomplete=incomplete,
    )


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f} ms"


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
