"""The assessment service: a standard on a model, clause by clause.

Orchestration only. The standard is loaded and checked, the model identified
once, every suite the requirements name is run once (drawing only the items
needed), evidence checks are run, and the verdicts, the clause ledger and the
links to every response are written as ``assessment.json`` and
``assessment.html`` (and JUnit XML on request). Re-running the same command
resumes from the journal without calling the model again for finished units.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcert._hashing import digest_json, short
from llmcert.errors import SpecError
from llmcert.models import ModelBackend, ModelRef, open_backend
from llmcert.services._sync import run_sync

if TYPE_CHECKING:
    from llmcert.engine import ProgressSink, RetryPolicy
    from llmcert.judges.refusal.calibration import RefusalCalibration
    from llmcert.judges.registry import BoundJudge
    from llmcert.report._assessment import Assessment

#: What ``llmcert assess`` assesses when given no standard.
DEFAULT_STANDARD = "gbt-45654-2025"


@dataclass(frozen=True)
class AssessRequest:
    model: str = "embedded"
    standard: str = DEFAULT_STANDARD
    #: Local dataset copies by suite name, for suites built on importers.
    data: Mapping[str, Path] = field(default_factory=dict)
    #: Documents supplied for attestation checks, by document name.
    evidence: Mapping[str, Path] = field(default_factory=dict)
    #: Clauses the assessor declares not applicable, with the justification.
    not_applicable: Mapping[str, str] = field(default_factory=dict)
    #: Draw at most this many items per suite (for trial runs; verdicts say if too few).
    limit: int | None = None
    concurrency: int = 8
    seed: int = 0
    output: Path = Path("llmcert-output")
    junit: Path | None = None
    command: Sequence[str] = field(default_factory=tuple)
    #: Energy meter for serving-performance requirements (see ``llmcert.perf.meters``).
    meter: str = "auto"
    #: The judge for requirements that name one (a built-in name or a calibration file).
    judge: str | None = None
    #: A calibration of the refusal judge to use in place of the shipped one (for
    #: instance measured on human labels of this model's own answers).
    refusal_calibration: Path | None = None


@dataclass(frozen=True)
class AssessOutcome:
    assessment: Assessment
    json_path: Path
    html_path: Path
    junit_path: Path | None


#: Makes one progress sink per suite, so each bar can be labelled with its suite.
ProgressFactory = Callable[[str], "ProgressSink | None"]


async def assess(
    request: AssessRequest,
    *,
    progress: ProgressFactory | None = None,
    backend: ModelBackend | None = None,
    retry: RetryPolicy | None = None,
) -> AssessOutcome:
    """Assess a model against a standard; resumable by re-running the same request."""
    from llmcert.services._environment import capture_environment
    from llmcert.services._evidence import EvidenceContext, run_check
    from llmcert.services._hardware import environment_with, hardware_class
    from llmcert.services.assess import _attack as attacks
    from llmcert.services.assess import _decide as decide
    from llmcert.services.assess import _run as runner
    from llmcert.standards._catalog import load_standard, resolve_standard_path
    from llmcert.standards._spec import AttackMeasure, EvidenceMeasure, PerfMeasure, SuiteMeasure

    started = datetime.now(UTC)
    if request.limit is not None and request.limit < 1:
        raise SpecError("--limit must be at least 1")
    source = resolve_standard_path(request.standard)
    spec = load_standard(source)
    _check_request(request, spec)
    judges = _check_judges(spec, request.judge)
    refusal = _refusal_calibration(request.refusal_calibration)
    ref = ModelRef.parse(request.model)
    base = None if source.parent == _builtin_dir() else source.parent
    ctx = EvidenceContext(data=request.data, attachments=request.evidence, base=base)
    skipped = _skipped_requirements(spec, request.not_applicable)
    plans = runner.suite_plans([r for r in spec.requirements if r.id not in skipped], base)
    attack_reqs = {
        r.id: attacks.attack_request(
            r,
            data=request.data,
            seed=request.seed,
            concurrency=request.concurrency,
            output=request.output,
            model=request.model,
        )
        for r in spec.requirements
        if r.id not in skipped and isinstance(r.measure, AttackMeasure)
    }
    attacks.preflight(list(attack_reqs.values()))
    model = backend if backend is not None else open_backend(ref)
    for plan in plans:  # a missing dataset or a broken suite fails before any model call
        _preflight(plan, request, model)

    from llmcert.services.assess import _judge as judging

    try:
        await judging.open_judges(judges)  # a judge bound to another calibration fails here
        identity = await model.identify()
        assessment_id = short(
            digest_json(
                {
                    "standard": spec.ref,
                    "model": identity.digest,
                    "seed": request.seed,
                    "limit": request.limit,
                }
                | ({"judge": request.judge} if request.judge is not None else {})
                | ({"refusal_calibration": refusal.digest} if refusal is not None else {})
            ),
            16,
        )
        out_dir = request.output / f"assessment-{spec.id}-{assessment_id[:8]}"
        runs: dict[str, runner.SuiteRun] = {}
        for plan in plans:
            runs[plan.suite] = await runner.run_plan(
                plan,
                model=model,
                identity=identity,
                data=request.data.get(plan.suite),
                limit=request.limit,
                concurrency=request.concurrency,
                seed=request.seed,
                journal_dir=request.output,
                runs_dir=out_dir / "runs",
                command=request.command,
                progress=progress(plan.suite) if progress is not None else None,
                retry=retry,
            )
        attack_runs = {
            req_id: await attacks.run_attack(
                areq,
                model=model,
                runs_dir=out_dir / "runs",
                progress=progress(f"attack {req_id}") if progress is not None else None,
                retry=retry,
            )
            for req_id, areq in attack_reqs.items()
        }
        hardware = await asyncio.to_thread(hardware_class, model)
        perf_runs = await _run_perf(spec, skipped, request, model, out_dir)
        for req in spec.requirements:
            if req.id in judges and req.id not in skipped:
                assert isinstance(req.measure, SuiteMeasure)
                records = decide.counted_records(req, runs[req.measure.suite])
                await judging.judge_ahead(judges[req.id], records, request.concurrency)
    finally:
        await judging.close_judges(judges)
        if backend is None:
            await model.aclose()

    results = []
    for req in spec.requirements:
        if req.id in skipped:
            results.append(decide.not_applicable(req, skipped[req.id]))
        elif isinstance(req.measure, SuiteMeasure):
            results.append(
                decide.decide_suite_requirement(
                    req, runs[req.measure.suite], out_dir, bound=judges.get(req.id), refusal=refusal
                )
            )
        elif isinstance(req.measure, AttackMeasure):
            results.append(attacks.decide_attack_requirement(req, attack_runs[req.id], out_dir))
        elif isinstance(req.measure, PerfMeasure):
            from llmcert.services.assess._perf import decide_perf_requirement, profile_of

            run = perf_runs[profile_of(req.measure)]
            results.append(decide_perf_requirement(req, run, out_dir))
        else:
            assert isinstance(req.measure, EvidenceMeasure)
            check = run_check(req.measure.check, req.measure.params, ctx)
            results.append(decide.from_check(req, check))
    verdict, counts, explanation = decide.overall(results)
    return _write(
        request,
        spec=spec,
        source=request.standard,
        identity=identity.to_dict(),
        assessment_id=assessment_id,
        out_dir=out_dir,
        started=started,
        results=results,
        ledger=decide.clause_ledger(spec, results, request.not_applicable),
        overall=(verdict, counts, explanation),
        environment=environment_with(capture_environment(), hardware),
    )


async def _run_perf(
    spec: Any, skipped: Mapping[str, str], request: AssessRequest, model: Any, out_dir: Path
) -> dict[str, Any]:
    """Serving-performance experiments, one per load profile (none without perf measures)."""
    reqs = [r for r in spec.requirements if r.measure.kind == "perf" and r.id not in skipped]
    if not reqs:
        return {}
    from llmcert.models.llamacpp import LlamaCppBackend
    from llmcert.perf._llamacpp import LlamaCppTarget
    from llmcert.services.assess._perf import run_profiles

    def target() -> Any:  # an in-process model is shared, not loaded twice
        return LlamaCppTarget(model, own=False) if isinstance(model, LlamaCppBackend) else None

    return await run_profiles(
        reqs, model=request.model, out_dir=out_dir, meter=request.meter, target_for=target
    )


def _builtin_dir() -> Path:
    from llmcert.standards._catalog import builtin_standard_path

    path = builtin_standard_path(DEFAULT_STANDARD)
    assert path is not None
    return path.parent


def _check_request(request: AssessRequest, spec: Any) -> None:
    clause_ids = {c.id for c in spec.clauses}
    for clause_id in request.not_applicable:
        if clause_id not in clause_ids:
            raise SpecError(
                f"--not-applicable names clause {clause_id!r}, which {spec.ref} does not have"
            )
    suites = {r.measure.suite for r in spec.requirements if r.measure.kind == "suite"}
    suites |= {r.measure.bank for r in spec.requirements if r.measure.kind == "attack"}
    for name in request.data:
        if name not in suites:
            known = ", ".join(sorted(suites)) or "none"
            raise SpecError(f"--data names suite {name!r}, which {spec.ref} does not use ({known})")


def _check_judges(spec: Any, override: str | None) -> dict[str, BoundJudge]:
    """Each judged requirement's judge, resolved once; a bad judge or calibration fails
    before any model call, naming the requirement."""
    from llmcert.judges.registry import resolve_judge
    from llmcert.standards._spec import SuiteMeasure

    shared = None if override is None else resolve_judge(override)
    judges: dict[str, BoundJudge] = {}
    for req in spec.requirements:
        if isinstance(req.measure, SuiteMeasure) and req.measure.judge:
            if shared is not None:
                judges[req.id] = shared
                continue
            try:
                judges[req.id] = resolve_judge(req.measure.judge)
            except SpecError as exc:
                raise SpecError(f"requirement {req.id}: {exc}", field="measure.judge") from exc
    return judges


def _refusal_calibration(path: Path | None) -> RefusalCalibration | None:
    """The assessor's refusal calibration, checked before any model call."""
    if path is None:
        return None
    from llmcert.judges.refusal.calibration import read_refusal_calibration

    return read_refusal_calibration(path)


