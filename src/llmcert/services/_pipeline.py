"""The stages of an evaluation after the model reference is known.

Kept apart from :mod:`llmcert.services.evaluate` so that its imports (suites,
scoring, stats, report, the engine's executor and journal) load in a worker
thread while the model is being identified over the network.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from llmcert._hashing import digest_json, short
from llmcert.engine import (
    ExecutionStats,
    Journal,
    JournalEntry,
    ProgressSink,
    RenderedPrompt,
    RetryPolicy,
    WorkUnit,
    execute,
    plan_units,
    render_prompts,
)
from llmcert.errors import SpecError
from llmcert.models import ModelBackend, ModelIdentity
from llmcert.report import Environment, preload_html, write_html, write_json
from llmcert.scoring import Scorer, make_scorer
from llmcert.services._environment import capture_environment
from llmcert.services._request import EvalOutcome, EvalRequest
from llmcert.services._results import build_result, run_info
from llmcert.suites import Suite, load_suite

JOURNAL_NAME = "journal.sqlite"


@runtime_checkable
class VerifiesIdentity(Protocol):
    """Backends over local artefacts can cheaply tell whether the file changed."""

    def verify_unchanged(self) -> None: ...


@dataclass(frozen=True)
class Prepared:
    suite: Suite
    scorer: Scorer
    repeats: int
    prompts: list[RenderedPrompt]
    environment: Environment


@dataclass(frozen=True)
class Executed:
    run_id: str
    units: list[WorkUnit]
    entries: dict[str, JournalEntry]
    sent_now: set[str]
    stats: ExecutionStats


def prepare(request: EvalRequest) -> Prepared:
    """All the work that does not need the model's identity."""
    suite = load_suite(request.suite, data=request.data)
    scorer = make_scorer(suite.spec.scorer.name, suite.spec.scorer.args)
    items = suite.items[: request.limit] if request.limit else suite.items
    prompts = render_prompts(suite, kind=scorer.request_kind, items=items)
    environment = capture_environment()
    preload_html()
    return Prepared(suite, scorer, request.repeats or suite.spec.repeats, prompts, environment)


def check_compatible(prepared: Prepared, backend: ModelBackend) -> None:
    scorer, suite = prepared.scorer, prepared.suite
    if scorer.request_kind != "loglikelihood":
        return
    if suite.spec.prompt.kind != "completion":
        raise SpecError(
            f"scorer {scorer.name} ranks choices by log-likelihood and needs prompt.kind: completion",
            path=suite.path,
            field="prompt.kind",
        )
    if not backend.supports_loglikelihood:
        raise SpecError(f"this model backend gives no log-likelihoods, which {scorer.name} needs")


def _run_id(prepared: Prepared, identity: ModelIdentity, seed: int) -> str:
    material = {
        "suite": prepared.suite.digest,
        "model": identity.digest,
        "seed": seed,
        "repeats": prepared.repeats,
        "items": len(prepared.prompts),
    }
    return short(digest_json(material), 16)


async def run_units(
    request: EvalRequest,
    prepared: Prepared,
    identity: ModelIdentity,
    model: ModelBackend,
    *,
    progress: ProgressSink | None,
    retry: RetryPolicy | None,
) -> Executed:
    """Plan, skip what the journal already holds, execute the rest."""
    units = plan_units(
        prepared.suite,
        identity,
        kind=prepared.scorer.request_kind,
        seed=request.seed,
        repeats=prepared.repeats,
        prompts=prepared.prompts,
    )
    run_id = _run_id(prepared, identity, request.seed)
    request.output.mkdir(parents=True, exist_ok=True)
    with Journal(request.output / JOURNAL_NAME) as journal:
        conditions = {
            "suite": prepared.suite.describe(),
            "model": identity.to_dict(),
            "seed": request.seed,
        }
        journal.begin_run(run_id, conditions)
        done = journal.lookup(u.key for u in units)
        todo = [u for u in units if u.key not in done or done[u.key].status != "ok"]
        if progress is not None:
            progress.start(len(units), len(units) - len(todo))
        try:
            stats = await execute(
                todo,
                model,
                journal,
                run_id=run_id,
                concurrency=request.concurrency,
                retry=retry,
                progress=progress,
                seed=request.seed,
            )
        finally:
            if progress is not None:
                progress.stop()
        if isinstance(model, VerifiesIdentity):
            model.verify_unchanged()
        entries = journal.lookup(u.key for u in units)
    return Executed(run_id, units, entries, {u.key for u in todo}, stats)


def _slug(identity: ModelIdentity) -> str:
    base = identity.reported_model or identity.ref
    if identity.artefact_path:
        base = Path(identity.artefact_path).stem
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in base.lower())
    return keep.strip("-")[:40] or "model"


def finish(
    request: EvalRequest,
    prepared: Prepared,
    identity: ModelIdentity,
    executed: Executed,
    *,
    started_at: datetime,
    t0: float,
    command: Sequence[str],
) -> EvalOutcome:
    """Score, summarise and write the result and the report."""
    result = build_result(
        run=run_info(
            executed.run_id,
            started_at,
            datetime.now(UTC),
            seed=request.seed,
            repeats=prepared.repeats,
            limit=request.limit,
            concurrency=request.concurrency,
            command=command,
        ),
        identity=identity,
        suite=prepared.suite,
        scorer=prepared.scorer,
        environment=prepared.environment,
        units=executed.units,
        entries=executed.entries,
        sent_now=executed.sent_now,
        stats=executed.stats,
        wall_s=time.perf_counter() - t0,
    )
    run_dir = request.output / f"{prepared.suite.name}-{_slug(identity)}-{executed.run_id[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    result_path, report_path = run_dir / "result.json", run_dir / "report.html"
    write_json(result, result_path)
    write_html(result, report_path)
    return EvalOutcome(result, result_path, report_path, executed.stats)
