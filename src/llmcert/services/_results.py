"""Turn journaled outputs into an EvalResult: score, summarise, record every unit."""

from __future__ import annotations

import resource
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llmcert.engine import ExecutionStats, JournalEntry, WorkUnit, output_to_dict
from llmcert.models import GenerateRequest, ModelIdentity
from llmcert.report import Environment, EvalResult, MetricResult, RunInfo, Timings, UnitRecord
from llmcert.scoring import Score, Scorer, ScoreStatus
from llmcert.stats import summarize
from llmcert.suites import Suite


def request_record(unit: WorkUnit) -> dict[str, Any]:
    req = unit.request
    if isinstance(req, GenerateRequest):
        if req.messages is not None:
            messages = [{"role": m.role, "content": m.content} for m in req.messages]
            return {"messages": messages, "seed": req.seed}
        return {"prompt": req.prompt, "seed": req.seed}
    return {"context": req.context, "continuations": list(req.continuations)}


def _target(unit: WorkUnit) -> str | None:
    item = unit.item
    if item.answer_index is None:
        return item.target
    return f"{item.answer_index}: {item.choices[item.answer_index]}"


@dataclass(frozen=True, slots=True)
class UnitResult:
    """A unit's journaled outcome, its score and its record in the result."""

    entry: JournalEntry
    score: Score
    record: UnitRecord


def unit_result(
    unit: WorkUnit,
    entry: JournalEntry,
    scorer: Scorer,
    *,
    from_journal: bool,
    request: dict[str, Any] | None = None,
) -> UnitResult:
    """Errors become ERROR scores: kept apart from the denominators, never 'wrong'."""
    if entry.output is None:
        score = Score(ScoreStatus.ERROR, explanation=entry.error)
    else:
        score = scorer.score(unit.item, entry.output)
    record = _unit_record(unit, entry, score, from_journal, request)
    return UnitResult(entry, score, record)


def compute_metrics(
    suite: Suite, units: Sequence[WorkUnit], scores: Mapping[str, Score]
) -> list[MetricResult]:
    """The overall figure and one per value of each ``group_by`` field."""
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


def _unit_record(
    unit: WorkUnit,
    entry: JournalEntry,
    score: Score,
    from_journal: bool,
    request: dict[str, Any] | None,
) -> UnitRecord:
    # model_construct: every field is built here from typed values, so re-validating
    # thousands of records would only cost time.
    output = entry.output
    return UnitRecord.model_construct(
        key=unit.key,
        request_key=entry.request_key,
        item_id=unit.item.id,
        item_hash=unit.item_hash,
        repeat=unit.repeat,
        status="ok" if output is not None else "error",
        request=request_record(unit) if request is None else request,
        response=output_to_dict(output) if output is not None else None,
        score=score.to_dict(),
        error=entry.error,
        error_kind=entry.error_kind,
        attempts=entry.attempts,
        latency_s=entry.latency_s,
        from_journal=from_journal,
        target=_target(unit),
        metadata=dict(unit.item.metadata),
    )


def build_result(
    *,
    run: RunInfo,
    identity: ModelIdentity,
    suite: Suite,
    scorer: Scorer,
    environment: Environment,
    units: Sequence[WorkUnit],
    results: Sequence[UnitResult],
    sent_now: set[str],
    stats: ExecutionStats,
    wall_s: float,
) -> EvalResult:
    errors: dict[str, int] = defaultdict(int)
    for r in results:
        if r.entry.output is None:
            errors[r.entry.error_kind or "Error"] += 1
    scores = {u.key: r.score for u, r in zip(units, results, strict=True)}
    latencies = sorted(stats.latencies)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return EvalResult(
        run=run,
        model=identity.to_dict(),
        suite=suite.describe() | {"scorer_config": scorer.config()},
        environment=environment,
        metrics=compute_metrics(suite, units, scores),
        timings=Timings(
            wall_s=wall_s,
            first_request_to_last_response_s=stats.span_s,
            units_total=len(units),
            units_sent=len(sent_now),
            units_from_journal=len(units) - len(sent_now),
            latency_p50_s=latencies[len(latencies) // 2] if latencies else None,
            latency_p95_s=latencies[int(len(latencies) * 0.95)] if latencies else None,
            cpu_s=usage.ru_utime + usage.ru_stime,
        ),
        errors=dict(errors),
        units=[r.record for r in results],
    )


def run_info(
    run_id: str,
    started: datetime,
    finished: datetime,
    *,
    seed: int,
    repeats: int,
    limit: int | None,
    concurrency: int,
    command: Sequence[str],
) -> RunInfo:
    return RunInfo(
        run_id=run_id,
        started_at=started.isoformat(),
        finished_at=finished.isoformat(),
        seed=seed,
        repeats=repeats,
        limit=limit,
        concurrency=concurrency,
        command=list(command),
    )