def _skipped_requirements(spec: Any, clauses: Mapping[str, str]) -> dict[str, str]:
    return {r.id: clauses[r.clause] for r in spec.requirements if r.clause in clauses}


def _preflight(plan: Any, request: AssessRequest, model: ModelBackend) -> None:
    from llmcert.services._pipeline import check_chat
    from llmcert.services.assess._run import unit_matches
    from llmcert.suites import load_suite

    data = request.data.get(plan.suite)
    try:
        suite = load_suite(plan.location, data=data)
    except SpecError as exc:
        if data is None:
            raise SpecError(
                f"suite {plan.suite} cannot be loaded ({exc.message}); if it imports a public "
                f"dataset, pass a local copy with --data {plan.suite}=PATH"
            ) from exc
        raise
    for req in plan.requirements:
        group = req.measure.group
        if group and not any(unit_matches(item.metadata, group) for item in suite.items):
            raise SpecError(
                f"requirement {req.id}: no item of suite {plan.suite} matches the group "
                f"{dict(group)}",
                field="measure.group",
            )
    check_chat(suite, model)


def _write(
    request: AssessRequest,
    *,
    spec: Any,
    source: str,
    identity: dict[str, Any],
    assessment_id: str,
    out_dir: Path,
    started: datetime,
    results: list[Any],
    ledger: list[Any],
    overall: tuple[Any, Any, str],
    environment: Any,
) -> AssessOutcome:
    from llmcert.report import (
        write_assessment_html,
        write_assessment_json,
        write_junit,
    )
    from llmcert.report._assessment import Assessment, StandardInfo

    verdict, counts, explanation = overall
    assessment = Assessment(
        assessment_id=assessment_id,
        started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        command=list(request.command),
        standard=StandardInfo(
            id=spec.id,
            version=spec.version,
            title=spec.title,
            status=spec.status.value,
            digest=digest_json(spec.model_dump(mode="json")),
            source=source,
        ),
        model=identity,
        verdict=verdict,
        summary=counts,
        explanation=explanation,
        requirements=results,
        clauses=ledger,
        environment=environment,
        seed=request.seed,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "assessment.json", out_dir / "assessment.html"
    write_assessment_json(assessment, json_path)
    write_assessment_html(assessment, html_path)
    if request.junit is not None:
        write_junit(assessment, request.junit)
    return AssessOutcome(assessment, json_path, html_path, request.junit)


def assess_sync(request: AssessRequest, **kwargs: Any) -> AssessOutcome:
    return run_sync(assess(request, **kwargs))


__all__ = ["DEFAULT_STANDARD", "AssessOutcome", "AssessRequest", "assess", "assess_sync"]
