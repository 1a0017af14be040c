"""A rate sweep: latency against load, and goodput as DistServe defines it.

DistServe's goodput is the highest request rate at which at least a set share of
requests meets every SLO; it is read off a sweep, not measured at one load (that
is ``vllm bench serve``'s goodput, :attr:`Metrics.goodput_at_load`). Each step is a
fresh open-loop load; without given rates the sweep doubles from ``start`` until
attainment falls below the share, then halves the gap ``refine`` times.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from llmcert.perf._metrics import Metrics, summarize
from llmcert.perf._run import LoadRun, run_load
from llmcert.perf._spec import LoadSpec, SLOSpec, WorkloadSpec
from llmcert.perf._targets import Target
from llmcert.perf._workload import build_requests


class SweepStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float
    metrics: Metrics


class Sweep(BaseModel):
    """Every step, and the DistServe goodput read off them."""

    model_config = ConfigDict(extra="forbid")

    share: float
    steps: list[SweepStep]
    #: Highest swept rate whose observed attainment is ≥ share.
    goodput_observed: float | None
    #: Highest swept rate whose attainment's lower confidence bound is ≥ share.
    goodput_confident: float | None


def read_goodput(steps: list[SweepStep], share: float) -> tuple[float | None, float | None]:
    observed = [s.rate for s in steps if (s.metrics.attainment.share or 0.0) >= share]
    confident = [s.rate for s in steps if (s.metrics.attainment.ci_low or 0.0) >= share]
    return max(observed, default=None), max(confident, default=None)


async def sweep(
    target: Target,
    base: LoadSpec,
    workload: WorkloadSpec,
    slo: SLOSpec,
    *,
    share: float = 0.99,
    rates: list[float] | None = None,
    start: float = 1.0,
    max_steps: int = 6,
    refine: int = 2,
    prompts: list[str] | None = None,
    on_step: Callable[[float, Metrics, LoadRun], None] | None = None,
) -> tuple[Sweep, list[LoadRun]]:
    steps: list[SweepStep] = []
    runs: list[LoadRun] = []

    async def step(rate: float) -> bool:
        load = base.model_copy(update={"mode": "open", "rate": rate, "concurrency": None})
        reqs = build_requests(workload, load.requests, load.seed, prompts)
        run = await run_load(target, load, reqs)
        m = summarize(run.traces, run.duration, slo)
        steps.append(SweepStep(rate=rate, metrics=m))
        runs.append(run)
        if on_step is not None:
            on_step(rate, m, run)
        return (m.attainment.share or 0.0) >= share

    if rates:
        for r in sorted(rates):
            await step(r)
    else:
        good: float | None = None
        bad: float | None = None
        rate = start
        for _ in range(max_steps):
            if await step(rate):
                good = rate
                rate *= 2
            else:
                bad = rate
                break
        if good is not None and bad is not None:
            for _ in range(refine):
                mid = (good + bad) / 2
                if await step(mid):
                    good = mid
                else:
                    bad = mid
    steps.sort(key=lambda s: s.rate)
    observed, confident = read_goodput(steps, share)
    return Sweep(
        share=share, steps=steps, goodput_observed=observed, goodput_confident=confident
    ), runs
