"""Nothing lost on a crash: a run killed mid-load keeps every finished request, and its
report, produced from the journal, is marked incomplete and never passes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmcert.perf import (
    JOURNAL_NAME,
    LoadSpec,
    OpenAIStreamTarget,
    PerfError,
    PerfJournal,
    SLOSpec,
    WorkloadSpec,
    result_from_journal,
    run_experiment,
)
from llmcert.testing import ServerProcess, fake_server_process

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def slow_server() -> Iterator[ServerProcess]:
    # 8 tokens 20 ms apart: each request takes ~150 ms, so a run of 400 at 20 req/s
    # lasts 20 s and is certainly mid-load when it is killed.
    with fake_server_process(extra_args=("--stream", "--token-interval", "0.02")) as srv:
        yield srv


def _start(server: ServerProcess, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [
        sys.executable, "-m", "llmcert", "perf", "--model", server.model_ref,
        "--rate", "20", "--requests", "400", "--output-tokens", "8", "--no-selftest",
        "--meter", "none", "--slo-ttft-ms", "1000", "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _traces_in(journal: Path) -> int:
    if not journal.exists():
        return 0
    return sum(1 for line in journal.read_bytes().splitlines() if b'"kind":"trace"' in line)


def _wait_for_traces(out: Path, proc: subprocess.Popen[bytes], n: int) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        journals = list(out.glob(f"perf-*/{JOURNAL_NAME}"))
        if journals and _traces_in(journals[0]) >= n:
            return journals[0]
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.1)
    raise AssertionError("the run journalled too few requests in time")


def test_a_sigkilled_run_keeps_its_finished_requests_and_reports_them_incomplete(
    slow_server: ServerProcess, tmp_path: Path
) -> None:
    proc = _start(slow_server, tmp_path)
    journal = _wait_for_traces(tmp_path, proc, 20)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    kept = _traces_in(journal)
    assert 20 <= kept < 400
    assert not (journal.parent / "perf.json").exists()

    env = {**os.environ, "PYTHONPATH": str(SRC)}
    report = subprocess.run(
        [sys.executable, "-m", "llmcert", "perf", "--from-journal", str(journal.parent)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "INCOMPLETE" in report.stderr
    data = json.loads((journal.parent / "perf.json").read_text())
    assert data["complete"] is False
    assert data["reliable"] is False
    assert len(data["traces"]) == kept
    assert all(t["status"] == "ok" for t in data["traces"])
    assert data["metrics"]["n_requests"] == kept
    assert any("interrupted during the load" in n for n in data["reliability_notes"])
    assert any(f"{400 - kept} of 400 requests never finished" in u for u in data["unmeasured"])
    assert data["energy"]["reading"]["provenance"] == "unavailable"
    assert "INCOMPLETE" in (journal.parent / "perf.html").read_text().upper()


def test_a_sigint_writes_the_incomplete_report_and_exits_130(
    slow_server: ServerProcess, tmp_path: Path
) -> None:
    proc = _start(slow_server, tmp_path)
    journal = _wait_for_traces(tmp_path, proc, 10)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"INCOMPLETE" in err
    data = json.loads((journal.parent / "perf.json").read_text())
    assert data["complete"] is False
    assert len(data["traces"]) == _traces_in(journal) >= 10


async def test_a_finished_run_reads_back_from_its_journal_as_it_was_reported(
    slow_server: ServerProcess, tmp_path: Path
) -> None:
    journal = tmp_path / JOURNAL_NAME
    workload = WorkloadSpec.model_validate(
        {"input_tokens": {"value": 8}, "output_tokens": {"value": 4}}
    )
    live = await run_experiment(
        OpenAIStreamTarget(slow_server.base_url, "m"),
        LoadSpec(rate=20, requests=10),
        workload,
        SLOSpec(ttft_ms=1000),
        selftest=False,
        sweep_share=0.9,
        sweep_rates=[5.0],
        journal=journal,
    )
    again = result_from_journal(tmp_path)
    assert again.complete
    assert again.metrics == live.metrics
    assert sorted(t["index"] for t in again.traces) == list(range(10))
    assert again.sweep is not None
    assert again.sweep == live.sweep
    assert again.unmeasured == live.unmeasured


def test_a_torn_last_line_is_ignored_and_a_foreign_file_refused(tmp_path: Path) -> None:
    journal = tmp_path / JOURNAL_NAME
    header = {
        "kind": "run",
        "schema": "llmcert.perf-journal/1",
        "started_at": "2025-01-01T00:00:00+00:00",
        "target": "t",
        "token_counting": "chunks",
        "load": LoadSpec(rate=10, requests=3).model_dump(mode="json"),
        "workload": {"input_tokens": {"value": 4}, "output_tokens": {"value": 2}},
        "slo": SLOSpec().model_dump(mode="json"),
        "sweep_share": None,
        "selftest": False,
    }
    trace = {
        "index": 0, "scheduled": 0.0, "max_tokens": 2, "sent": 0.001,
        "token_times": [0.01, 0.02], "end": 0.021, "status": "ok", "output_tokens": 2,
    }  # fmt: skip
    journal.write_text(
        json.dumps(header) + "\n" + json.dumps({"kind": "trace", "trace": trace}) + "\n"
        '{"kind":"trace","trace":{"index":1,"sched'
    )
    result = result_from_journal(journal)
    assert not result.complete
    assert result.metrics.n_requests == 1
    assert any("2 of 3 requests never finished" in u for u in result.unmeasured)
    (tmp_path / "other.jsonl").write_text('{"kind":"run","schema":"something-else"}\n')
    with pytest.raises(PerfError, match="not an llmcert perf journal"):
        result_from_journal(tmp_path / "other.jsonl")


def test_a_journal_is_never_overwritten_nor_written_where_it_cannot_be(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    PerfJournal(path, {"target": "t"}).close()
    first = path.read_bytes()
    with pytest.raises(PerfError, match="not resumed"):
        PerfJournal(path, {"target": "other"})
    assert path.read_bytes() == first
    (tmp_path / "file").write_text("")
    with pytest.raises(PerfError, match="cannot create the run journal"):
        PerfJournal(tmp_path / "file" / "run" / JOURNAL_NAME, {})
