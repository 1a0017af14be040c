"""The stages of an evaluation after the model reference is known.

Kept apart from :mod:`llmcert.services.evaluate` so that what the first model
call needs (suites, scoring, the engine) loads in a worker thread while the model
is being identified over the network. What only later stages need (results,
statistics, the report) is imported inside them, once the first calls are out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from llmcert._hashing import digest_json, short
from llmcert.engine import (
    ExecutionStats,
    Journal,
    ProgressSink,
    RenderedPrompt,
    RetryPolicy,
    StartedCalls,
    WorkUnit,
    effective_concurrency,
    execute,
    plan_requests,
    plan_units,
    render_prompts,
)
from llmcert.errors import SpecError
from llmcert.models import ModelBackend, ModelIdentity
from llmcert.scoring import Scorer, make_scorer
from llmcert.services._request import EvalOutcome, EvalRequest
from llmcert.suites import COMPLETION_VARIANTS, Suite, load_suite

if TYPE_CHECKING:
    from llmcert.report import HardwareClass, UnitSections
    from llmcert.services._results import UnitResult

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


@dataclass(frozen=True)
class Executed:
    identity: ModelIdentity
    run_id: str
    units: list[WorkUnit]
    results: list[UnitResult]  # in the order of ``units``
    sections: UnitSections | None  # those rendered during the run
    sent_now: set[str]
    stats: ExecutionStats
    #: What an in-process model computed with (None for a remote one).
    hardware: HardwareClass | None = None


def prepare(request: EvalRequest) -> Prepared:
    """All the work the first model call needs, short of the model's identity."""
    suite = load_suite(request.suite, data=request.data)
    scorer = make_scorer(suite.spec.scorer.name, suite.spec.scorer.args)
    items = suite.items[: request.limit] if request.limit else suite.items
    prompts = render_prompts(suite, kind=scorer.request_kind, items=items)
    return Prepared(suite, scorer, request.repeats or suite.spec.repeats, prompts)


@runtime_checkable
class ChecksLoglikelihood(Protocol):
    """Backends whose log-likelihoods may be wrong say so before the first one is asked."""

    async def check_loglikelihood(self) -> None: ...


@runtime_checkable
class ReportsConditions(Protocol):
    """Backends state the conditions they run under (threads, context, sampler, checks)."""

    async def conditions(self) -> dict[str, str]: ...


def check_chat(suite: Suite, backend: ModelBackend) -> None:
    """Refuse, before any model call, a chat suite on a model without a chat template."""
    if suite.spec.prompt.kind == "chat" and not backend.supports_chat:
        variant = COMPLETION_VARIANTS.get(suite.name)
        advice = (
            f"use {variant}"
            if variant
            else "use a suite with completion prompts or log-likelihoods"
        )
        raise SpecError(
            f"suite {suite.name} needs a chat template; this model has none; {advice}",
            field="prompt.kind",
        )


def check_compatible(prepared: Prepared, backend: ModelBackend) -> None:
    """Refuse, before any model call, a suite this model cannot run at all."""
    scorer, suite = prepared.scorer, prepared.suite
    check_chat(suite, backend)
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


async def check_ready(prepared: Prepared, backend: ModelBackend) -> None:
    """``check_compatible``, then the backend's own check of its log-likelihoods."""
    check_compatible(prepared, backend)
    if prepared.scorer.request_kind == "loglikelihood" and isinstance(backend, ChecksLoglikelihood):
        await backend.check_loglikelihood()  # the backend retries each of its calls


async def with_conditions(identity: ModelIdentity, backend: ModelBackend) -> ModelIdentity:
    """The identity with the backend's conditions as they stand now (checks run since).

    Conditions are details, outside the identity digest: work units keep their keys.
    """
    if not isinstance(backend, ReportsConditions):
        return identity
    details = {**identity.details, **(await backend.conditions())}
    return dataclasses.replace(identity, details=details)


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
    identify: ModelIdentity | Awaitable[ModelIdentity],
    model: ModelBackend,
    *,
    progress: ProgressSink | None,
    retry: RetryPolicy | None,
    before_execute: Callable[[], None] | None = None,
    ahead: Sequence[Callable[[], object]] = (),
) -> Executed:
    """Plan, skip what the journal already holds, execute the rest.

    ``ahead`` is work the caller needs only at the end, done while calls are in
    flight. ``identify`` may still be under way. A journal that holds nothing needs every
    unit sent whatever the model turns out to be, so the first wave of calls goes
    out at once and the identity is awaited only to key their answers.
    """
    created = [p for p in (request.output, request.output / JOURNAL_NAME) if not p.exists()]
    request.output.mkdir(parents=True, exist_ok=True)
    with Journal(request.output / JOURNAL_NAME) as journal:
        started: StartedCalls | None = None
        if isinstance(identify, ModelIdentity):
            identity = identify
        else:
            if journal.unbound():
                started = _first_wave(request, prepared, model, journal, retry)
                if before_execute is not None:
                    before_execute()
                    before_execute = None
            identity = await await_identity(identify, started, journal, created)
        try:
            return await _execute(
                request,
                prepared,
                identity,
                model,
                journal,
                started=started,
                progress=progress,
                retry=retry,
                before_execute=before_execute,
                ahead=ahead,
            )
        finally:
            if started is not None:
                await started.cancel()


