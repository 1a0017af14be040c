"""Sandboxed executions with the cache in front, and CPU limits calibrated per task."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

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

    def run(self, program: str, tests: str, *, cpu_seconds: float | None = None) -> Execution:
        policy = (
            self.policy if cpu_seconds is None else self.policy.with_limits(cpu_seconds=cpu_seconds)
        )
        key = execution_key(program, tests, policy)
        found = self.cache.get(key)
        if found is not None:
            return found
        execution = self.sandbox.run(program, tests, policy=policy)
        self.executed += 1
        self.cache.put(key, execution)
        return execution

    def run_many(
        self, jobs: Sequence[tuple[str, str, float | None]], *, workers: int = 2
    ) -> list[Execution]:
        """Run (program, tests, CPU seconds) jobs on ``workers`` threads, results in order.

        Each execution is its own process tree, so threads only wait; two
        workers per core keeps the CPU busy while bubblewrap sets up the next.
        """
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(lambda job: self.run(job[0], job[1], cpu_seconds=job[2]), jobs))

    def calibrate(self, reference: str, tests: str) -> Calibration:
        """Run the reference solution once (cached) and derive the task's CPU limit."""
        key = execution_key(reference, tests, self.policy)
        known = self._calibrations.get(key)
        if known is not None:
            return known
        ex = self.run(reference, tests, cpu_seconds=_REFERENCE_CPU)
        t_ref = ex.cpu_seconds if ex.outcome is Outcome.PASSED else None
        limit = max(self.t_base, self.k * t_ref) if t_ref is not None else self.t_base
        cal = Calibration(t_ref, round(limit, 3), self.t_base, self.k, ex.outcome.value)
        if ex.outcome is not Outcome.SANDBOX_FAILURE:  # a harness failure may not recur
            self._calibrations[key] = cal
        return cal
