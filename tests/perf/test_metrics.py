"""Figures from traces: every request counted, SLOs, both goodputs named apart."""

from __future__ import annotations

import pytest

from llmcert.perf import RequestTrace, SLOSpec, Sweep, SweepStep, meets_slo, read_goodput, summarize


def _ok(i: int, ttft: float, gap: float, n: int = 10, min_tokens: int = 0) -> RequestTrace:
    t = RequestTrace(i, scheduled=float(i), max_tokens=n, min_tokens=min_tokens)
    t.sent = i + 0.001
    t.token_times = [i + ttft + k * gap for k in range(n)]
    t.end = t.token_times[-1]
    t.status, t.output_tokens, t.token_source = "ok", n, "usage"
    return t


def _failed(i: int, status: str = "error") -> RequestTrace:
    t = RequestTrace(i, scheduled=float(i), max_tokens=10)
    t.status, t.error = status, "HTTP 500: boom"  # type: ignore[assignment]
    return t


def test_tpot_itl_and_e2e_follow_their_definitions() -> None:
    t = _ok(0, 0.2, 0.05)
    assert t.ttft == pytest.approx(0.2)
    assert t.tpot == pytest.approx(0.05)
    assert t.itl == pytest.approx([0.05] * 9)
    assert t.e2e == pytest.approx(0.2 + 9 * 0.05)
    assert t.lag == pytest.approx(0.001)


def test_failures_are_counted_everywhere_and_never_meet_an_slo() -> None:
    traces = [_ok(i, 0.1, 0.01) for i in range(8)] + [_failed(8), _failed(9, "timeout")]
    m = summarize(traces, duration=10.0, slo=SLOSpec(ttft_ms=500))
    assert (m.n_requests, m.n_ok, m.n_error, m.n_timeout) == (10, 8, 1, 1)
    assert m.ttft_ms.n == 8
    assert m.ttft_ms.n_missing == 2
    assert m.attainment.met == 8
    assert m.attainment.share == pytest.approx(0.8)
    assert m.goodput_at_load == pytest.approx(0.8)  # vLLM's: met per second at this load
    assert m.request_throughput == pytest.approx(0.8)
    assert m.output_token_throughput == pytest.approx(8.0)
    # P99 of TTFT counts the two failures as +inf, so its estimate is unbounded.
    assert m.ttft_ms.at(0.99).value is None  # type: ignore[union-attr]
    assert m.errors == {"HTTP 500: boom": 2}  # the message, not only its kind


def test_a_short_answer_or_a_slow_one_misses_the_slo() -> None:
    slo = SLOSpec(ttft_ms=300, tpot_ms=40)
    assert meets_slo(_ok(0, 0.2, 0.03), slo)
    assert not meets_slo(_ok(0, 0.4, 0.03), slo)
    assert not meets_slo(_ok(0, 0.2, 0.05), slo)
    assert not meets_slo(_ok(0, 0.2, 0.03, n=5, min_tokens=9), slo)


def test_distserve_goodput_is_the_highest_rate_meeting_the_share() -> None:
    def step(rate: float, met: int) -> SweepStep:
        traces = [_ok(i, 0.1, 0.01) for i in range(met)] + [_failed(i) for i in range(100 - met)]
        return SweepStep(rate=rate, metrics=summarize(traces, 10.0, SLOSpec(ttft_ms=500)))

    steps = [step(1, 100), step(2, 100), step(4, 97), step(8, 50)]
    observed, confident = read_goodput(steps, 0.95)
    assert observed == 4
    assert confident == 2  # 100/100 has a lower bound 0.964; 97/100 falls below 0.95
    Sweep(share=0.95, steps=steps, goodput_observed=observed, goodput_confident=confident)
