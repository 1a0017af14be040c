"""Judging during and after an attack run: answers captured as they arrive, judged in a
worker thread while further calls are in flight; adaptive traces as one record per behaviour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmcert.models import ModelBackend, ModelIdentity
from llmcert.models._types import (
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    Loglikelihoods,
)

if TYPE_CHECKING:
    from llmcert.attacks import (
        AttackCase,
        AttackJudge,
        AttackRecord,
    )
    from llmcert.engine import (
        JournalEntry,
        WorkUnit,
    )
    from llmcert.services.attack._adaptive import Trace

if TYPE_CHECKING:
    from llmcert.services.attack._adaptive import Trace


class Capture:
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


class JudgeAhead:
    """Judges answered units in a worker thread while further calls are in flight, in
    batches, so the end of the run has only the stragglers left to judge."""

    BATCH = 64

    def __init__(
        self, cases: Mapping[str, AttackCase], capture: Capture, judge: AttackJudge
    ) -> None:
        """``cases``: by key, holding each unit by the time its answer is recorded."""
        from concurrent.futures import ThreadPoolExecutor

        self._cases = cases
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


def trace_record(trace: Trace) -> AttackRecord:
    """One record per behaviour: success if any query succeeded, else the last answer's outcome."""
    from llmcert.attacks import AttackRecord, Outcome

    answered = [s for s in trace.steps if s.answered]
    hit = trace.success_at
    n = len(trace.steps)
    if hit is not None:
        step = trace.steps[hit - 1]
        outcome, why = Outcome.SUCCESS, f"broken at query {hit} of {trace.attack.queries}"
    elif answered:
        # not broken: the last answer's judged outcome (decline, harmless or unscorable)
        step = answered[-1]
        outcome = Outcome(step.outcome)
        why = f"not broken in {n} queries; the last answer: {step.outcome}"
    else:
        step = trace.steps[-1]
        outcome = Outcome.UNSCORABLE
        why = f"no answer in {n} queries (the budget went on scoring)"
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
        prefill=step.prefix,
    )


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


def judge_all(
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
