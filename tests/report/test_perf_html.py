"""The performance page: charts from the data, failures shown, nothing from the data trusted."""

from __future__ import annotations

from pathlib import Path

from llmcert.perf import LoadSpec, RequestTrace, SLOSpec, WorkloadSpec, summarize
from llmcert.perf._experiment import Energy, PerfResult
from llmcert.perf._sweep import Sweep, SweepStep
from llmcert.perf.meters import EnergyReading
from llmcert.report import render_perf_html, write_perf_html


def _trace(i: int, ok: bool = True) -> RequestTrace:
    t = RequestTrace(i, scheduled=i * 0.1, max_tokens=4)
    t.sent = t.scheduled + 0.001
    if ok:
        t.token_times = [t.scheduled + 0.05 + k * 0.01 for k in range(4)]
        t.end, t.status, t.output_tokens = t.token_times[-1], "ok", 4
    else:
        t.status, t.error, t.end = "error", "HTTP 500: boom", t.scheduled + 0.01
    return t


def _result(target: str = "openai:http://127.0.0.1:1/v1") -> dict[str, object]:
    traces = [_trace(i, ok=i != 3) for i in range(10)]
    slo = SLOSpec(ttft_ms=100)
    metrics = summarize(traces, 1.0, slo)
    load = LoadSpec(rate=10, requests=10)
    result = PerfResult(
        started_at="2026-12-04T00:00:00+00:00",
        finished_at="2026-12-04T00:00:01+00:00",
        target=target,
        token_counting="server usage report, else chunk count",
        load=load.model_dump(mode="json"),
        load_description=load.describe(),
        workload=WorkloadSpec().model_dump(mode="json"),
        profile_digest="sha256:" + "0" * 64,
        slo=slo.model_dump(mode="json"),
        selftest=None,
        receive_stamp="kernel",
        reliable=False,
        reliability_notes=["lag too high"],
        metrics=metrics,
        energy=Energy(
            reading=EnergyReading(meter="auto", provenance="unavailable", detail="no meter"),
            joules_per_output_token=None,
            average_watts=None,
        ),
        sweep=Sweep(
            share=0.9,
            steps=[SweepStep(rate=r, metrics=metrics) for r in (5.0, 10.0)],
            goodput_observed=10.0,
            goodput_confident=None,
        ),
        unmeasured=["energy (unavailable: no meter)"],
        traces=[t.to_dict() for t in traces],
    )
    return result.model_dump(mode="json", by_alias=True)


def test_the_page_has_the_three_charts_and_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "perf.html"
    write_perf_html(_result(), path)
    html = path.read_text()
    assert html.count("<svg") == 3
    assert "Latency CDF" in html
    assert "Latency against load" in html
    assert "Token timelines" in html
    assert 'class="failed"' in html  # the failed request is drawn as such
    assert "Unreliable: lag too high" in html
    assert "Not measured: energy" in html
    assert "Token arrivals timed by: the kernel&#39;s receive stamp" in html
    assert "DistServe" in html
    assert "vLLM" in html
    assert "Content-Security-Policy" in html
    assert "<script" not in html


def test_values_from_the_result_are_escaped() -> None:
    html = render_perf_html(_result(target='<script>alert("x")</script>'))
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
