"""The evaluation service: a suite on a model, from reference to written report.

Orchestration only: parse, load, identify, plan, execute (engine), score, summarise
(stats) and write (report). Nothing here knows about the CLI or HTTP.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from llmcert._hashing import digest_json, short
from llmcert.engine import (
    ExecutionStats,
    Journal,
    JournalEntry,
    ProgressSink,
    RetryPolicy,
    WorkUnit,
    call_with_retries,
    encode_output,
    execute,
    plan_units,
)
from llmcert.errors import SpecError
from llmcert.models import GenerateRequest, ModelBackend, ModelIdentity, ModelRef, open_backend
from llmcert.report import (
    EvalResult,
    MetricResult,
    RunInfo,
    Timings,
    UnitRecord,
    write_html,
    write_json,
)
from llmcert.scoring import Score, Scorer, ScoreStatus, make_scorer
from llmcert.services._environment import capture_environment
from llmcert.stats import summarize
from llmcert.suites import Suite, load_suite

JOURNAL_NAME = "journal.sqlite"


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


def _check_compatible(suite: Suite, scorer: Scorer, backend: ModelBackend) -> None:
    if scorer.request_kind == "loglikelihood":
        if suite.spec.prompt.kind != "completion":
            raise SpecError(
                f"scorer {scorer.name} ranks choices by log-likelihood and needs prompt.kind: completion",
                path=suite.path,
                field="prompt.kind",
            )
        if not backend.supports_loglikelihood:
            raise SpecError(
                f"the model backend gives no log-likelihoods, which scorer {scorer.name} needs"
            )


def _request_record(unit: WorkUnit) -> dict[str, Any]:
    req = unit.request
    if isinstance(req, GenerateRequest):
        if req.messages is not None:
            return {
                "messages": [{"role": m.role, "content": m.content} for m in req.messages],
                "seed": req.seed,
            }
        return {"prompt": req.prompt, "seed": req.seed}
    return {"context": req.context, "continuations": list(req.continuations)}


def _response_record(entry: JournalEntry) -> dict[str, Any] | None:
    if entry.output is None:
        return None
    data: dict[str, Any] = json.loads(encode_output(entry.output))
    return data


def _run_id(
    suite: Suite, identity: ModelIdentity, request: EvalRequest, n_items: int, repeats: int
) -> str:
    return short(
        digest_json(
            {
                "suite": suite.digest,
                "model": identity.digest,
                "seed": request.seed,
                "repeats": repeats,
                "items": n_items,
            }
        ),
        16,
    )


def _metrics(
    suite: Suite, units: Sequence[WorkUnit], scores: dict[str, Score]
) -> list[MetricResult]:
    """Overall and per-group figures; errors and unscored kept out of denominators, counted aside."""
    groups: list[tuple[dict[str, str], list[WorkUnit]]] = [({}, list(units))]
    for field_name in suite.spec.group_by:
        buckets: dict[str, list[WorkUnit]] = defaultdict(list)
        for u in units:
            buckets[str(u.item.metadata.get(field_name, "(none)"))].append(u)
        groups.extend(({field_name: value}, members) for value, members in sorted(buckets.items()))
    out: list[MetricResult] = []
    for name in suite.spec.metrics:
        for group, members in groups:
            values: dict[str, list[float]] = defaultdict(list)
            n_error = n_unscored = 0
            for u in members:
                s = scores[u.key]
                if s.status is ScoreStatus.ERROR:
                    n_error += 1
                elif s.status is ScoreStatus.UNSCORED or s.value is None:
                    n_unscored += 1
                else:
                    values[u.item_hash].append(s.value)
            out.append(
                summarize(
                    name,
                    values,
                    n_error=n_error,
                    n_unscored=n_unscored,
                    n_planned=len(members),
                    group=group,
                )
            )
    return out


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
    ref = ModelRef.parse(request.model)  # fail fast on a bad reference, before any loading
    suite = load_suite(request.suite, data=request.data)
    scorer = make_scorer(suite.spec.scorer.name, suite.spec.scorer.args)
    repeats = request.repeats or suite.spec.repeats
    if request.limit is not None and request.limit < 1:
        raise SpecError("--limit must be at least 1")
    items = suite.items[: request.limit] if request.limit else suite.items
    policy = retry or RetryPolicy()

    own_backend = backend is None
    model = backend if backend is not None else open_backend(ref)
    try:
        _check_compatible(suite, scorer, model)
        ident = await call_with_retries(model.identify, policy, random.Random(request.seed))
        if ident.error is not None:
            raise ident.error
        assert ident.value is not None
        identity = ident.value
        units = plan_units(
            suite,
            identity,
            kind=scorer.request_kind,
            seed=request.seed,
            repeats=repeats,
            items=items,
        )
        run_id = _run_id(suite, identity, request, len(items), repeats)
        request.output.mkdir(parents=True, exist_ok=True)
        with Journal(request.output / JOURNAL_NAME) as journal:
            journal.begin_run(
                run_id,
                {"suite": suite.describe(), "model": identity.to_dict(), "seed": request.seed},
            )
            done = journal.lookup(u.key for u in units)
            todo = [u for u in units if done.get(u.key) is None or done[u.key].status != "ok"]
            if progress is not None:
                progress.start(len(units), len(units) - len(todo))
            try:
                stats = await execute(
                    todo,
                    model,
                    journal,
                    run_id=run_id,
                    concurrency=request.concurrency,
                    retry=policy,
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
        if own_backend:
            await model.aclose()

    sent_now = {u.key for u in todo}
    scores: dict[str, Score] = {}
    records: list[UnitRecord] = []
    error_kinds: dict[str, int] = defaultdict(int)
    for u in units:
        entry = entries[u.key]
        if entry.output is not None:
            score = scorer.score(u.item, entry.output)
        else:
            score = Score(ScoreStatus.ERROR, explanation=entry.error)
            error_kinds[entry.error_kind or "Error"] += 1
        scores[u.key] = score
        records.append(
            UnitRecord(
                key=u.key,
                item_id=u.item.id,
                item_hash=u.item_hash,
                repeat=u.repeat,
                status="ok" if entry.output is not None else "error",
                request=_request_record(u),
                response=_response_record(entry),
                score=score.to_dict(),
                error=entry.error,
                error_kind=entry.error_kind,
                attempts=entry.attempts,
                latency_s=entry.latency_s,
                from_journal=u.key not in sent_now,
                target=u.item.target
                if u.item.answer_index is None
                else f"{u.item.answer_index}: {u.item.choices[u.item.answer_index]}",
                metadata=dict(u.item.metadata),
            )
        )

    latencies = sorted(stats.latencies)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = EvalResult(
        run=RunInfo(
            run_id=run_id,
            started_at=started_at.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            seed=request.seed,
            repeats=repeats,
            limit=request.limit,
            concurrency=request.concurrency,
            command=list(request.command),
        ),
        model=identity.to_dict(),
        suite=suite.describe() | {"scorer_config": scorer.config()},
        environment=capture_environment(),
        metrics=_metrics(suite, units, scores),
        timings=Timings(
            wall_s=time.perf_counter() - t0,
            first_request_to_last_response_s=stats.span_s,
            units_total=len(units),
            units_sent=len(todo),
            units_from_journal=len(units) - len(todo),
            latency_p50_s=latencies[len(latencies) // 2] if latencies else None,
            latency_p95_s=latencies[int(len(latencies) * 0.95)] if latencies else None,
            cpu_s=usage.ru_utime + usage.ru_stime,
        ),
        errors=dict(error_kinds),
        units=records,
    )
    run_dir = request.output / f"{suite.name}-{_slug(identity)}-{run_id[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    result_path, report_path = run_dir / "result.json", run_dir / "report.html"
    write_json(result, result_path)
    write_html(result, report_path)
    return EvalOutcome(result, result_path, report_path, stats)


def _slug(identity: ModelIdentity) -> str:
    base = identity.reported_model or identity.ref
    if identity.artefact_path:
        base = Path(identity.artefact_path).stem
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in base.lower())
    return keep.strip("-")[:40] or "model"


def evaluate_sync(request: EvalRequest, **kwargs: Any) -> EvalOutcome:
    return asyncio.run(evaluate(request, **kwargs))


__all__ = ["EvalOutcome", "EvalRequest", "evaluate", "evaluate_sync"]
