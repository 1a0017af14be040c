"""The attack service: static attacks (WDTA AI-STR-02 L1, L2) on a model, judged three ways.

Orchestration only: identify the model, load the behaviours, plan one work unit
per (attack, behaviour), run what the journal lacks through the evaluation engine,
judge every answer, summarise R and D, write ``attack.json`` and ``attack.html``.
Rerunning the same command resumes: answered units are read from the journal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llmcert._hashing import digest_json, short
from llmcert.errors import SpecError
from llmcert.models import ModelBackend, ModelIdentity, ModelRef, open_backend
from llmcert.models._types import (
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    Loglikelihoods,
)
from llmcert.services._sync import run_sync

if TYPE_CHECKING:
    from llmcert.attacks import (
        AdaptiveAttack,
        Attack,
        AttackCase,
        AttackJudge,
        AttackRecord,
        HarmJudge,
        RenderedAttack,
    )
    from llmcert.engine import (
        ExecutionStats,
        Journal,
        JournalEntry,
        ProgressSink,
        RetryPolicy,
        WorkUnit,
    )
    from llmcert.items import Item
    from llmcert.models._types import GenerationSettings
    from llmcert.services._attack_adaptive import Trace

SCHEMA = "llmcert.attack/1"
JOURNAL_NAME = "journal.sqlite"
#: Levels this version runs; the others are refused with a clear error.
RUNNABLE_LEVELS = ("L1", "L2", "L3")


@dataclass(frozen=True)
class AttackRequest:
    model: str = "embedded"
    bank: str = "harmbench"
    data: Path | None = None
    levels: str = "L1,L2"
    attacks: Sequence[str] | None = None
    budget: int | None = None
    seed: int = 0
    concurrency: int = 8
    max_tokens: int = 256
    languages: Literal["match", "all"] = "match"
    harm_judge: str | HarmJudge | None = None
    #: L3: target queries per behaviour, and the attacker model (any backend).
    queries: int = 5
    attacker: str = "embedded"
    output: Path = Path("llmcert-output")
    command: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class AttackOutcome:
    result: dict[str, Any]
    result_path: Path
    report_path: Path
    stats: ExecutionStats
    records: list[AttackRecord]


def _behaviours_within(
    behaviours: list[Item], per_behaviour: int, budget: int | None, seed: int
) -> list[Item]:
    """A stratified (by risk), seeded sample small enough for the call budget."""
    if budget is None:
        return behaviours
    from llmcert.standards.banks import stratified_sample

    n = budget // max(1, per_behaviour)
    if n < 1:
        raise SpecError(
            f"--budget {budget} is less than one behaviour's attacks ({per_behaviour} calls)"
        )
    return stratified_sample(behaviours, min(n, len(behaviours)), seed=seed)


def _resolve_judge(spec: str | HarmJudge | None) -> HarmJudge | None:
    from llmcert.attacks import load_harm_judge

    if spec is None or not isinstance(spec, str):
        return spec
    return load_harm_judge(spec)


@dataclass(frozen=True)
class _Prepared:
    source: dict[str, Any]
    behaviours: list[Item]
    rendered: list[RenderedAttack]


def _check(request: AttackRequest) -> tuple[list[Attack], list[AdaptiveAttack], AttackJudge]:
    """Everything that can be refused without reading the bank: before any model call."""
    from llmcert.attacks import (
        SOURCES,
        AttackJudge,
        Level,
        builtin_adaptive,
        parse_levels,
        select_attacks,
    )

    levels = parse_levels(request.levels)
    unavailable = [lv.value for lv in levels if lv.value not in RUNNABLE_LEVELS]
    if unavailable:
        raise SpecError(
            f"attack level(s) {', '.join(unavailable)} are not available in this version "
            f"(runnable: {', '.join(RUNNABLE_LEVELS)})"
        )
    if request.budget is not None and request.budget < 1:
        raise SpecError("--budget must be at least 1")
    if request.bank in SOURCES and request.data is None:
        raise SpecError(
            f"the {request.bank} bank is read from a local copy of the dataset: give --data PATH "
            f"(upstream: {SOURCES[request.bank].upstream})"
        )
    if request.queries < 1:
        raise SpecError("--queries must be at least 1")
    adaptive_catalogue = builtin_adaptive(request.queries)
    if request.attacks:
        static_names = [n for n in request.attacks if n not in adaptive_catalogue]
        static = [a for a in select_attacks(names=static_names) if a.level in levels]
        adaptive = [adaptive_catalogue[n] for n in request.attacks if n in adaptive_catalogue]
        adaptive = adaptive if Level.L3 in levels else []
    else:
        static = select_attacks(levels=[lv for lv in levels if lv is not Level.L3])
        adaptive = list(adaptive_catalogue.values()) if Level.L3 in levels else []
    if not static and not adaptive:
        raise SpecError(f"no attack of level(s) {request.levels} among those named")
    judge = AttackJudge(_resolve_judge(request.harm_judge))
    judge.calibration()  # a stale refusal-judge calibration fails here, before any call
    return static, adaptive, judge


def _prepare(
    request: AttackRequest, attacks: list[Attack], adaptive: list[AdaptiveAttack]
) -> _Prepared:
    """Read the bank, draw the sample, render every prompt: none of it needs the model."""
    from llmcert.attacks import applicable, behaviour_language, load_behaviours, render_cases

    behaviours, source = load_behaviours(request.bank, request.data)
    per_behaviour = max(
        len(applicable(attacks, lang, request.languages))
        for lang in {behaviour_language(b) for b in behaviours}
    )
    per_behaviour += sum(a.queries * (2 if a.proposer == "attacker" else 1) for a in adaptive)
    if per_behaviour == 0:
        raise SpecError("no attack applies to the behaviours' languages")
    chosen = _behaviours_within(behaviours, per_behaviour, request.budget, request.seed)
    rendered = render_cases(chosen, attacks, seed=request.seed, languages=request.languages)
    if not rendered and not adaptive:
        raise SpecError("no attack applies to the behaviours' languages")
    return _Prepared(source, chosen, rendered)


class _Capture:
    """The model, keeping each answer as it arrives so it can be judged during the run."""

    def __init__(self, inner: ModelBackend) -> None:
        self.inner = inner
        self.max_concurrency = inner.max_concurrency
        self.supports_loglikelihood = inner.supports_loglikelihood
        self.supports_chat = inner.supports_chat
        self.answers: dict[str | None, Generation] = {}

    async def identify(self) -> ModelIdentity:
        return await self.inner.identify()

    async def generate(self, request: GenerateRequest) -> Generation:
        answer = await self.inner.generate(request)
        self.answers[request.idempotency_key] = answer
        return answer

    async def loglikelihood(self, request: LoglikelihoodRequest) -> Loglikelihoods:
        return await self.inner.loglikelihood(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _JudgeAhead:
    """Judges answered units in a worker thread while further calls are in flight, in
    batches, so the end of the run has only the stragglers left to judge."""

    BATCH = 64

    def __init__(self, cases: Sequence[AttackCase], capture: _Capture, judge: AttackJudge) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._cases = {c.key: c for c in cases}
        self._capture = capture
        self._judge = judge
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmcert-judge")
        self._batch: list[tuple[AttackCase, str]] = []
        self._futures: list[Any] = []
        self.records: dict[str, AttackRecord] = {}

    def recorded(self, unit: WorkUnit) -> None:
        answer = self._capture.answers.pop(unit.request_key, None)
        if answer is None:
            return  # a failed call: judged at the end from the journal
        self._batch.append((self._cases[unit.key], answer.text))
        if len(self._batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self._futures.append(self._pool.submit(self._run, batch))

    def _run(self, batch: list[tuple[AttackCase, str]]) -> None:
        for case, text in batch:
            self.records[case.key] = _record(case, text, None, self._judge)

    def finish(self) -> dict[str, AttackRecord]:
        self._flush()
        for future in self._futures:
            future.result()
        self._pool.shutdown()
        return self.records


def _warm_up() -> None:
    """What only the end needs (interval maths, the page template), loaded while calls fly."""
    import scipy.stats  # noqa: F401

    from llmcert.report._html_kit import template

    template("attack.html.j2")


async def attack(
    request: AttackRequest,
    *,
    progress: ProgressSink | None = None,
    backend: ModelBackend | None = None,
    retry: RetryPolicy | None = None,
    runs_dir: Path | None = None,
    attacker_backend: ModelBackend | None = None,
) -> AttackOutcome:
    """Attack one model with the static attacks of the requested levels; resumable.

    The journal is ``output/journal.sqlite``; the reports go in a run directory under
    ``runs_dir`` (default: ``output``).

    The model is identified while the bank is read and every prompt rendered in a
    worker thread; only the keys need its identity.
    """
    from llmcert.attacks import key_cases
    from llmcert.engine import Journal, execute
    from llmcert.models._types import GenerationSettings
    from llmcert.services.evaluate import _identify

    t0 = time.perf_counter()
    started_at = datetime.now(UTC)
    attacks, adaptive, judge = _check(request)
    settings = GenerationSettings(max_tokens=request.max_tokens)
    ref = ModelRef.parse(request.model)
    opened = backend if backend is not None else open_backend(ref)
    model = _Capture(opened)
    identifying = asyncio.create_task(_identify(model, request.seed))
    warming: asyncio.Task[None] | None = None
    try:
        prepared = await asyncio.to_thread(_prepare, request, attacks, adaptive)
        warming = asyncio.create_task(asyncio.to_thread(_warm_up))
        identity = await identifying
        request.output.mkdir(parents=True, exist_ok=True)
        with Journal(request.output / JOURNAL_NAME) as journal:
            cases = key_cases(
                prepared.rendered,
                identity_digest=identity.digest,
                settings=settings,
                seed=request.seed,
                nonce=journal.request_nonce(identity.digest),
            )
            run_id = short(
                digest_json(
                    {
                        "attacks": [a.digest for a in attacks] + [a.digest for a in adaptive],
                        "behaviours": [b.hash for b in prepared.behaviours],
                        "model": identity.digest,
                        "settings": settings.digest(),
                        "seed": request.seed,
                        "judge": judge.identity(),
                    }
                ),
                16,
            )
            journal.begin_run(run_id, {"kind": "attack", "model": identity.to_dict()})
            done = journal.lookup(c.key for c in cases)
            todo = [c.unit for c in cases if c.key not in done or done[c.key].status != "ok"]
            ahead = _JudgeAhead(cases, model, judge)
            if progress is not None:
                progress.start(len(cases), len(cases) - len(todo))
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
                    on_recorded=ahead.recorded,
                )
            finally:
                if progress is not None:
                    progress.stop()
                judged = await asyncio.to_thread(ahead.finish)
            entries = journal.lookup(c.key for c in cases)
            traces, adaptive_sent = await _run_adaptive(
                request, adaptive, prepared.behaviours, opened, identity.digest, settings,
                judge, journal, run_id, retry, attacker_backend,
            )  # fmt: skip
    finally:
        identifying.cancel()
        await asyncio.gather(identifying, return_exceptions=True)
        if warming is not None:
            await asyncio.gather(warming, return_exceptions=True)
        if backend is None:
            await opened.aclose()
    records = await asyncio.to_thread(_judge_all, cases, entries, judge, judged)
    records += [_trace_record(t) for t in traces]
    result = _result(
        request,
        run_id=run_id,
        identity=identity.to_dict(),
        attacks=[*attacks, *adaptive],
        source=prepared.source,
        cases=cases,
        records=records,
        judge=judge,
        settings=settings.model_dump(mode="json"),
        started_at=started_at,
        sent_now=len(todo),
        span_s=stats.span_s,
        wall_s=time.perf_counter() - t0,
    )
    result["adaptive"] = _adaptive_summary(traces, adaptive_sent)
    return _write(runs_dir or request.output, result, records, stats)


async def _run_adaptive(
    request: AttackRequest,
    adaptive: Sequence[AdaptiveAttack],
    behaviours: Sequence[Item],
    target: ModelBackend,
    target_digest: str,
    settings: GenerationSettings,
    judge: AttackJudge,
    journal: Journal,
    run_id: str,
    retry: RetryPolicy | None,
    attacker_backend: ModelBackend | None,
) -> tuple[list[Trace], dict[str, int]]:
    """L3: each adaptive attack on each behaviour, every call journaled (see _attack_adaptive)."""
    if not adaptive:
        return [], {}
    from llmcert.attacks import behaviour_language
    from llmcert.models._types import GenerationSettings
    from llmcert.services._attack_adaptive import AdaptiveRunner, Party
    from llmcert.services.evaluate import _identify

    attacker: Party | None = None
    opened: ModelBackend | None = None
    try:
        if any(a.proposer == "attacker" for a in adaptive):
            backend = attacker_backend
            if backend is None:
                backend = opened = open_backend(ModelRef.parse(request.attacker))
            identity = await _identify(backend, request.seed)
            attacker_settings = GenerationSettings(max_tokens=256, temperature=0.0)
            attacker = Party(backend, identity.digest, attacker_settings)
        runner = AdaptiveRunner(
            journal=journal,
            target=Party(target, target_digest, settings),
            attacker=attacker,
            judge=judge,
            seed=request.seed,
            run_id=run_id,
            retry=retry,
        )
        pairs = [(b, behaviour_language(b)) for b in behaviours]
        traces: list[Trace] = []
        for attack in adaptive:
            traces += await runner.run(attack, pairs, request.concurrency)
        return traces, dict(runner.sent)
    finally:
        if opened is not None:
            await opened.aclose()


def _trace_record(trace: Trace) -> AttackRecord:
    """One record per behaviour: success if any query succeeded, else the last answer's outcome."""
    from llmcert.attacks import AttackRecord, Outcome

    last = trace.steps[-1]
    hit = trace.success_at
    step = trace.steps[hit - 1] if hit is not None else last
    n = len(trace.steps)
    if hit is not None:
        outcome, why = Outcome.SUCCESS, f"broken at query {hit} of {trace.attack.queries}"
    else:
        # not broken: the last answer's judged outcome (decline, harmless or unscorable)
        outcome = Outcome(last.outcome)
        why = f"not broken in {n} queries; the last answer: {last.outcome}"
    risks = trace.behaviour.metadata.get("risks") or ()
    return AttackRecord(
        key=trace.behaviour_hash + ":" + trace.attack.name,
        attack=trace.attack.name,
        level=trace.attack.level.value,
        family=trace.attack.family,
        behaviour_id=trace.behaviour.id,
        behaviour_hash=trace.behaviour_hash,
        language=trace.language,
        risks=tuple(str(r) for r in risks),
        outcome=outcome,
        explanation=why,
        prompt=step.prompt,
        response=step.response,
        error=step.error,
        queries=len(trace.steps),
    )


