"""Sandbox start-up overhead per execution, against the same snippet in a bare subprocess.

Both sides run the same interpreter (the sandbox's, /usr/bin/python3) on the same
trivial program, one at a time; the bare side is ``python3 -I -B -c PROGRAM``
through subprocess.run. The sandboxed side is a full llmcert execution: bwrap
with every namespace, the seccomp program, the in-sandbox runner setting the
rlimits, the status pipe, output capture and classification. A third column
runs a one-assert test the way scoring does: the program in its own process,
the test in the trusted one, one call across the pipe (against the bare
subprocess running program and assert in one process). Prints the load average.

    python bench/sandbox_overhead.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from llmcert.sandbox import Sandbox

PROGRAM = "x = sum(range(1000))\ndef f(y):\n    return y + x\n"
TEST = "assert f(1) == 499501\n"


def main(n: int) -> None:
    box = Sandbox()
    python = box.policy.python
    bare, boxed, tested = [], [], []
    for _ in range(3):  # warm the page cache on both sides
        subprocess.run([python, "-I", "-B", "-c", PROGRAM + TEST], check=True)
        box.run(PROGRAM)
    load_before = os.getloadavg()
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([python, "-I", "-B", "-c", PROGRAM + TEST], check=True)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        ex = box.run(PROGRAM)
        boxed.append(time.perf_counter() - t)
        assert ex.passed, ex
        t = time.perf_counter()
        ex = box.run(PROGRAM, TEST, entry=("f",))
        tested.append(time.perf_counter() - t)
        assert ex.passed, ex
    med_bare = statistics.median(bare)
    print(f"runs: {n} each, interleaved; load average {load_before} -> {os.getloadavg()}")
    print(
        f"bare subprocess           median {med_bare * 1000:.1f} ms  p90 {_p90(bare) * 1000:.1f} ms"
    )
    for label, values in (("sandboxed", boxed), ("sandboxed, isolated test", tested)):
        med = statistics.median(values)
        print(
            f"{label:<25} median {med * 1000:.1f} ms  p90 {_p90(values) * 1000:.1f} ms  "
            f"overhead {(med - med_bare) * 1000:.1f} ms"
        )


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
