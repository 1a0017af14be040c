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
        HarmJudge,
        RenderedAttack,
        WhiteBoxAttack,
    )
    from llmcert.engine import (
        ProgressSink,
        RetryPolicy,
    )
    from llmcert.items import Item

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
    rendered: list[RenderedAttack]


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
    """Read the bank, draw the sample, render every prompt: none of it needs the model."""
    from llmcert.attacks import applicable, behaviour_language, load_behaviours, render_cases

    behaviours, source = load_behaviours(request.bank, request.data)
    per_behaviour = max(
        len(applicable(attacks, lang, request.languages))
        for lang in {behaviour_language(b) for b in behaviours}
    )
    per_behaviour += sum(a.max_calls for a in adaptive)
    if per_behaviour == 0:
        raise SpecError("no attack applies to the behaviours' languages")
    chosen = _behaviours_within(behaviours, per_behaviour, request.budget, request.seed)
    rendered = render_cases(chosen, attacks, seed=request.seed, languages=request.languages)
    if not rendered and not adaptive:
        raise SpecError("no attack applies to the behaviours' languages")
    return _Prepared(source, chosen, rendered)


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

    t0 = time.perf_counter()
    started_at = datetime.now(UTC)
    attacks, adaptive, judge = check_request(request)
    settings = GenerationSettings(max_tokens=request.max_tokens)
    ref = ModelRef.parse(request.model)
    opened = backend if backend is not None else open_backend(ref)
    model = Capture(opened)
    identifying = asyncio.create_task(model.identify())
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
            ahead = JudgeAhead(cases, model, judge)
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
            traces, adaptive_sent = await run_adaptive(
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
        sent_now=len(todo),
        span_s=stats.span_s,
        wall_s=time.perf_counter() - t0,
    )
    result["adaptive"] = adaptive_summary(traces, adaptive_sent)
    return write_outputs(runs_dir or request.output, result, records, stats)


def attack_sync(request: AttackRequest, **kwargs: Any) -> AttackOutcome:
    return run_sync(attack(request, **kwargs))
