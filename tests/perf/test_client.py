"""The streaming client against the paced fake server: timings, counting, faults, bad input."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import statistics

import pytest

from llmcert.perf import (
    LoadSpec,
    OpenAIStreamTarget,
    SLOSpec,
    WorkloadSpec,
    arrival_times,
    build_requests,
    run_load,
    summarize,
)
from llmcert.perf._run import LoadRun
from llmcert.perf._selftest import added_ttft_ms
from llmcert.perf._trace import receive_stamp
from llmcert.testing import FakeOpenAIServer, ServerProcess
from tests.perf.conftest import INTERVAL_S, TTFT_S

WORKLOAD = WorkloadSpec.model_validate(
    {"input_tokens": {"value": 8}, "output_tokens": {"value": 16}}
)


async def _run(base_url: str, load: LoadSpec, workload: WorkloadSpec = WORKLOAD) -> LoadRun:
    target = OpenAIStreamTarget(base_url, "m")
    await target.start()
    try:
        # No run may hang, whatever the server does: the guard is far above any deadline.
        return await asyncio.wait_for(
            run_load(target, load, build_requests(workload, load.requests, 0)), timeout=60
        )
    finally:
        await target.aclose()


async def test_measured_ttft_and_tpot_match_the_injected_values_within_2_ms(
    paced_server: ServerProcess,
) -> None:
    # What the server really did is on its own stamps, on the clock the client shares:
    # when the request reached its socket and when it wrote the first token. A busy machine
    # makes the server late past the injected TTFT (its timer fires late): that lateness is
    # the server's, real, and on its stamps, so the client's error is its TTFT less the
    # server's own share, the added TTFT. Both sides stamp arrivals with the kernel's
    # receive time, so neither process's wake-up enters it; what is left is the send and
    # the loopback, microseconds. The median of twenty requests, best of three rounds,
    # keeps a preemption between the client's stamp and its send out of the figure.
    rounds = []
    for _ in range(3):
        run = await _run(paced_server.base_url, LoadSpec(mode="closed", concurrency=1, requests=20))
        ok = [t for t in run.traces if t.status == "ok"]
        assert len(ok) == 20
        assert all(t.output_tokens == 16 and t.token_source == "usage" for t in ok)
        assert all(len(t.itl) == 15 for t in ok)
        assert receive_stamp(ok) == "kernel"
        assert {t.server_arrival_stamp for t in ok} == {"kernel"}
        # The server never answered early: the injected TTFT is a floor on its own share.
        assert all(t.server_ttft is not None and t.server_ttft >= TTFT_S for t in ok)
        added, _own = added_ttft_ms(ok)
        assert len(added) == 20
        assert all(a >= 0 for a in added)
        measured = statistics.median(t.ttft for t in ok if t.ttft is not None)
        tpot = statistics.median(t.tpot for t in ok if t.tpot is not None)
        rounds.append(
            {
                "ttft_error_ms": statistics.median(added),
                "tpot_error_ms": abs(tpot - INTERVAL_S) * 1000,
                # Against the bare injected value (the server's lateness included): shown,
                # not asserted; bench/perf_client.py --ttft-ms 50 reports it under load.
                "ttft_vs_injected_ms": (measured - TTFT_S) * 1000,
            }
        )
    assert min(r["ttft_error_ms"] for r in rounds) <= 2.0, rounds
    # TPOT is the first-to-last span over 15 gaps, timed by kernel stamps on the client: a
    # late server timer on the last token moves it by a fifteenth of the lateness.
    assert min(r["tpot_error_ms"] for r in rounds) <= 2.0, rounds


async def test_open_loop_latencies_run_from_the_scheduled_arrival(
    paced_server: ServerProcess,
) -> None:
    load = LoadSpec(rate=40, requests=40, seed=3)
    run = await _run(paced_server.base_url, load)
    assert [t.scheduled for t in run.traces] == pytest.approx(arrival_times(load, 40))
    for t in run.traces:
        assert t.status == "ok"
        assert t.lag is not None
        assert t.lag >= 0
        # TTFT includes the lag: it is measured from the schedule, not from the send.
        assert t.ttft is not None
        assert t.ttft == pytest.approx(t.token_times[0] - t.scheduled)
        assert t.ttft >= t.lag


async def test_a_cut_a_500_and_a_stall_are_all_counted_and_nothing_hangs() -> None:
    faults = ["cut:every=3", "status:500:every=4", "timeout:every=5:delay=30"]
    async with FakeOpenAIServer(streaming=True, faults=faults) as srv:
        run = await _run(
            srv.base_url, LoadSpec(mode="closed", concurrency=4, requests=20, timeout_s=1.0)
        )
    by_status: dict[str, int] = {}
    for t in run.traces:
        by_status[t.status] = by_status.get(t.status, 0) + 1
    assert sum(by_status.values()) == 20
    assert by_status["truncated"] >= 1
    assert by_status["error"] >= 1
    assert by_status["timeout"] >= 1
    m = summarize(run.traces, run.duration, SLOSpec(ttft_ms=1000))
    assert m.n_requests == 20
    assert m.n_ok + m.n_error + m.n_timeout + m.n_truncated == 20
    assert m.attainment.met == m.n_ok  # every failure misses the SLO, none is dropped
    assert m.ttft_ms.n_missing == 20 - m.n_ok
    assert any("HTTP 500" in k for k in m.errors)


async def test_an_unreachable_endpoint_fails_every_request_with_a_clear_reason() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    run = await _run(f"http://127.0.0.1:{port}/v1", LoadSpec(rate=50, requests=5))
    assert all(t.status == "error" for t in run.traces)
    assert all("cannot reach" in (t.error or "") for t in run.traces)


async def test_a_server_that_does_not_stream_fails_every_request_and_says_so() -> None:
    async with FakeOpenAIServer() as srv:  # answers stream=true with 400
        run = await _run(srv.base_url, LoadSpec(rate=50, requests=5))
    assert all(t.status == "error" for t in run.traces)
    assert all("streaming is not supported" in (t.error or "") for t in run.traces)


async def test_a_response_below_the_length_floor_fails_the_slo() -> None:
    # Without ignore_eos the fake server answers with the prompt's 8 words, not 16 tokens.
    async with FakeOpenAIServer(streaming=True, policy="echo") as srv:
        target = OpenAIStreamTarget(srv.base_url, "m")
        await target.start()
        reqs = build_requests(WORKLOAD, 5, 0)
        # As a server that drops ignore_eos would: the floor (15 of 16) stays.
        reqs = [dataclasses.replace(r, ignore_eos=False) for r in reqs]
        try:
            run = await run_load(target, LoadSpec(mode="closed", concurrency=1, requests=5), reqs)
        finally:
            await target.aclose()
    m = summarize(run.traces, run.duration, SLOSpec(ttft_ms=10_000))
    assert m.n_ok == 5
    assert m.n_short == 5
    assert m.attainment.met == 0


async def test_the_servers_own_stamps_line_up_with_the_clients_clock(
    paced_server: ServerProcess,
) -> None:
    # The server stamps arrival and first token on CLOCK_MONOTONIC, which the client reads
    # too: the client's added TTFT (measured minus the server's share) is what it adds.
    run = await _run(paced_server.base_url, LoadSpec(rate=20, requests=20, seed=1))
    for t in run.traces:
        assert t.status == "ok"
        assert t.sent is not None
        assert t.server_arrived is not None
        assert t.server_first_token is not None
        assert t.server_ttft is not None
        # Causality on one clock: sent before the server saw it, which waited the
        # injected TTFT before its first token, which left before the client read it.
        assert t.sent <= t.server_arrived
        assert t.server_ttft >= TTFT_S
        assert t.server_first_token <= t.token_times[0]
        assert t.ttft is not None
        assert t.ttft >= t.server_ttft
    added, own = added_ttft_ms(run.traces)
    assert len(added) == len(own) == 20
    assert all(a >= 0 for a in added)


async def test_a_server_without_stamps_leaves_the_servers_share_unknown() -> None:
    async with FakeOpenAIServer(streaming=True) as srv:
        run = await _run(srv.base_url, LoadSpec(rate=50, requests=3))
    assert all(t.status == "ok" for t in run.traces)
    # The in-thread fake server stamps too; a trace from a stamp-less server keeps None.
    bare = dataclasses.replace(run.traces[0], server_arrived=None, server_first_token=None)
    assert bare.server_ttft is None
    assert added_ttft_ms([bare]) == ([], [])
