"""Sandbox start-up overhead per execution, against the same snippet in a bare subprocess.

Both sides run the same interpreter (the sandbox's, /usr/bin/python3) on the same
trivial program, one at a time; the bare side is ``python3 -I -B -c PROGRAM``
through subprocess.run. The sandboxed side is a full llmcert execution: bwrap
with every namespace, the seccomp program, the in-sandbox runner setting the
rlimits, the status pipe, output capture and classification. A third column
runs a one-assert test the way scoring does: the program in its own process,
the test in the trusted one, one call across the pipe (against the bare
subprocess running program and assert in one process). Prints the load average,
and beside each median wall time the median CPU time (this process and its
children, user + system), which a busy machine inflates much less than wall time.

    python bench/sandbox_overhead.py [N]
"""

from __future__ import annotations

import os
import resource
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
    runs: dict[str, tuple[list[float], list[float]]] = {
        "bare subprocess": ([], []),
        "sandboxed": ([], []),
        "sandboxed, isolated test": ([], []),
    }
    steps = {
        "bare subprocess": lambda: (
            subprocess.run([python, "-I", "-B", "-c", PROGRAM + TEST], check=True).returncode == 0
        ),
        "sandboxed": lambda: box.run(PROGRAM).passed,
        "sandboxed, isolated test": lambda: box.run(PROGRAM, TEST, entry=("f",)).passed,
    }
    for _ in range(3):  # warm the page cache, the harness's bytecode and the seccomp program
        for step in steps.values():
            assert step()
    load_before = os.getloadavg()
    for _ in range(n):
        for label, step in steps.items():
            c, t = _cpu(), time.perf_counter()
            assert step(), label
            runs[label][0].append(time.perf_counter() - t)
            runs[label][1].append(_cpu() - c)
    print(f"runs: {n} each, interleaved; load average {load_before} -> {os.getloadavg()}")
    bare_wall, bare_cpu = (statistics.median(v) for v in runs["bare subprocess"])
    for label, (wall, cpu) in runs.items():
        med, med_cpu = statistics.median(wall), statistics.median(cpu)
        line = (
            f"{label:<25} median {med * 1000:5.1f} ms  p90 {_p90(wall) * 1000:5.1f} ms  "
            f"CPU {med_cpu * 1000:5.1f} ms"
        )
        if label != "bare subprocess":
            line += (
                f"  overhead {(med - bare_wall) * 1000:.1f} ms "
                f"(CPU {(med_cpu - bare_cpu) * 1000:.1f} ms)"
            )
        print(line)


def _cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
