"""Sandboxed executions with the cache in front, and CPU limits calibrated per task."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from llmcert.codeexec._cache import ExecutionCache, execution_key
from llmcert.sandbox import Execution, Outcome, Sandbox, SandboxPolicy

#: EvalPlus's rule: limit = max(T_base, k × T_reference), here in CPU seconds.
T_BASE = 4.0
K = 4.0
#: Generous limits for running a reference solution once.
_REFERENCE_CPU = 60.0


@dataclass(frozen=True)
class Calibration:
    """How a task's CPU limit was set, recorded with every score of the task."""

    t_reference: float | None
    cpu_limit: float
    t_base: float
    k: float
    reference_outcome: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class Job(NamedTuple):
    """One execution: the program, the task's trusted tests (with their prelude and the
    names they call in the program) and the CPU limit (None: the policy's)."""

    program: str
    tests: str
    cpu_seconds: float | None = None
    prelude: str = ""
    entry: tuple[str, ...] = ()


def task_job(
    metadata: Mapping[str, Any], program: str, tests: str, cpu_seconds: float | None = None
) -> Job:
    """A code item's job: its prompt is the trusted prelude (HumanEval's helper functions run
    on the tests' side, so a program cannot replace them), its entry point the called name."""
    entry = str(metadata.get("entry_point") or "")
    return Job(
        program, tests, cpu_seconds, str(metadata.get("prompt") or ""), (entry,) if entry else ()
    )


def default_cache_path() -> Path:
    base = os.environ.get("LLMCERT_CACHE_DIR")
    return (Path(base) if base else Path.home() / ".cache" / "llmcert") / "executions.sqlite"


class CodeRunner:
    """One sandbox, one cache; thread-safe (the cache locks, each run is its own process)."""

    def __init__(
        self,
        sandbox: Sandbox | None = None,
        *,
        cache: ExecutionCache | None = None,
        t_base: float = T_BASE,
        k: float = K,
    ) -> None:
        self.sandbox = sandbox or Sandbox()
        self.cache = cache if cache is not None else ExecutionCache(default_cache_path())
        self.t_base, self.k = t_base, k
        self.executed = 0
        self._calibrations: dict[str, Calibration] = {}

    @property
    def policy(self) -> SandboxPolicy:
        return self.sandbox.policy

    def run(
        self,
        program: str,
        tests: str,
        *,
        cpu_seconds: float | None = None,
        prelude: str = "",
        entry: Sequence[str] = (),
    ) -> Execution:
        policy = (
            self.policy if cpu_seconds is None else self.policy.with_limits(cpu_seconds=cpu_seconds)
        )
        key = execution_key(program, tests, policy, prelude=prelude, entry=entry)
        found = self.cache.get(key)
        if found is not None:
            return found
        execution = self.sandbox.run(program, tests, policy=policy, prelude=prelude, entry=entry)
        self.executed += 1
        self.cache.put(key, execution)
        return execution

    def run_job(self, job: Job) -> Execution:
        return self.run(
            job.program,
            job.tests,
            cpu_seconds=job.cpu_seconds,
            prelude=job.prelude,
            entry=job.entry,
        )

    def run_many(self, jobs: Sequence[Job], *, workers: int = 2) -> list[Execution]:
        """Run jobs on ``workers`` threads, results in order.

        Each execution is its own process tree, so threads only wait; two
        workers per core keeps the CPU busy while bubblewrap sets up the next.
        """
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(self.run_job, jobs))

    def calibrate(self, reference: Job) -> Calibration:
        """Run the reference solution once (cached) and derive the task's CPU limit."""
        job = reference._replace(cpu_seconds=_REFERENCE_CPU)
        key = execution_key(
            job.program, job.tests, self.policy, prelude=job.prelude, entry=job.entry
        )
        known = self._calibrations.get(key)
        if known is not None:
            return known
        ex = self.run_job(job)
        t_ref = ex.cpu_seconds if ex.outcome is Outcome.PASSED else None
        limit = max(self.t_base, self.k * t_ref) if t_ref is not None else self.t_base
        cal = Calibration(t_ref, round(limit, 3), self.t_base, self.k, ex.outcome.value)
        if ex.outcome is not Outcome.SANDBOX_FAILURE:  # a harness failure may not recur
            self._calibrations[key] = cal
        return cal
