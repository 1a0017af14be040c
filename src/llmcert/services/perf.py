"""The performance service: one experiment on a serving system, written as JSON and HTML.

Orchestration only: open the target and the meter, run the experiment
(``llmcert.perf``), write ``perf.json`` (every request's timestamps) and
``perf.html`` atomically under ``OUTPUT/perf-<profile>-<time>/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from llmcert._hashing import short
from llmcert.services._sync import run_sync

if TYPE_CHECKING:
    from llmcert.perf import LoadSpec, PerfResult, SLOSpec, Target, WorkloadSpec


@dataclass(frozen=True)
class PerfRequest:
    model: str
    load: LoadSpec
    workload: WorkloadSpec
    slo: SLOSpec
    meter: str = "auto"
    selftest: bool = True
    #: Run a rate sweep for DistServe goodput at this attainment share.
    sweep_share: float | None = None
    sweep_rates: Sequence[float] | None = None
    output: Path = Path("llmcert-output")
    command: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class PerfOutcome:
    result: PerfResult
    json_path: Path
    html_path: Path


async def measure_profile(
    request: PerfRequest,
    *,
    target: Target | None = None,
    note: Callable[[str], None] | None = None,
) -> PerfResult:
    """Run the experiment without writing it (the assessment writes it beside itself)."""
    from llmcert.perf import open_target, run_experiment
    from llmcert.perf.meters import open_meter

    meter = open_meter(request.meter)
    tgt = target if target is not None else open_target(request.model)
    return await run_experiment(
        tgt,
        request.load,
        request.workload,
        request.slo,
        meter=meter,
        selftest=request.selftest,
        sweep_share=request.sweep_share,
        sweep_rates=list(request.sweep_rates) if request.sweep_rates else None,
        note=note,
    )


def write_perf(result: PerfResult, out_dir: Path) -> tuple[Path, Path]:
    from llmcert._fileio import write_atomic
    from llmcert.report import write_perf_html

    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "perf.json", out_dir / "perf.html"
    write_atomic(json_path, result.model_dump_json(by_alias=True, indent=1).encode())
    write_perf_html(result.model_dump(mode="json", by_alias=True), html_path)
    return json_path, html_path


async def measure(
    request: PerfRequest, *, note: Callable[[str], None] | None = None
) -> PerfOutcome:
    result = await measure_profile(request, note=note)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = request.output / f"perf-{short(result.profile_digest, 8)}-{stamp}"
    json_path, html_path = write_perf(result, out_dir)
    return PerfOutcome(result, json_path, html_path)


def measure_sync(request: PerfRequest, **kwargs: object) -> PerfOutcome:
    return run_sync(measure(request, **kwargs))  # type: ignore[arg-type]


__all__ = ["PerfOutcome", "PerfRequest", "measure", "measure_profile", "measure_sync", "write_perf"]