async def await_identity(
    identify: Awaitable[ModelIdentity],
    started: StartedCalls | None,
    journal: Journal,
    created: list[Path],
) -> ModelIdentity:
    """The model's identity, awaited while calls started before it are in flight.

    A model that cannot be identified stops those calls and leaves nothing this run
    created. An interrupted run keeps its nonce: calls already answered are then
    resent under the same keys.
    """
    try:
        return await identify
    except BaseException as exc:
        if started is not None:
            await started.cancel()
        if isinstance(exc, Exception) and journal.count() == 0:
            journal.close()
            _remove_new(created)
        raise


def _remove_new(created: list[Path]) -> None:
    """Remove what this run created (an empty journal, its directory) before failing."""
    for path in reversed(created):
        if path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()  # only if empty
        else:
            for leftover in (
                path,
                path.with_name(path.name + "-wal"),
                path.with_name(path.name + "-shm"),
            ):
                leftover.unlink(missing_ok=True)


def _first_wave(
    request: EvalRequest,
    prepared: Prepared,
    model: ModelBackend,
    journal: Journal,
    retry: RetryPolicy | None,
) -> StartedCalls:
    first = plan_requests(
        prepared.suite,
        kind=prepared.scorer.request_kind,
        seed=request.seed,
        repeats=prepared.repeats,
        prompts=prepared.prompts,
        nonce=journal.request_nonce(None),
        limit=effective_concurrency(request.concurrency, model),
    )
    return StartedCalls(model, first, retry=retry, seed=request.seed)


async def _execute(
    request: EvalRequest,
    prepared: Prepared,
    identity: ModelIdentity,
    model: ModelBackend,
    journal: Journal,
    *,
    started: StartedCalls | None,
    progress: ProgressSink | None,
    retry: RetryPolicy | None,
    before_execute: Callable[[], None] | None,
    ahead: Sequence[Callable[[], object]],
) -> Executed:
    """Key the units to the model, skip what the journal holds, send the rest."""
    from llmcert.report import preload_html

    identity = await with_conditions(identity, model)
    from llmcert.services._environment import capture_environment
    from llmcert.services._hardware import hardware_class
    from llmcert.services._unit_finish import UnitFinisher

    units = plan_units(
        prepared.suite,
        identity,
        kind=prepared.scorer.request_kind,
        seed=request.seed,
        repeats=prepared.repeats,
        prompts=prepared.prompts,
        nonce=journal.request_nonce(identity.digest),
    )
    run_id = _run_id(prepared, identity, request.seed)
    conditions = {
        "suite": prepared.suite.describe(),
        "model": identity.to_dict(),
        "seed": request.seed,
    }
    journal.begin_run(run_id, conditions)
    done = journal.lookup(u.key for u in units)
    todo = [u for u in units if u.key not in done or done[u.key].status != "ok"]
    sent_now = {u.key for u in todo}
    # The report's template and the environment are needed only at the end.
    end_work: list[Callable[[], object]] = [preload_html, capture_environment, *ahead]
    finisher = UnitFinisher(units, prepared.scorer, sent_now, journal, ahead=end_work)
    if progress is not None:
        progress.start(len(units), len(units) - len(todo))
    if before_execute is not None:
        before_execute()
    finisher.start()
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
            on_recorded=finisher.recorded,
            started=started,
        )
    finally:
        await finisher.stop()
        if progress is not None:
            progress.stop()
    if isinstance(model, VerifiesIdentity):
        model.verify_unchanged()
    results = finisher.complete()
    hardware = await asyncio.to_thread(hardware_class, model)
    return Executed(identity, run_id, units, results, finisher.sections, sent_now, stats, hardware)


def _slug(identity: ModelIdentity) -> str:
    base = identity.reported_model or identity.ref
    if identity.artefact_path:
        base = Path(identity.artefact_path).stem
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in base.lower())
    return keep.strip("-")[:40] or "model"


def finish(
    request: EvalRequest,
    prepared: Prepared,
    executed: Executed,
    *,
    started_at: datetime,
    t0: float,
    command: Sequence[str],
) -> EvalOutcome:
    """Score, summarise and write the result and the report."""
    from llmcert.report import write_html, write_json
    from llmcert.services._environment import capture_environment
    from llmcert.services._hardware import environment_with
    from llmcert.services._results import build_result, run_info

    identity = executed.identity
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
        environment=environment_with(capture_environment(), executed.hardware),
        units=executed.units,
        results=executed.results,
        sent_now=executed.sent_now,
        stats=executed.stats,
        wall_s=time.perf_counter() - t0,
    )
    run_dir = request.output / f"{prepared.suite.name}-{_slug(identity)}-{executed.run_id[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    result_path, report_path = run_dir / "result.json", run_dir / "report.html"
    write_json(result, result_path)
    write_html(result, report_path, executed.sections)
    return EvalOutcome(result, result_path, report_path, executed.stats)
