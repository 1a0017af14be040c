"""Load profiles, workloads and service-level objectives, as data.

A load says *when* requests are sent (open loop at a rate with Poisson, gamma or
constant gaps; closed loop at a concurrency); a workload says *what* each request
asks for (input and output lengths, fixed or drawn from a distribution, or the
prompts of a suite). Both are pydantic models so a standard can carry them in
YAML and their digests bind an assessment to the load it was measured under.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmcert._hashing import digest_json


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lengths(_Strict):
    """A token count per request: fixed, or drawn (seeded) from a distribution."""

    distribution: Literal["fixed", "uniform", "normal"] = "fixed"
    value: int = Field(64, ge=1, description="the count when fixed; the mean when normal")
    low: int | None = Field(None, ge=1, description="uniform: smallest count")
    high: int | None = Field(None, ge=1, description="uniform: largest count")
    std: float | None = Field(None, gt=0, description="normal: standard deviation")

    @model_validator(mode="after")
    def _parameters(self) -> Lengths:
        if self.distribution == "uniform" and (
            self.low is None or self.high is None or self.low > self.high
        ):
            raise ValueError("a uniform length needs low <= high")
        if self.distribution == "normal" and self.std is None:
            raise ValueError("a normal length needs std")
        return self

    @property
    def mean(self) -> float:
        if self.distribution == "uniform":
            assert self.low is not None
            assert self.high is not None
            return (self.low + self.high) / 2
        return float(self.value)


class WorkloadSpec(_Strict):
    """What each request asks for."""

    input_tokens: Lengths = Field(default_factory=lambda: Lengths(value=32))
    output_tokens: Lengths = Field(default_factory=lambda: Lengths(value=64))
    suite: str | None = Field(
        None, description="take prompts from this suite (built-in name or file) instead"
    )
    ignore_eos: bool = Field(
        True, description="ask the server to generate exactly max_tokens (where it allows)"
    )
    length_floor: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="a response shorter than this share of max_tokens fails the SLO "
        "(MLPerf: 90% of the reference length); applied when ignore_eos is set",
    )
    temperature: float = Field(0.0, ge=0.0)


class LoadSpec(_Strict):
    """When requests are sent."""

    mode: Literal["open", "closed"] = "open"
    rate: float | None = Field(None, gt=0, description="open loop: requests per second")
    arrival: Literal["poisson", "gamma", "constant"] = "poisson"
    burstiness: float = Field(
        1.0, gt=0, description="gamma shape: 1 is Poisson, < 1 burstier, > 1 smoother"
    )
    concurrency: int | None = Field(None, ge=1, description="closed loop: requests in flight")
    requests: int = Field(200, ge=1, description="requests to send")
    timeout_s: float = Field(
        120.0, gt=0, description="deadline of one request, from its scheduled arrival"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _shape(self) -> LoadSpec:
        if self.mode == "open" and self.rate is None:
            raise ValueError("an open-loop load needs a rate (requests per second)")
        if self.mode == "closed" and self.concurrency is None:
            raise ValueError("a closed-loop load needs a concurrency")
        return self

    def describe(self) -> str:
        if self.mode == "closed":
            return f"closed loop, {self.concurrency} in flight, {self.requests} requests"
        shape = "" if self.arrival != "gamma" else f" (shape {self.burstiness:g})"
        return f"open loop, {self.arrival}{shape} arrivals at {self.rate:g} req/s, " + (
            f"{self.requests} requests"
        )


class SLOSpec(_Strict):
    """Per-request service-level objectives; a request meets them only if it succeeded,
    was not shorter than the length floor, and is within every limit given."""

    ttft_ms: float | None = Field(None, gt=0)
    tpot_ms: float | None = Field(None, gt=0)
    e2e_ms: float | None = Field(None, gt=0)


def profile_digest(load: LoadSpec, workload: WorkloadSpec) -> str:
    """Identity of a load profile, so requirements measured under it share one run."""
    return digest_json(
        {"load": load.model_dump(mode="json"), "workload": workload.model_dump(mode="json")}
    )
