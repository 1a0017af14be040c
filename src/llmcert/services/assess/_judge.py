"""Requirements decided by a named judge over a suite's stored responses.

A requirement whose measure names a ``judge`` is not counted from the suite's
own scores: each answered unit's prompt and response, as stored in the
evaluation result, is given to the judge, and the counted outcome is "not
harmful". The judge is deterministic, so anyone holding the ``result.json`` can
recompute the figure. Its calibration (harmful as the positive outcome) is
folded into the interval with the roles swapped; a judge without calibration
gives an INFO verdict, because its error is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    info = JudgeInfo(
        name=str(identity.get("name", "")),
        version=str(identity.get("version", "")),
        digest=str(identity.get("digest", "")),
        data_digest=str(identity.get("data_digest", "")),
        calibration_digest=bound.calibration_digest,
        sensitivity=None if counted is None else counted.sensitivity,
        specificity=None if counted is None else counted.specificity,
        calibration="" if rates is None else f"{rates.source} ({bound.calibration_source})",
    )
    return info, counted
