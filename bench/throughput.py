"""Throughput of a whole `llmcert eval` process against a fixed-latency loopback endpoint.

Ideal time = ceil(N / C) × latency. Reports, over repeated runs (medians):
the whole process wall time (start-up and report writing included) / ideal,
the span from first request to last response / ideal, harness CPU per item, and
the whole-process time of a bare aiohttp client (bench/bare_client.py) / ideal,
run in turn with llmcert as the floor the machine allows at that moment.
Each run uses a fresh output directory, so nothing comes from the journal. One
unmeasured run goes first, with bytecode writing allowed, so that the measured
runs start as an installed package does: from compiled bytecode, files in the
page cache.

    python bench/throughput.py                      # N=2000 C=64 and N=100 C=1, latency 0.2 s, 3 runs
    python bench/throughput.py --n 2000 --c 64 --runs 5
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


def write_suite(directory: Path, n: int) -> Path:
    with (directory / "items.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"b{i:05d}",
                        "input": f"Question number {i}: what is {i} + 1?",
                        "target": str(i + 1),
                    }
                )
                + "\n"
            )
    suite = directory / "suite.yaml"
    suite.write_text(
        "name: bench\nversion: 1.0.0\nitems:\n  source: items.jsonl\n"
        "generation:\n  max_tokens: 16\nscorer:\n  name: numeric\n",
        encoding="utf-8",
    )
    return suite


def one_run(suite: Path, model: str, n: int, c: int, out: Path) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "llmcert",
        "eval",
        "--model",
        model,
        "--suite",
        str(suite),
        "--concurrency",
        str(c),
        "--output",
        str(out),
        "--no-progress",
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = os.times()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"llmcert eval failed:\n{done.stderr}")
    (result,) = out.glob("*/result.json")
    timings = json.loads(result.read_text())["timings"]
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    assert timings["units_sent"] == n, timings
    return {"wall": wall, "span": timings["first_request_to_last_response_s"], "cpu": cpu}


def bare_run(base_url: str, model: str, n: int, c: int) -> float:
    """Whole-process time of bench/bare_client.py: the floor under the same conditions."""
    script = Path(__file__).with_name("bare_client.py")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(script), base_url, model, str(n), str(c)], check=True)
    return time.perf_counter() - t0


def bench(n: int, c: int, latency: float, runs: int) -> dict[str, float]:
    ideal = math.ceil(n / c) * latency
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        suite = write_suite(base, n)
        with fake_server_process(latency=latency, model="bench-model") as server:
            one_run(suite, server.model_ref, n, c, base / "warm-up")
            results, bare = [], []
            for i in range(runs):  # interleaved, so that the machine's drift hits both alike
                results.append(one_run(suite, server.model_ref, n, c, base / f"out{i}"))
                bare.append(bare_run(server.base_url, server.model, n, c))
    wall = statistics.median(r["wall"] for r in results)
    bare_wall = statistics.median(bare)
    span = statistics.median(r["span"] for r in results)
    cpu = statistics.median(r["cpu"] for r in results)
    row = {
        "n": n,
        "concurrency": c,
        "latency_s": latency,
        "ideal_s": ideal,
        "wall_s": round(wall, 3),
        "wall_ratio": round(wall / ideal, 3),
        "span_s": round(span, 3),
        "span_ratio": round(span / ideal, 3),
        "cpu_ms_per_item": round(1000 * cpu / n, 3),
        "bare_client_wall_ratio": round(bare_wall / ideal, 3),
    }
    print(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int)
    parser.add_argument("--c", type=int)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.n and args.c:
        bench(args.n, args.c, args.latency, args.runs)
    else:
        bench(2000, 64, args.latency, args.runs)
        bench(100, 1, args.latency, args.runs)


if __name__ == "__main__":
    main()