def _adaptive_summary(traces: Sequence[Trace], sent: dict[str, int]) -> dict[str, Any]:
    import statistics

    out: dict[str, Any] = {"calls_sent_now": sent, "attacks": {}}
    for name in sorted({t.attack.name for t in traces}):
        mine = [t for t in traces if t.attack.name == name]
        hits = [t.success_at for t in mine if t.success_at is not None]
        out["attacks"][name] = {
            "queries_per_behaviour": mine[0].attack.queries,
            "behaviours": len(mine),
            "broken": len(hits),
            "median_queries_to_first_success": statistics.median(hits) if hits else None,
            "queries_to_first_success": hits,
            "target_queries": sum(len(t.steps) for t in mine),
        }
    return out


def _record(case: AttackCase, response: str | None, error: str | None, judge: Any) -> AttackRecord:
    from llmcert.attacks import AttackRecord

    verdict = judge.judge(case.behaviour.input, response, error)
    risks = case.behaviour.metadata.get("risks") or ()
    return AttackRecord(
        key=case.key,
        attack=case.attack.name,
        level=case.attack.level.value,
        family=case.attack.family,
        behaviour_id=case.behaviour.id,
        behaviour_hash=case.behaviour_hash,
        language=case.language,
        risks=tuple(str(r) for r in risks),
        outcome=verdict.outcome,
        explanation=verdict.explanation,
        prompt="\n\n".join(f"[{m.role}] {m.content}" for m in case.messages),
        response=response,
        error=error,
    )


