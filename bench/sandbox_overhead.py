"""Sandbox start-up overhead per execution, against the same snippet in a bare subprocess.

Both sides run the same interpreter (the sandbox's, /usr/bin/python3) on the same
trivial program, one at a time; the bare side is ``python3 -I -B -c PROGRAM``
through subprocess.run. The sandboxed side is a full llmcert execution: bwrap
with every namespace, the seccomp program, the in-sandbox runner setting the
rlimits, the status pipe, output capture and classification.

    python bench/sandbox_overhead.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from llmcert.sandbox import Sandbox

PROGRAM = "x = sum(range(1000))\n"


def main(n: int) -> None:
    box = Sandbox()
    python = box.policy.python
    bare, boxed = [], []
    for _ in range(3):  # warm the page cache on both sides
        subprocess.run([python, "-I", "-B", "-c", PROGRAM], check=True)
        box.run(PROGRAM)
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([python, "-I", "-B", "-c", PROGRAM], check=True)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        ex = box.run(PROGRAM)
        boxed.append(time.perf_counter() - t)
        assert ex.passed, ex
    med_bare, med_box = statistics.median(bare), statistics.median(boxed)
    print(f"runs: {n} each, interleaved")
    print(f"bare subprocess  median {med_bare * 1000:.1f} ms  p90 {_p90(bare) * 1000:.1f} ms")
    print(f"sandboxed        median {med_box * 1000:.1f} ms  p90 {_p90(boxed) * 1000:.1f} ms")
    print(f"overhead         median {(med_box - med_bare) * 1000:.1f} ms per execution")


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
