"""A whole experiment: self-test, meter over the same run, sweep, what was not measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmcert.perf import (
    LAG_LIMIT_MS,
    LoadSpec,
    OpenAIStreamTarget,
    SLOSpec,
    WorkloadSpec,
    run_experiment,
    self_test,
)
from llmcert.perf.meters import EnergyReading, ExternalMeter, Unavailable
from llmcert.testing import ServerProcess

WORKLOAD = WorkloadSpec.model_validate(
    {"input_tokens": {"value": 8}, "output_tokens": {"value": 8}}
)


class CountingMeter:
    """A meter whose counter advances only while the load runs: 2 J per call of stop()."""

    name = "counting"

    def __init__(self) -> None:
        self.started = self.stopped = 0

    def start(self) -> None:
        self.started += 1

    def stop(self) -> EnergyReading:
        self.stopped += 1
        return EnergyReading(meter=self.name, provenance="measured", joules=16.0, seconds=4.0)


async def test_energy_per_token_and_power_come_from_the_same_run(
    paced_server: ServerProcess,
) -> None:
    meter = CountingMeter()
    result = await run_experiment(
        OpenAIStreamTarget(paced_server.base_url, "m"),
        LoadSpec(rate=20, requests=10),
        WORKLOAD,
        SLOSpec(ttft_ms=1000),
        meter=meter,
        selftest=False,
    )
    assert (meter.started, meter.stopped) == (1, 1)
    assert result.metrics.output_tokens == 80
    assert result.energy.joules_per_output_token == pytest.approx(16.0 / 80)
    assert result.energy.average_watts == pytest.approx(4.0)
    assert "client self-test (skipped on request)" in result.unmeasured
    assert len(result.traces) == 10
    assert all(t["token_times"] for t in result.traces)


async def test_without_a_meter_energy_is_unavailable_and_said_so(
    paced_server: ServerProcess,
) -> None:
    result = await run_experiment(
        OpenAIStreamTarget(paced_server.base_url, "m"),
        LoadSpec(rate=20, requests=5),
        WORKLOAD,
        SLOSpec(),
        meter=Unavailable("no meter here"),
        selftest=False,
    )
    assert result.energy.reading.provenance == "unavailable"
    assert result.energy.joules_per_output_token is None
    assert any(u.startswith("energy (unavailable") for u in result.unmeasured)
    # The result says how token arrivals were timed: by the kernel's stamps here.
    assert result.receive_stamp == "kernel"
    assert all(t["first_read_wait"] is not None for t in result.traces)


async def test_a_meter_that_fails_mid_run_leaves_energy_unavailable(
    paced_server: ServerProcess, tmp_path: Path
) -> None:
    f = tmp_path / "j"
    f.write_text("5")
    meter = ExternalMeter(file=f)

    class Vanishing(ExternalMeter):
        def stop(self) -> EnergyReading:
            f.unlink()
            return super().stop()

    meter.__class__ = Vanishing
    result = await run_experiment(
        OpenAIStreamTarget(paced_server.base_url, "m"),
        LoadSpec(rate=20, requests=3),
        WORKLOAD,
        SLOSpec(),
        meter=meter,
        selftest=False,
    )
    assert result.energy.reading.provenance == "unavailable"
    assert "cannot read the meter file" in result.energy.reading.detail
    assert result.metrics.n_ok == 3  # the latency figures stand


async def test_a_sweep_finds_distserve_goodput(paced_server: ServerProcess) -> None:
    result = await run_experiment(
        OpenAIStreamTarget(paced_server.base_url, "m"),
        LoadSpec(rate=10, requests=20),
        WORKLOAD,
        SLOSpec(ttft_ms=5000),
        selftest=False,
        sweep_share=0.9,
        sweep_rates=[5.0, 10.0],
    )
    assert result.sweep is not None
    assert [s.rate for s in result.sweep.steps] == [5.0, 10.0]
    assert result.sweep.goodput_observed == 10.0
    assert len(result.sweep_traces) == 2


async def test_the_self_test_measures_the_client_against_a_zero_latency_server() -> None:
    st = await self_test(20.0, seconds=1.0, ramp_steps=1)
    assert st.requests == 20
    assert st.failed == 0
    assert st.ttft_overhead_p50_ms is not None
    assert 0 <= st.ttft_overhead_p50_ms < 1000
    assert st.lag_limit_ms == LAG_LIMIT_MS
    assert st.sustained == (st.lag_p99_ms is not None and st.lag_p99_ms <= LAG_LIMIT_MS)
    assert "client self-test at 20 req/s" in st.describe()
    # Both ends time arrivals by the kernel's receive stamps on Linux, and say so.
    assert st.receive_stamp == "kernel"
    assert st.server_arrival_stamp == "kernel"
    assert st.first_read_wait_p99_ms is not None
    assert st.first_read_wait_p99_ms >= 0
    assert "arrival stamps: client kernel, server kernel" in st.describe()


class BlockingTarget:
    """A client that blocks its own event loop on every send: it cannot keep its schedule."""

    name = "blocking"
    token_counting = "chunks"

    async def start(self) -> None:
        return None

    async def send(self, request: Any, trace: Any, t0: float) -> None:
        import time

        from llmcert.perf._targets import clock

        trace.sent = clock() - t0
        time.sleep(0.02)  # 20 ms of blocking per request at 100 req/s: the schedule slips
        now = clock() - t0
        trace.token_times = [now, now]
        trace.end, trace.status, trace.output_tokens = now, "ok", 2

    async def aclose(self) -> None:
        return None


async def test_a_run_whose_client_falls_behind_is_flagged_unreliable() -> None:
    result = await run_experiment(
        BlockingTarget(),
        LoadSpec(rate=100, requests=30),
        WorkloadSpec.model_validate({"output_tokens": {"value": 2}}),
        SLOSpec(),
        selftest=False,
    )
    assert not result.reliable
    assert any("schedule lag p99" in n for n in result.reliability_notes)
    lag = result.metrics.lag_ms.at(0.99)
    assert lag is not None
    assert lag.value is not None
    assert lag.value > LAG_LIMIT_MS
