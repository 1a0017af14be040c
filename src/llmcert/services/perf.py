"""The performance service: one experiment on a serving system, written as JSON and HTML.

Orchestration only: open the target and the meter, run the experiment
(``llmcert.perf``), write ``perf.json`` (every request's timestamps) and
``perf.html`` atomically under ``OUTPUT/perf-<profile>-<time>/``. The run's journal
(``perf.journal.jsonl``) is written there as requests finish, so an interrupted run
is reported from it (``report_journal``), marked incomplete.
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
    journal: Path | None = None,
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
        journal=journal,
    )


def write_perf(result: PerfResult, out_dir: Path) -> tuple[Path, Path]:
    from llmcert._fileio import write_atomic
    from llmcert.report import write_perf_html

    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "perf.json", out_dir / "perf.html"
    write_atomic(json_path, result.model_dump_json(by_alias=True, indent=1).encode())
    write_perf_html(result.model_dump(mode="json", by_alias=True), html_path)
    return json_path, html_path


def run_dir(request: PerfRequest) -> Path:
    """Where a new run of ``request`` writes its journal and report."""
    from llmcert.perf import profile_digest

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = profile_digest(request.load, request.workload)
    return request.output / f"perf-{short(digest, 8)}-{stamp}"


async def measure(
    request: PerfRequest, out_dir: Path, *, note: Callable[[str], None] | None = None
) -> PerfOutcome:
    from llmcert.perf import JOURNAL_NAME

    result = await measure_profile(request, note=note, journal=out_dir / JOURNAL_NAME)
    json_path, html_path = write_perf(result, out_dir)
    return PerfOutcome(result, json_path, html_path)


def measure_sync(
    request: PerfRequest, out_dir: Path, note: Callable[[str], None] | None = None
) -> PerfOutcome:
    return run_sync(measure(request, out_dir, note=note))


def report_journal(location: Path) -> PerfOutcome:
    """Write ``perf.json`` and ``perf.html`` beside a run's journal, from the journal."""
    from llmcert.perf import result_from_journal
    from llmcert.perf._journal import journal_path

    path = journal_path(location)
    result = result_from_journal(path)
    json_path, html_path = write_perf(result, path.parent)
    return PerfOutcome(result, json_path, html_path)


__all__ = [
    "PerfOutcome",
    "PerfRequest",
    "measure",
    "measure_profile",
    "measure_sync",
    "report_journal",
    "run_dir",
    "write_perf",
]
