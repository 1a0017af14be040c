"""The outcome of one execution, kept apart by kind.

A sandbox failure is the harness's error, never the model's wrong answer:
scorers mark it as an error so that it stays out of every denominator.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED_ASSERTION = "failed_assertion"
    RUNTIME_ERROR = "runtime_error"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_FAILURE = "sandbox_failure"

    @property
    def is_harness_error(self) -> bool:
        return self is Outcome.SANDBOX_FAILURE


class Execution(BaseModel):
    """What one run of a program and its tests did, as the journal and reports keep it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Outcome
    detail: str = ""
    cpu_seconds: float | None = None
    wall_seconds: float
    exit_status: int | None = None
    stdout: str = ""
    stderr: str = ""
    sandboxed: bool = True
    policy_digest: str

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED
