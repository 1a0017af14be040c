"""What the client itself adds, measured against a loopback server that adds nothing.

The fake server (``llmcert.testing``) runs in a child process, streams at once (zero
time to first token, no pacing), and the client drives it at the run's target rate.
The server stamps when each request reached its socket (the kernel's receive stamp)
and when its first token left, on the host's monotonic clock, which the client shares;
the client's *added* TTFT is what it measured from the scheduled arrival minus the
server's own share: the client's lag, send and the loopback both ways, never the
server's work or wake-up. The client times the first token by the kernel's stamp too,
so its own wake-up is not in the TTFT it reports; that wake-up is shown apart
(``first_read_wait``). Where either side has no kernel stamps (recorded), the wake-ups
stay in the added TTFT. Its schedule lag is how late the client sends. A short ramp finds the highest rate the client keeps
up with on this machine. A run whose own schedule lag exceeds :data:`LAG_LIMIT_MS` at
p99 is flagged: its latencies include the client's queueing and are not the server's.
"""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import BaseModel, ConfigDict

from llmcert.perf._metrics import Metrics, summarize
from llmcert.perf._run import LoadRun, ceil_requests, run_load
from llmcert.perf._spec import LoadSpec, SLOSpec, WorkloadSpec
from llmcert.perf._targets import OpenAIStreamTarget
from llmcert.perf._trace import RequestTrace, receive_stamp
from llmcert.perf._workload import build_requests
from llmcert.stats import quantile

#: Schedule lag at p99 above which a run's latencies are not the server's alone.
LAG_LIMIT_MS = 5.0
#: Tokens streamed per self-test request.
SELFTEST_TOKENS = 16


class SelfTest(BaseModel):
    """The client's own overhead on this machine, printed and recorded with every run."""

    model_config = ConfigDict(extra="forbid")

    target_rate: float
    requests: int
    tokens_per_request: int
    #: Measured TTFT minus the server's own stamped time to first token.
    ttft_overhead_p50_ms: float | None
    ttft_overhead_p99_ms: float | None
    #: The server's own time from arrival to first token, which the above leaves out.
    server_ttft_p99_ms: float | None = None
    #: How the client timed token arrivals and the server stamped request arrivals:
    #: ``kernel`` (socket receive stamp) or ``read`` (the process's read, wake-up included).
    receive_stamp: str | None = None
    server_arrival_stamp: str | None = None
    #: How long the first-token bytes waited in the client's kernel for the client to
    #: wake: not in the TTFT when ``receive_stamp`` is ``kernel``, shown to be seen.
    first_read_wait_p99_ms: float | None = None
    lag_p99_ms: float | None
    failed: int
    sustained: bool
    highest_sustained_rate: float | None
    ramp: list[tuple[float, float | None, int]]
    lag_limit_ms: float = LAG_LIMIT_MS

    def describe(self) -> str:
        ramp = (
            f"; highest rate kept up with: {self.highest_sustained_rate:g} req/s"
            if self.highest_sustained_rate is not None
            else ""
        )
        wait = (
            f", client wake-up p99 {_ms(self.first_read_wait_p99_ms)} (left out)"
            if self.first_read_wait_p99_ms is not None
            else ""
        )
        return (
            f"client self-test at {self.target_rate:g} req/s ({self.requests} requests, "
            f"{self.tokens_per_request} tokens, loopback server at zero latency): "
            f"added TTFT p50 {_ms(self.ttft_overhead_p50_ms)}, "
            f"p99 {_ms(self.ttft_overhead_p99_ms)} (server's own p99 "
            f"{_ms(self.server_ttft_p99_ms)}, left out); schedule lag p99 {_ms(self.lag_p99_ms)}"
            f"; arrival stamps: client {self.receive_stamp or 'n/a'}, "
            f"server {self.server_arrival_stamp or 'n/a'}{wait}{ramp}"
        )


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} ms"


async def _measure(base_url: str, rate: float, seconds: float) -> tuple[Metrics, LoadRun]:
    load = LoadSpec(rate=rate, requests=ceil_requests(rate, seconds), timeout_s=10.0)
    workload = WorkloadSpec.model_validate(
        {"input_tokens": {"value": 8}, "output_tokens": {"value": SELFTEST_TOKENS}}
    )
    target = OpenAIStreamTarget(base_url, "selftest", api="chat")
    await target.start()
    try:
        run = await run_load(target, load, build_requests(workload, load.requests, 0))
    finally:
        await target.aclose()
    return summarize(run.traces, run.duration, SLOSpec()), run


def added_ttft_ms(traces: list[RequestTrace]) -> tuple[list[float], list[float]]:
    """Per completed request stamped by the server: the client's added TTFT (measured
    from the schedule, minus the server's own share) and the server's share, in ms."""
    added, server = [], []
    for t in traces:
        ttft, own = t.ttft, t.server_ttft
        if ttft is not None and own is not None:
            added.append((ttft - own) * 1000)
            server.append(own * 1000)
    return added, server


def _quantile(m: Metrics, name: str, p: float) -> float | None:
    q = getattr(m, name).at(p)
    return None if q is None else q.value


def _p99(m: Metrics, name: str) -> float | None:
    return _quantile(m, name, 0.99)


def _kept_up(m: Metrics) -> bool:
    lag = _p99(m, "lag_ms")
    return m.n_ok == m.n_requests and lag is not None and lag <= LAG_LIMIT_MS


async def self_test(rate: float, *, seconds: float = 2.0, ramp_steps: int = 3) -> SelfTest:
    """Measure the client at ``rate``, then double the rate up to ``ramp_steps`` times
    while it keeps up."""
    from llmcert.testing import fake_server_process

    with contextlib.ExitStack() as stack:
        server = await asyncio.to_thread(
            stack.enter_context,
            fake_server_process(model="selftest", extra_args=("--stream",)),
        )
        main, main_run = await _measure(server.base_url, rate, seconds)
        sustained = _kept_up(main)
        ramp: list[tuple[float, float | None, int]] = []
        highest = rate if sustained else None
        step_rate = rate
        for _ in range(ramp_steps if sustained else 0):
            step_rate *= 2
            m, _ = await _measure(server.base_url, step_rate, 1.0)
            ramp.append((step_rate, _p99(m, "lag_ms"), m.n_requests - m.n_ok))
            if not _kept_up(m):
                break
            highest = step_rate
    added, own = added_ttft_ms(main_run.traces)
    waits = [t.first_read_wait * 1000 for t in main_run.traces if t.first_read_wait is not None]
    server_stamps = {t.server_arrival_stamp for t in main_run.traces if t.server_arrival_stamp}
    return SelfTest(
        target_rate=rate,
        requests=main.n_requests,
        tokens_per_request=SELFTEST_TOKENS,
        ttft_overhead_p50_ms=quantile(added, 0.5),
        ttft_overhead_p99_ms=quantile(added, 0.99),
        server_ttft_p99_ms=quantile(own, 0.99),
        receive_stamp=receive_stamp(main_run.traces),
        server_arrival_stamp=(
            "mixed" if len(server_stamps) > 1 else next(iter(server_stamps), None)
        ),
        first_read_wait_p99_ms=quantile(waits, 0.99),
        lag_p99_ms=_p99(main, "lag_ms"),
        failed=main.n_requests - main.n_ok,
        sustained=sustained,
        highest_sustained_rate=highest,
        ramp=ramp,
    )