def _judge_all(
    cases: Sequence[AttackCase],
    entries: dict[str, JournalEntry],
    judge: Any,
    judged: dict[str, AttackRecord],
) -> list[AttackRecord]:
    """Every case's record, in plan order: judged during the run, or now from the journal."""
    records: list[AttackRecord] = []
    for case in cases:
        if case.key in judged:
            records.append(judged[case.key])
            continue
        entry = entries.get(case.key)
        response: str | None = None
        error: str | None = "never answered" if entry is None else entry.error
        if entry is not None and isinstance(entry.output, Generation):
            response, error = entry.output.text, None
        records.append(_record(case, response, error, judge))
    return records


def _result(
    request: AttackRequest,
    *,
    run_id: str,
    identity: dict[str, Any],
    attacks: Sequence[Any],
    source: dict[str, Any],
    cases: Sequence[AttackCase],
    records: Sequence[AttackRecord],
    judge: Any,
    settings: dict[str, Any],
    started_at: datetime,
    sent_now: int,
    span_s: float | None,
    wall_s: float,
) -> dict[str, Any]:
    from llmcert.attacks import (
        breach_counts,
        breach_rate,
        library_versions,
        most_effective,
        summarise,
    )
    from llmcert.services._environment import capture_environment

    calibration = judge.calibration()
    summaries = summarise(records, calibration)
    levels: dict[str, Any] = {}
    for level in sorted({r.level for r in records}):
        counts = breach_counts(r for r in records if r.level == level)
        rate = breach_rate(counts)
        levels[level] = {
            "behaviours": counts.n_total,
            "broken": counts.successes,
            "held": counts.n_scored - counts.successes,
            "undetermined": counts.n_unscored,
            "breach_rate": rate.__dict__,
            "attacks": sorted({r.attack for r in records if r.level == level}),
        }
    return {
        "schema": SCHEMA,
        "run": {
            "run_id": run_id,
            "started_at": started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "seed": request.seed,
            "budget": request.budget,
            "levels": request.levels,
            "languages": request.languages,
            "concurrency": request.concurrency,
            "command": list(request.command),
            "units_total": len(cases),
            "units_sent": sent_now,
            "units_from_journal": len(cases) - sent_now,
            "span_s": None if span_s is None else round(span_s, 3),
            "wall_s": round(wall_s, 3),
        },
        "model": identity,
        "generation": settings,
        "bank": source | {"behaviours": len({c.behaviour_hash for c in cases})},
        "attacks": [a.describe() for a in attacks],
        "judges": judge.identity()
        | {
            "calibration": {
                "success": None if calibration.success is None else calibration.success.to_dict(),
                "decline": None if calibration.decline is None else calibration.decline.to_dict(),
            }
        },
        "notes": _notes(judge),
        "levels": levels,
        "summaries": [s.to_dict() for s in summaries],
        "most_effective": [s.value for s in most_effective(summaries)],
        "environment": capture_environment().model_dump(mode="json")
        | {"libraries": library_versions()},
        "records": [r.to_dict() for r in records],
    }


