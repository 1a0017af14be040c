"""The attack service: static attacks (WDTA AI-STR-02 L1, L2) on a model, judged three ways.

Orchestration only: identify the model, load the behaviours, plan one work unit
per (attack, behaviour), run what the journal lacks through the evaluation engine,
judge every answer, summarise R and D, write ``attack.json`` and ``attack.html``.
Rerunning the same command resumes: answered units are read from the journal.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcert._hashing import digest_json, short
from llmcert.errors import SpecError
from llmcert.models import ModelBackend, ModelRef, open_backend
from llmcert.services._sync import run_sync

if TYPE_CHECKING:
    from llmcert.attacks import (
        AdaptiveAttack,
        Attack,
        AttackJudge,
        AttackPlan,
        HarmJudge,
        WhiteBoxAttack,
    )
    from llmcert.engine import (
        ProgressSink,
        RetryPolicy,
    )
    from llmcert.items import Item
    from llmcert.models._types import GenerationSettings

from llmcert.services.attack._adaptive import run_adaptive
from llmcert.services.attack._judge import Capture, JudgeAhead, judge_all, trace_record
from llmcert.services.attack._request import AttackOutcome, AttackRequest
from llmcert.services.attack._result import adaptive_summary, build_result, write_outputs

JOURNAL_NAME = "journal.sqlite"
#: Levels this version runs; the others are refused with a clear error.
RUNNABLE_LEVELS = ("L1", "L2", "L3", "L4")
#: Levels run step by step over the journal (adaptive, white-box), not as one call each.
STEPWISE_LEVELS = ("L3", "L4")
#: Model references run in this process, whose chat template and logits L4 reads.
WHITE_BOX_SCHEMES = ("embedded", "llamacpp")


def _check_white_box(model: str) -> None:
    scheme = ModelRef.parse(model).scheme
    if scheme not in WHITE_BOX_SCHEMES:
        raise SpecError(
            f"L4 (white-box) attacks need a local GGUF model run in this process "
            f"(embedded:NAME or llamacpp:PATH), whose chat template and logits llmcert reads; "
            f"{model} is a {scheme} model, which gives neither (in an assessment, declare the "
            f"clause not applicable: --not-applicable L4=JUSTIFICATION)"
        )


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


def check_request(
    request: AttackRequest,
) -> tuple[list[Attack], list[AdaptiveAttack | WhiteBoxAttack], AttackJudge]:
    """Everything that can be refused without reading the bank: before any model call."""
    from llmcert.attacks import (
        SOURCES,
        AttackJudge,
        Level,
        builtin_adaptive,
        builtin_whitebox,
        parse_levels,
        select_attacks,
    )
    from llmcert.attacks._banks import template_attacks

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
    stepwise: dict[str, AdaptiveAttack | WhiteBoxAttack] = {
        **builtin_adaptive(request.queries),
        **builtin_whitebox(request.queries),
    }
    external = {}
    if request.templates is not None:
        external = {a.name: a for a in template_attacks("jailbench", request.templates)}
    if request.attacks:
        static_names = [n for n in request.attacks if n not in stepwise and n not in external]
        static = [a for a in select_attacks(names=static_names) if a.level in levels]
        static += [external[n] for n in request.attacks if n in external and Level.L2 in levels]
        adaptive = [stepwise[n] for n in request.attacks if n in stepwise]
    else:
        static = select_attacks(levels=[lv for lv in levels if lv not in STEPWISE_LEVELS])
        static += [a for a in external.values() if a.level in levels]
        adaptive = list(stepwise.values())
    adaptive = [a for a in adaptive if a.level in levels]
    if any(a.level is Level.L4 for a in adaptive):
        _check_white_box(request.model)
    if not static and not adaptive:
        raise SpecError(f"no attack of level(s) {request.levels} among those named")
    judge = AttackJudge(_resolve_judge(request.harm_judge))
    judge.calibration()  # a stale refusal-judge calibration fails here, before any call
    return static, adaptive, judge


def _prepare(
    request: AttackRequest, attacks: list[Attack], adaptive: list[AdaptiveAttack | WhiteBoxAttack]
) -> _Prepared:
    """Read the bank and draw the sample; prompts are rendered as calls are sent."""
    from llmcert.attacks import applicable, behaviour_language, load_behaviours

    behaviours, source = load_behaviours(request.bank, request.data)
    per_behaviour = max(
        len(applicable(attacks, lang, request.languages))
        for lang in {behaviour_language(b) for b in behaviours}
    )
    static_per_behaviour = per_behaviour
    per_behaviour += sum(a.max_calls for a in adaptive)
    if per_behaviour == 0:
        raise SpecError("no attack applies to the behaviours' languages")
    chosen = _behaviours_within(behaviours, per_behaviour, request.budget, request.seed)
    if not static_per_behaviour and not adaptive:
        raise SpecError("no attack applies to the behaviours' languages")
    return _Prepared(source, chosen)


def _plan(
    request: AttackRequest,
    prepared: _Prepared,
    attacks: list[Attack],
    settings: GenerationSettings,
    nonce: str,
) -> AttackPlan:
    from llmcert.attacks import AttackPlan

    return AttackPlan(
        prepared.behaviours,
        attacks,
        identity_digest=None,
        settings=settings,
        seed=request.seed,
        nonce=nonce,
        languages=request.languages,
    )


def _warm_up(attacks: list[Attack]) -> None:
    """Load, while calls fly, what the run needs later: the libraries some transforms
    import on first use (pinyin, OpenCC: a second between them), the interval maths
    and the page template."""
    for a in attacks:
        a.render("热身 warm-up", "zh", seed=0, item_hash="")
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

    The model is identified while the bank is read; prompts are rendered and keyed
    as the engine takes units (:class:`~llmcert.attacks.AttackPlan`), so the first
    calls go out as soon as the model is known.
    """
    from llmcert.engine import Journal, StartedCalls, effective_concurrency, execute
    from llmcert.models._types import GenerationSettings

    t0 = time.perf_counter()
    started_at = datetime.now(UTC)
    attacks, adaptive, judge = check_request(request)
    settings = GenerationSettings(max_tokens=request.max_tokens)
    ref = ModelRef.parse(request.model)
    opened = backend if backend is not None else open_backend(ref)
    model = Capture(opened)
    identifying = asyncio.create_task(model.identify())
    warming: asyncio.Task[None] | None = None
    started: StartedCalls | None = None
    try:
        prepared = await asyncio.to_thread(_prepare, request, attacks, adaptive)
        created = [p for p in (request.output, request.output / JOURNAL_NAME) if not p.exists()]
        request.output.mkdir(parents=True, exist_ok=True)
        with Journal(request.output / JOURNAL_NAME) as journal:
            plan: AttackPlan | None = None
            if journal.unbound():
                # Nothing answered yet, whatever the model: calls go out now, and are
                # journaled once the model is known (it takes a few calls of its own).
                plan = _plan(request, prepared, attacks, settings, journal.request_nonce(None))
                started = StartedCalls(
                    model,
                    plan.first_wave(),
                    retry=retry,
                    seed=request.seed,
                    limit=effective_concurrency(request.concurrency, model),
                )
            # The first calls are out (or wait for the model): load what later units and
            # the end need, off the path to the first call.
            warming = asyncio.create_task(asyncio.to_thread(_warm_up, attacks))
            from llmcert.services._pipeline import await_identity

            identity = await await_identity(identifying, started, journal, created)
            nonce = journal.request_nonce(identity.digest)
            if plan is None or plan.nonce != nonce:
                if started is not None:  # keyed under another nonce: not this run's calls
                    await started.cancel()
                    started = None
                plan = _plan(request, prepared, attacks, settings, nonce)
            plan.bind(identity.digest)
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

            def answered(keys: list[str]) -> set[str]:
                return {k for k, e in journal.lookup(keys).items() if e.status == "ok"}

            ahead = JudgeAhead(plan.by_key, model, judge)
            if progress is not None:
                progress.start(plan.total, 0)
            try:
                stats = await execute(
                    plan.units(
                        answered,
                        None if progress is None else lambda: progress.advance(error=False),
                    ),
                    model,
                    journal,
                    run_id=run_id,
                    concurrency=request.concurrency,
                    retry=retry,
                    progress=progress,
                    seed=request.seed,
                    on_recorded=ahead.recorded,
                    started=started,
                )
            finally:
                if progress is not None:
                    progress.stop()
                judged = await asyncio.to_thread(ahead.finish)
            cases = plan.cases
            entries = journal.lookup(c.key for c in cases if c.key not in judged)
            traces, adaptive_sent = await run_adaptive(
                request, adaptive, prepared.behaviours, opened, identity.digest, settings,
                judge, journal, run_id, retry, attacker_backend,
            )  # fmt: skip
    finally:
        if started is not None:
            await started.cancel()
        identifying.cancel()
        await asyncio.gather(identifying, return_exceptions=True)
        if warming is not None:
            await asyncio.gather(warming, return_exceptions=True)
        if backend is None:
            await opened.aclose()
    records = await asyncio.to_thread(judge_all, cases, entries, judge, judged)
    records += [trace_record(t) for t in traces]
    result = build_result(
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
        sent_now=plan.sent,
        span_s=stats.span_s,
        wall_s=time.perf_counter() - t0,
    )
    result["adaptive"] = adaptive_summary(traces, adaptive_sent)
    return write_outputs(runs_dir or request.output, result, records, stats)


def attack_sync(request: AttackRequest, **kwargs: Any) -> AttackOutcome:
    return run_sync(attack(request, **kwargs))
