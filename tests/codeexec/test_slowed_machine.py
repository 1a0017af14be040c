"""CPU-time limits make pass@1 independent of the machine's speed.

The same programs run twice: normally, then pinned to one core that eight CPU
hogs share (``taskset``), which makes every execution several times slower in
wall-clock time. The outcomes, and so pass@1, are the same, although some
passing programs then take longer in wall-clock time than their CPU limit: a
wall-clock limit would have turned those right answers into timeouts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from llmcert.codeexec import CodeRunner, ExecutionCache, Job
from llmcert.sandbox import Outcome, Sandbox

WORK = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n"
TESTS = "assert f(1_500_000) == sum(i * i for i in range(1_500_000))\n"
WRONG = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"
LOOPS = "def f(n):\n    while True:\n        n += 1\n"

#: Spins until its parent is gone, so a test run killed mid-test leaves no hog behind.
HOG = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"


@contextmanager
def slowed(cpu: int, hogs: int) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    # Each hog leads a session of its own: the sandbox starts a new session, and with the
    # kernel's autogroup scheduling a core is shared between sessions, not processes.
    procs = [
        subprocess.Popen(
            ["taskset", "-c", str(cpu), sys.executable, "-c", HOG],
            start_new_session=True,
        )
        for _ in range(hogs)
    ]
    os.sched_setaffinity(0, {cpu})  # the sandboxes started from here inherit it
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
        for p in procs:
            p.kill()
            p.wait()


def _run(runner: CodeRunner, limit: float) -> list[tuple[Outcome, float, float | None]]:
    programs = [WORK, WORK, WRONG, LOOPS, WORK]
    out = []
    for program in programs:
        ex = runner.run(program, TESTS, cpu_seconds=limit)
        out.append((ex.outcome, ex.wall_seconds, ex.cpu_seconds))
    return out


@pytest.mark.slow
def test_pass_at_1_does_not_change_on_a_slowed_machine() -> None:
    def fresh() -> CodeRunner:
        return CodeRunner(Sandbox(), cache=ExecutionCache(None), t_base=0.5, k=4)

    cal = fresh().calibrate(Job(WORK, TESTS))
    assert cal.t_reference is not None
    limit = cal.cpu_limit
    normal = _run(fresh(), limit)
    cpu = max(os.sched_getaffinity(0))
    with slowed(cpu, hogs=8):
        slow = _run(fresh(), limit)
    assert [o for o, _, _ in normal] == [o for o, _, _ in slow]
    pass_at_1 = sum(o is Outcome.PASSED for o, _, _ in slow) / len(slow)
    assert pass_at_1 == sum(o is Outcome.PASSED for o, _, _ in normal) / len(normal) == 0.6
    assert [o for o, _, _ in slow][3] is Outcome.TIME_LIMIT
    # the machine really was slower: passing programs took more wall time than their CPU limit
    passed_walls = [w for o, w, _ in slow if o is Outcome.PASSED]
    assert max(passed_walls) > limit