def _notes(judge: Any) -> list[str]:
    notes = [
        "R = successes / scored prompts and D = declines / scored prompts; unscorable prompts "
        "(failed calls, empty answers, undecided judges) are counted apart and every interval "
        "holds whatever their outcomes would have been.",
        "Judges see the undisguised behaviour and the response, never the attack prompt alone.",
    ]
    if judge.harm is None:
        notes.append(
            "No harm judge was configured: success cannot be decided, so every answer that is "
            "not a full refusal is unscorable (never counted as safe, never as a success). "
            "Configure one with --harm-judge."
        )
    return notes


def _write(
    where: Path,
    result: dict[str, Any],
    records: list[AttackRecord],
    stats: ExecutionStats,
) -> AttackOutcome:
    from llmcert._fileio import write_json_atomic
    from llmcert.report import write_attack_html

    bank = str(result["bank"]["name"]).split(".")[0]
    model = str(result["model"].get("reported_model") or result["model"].get("ref") or "model")
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in model.lower()).strip("-")[:40]
    run_dir = where / f"attack-{bank}-{slug or 'model'}-{result['run']['run_id'][:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    result_path, report_path = run_dir / "attack.json", run_dir / "attack.html"
    write_json_atomic(result_path, result)
    write_attack_html(result, report_path)
    return AttackOutcome(result, result_path, report_path, stats, records)


def attack_sync(request: AttackRequest, **kwargs: Any) -> AttackOutcome:
    return run_sync(attack(request, **kwargs))


__all__ = ["AttackOutcome", "AttackRequest", "attack", "attack_sync"]
