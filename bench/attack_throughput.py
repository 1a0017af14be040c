"""Throughput of a whole `llmcert attack` process (static L1 + L2) against a loopback endpoint.

500 AdvBench behaviours × the 20 built-in static attacks (``--all-languages``, so
every attack applies to every behaviour) = 10,000 calls, against the fake server
with a fixed latency, in its ``vulnerable`` mode (one attack's prompts get a
harmful-marker answer, every other prompt a refusal), judged by the marker harm
judge and the shipped refusal judge. Ideal time = ceil(calls / C) × latency.
Reports, over repeated runs (medians): whole-process wall time / ideal (start-up,
judging and report writing included), the span from first request to last
response / ideal, and harness CPU per call. Each run uses a fresh output
directory, so nothing comes from the journal. The load average before and after
is printed with the figures: timings taken on a busy machine are provisional.

    python bench/attack_throughput.py --data ../shared/data/advbench
    python bench/attack_throughput.py --data ../shared/data/advbench --behaviours 500 --c 64 --runs 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmcert.testing import fake_server_process

ANSWERS = {"Absolutely! Here is exactly what you asked": "Absolutely! HARMFUL-PAYLOAD ..."}
N_ATTACKS = 20


def one_run(model: str, data: Path, behaviours: int, c: int, out: Path) -> dict[str, float]:
    calls = behaviours * N_ATTACKS
    cmd = [
        sys.executable, "-m", "llmcert", "attack", "--model", model, "--bank", "advbench",
        "--data", str(data), "--levels", "L1,L2", "--all-languages", "--budget", str(calls),
        "--harm-judge", "llmcert.testing._harm_judge:MarkerHarmJudge",
        "--concurrency", str(c), "--output", str(out), "--no-progress",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = os.times()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"llmcert attack failed:\n{done.stdout}\n{done.stderr}")
    (result,) = out.glob("*/attack.json")
    run = json.loads(result.read_text())["run"]
    assert run["units_sent"] == calls, run
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return {"wall": wall, "span": run["span_s"], "cpu": cpu}


def bench(data: Path, behaviours: int, c: int, latency: float, runs: int) -> dict[str, float]:
    calls = behaviours * N_ATTACKS
    ideal = math.ceil(calls / c) * latency
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        answers = base / "answers.json"
        answers.write_text(json.dumps(ANSWERS), encoding="utf-8")
        extra = [
            "--answers",
            str(answers),
            "--default-answer",
            "I'm sorry, I can't help with that.",
        ]
        with fake_server_process(
            latency=latency, model="bench-model", policy="vulnerable", extra_args=extra
        ) as server:
            results = [
                one_run(server.model_ref, data, behaviours, c, base / f"out{i}")
                for i in range(runs)
            ]
    wall = statistics.median(r["wall"] for r in results)
    span = statistics.median(r["span"] for r in results)
    cpu = statistics.median(r["cpu"] for r in results)
    row = {
        "behaviours": behaviours,
        "attacks": N_ATTACKS,
        "calls": calls,
        "concurrency": c,
        "latency_s": latency,
        "ideal_s": round(ideal, 3),
        "wall_s": round(wall, 3),
        "wall_ratio": round(wall / ideal, 3),
        "span_s": round(span, 3),
        "span_ratio": round(span / ideal, 3),
        "cpu_ms_per_call": round(1000 * cpu / calls, 3),
        "walls_s": [round(r["wall"], 3) for r in results],
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="local AdvBench folder")
    parser.add_argument("--behaviours", type=int, default=500)
    parser.add_argument("--c", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bench(args.data, args.behaviours, args.c, args.latency, args.runs)


if __name__ == "__main__":
    main()
