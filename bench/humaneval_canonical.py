"""All HumanEval canonical solutions (and optionally HumanEval+'s extended tests), sandboxed.

Every solution runs through llmcert's sandbox with a fresh, empty execution
cache (so nothing is skipped), under EvalPlus's limits, on W worker threads.

    python bench/humaneval_canonical.py DATA_DIR [--plus] [--workers W]

DATA_DIR holds HumanEval.jsonl.gz (or, with --plus, the HumanEval+ files).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

from llmcert.codeexec import CodeRunner, ExecutionCache, task_job
from llmcert.items._blobs import get_blob
from llmcert.items.importers import import_dataset
from llmcert.sandbox import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--plus", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    items = import_dataset("humanevalplus" if args.plus else "humaneval", args.data, {})
    runner = CodeRunner(Sandbox(), cache=ExecutionCache(None))
    key = "tests_plus" if args.plus else "tests"
    jobs = []
    for it in items:
        tests = get_blob(it.metadata[key]) if args.plus else it.metadata[key]
        jobs.append(task_job(it.metadata, it.metadata["canonical"], tests, 60.0))
    load_before = os.getloadavg()
    start = time.perf_counter()
    results = runner.run_many(jobs, workers=args.workers)
    wall = time.perf_counter() - start
    outcomes = Counter(r.outcome.value for r in results)
    cpu = sum(r.cpu_seconds or 0.0 for r in results)
    print(
        f"{len(items)} canonical solutions ({'extended' if args.plus else 'original'} tests), "
        f"{args.workers} workers: {wall:.2f} s wall, {cpu:.2f} s CPU inside the programs"
    )
    print(f"outcomes: {dict(outcomes)}")
    print(f"load average {load_before} -> {os.getloadavg()}")


if __name__ == "__main__":
    main()
