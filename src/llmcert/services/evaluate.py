"""The evaluation service: a suite on a model, from reference to written report.

Orchestration only: parse, load, identify, plan, execute (engine), score and
summarise (stats), write (report). Nothing here knows about the CLI or HTTP.

Identifying an endpoint costs a network round trip, so everything that does not
depend on the model's identity (loading the suite, rendering prompts, capturing
the environment, compiling the report template) runs in a thread meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from llmcert._hashing import digest_json, short
from llmcert.engine import (
    ExecutionStats,
    Journal,
    ProgressSink,
    RenderedPrompt,
    RetryPolicy,
    call_with_retries,
    execute,
    plan_units,
    render_prompts,
)
from llmcert.errors import SpecError
from llmcert.models import ModelBackend, ModelIdentity, ModelRef, open_backend
from llmcert.report import Environment, EvalResult, preload_html, write_html, write_json
from llmcert.scoring import Scorer, make_scorer
from llmcert.services._environment import capture_environment
from llmcert.services._results import build_result, run_info
from llmcert.suites import Suite, load_suite

JOURNAL_NAME = "journal.sqlite"
#: Identification is the first contact with a model: fail fast on a dead endpoint.
IDENTIFY_RETRY = RetryPolicy(max_attempts=3, base_delay=0.25, max_delay=1.0)


@runtime_checkable
class VerifiesIdentity(Protocol):
    """Backends over local artefacts can cheaply tell whether the file changed."""

    def verify_unchanged(self) -> None: ...


@dataclass(frozen=True)
class EvalRequest:
    model: str = "embedded"
    suite: str = "default"
    data: Path | None = None
    limit: int | None = None
    concurrency: int = 8
    repeats: int | None = None
    seed: int = 0
    output: Path = Path("llmcert-output")
    command: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class EvalOutcome:
    result: EvalResult
    result_path: Path
    report_path: Path
    stats: ExecutionStats


@dataclass(frozen=True)
class _Prepared:
    suite: Suite
    scorer: Scorer
    repeats: int
    prompts: list[RenderedPrompt]
    environment: Environment


def _prepare(request: EvalRequest) -> _Prepared:
    """All the work that does not need the model's identity."""
    suite = load_suite(request.suite, data=request.data)
    scorer = make_scorer(suite.spec.scorer.name, suite.spec.scorer.args)
    items = suite.items[: request.limit] if request.limit else suite.items
    prompts = render_prompts(suite, kind=scorer.request_kind, items=items)
    environment = capture_environment()
    preload_html()
    return _Prepared(suite, scorer, request.repeats or suite.spec.repeats, prompts, environment)


def _check_compatible(suite: Suite, scorer: Scorer, backend: ModelBackend) -> None:
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


async def _identify(model: ModelBackend, seed: int) -> ModelIdentity:
    outcome = await call_with_retries(model.identify, IDENTIFY_RETRY, random.Random(seed))
    if outcome.error is not None:
        raise outcome.error
    assert outcome.value is not None
    return outcome.value


async def _prepare_and_identify(
    request: EvalRequest, model: ModelBackend
) -> tuple[_Prepared, ModelIdentity]:
    """Both at once; a bad suite is reported at once, without waiting on the model."""
    identifying = asyncio.create_task(_identify(model, request.seed))
    try:
        prepared = await asyncio.to_thread(_prepare, request)
        _check_compatible(prepared.suite, prepared.scorer, model)
    except BaseException:
        identifying.cancel()
        with contextlib.suppress(BaseException):
            await identifying
        raise
    return prepared, await identifying


def _run_id(prepared: _Prepared, identity: ModelIdentity, request: EvalRequest) -> str:
    material = {
        "suite": prepared.suite.digest,
        "model": identity.digest,
        "seed": request.seed,
        "repeats": prepared.repeats,
        "items": len(prepared.prompts),
    }
    return short(digest_json(material), 16)


def _slug(identity: ModelIdentity) -> str:
    base = identity.reported_model or identity.ref
    if identity.artefact_path:
        base = Path(identity.artefact_path).stem
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in base.lower())
    return keep.strip("-")[:40] or "model"


async def evaluate(
    request: EvalRequest,
    *,
    progress: ProgressSink | None = None,
    backend: ModelBackend | None = None,
    retry: RetryPolicy | None = None,
) -> EvalOutcome:
    """Evaluate one suite on one model; resumable by re-running the same request."""
    t0 = time.perf_counter()
    started_at = datetime.now(UTC)
    if request.limit is not None and request.limit < 1:
        raise SpecError("--limit must be at least 1")
    ref = ModelRef.parse(request.model)  # a bad reference fails before anything is loaded
    model = backend if backend is not None else open_backend(ref)
    try:
        prepared, identity = await _prepare_and_identify(request, model)
        suite, scorer = prepared.suite, prepared.scorer
        units = plan_units(
            suite,
            identity,
            kind=scorer.request_kind,
            seed=request.seed,
            repeats=prepared.repeats,
            prompts=prepared.prompts,
        )
        run_id = _run_id(prepared, identity, request)
        request.output.mkdir(parents=True, exist_ok=True)
        with Journal(request.output / JOURNAL_NAME) as journal:
            journal.begin_run(
                run_id,
                {"suite": suite.describe(), "model": identity.to_dict(), "seed": request.seed},
            )
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
    finally:
        if backend is None:
            await model.aclose()

    result = build_result(
        run=run_info(
            run_id,
            started_at,
            datetime.now(UTC),
            seed=request.seed,
            repeats=prepared.repeats,
            limit=request.limit,
            concurrency=request.concurrency,
            command=request.command,
        ),
        identity=identity,
        suite=suite,
        scorer=scorer,
        environment=prepared.environment,
        units=units,
        entries=entries,
        sent_now={u.key for u in todo},
        stats=stats,
        wall_s=time.perf_counter() - t0,
    )
    run_dir = request.output / f"{suite.name}-{_slug(identity)}-{run_id[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    result_path, report_path = run_dir / "result.json", run_dir / "report.html"
    write_json(result, result_path)
    write_html(result, report_path)
    return EvalOutcome(result, result_path, report_path, stats)


def evaluate_sync(request: EvalRequest, **kwargs: Any) -> EvalOutcome:
    return asyncio.run(evaluate(request, **kwargs))


__all__ = ["EvalOutcome", "EvalRequest", "evaluate", "evaluate_sync"]
