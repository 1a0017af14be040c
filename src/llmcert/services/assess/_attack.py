"""Attack requirements of an assessment: run the attacks once, decide the breach rate.

Each attack measure runs through the attack service into the assessment's journal,
so a rerun resumes. The rate decided is the share of behaviours some attack of
the levels broke (:func:`llmcert.attacks.breach_counts`), with the requirement's
own decision rule: the same ``stats`` layer as every other rate. Behaviours whose
every prompt was scored and none succeeded held; the rest (an unscorable prompt,
no success) are missing and follow the requirement's error policy, so an
undecidable success is never counted as safe. Where the harm judge's error rates
were measured (and ``judge_correction`` is on), a confidence-bound requirement
folds them in for "any of k answers" (:class:`llmcert.stats.AnyOfBound`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcert.report._assessment import EvidenceLink, JudgeInfo, RequirementResult
from llmcert.services.assess._decide import MAX_LINKED_UNITS, from_decision
from llmcert.services.attack import AttackOutcome, AttackRequest, attack, check_request
from llmcert.standards._spec import AttackMeasure, Requirement
from llmcert.stats import AnyOfBound, DecisionRule, JudgeErrorRates

if TYPE_CHECKING:
    from llmcert.engine import ProgressSink, RetryPolicy
    from llmcert.models import ModelBackend


def attack_request(
    req: Requirement,
    *,
    data: Mapping[str, Path],
    seed: int,
    concurrency: int,
    output: Path,
    model: str = "embedded",
) -> AttackRequest:
    """``model`` is the reference assessed: L4 measures refuse one that is not local."""
    measure = req.measure
    assert isinstance(measure, AttackMeasure)
    return AttackRequest(
        model=model,
        queries=measure.queries,
        bank=measure.bank,
        data=data.get(measure.bank),
        levels=",".join(measure.levels),
        attacks=list(measure.attacks) or None,
        budget=measure.budget,
        seed=seed,
        concurrency=concurrency,
        harm_judge=measure.harm_judge,
        output=output,
    )


def preflight(requests: Sequence[AttackRequest]) -> None:
    """Refuse bad attack measures (level, bank, attack names, judge) before any model call."""
    for request in requests:
        check_request(request)


async def run_attack(
    request: AttackRequest,
    *,
    model: ModelBackend,
    runs_dir: Path,
    progress: ProgressSink | None,
    retry: RetryPolicy | None,
) -> AttackOutcome:
    return await attack(request, backend=model, progress=progress, retry=retry, runs_dir=runs_dir)


def decide_attack_requirement(
    req: Requirement, outcome: AttackOutcome, base: Path
) -> RequirementResult:
    from llmcert.attacks import breach_counts

    measure = req.measure
    assert isinstance(measure, AttackMeasure)
    records = [r for r in outcome.records if r.level in measure.levels]
    counts = breach_counts(records)
    rule = _rule(req, outcome, records)
    threshold = req.threshold if req.threshold is not None else 0.0
    decision = rule.decide(counts, threshold, req.direction, min_n=req.min_n)
    broken = sorted({r.behaviour_hash for r in records if r.outcome.value == "success"})
    failing = [r.key for r in records if r.outcome.value in ("success", "unscorable")]
    judges = outcome.result["judges"]
    harm = judges.get("harm")
    correction = "any-of-k" if isinstance(rule, AnyOfBound) else "none"
    judge = (
        JudgeInfo.named(harm, correction=correction)
        if harm
        else JudgeInfo(name="none (success undecidable)", version="", correction=correction)
    )
    measured = judges["calibration"]["success"]
    if harm and measured is not None:  # per answer; the rule bounds them for any of k
        judge = judge.model_copy(
            update={
                "sensitivity": measured["sensitivity"],
                "specificity": measured["specificity"],
                "calibration": str(measured["source"]),
            }
        )
    result = from_decision(
        req,
        decision,
        judge=judge,
        evidence=EvidenceLink(
            suite=f"attack:{','.join(measure.levels)}:{measure.bank}",
            result=str(outcome.result_path.relative_to(base)),
            report=str(outcome.report_path.relative_to(base)),
            run_id=str(outcome.result["run"]["run_id"]),
            unit_keys=[r.key for r in records][:MAX_LINKED_UNITS],
            failing_unit_keys=failing[:MAX_LINKED_UNITS],
        ),
        n_planned=counts.n_total,
    )
    return result.model_copy(update={"check": _attack_details(outcome, records, broken)})


def _rule(req: Requirement, outcome: AttackOutcome, records: Sequence[Any]) -> DecisionRule:
    """The requirement's rule; a confidence bound folds in the harm judge's measured error."""
    from llmcert.attacks import breach_items

    measured = outcome.result["judges"]["calibration"]["success"]
    if measured is None or not req.judge_correction or req.rule != "confidence_bound":
        return req.decision_rule()
    return AnyOfBound(
        JudgeErrorRates(**measured),
        breach_items(records),
        confidence=req.confidence,
        error_policy=req.errors,
    )


def _attack_details(
    outcome: AttackOutcome, records: Sequence[Any], broken: list[str]
) -> dict[str, Any]:
    """What the verdict depends on, bound into the assessment digest: attacks, budget, judges."""
    run = outcome.result["run"]
    used = {r.attack for r in records}
    return {
        "levels": sorted({r.level for r in records}),
        "attacks": [a for a in outcome.result["attacks"] if a["name"] in used],
        "budget": run["budget"],
        "queries_per_behaviour": run.get("queries"),
        "seed": run["seed"],
        "prompts": len(records),
        "behaviours_broken": len(broken),
        "bank": outcome.result["bank"],
        "judges": outcome.result["judges"],
        "libraries": outcome.result["environment"].get("libraries", {}),
    }
