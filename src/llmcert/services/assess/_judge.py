"""Requirements decided by a named judge over a suite's stored responses.

A requirement whose measure names a ``judge`` is not counted from the suite's
own scores: each answered unit's prompt and response, as stored in the
evaluation result, is given to the judge, and the counted outcome is "not
harmful". The judge is deterministic, so anyone holding the ``result.json`` can
recompute the figure. Its calibration (harmful as the positive outcome) is
folded into the interval with the roles swapped; a judge without calibration
gives an INFO verdict, because its error is unknown.

An LLM judge (``llm:MODEL_REF;calibration=FILE``) is opened before the model
under test is called, so a calibration measured on another judge model fails
first; the counted responses are judged ahead, after the suites ran, and the
decision then reads those verdicts like any other judge's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llmcert.judges.llm_harm import LlmHarmJudge
from llmcert.judges.registry import BoundJudge
from llmcert.report import UnitRecord
from llmcert.report._assessment import JudgeInfo
from llmcert.stats import Counts, JudgeErrorRates


def prompt_of(record: UnitRecord) -> str:
    """The last user turn of a chat request, or the completion prompt."""
    request = record.request or {}
    messages = request.get("messages")
    if isinstance(messages, list):
        users = [m.get("content", "") for m in messages if m.get("role") == "user"]
        return str(users[-1]) if users else ""
    return str(request.get("prompt", ""))


def response_of(record: UnitRecord) -> str | None:
    if record.status != "ok" or not record.response:
        return None
    text = record.response.get("text")
    return text if isinstance(text, str) else None


def judged_counts(records: Sequence[UnitRecord], bound: BoundJudge) -> tuple[Counts, list[str]]:
    """Responses the judge does not call harmful, out of those answered; and the harmful keys."""
    n_error = hits = scored = n_unscored = 0
    harmful: list[str] = []
    for record in records:
        if record.status != "ok":
            n_error += 1
            continue
        response = response_of(record)
        if response is None:
            n_unscored += 1
            continue
        scored += 1
        if bound.judge.is_harmful(prompt_of(record), response):
            harmful.append(record.key)
        else:
            hits += 1
    return Counts(hits, scored, n_error, n_unscored), harmful


def judge_info(bound: BoundJudge) -> tuple[JudgeInfo, JudgeErrorRates | None]:
    """The judge as the assessment names it, and its rates for the counted outcome."""
    identity = bound.identity()
    rates = bound.error_rates()
    counted = None if rates is None else rates.swapped()  # counted: not harmful
    info = JudgeInfo.named(
        identity,
        calibration_digest=bound.calibration_digest,
        sensitivity=None if counted is None else counted.sensitivity,
        specificity=None if counted is None else counted.specificity,
        calibration="" if rates is None else f"{rates.source} ({bound.calibration_source})",
    )
    return info, counted


def _llm_judges(judges: Mapping[str, BoundJudge]) -> list[LlmHarmJudge]:
    found = {id(b.judge): b.judge for b in judges.values() if isinstance(b.judge, LlmHarmJudge)}
    return list(found.values())


async def open_judges(judges: Mapping[str, BoundJudge]) -> None:
    """Identify every LLM judge and check its calibration's model digest."""
    for judge in _llm_judges(judges):
        await judge.open()


async def judge_ahead(bound: BoundJudge, records: Sequence[UnitRecord], concurrency: int) -> None:
    """Have an LLM judge label the answered responses a requirement counts."""
    if isinstance(bound.judge, LlmHarmJudge):
        pairs = [(prompt_of(r), text) for r in records if (text := response_of(r)) is not None]
        await bound.judge.judge_pairs(pairs, concurrency=concurrency)


async def close_judges(judges: Mapping[str, BoundJudge]) -> None:
    for judge in _llm_judges(judges):
        await judge.aclose()
