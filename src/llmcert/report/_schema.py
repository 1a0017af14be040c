"""EvalResult: the machine-readable record of one evaluation.

It states every condition the numbers depend on (model identity, suite digest,
prompt, generation settings, seed, software, hardware, timings) so that a result
can be checked and compared later. Bump ``SCHEMA`` on any incompatible change.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from llmcert.report._hardware import HardwareClass

SCHEMA = "llmcert.eval-result/1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunInfo(_Model):
    run_id: str
    started_at: str = Field(description="ISO-8601 UTC")
    finished_at: str
    seed: int
    repeats: int
    limit: int | None
    concurrency: int
    command: list[str] = Field(default_factory=list, description="argv, secrets never included")


class Environment(_Model):
    llmcert: str
    python: str
    platform: str
    packages: dict[str, str]
    hardware: dict[str, Any]
    hardware_class: HardwareClass | None = Field(
        None,
        description="what an in-process backend computed with; absent for remote backends "
        "(and in results written before it was recorded)",
    )

    @model_serializer(mode="wrap")
    def _omit_absent_class(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Absent rather than null: a result or assessment written before the field
        # existed re-serialises to the same bytes, so the digests certificates bind hold.
        data: dict[str, Any] = handler(self)
        if data.get("hardware_class") is None:
            data.pop("hardware_class", None)
        return data


class MetricResult(_Model):
    """One rate with its interval and honest denominators."""

    name: str
    group: dict[str, str] = Field(default_factory=dict, description="empty for the overall figure")
    estimate: float | None = Field(description="None when nothing was scored")
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str = Field(description="wilson | clopper-pearson | cluster-bootstrap | none")
    n_items: int = Field(description="distinct items behind the figure")
    n_planned: int = Field(description="work units planned (items × repeats)")
    n_scored: int
    n_error: int = Field(
        description="model calls that failed; not in the denominator, never 'wrong'"
    )
    n_unscored: int


class UnitRecord(_Model):
    """One work unit: what was asked, what came back, how it scored."""

    key: str
    request_key: str | None = Field(
        None, description="the Idempotency-Key the request was sent with (as in endpoint logs)"
    )
    item_id: str
    item_hash: str
    repeat: int
    status: Literal["ok", "error"]
    request: dict[str, Any]
    response: dict[str, Any] | None
    score: dict[str, Any] | None
    error: str | None = None
    error_kind: str | None = None
    attempts: int
    latency_s: float | None
    from_journal: bool = Field(description="answered in an earlier invocation of the same run")
    target: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Timings(_Model):
    wall_s: float
    first_request_to_last_response_s: float | None
    units_total: int
    units_sent: int
    units_from_journal: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    cpu_s: float


class EvalResult(_Model):
    schema_: str = Field(SCHEMA, alias="schema")
    run: RunInfo
    model: dict[str, Any]
    suite: dict[str, Any]
    environment: Environment
    metrics: list[MetricResult]
    timings: Timings
    errors: dict[str, int] = Field(default_factory=dict, description="error kind -> count")
    units: list[UnitRecord]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
