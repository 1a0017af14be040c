"""The inference-system standard: its tiers agree with the MLPerf table, and perf measures
are validated with errors naming the line."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from llmcert.errors import SpecError
from llmcert.standards._catalog import load_standard
from llmcert.standards._spec import PerfMeasure, load_standard_file


def _tiers() -> dict[str, object]:
    text = (files("llmcert.standards") / "data" / "mlperf_llm_latency_tiers.yaml").read_text()
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def test_the_tiers_are_mlperfs_llama2_70b_values() -> None:
    tiers = _tiers()
    assert tiers["quantile"] == 0.99
    llama = tiers["models"]["llama2-70b"]  # type: ignore[index]
    spec = load_standard("llmcert-inference-system")
    limits = {
        r.id: (r.measure.limit, r.threshold)
        for r in spec.requirements
        if isinstance(r.measure, PerfMeasure)
    }
    assert limits["ttft-p99-server"] == (llama["server"]["ttft_ms"], 0.99)
    assert limits["tpot-p99-server"] == (llama["server"]["tpot_ms"], 0.99)
    assert limits["ttft-p99-interactive"] == (llama["interactive"]["ttft_ms"], 0.99)
    assert limits["tpot-p99-interactive"] == (llama["interactive"]["tpot_ms"], 0.99)
    goodput = next(r for r in spec.requirements if r.id == "goodput-server")
    assert isinstance(goodput.measure, PerfMeasure)
    assert goodput.measure.slo.ttft_ms == llama["server"]["ttft_ms"]
    assert goodput.measure.slo.tpot_ms == llama["server"]["tpot_ms"]


def test_what_is_llmcerts_choice_and_not_mlperfs_says_so() -> None:
    spec = load_standard("llmcert-inference-system")
    clauses = {c.id: c for c in spec.clauses}
    energy = next(r for r in spec.requirements if r.id == "energy-per-token")
    assert "llmcert's own" in energy.description
    assert "llmcert's own" in clauses["4"].text
    assert "llmcert's own" in clauses["4"].reference
    assert "llmcert's choices" in clauses["3"].text
    assert "llmcert's choices" in clauses["1"].text
    for tier in ("2.1", "2.2"):
        assert "limits are MLPerf's; the rate is llmcert's choice" in clauses[tier].text


def test_every_requirement_can_bound_a_p99() -> None:
    # An upper bound on P99 at 95% needs at least 299 requests.
    spec = load_standard("llmcert-inference-system")
    for r in spec.requirements:
        assert isinstance(r.measure, PerfMeasure)
        assert r.measure.load.requests >= 299
        assert r.measure.load.arrival == "poisson"


HEAD = """\
id: s
title: S
version: 1.0.0
status: draft
clauses: [{id: "1", title: T}]
requirements:
  - id: r
    clause: "1"
"""


@pytest.mark.parametrize(
    ("body", "message", "line"),
    [
        ("    measure: {kind: perf, metric: ttft, load: {rate: 1}}\n    threshold: 0.99\n",
         "needs a 'limit'", 9),
        ("    measure: {kind: perf, metric: ttft, limit: 5, load: {rate: 1}}\n",
         "threshold in \\(0, 1\\)", 7),
        ("    measure: {kind: perf, metric: slo_attainment, load: {rate: 1}}\n    threshold: 0.9\n",
         "at least one limit", 9),
        ("    measure: {kind: perf, metric: ttft, limit: 5, load: {mode: closed}}\n    threshold: 0.9\n",
         "needs a concurrency", 9),
    ],
)  # fmt: skip
def test_a_bad_perf_measure_names_the_line(
    tmp_path: Path, body: str, message: str, line: int
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + body)
    with pytest.raises(SpecError, match=message) as info:
        load_standard_file(path)
    assert info.value.line is not None
    assert info.value.line >= line - 2
