"""Kill a real run with SIGKILL part-way, resume it, and check exactly-once from the server's log."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from llmcert.testing import fake_server_process
from tests.conftest import write_suite

N_ITEMS, REPEATS = 150, 2


@contextmanager
def fake_server(tmp: Path, name: str, latency: float) -> Iterator[tuple[str, Path]]:
    log = tmp / f"{name}.log"
    with fake_server_process(latency=latency, model="fake-model", log=log) as server:
        yield server.model_ref, log


def eval_cmd(model: str, suite: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "llmcert",
        "eval",
        "--model",
        model,
        "--suite",
        str(suite),
        "--concurrency",
        "8",
        "--repeats",
        str(REPEATS),
        "--output",
        str(out),
        "--no-progress",
    ]


def journal_keys(out: Path) -> set[str]:
    """The request keys (as sent in Idempotency-Key) of the units journaled as answered."""
    db = sqlite3.connect(out / "journal.sqlite")
    try:
        return {k for (k,) in db.execute("SELECT request_key FROM units WHERE status = 'ok'")}
    finally:
        db.close()


def numbered_suite(tmp_path: Path, n: int) -> Path:
    items = [
        {"id": f"i{i:03d}", "input": f"question {i}", "target": "x", "language": "en"}
        for i in range(n)
    ]
    return write_suite(tmp_path / "suite", items)


def generated_per_key(units: list[dict[str, Any]]) -> Counter[str]:
    """How often the server generated a new answer under each Idempotency-Key."""
    return Counter(
        e["idempotency_key"] for e in units if e["outcome"] == 200 and not e.get("replay")
    )


def log_entries(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def unit_results(out: Path) -> tuple[dict[tuple[str, int], Any], Any]:
    """Per (item, repeat) responses and scores, and the metrics: keys differ across endpoints."""
    (result,) = out.glob("*/result.json")
    data = json.loads(result.read_text())
    units = {(u["item_id"], u["repeat"]): (u["response"], u["score"]) for u in data["units"]}
    return units, data["metrics"]


@pytest.mark.parametrize("kill_after", [1, N_ITEMS])
def test_sigkill_then_resume_answers_every_unit_exactly_once(
    tmp_path: Path, kill_after: int
) -> None:
    suite = numbered_suite(tmp_path, N_ITEMS)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with fake_server(tmp_path, "srv", latency=0.02) as (model, log):
        cmd = eval_cmd(model, suite, out)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the run finished before it could be killed"
            assert time.monotonic() < deadline
            try:
                if len(journal_keys(out)) >= kill_after:
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = journal_keys(out)
        killed_at = time.time()
        assert 0 < len(before) < N_ITEMS * REPEATS

        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        entries = log_entries(log)

    units = [e for e in entries if e.get("idempotency_key")]
    answered = generated_per_key(units)
    assert len(answered) == N_ITEMS * REPEATS
    assert set(answered.values()) == {1}, "some unit was generated more than once"
    resent = {e["idempotency_key"] for e in units if float(e["time"]) > killed_at}
    assert not (resent & before), "a unit already in the journal was sent again"
    assert journal_keys(out) == set(answered)

    with fake_server(tmp_path, "baseline", latency=0.0) as (model, _):
        base_out = tmp_path / "baseline"
        clean = subprocess.run(
            eval_cmd(model, suite, base_out), env=env, capture_output=True, text=True, timeout=120
        )
        assert clean.returncode == 0, clean.stderr
    resumed_units, resumed_metrics = unit_results(out)
    clean_units, clean_metrics = unit_results(base_out)
    assert resumed_units == clean_units
    assert resumed_metrics == clean_metrics


def test_sigkill_during_the_first_wave_then_resume_answers_each_unit_once(tmp_path: Path) -> None:
    """Killed while the first calls wait for the identity: nothing journaled, nothing lost."""
    n_items = 40
    suite = numbered_suite(tmp_path, n_items)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with fake_server(tmp_path, "srv", latency=0.5) as (model, log):
        cmd = eval_cmd(model, suite, out)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not any(e.get("idempotency_key") for e in log_entries(log)):
            assert proc.poll() is None, "the run finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert journal_keys(out) == set()  # killed before any answer was journaled
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        entries = log_entries(log)

    units = [e for e in entries if e.get("idempotency_key")]
    answered = generated_per_key(units)
    assert len(answered) == n_items * REPEATS
    assert set(answered.values()) == {1}, "some unit was generated more than once"
    # The calls cut off by the kill were sent again under the same keys and replayed.
    assert any(e.get("replay") for e in units)
    assert journal_keys(out) == set(answered)
