"""Driving a load: open loop on a seeded arrival schedule, or closed loop at a concurrency.

One dispatcher coroutine sleeps until each scheduled arrival and starts the request
as its own task, so a slow response never delays the next arrival; the dispatcher's
own lateness is recorded per request as schedule lag. Each request has a deadline
counted from its scheduled arrival; when it passes the request is cancelled and
counted as a timeout, so no run can hang on a stalled stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from llmcert.perf._spec import LoadSpec
from llmcert.perf._targets import Target, clock
from llmcert.perf._trace import RequestTrace
from llmcert.perf._workload import WorkRequest

#: Sleeping wakes up late by up to a millisecond; the last stretch is spun on the loop.
_SPIN = 0.001


def arrival_times(load: LoadSpec, n: int) -> list[float]:
    """Scheduled arrival of each request, in seconds from the start (first at 0)."""
    assert load.rate is not None
    rng = random.Random(load.seed)
    times, t = [], 0.0
    for _ in range(n):
        times.append(t)
        if load.arrival == "constant":
            t += 1.0 / load.rate
        elif load.arrival == "gamma":
            shape = load.burstiness
            t += rng.gammavariate(shape, 1.0 / (load.rate * shape))
        else:
            t += rng.expovariate(load.rate)
    return times


@dataclass
class LoadRun:
    """The traces of one load, with the run's start (wall clock) and duration."""

    load: LoadSpec
    traces: list[RequestTrace]
    started_at: float
    duration: float
    #: Requests in flight at most at once (open loop: a sign of server saturation).
    max_in_flight: int = 0
    notes: list[str] = field(default_factory=list)


async def _one(
    target: Target, req: WorkRequest, trace: RequestTrace, t0: float, deadline: float
) -> None:
    remaining = t0 + trace.scheduled + deadline - clock()
    try:
        # A timer on this task, not ``wait_for``: on 3.11 that wraps the send in a task of
        # its own, one more turn of the loop (a queue of other reads) before the request
        # leaves, which showed as schedule lag.
        async with asyncio.timeout(max(remaining, 0.0)):
            await target.send(req, trace, t0)
    except TimeoutError:
        trace.status = "timeout"
        trace.end = clock() - t0
        trace.error = f"no complete answer within {deadline:g} s of the scheduled arrival"
    except Exception as exc:  # a target bug must not lose the request: count it as failed
        trace.status = "error"
        trace.error = f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """Keep the collector from pausing the client mid-run.

    Everything allocated before the run (imports, the workload, the traces) is frozen
    out of the collector's reach, so a full collection during the run only walks what
    the run itself created: on this package's imports a full collection took 40-90 ms,
    which landed on whichever request's first token was being read.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def run_load(
    target: Target,
    load: LoadSpec,
    requests: list[WorkRequest],
    *,
    on_done: Callable[[RequestTrace], None] | None = None,
) -> LoadRun:
    """Send ``requests`` under ``load``; every request ends with a trace, failed or not."""
    import time

    traces = [RequestTrace(r.index, 0.0, r.max_tokens, r.min_tokens) for r in requests]
    in_flight = 0
    peak = 0

    async def tracked(req: WorkRequest, trace: RequestTrace) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await _one(target, req, trace, t0, load.timeout_s)
        finally:
            in_flight -= 1
            if on_done is not None:
                on_done(trace)

    loop = asyncio.get_running_loop()
    schedule = arrival_times(load, len(requests)) if load.mode == "open" else []
    with quiet_gc():
        started_at = time.time()
        t0 = clock()
        if load.mode == "open":
            tasks = []
            for req, trace, at in zip(requests, traces, schedule, strict=True):
                trace.scheduled = at
                wait = t0 + at - clock()
                if wait > _SPIN:
                    await asyncio.sleep(wait - _SPIN)
                while clock() < t0 + at:
                    await asyncio.sleep(0)
                tasks.append(loop.create_task(tracked(req, trace)))
            await asyncio.gather(*tasks)
        else:
            assert load.concurrency is not None
            queue = iter(zip(requests, traces, strict=True))

            async def worker() -> None:
                for req, trace in queue:
                    trace.scheduled = clock() - t0
                    await tracked(req, trace)

            n_workers = min(load.concurrency, len(requests))
            await asyncio.gather(*(worker() for _ in range(n_workers)))
        duration = clock() - t0
    return LoadRun(load, traces, started_at, duration, peak)


def expected_duration(load: LoadSpec) -> float | None:
    """Seconds the schedule spans (open loop only)."""
    if load.mode != "open" or load.rate is None:
        return None
    return load.requests / load.rate


def ceil_requests(rate: float, seconds: float, minimum: int = 20) -> int:
    return max(minimum, math.ceil(rate * seconds))
