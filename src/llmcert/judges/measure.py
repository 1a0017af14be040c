"""Measuring a judge on human labels: reading the labelled set, judging it, and
writing what was measured as agreement figures or a calibration file.

The labelled set is a JSONL or CSV table with ``prompt``, ``response`` and
``label`` columns, and optionally ``language`` (``en``/``zh``; detected from the
response when absent) and ``source`` (the model or dataset a row came from).
Harm labels may be written as ``harmful``/``not_harmful``/``refusal`` or in the
usual binary spellings (``unsafe``/``safe``, ``1``/``0``, ``yes``/``no``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcert.errors import SpecError
from llmcert.judges._calfile import (
    BETWEEN_SOURCE_BASIS,
    FORMAT,
    between_source_figures,
    counts_json,
)
from llmcert.judges._table import read_table
from llmcert.judges.agreement import AgreementReport, BinaryStats, agreement_report
from llmcert.judges.refusal._cues import is_chinese, normalize

HARM_LABELS = ("harmful", "not_harmful", "refusal")
REFUSAL_LABELS = ("full_compliance", "full_refusal", "partial_refusal")
_HARM_SPELLINGS = {
    "harmful": "harmful",
    "unsafe": "harmful",
    "1": "harmful",
    "yes": "harmful",
    "true": "harmful",
    "jailbroken": "harmful",
    "not_harmful": "not_harmful",
    "harmless": "not_harmful",
    "safe": "not_harmful",
    "0": "not_harmful",
    "no": "not_harmful",
    "false": "not_harmful",
    "refusal": "refusal",
}
_REFUSAL_SPELLINGS = {
    "full_compliance": "full_compliance",
    "1_full_compliance": "full_compliance",
    "compliance": "full_compliance",
    "full_refusal": "full_refusal",
    "2_full_refusal": "full_refusal",
    "refusal": "full_refusal",
    "partial_refusal": "partial_refusal",
    "3_partial_refusal": "partial_refusal",
    "partial": "partial_refusal",
}


@dataclass(frozen=True, slots=True)
class LabelledRow:
    prompt: str
    response: str
    label: str
    language: str
    source: str


def task_of(judge: str, rubric: str = "") -> str:
    """``refusal`` for the refusal judge or an LLM judge under a refusal rubric, else ``harm``."""
    if judge in ("llmcert-refusal", "llmcert-harm"):
        return "refusal" if judge == "llmcert-refusal" else "harm"
    return "refusal" if Path(rubric).name.startswith("refusal") else "harm"


def read_labelled(path: Path, task: str) -> list[LabelledRow]:
    """Read and check a labelled set; an unknown label names its line."""
    table = read_table(path)
    spellings = _REFUSAL_SPELLINGS if task == "refusal" else _HARM_SPELLINGS
    rows: list[LabelledRow] = []
    for number, row in enumerate(table.rows, start=1):
        raw = str(row.get("label", "")).strip().lower()
        if "label" not in row:
            raise SpecError("missing column 'label'", path=path, line=number, field="label")
        if not raw:
            raise SpecError(
                "empty label: every row needs a human label before a judge is measured on it",
                path=path,
                line=number,
                field="label",
            )
        if raw not in spellings:
            raise SpecError(
                f"unknown {task} label {raw!r} (use one of {', '.join(sorted(set(spellings)))})",
                path=path,
                line=number,
                field="label",
            )
        language = str(row.get("language") or "").strip().lower()
        if not language:
            language = "zh" if is_chinese(normalize(row["response"] or row["prompt"])) else "en"
        rows.append(
            LabelledRow(
                row["prompt"], row["response"], spellings[raw], language, str(row.get("source", ""))
            )
        )
    if not rows:
        raise SpecError("no labelled rows", path=path)
    return rows


def is_binary(rows: Sequence[LabelledRow], task: str) -> bool:
    """A harm set without any ``refusal`` label is binary: the judge's refusals then
    count as not harmful."""
    return task == "harm" and not any(r.label == "refusal" for r in rows)


def compare(
    rows: Sequence[LabelledRow], judged: Sequence[str], task: str
) -> tuple[AgreementReport, BinaryStats]:
    """Agreement report (per language too) and the binary view a calibration uses."""
    human = [r.label for r in rows]
    order: tuple[str, ...]
    positive: tuple[str, ...]
    if task == "refusal":
        order, positive = REFUSAL_LABELS, ("full_refusal", "partial_refusal")
    else:
        binary = is_binary(rows, task)
        order = ("harmful", "not_harmful") if binary else HARM_LABELS
        positive = ("harmful",)
        if binary:
            judged = ["not_harmful" if j == "refusal" else j for j in judged]
    report = agreement_report(human, judged, labels=order, languages=[r.language for r in rows])
    return report, report.binary(positive)


def calibration_content(
    identity: dict[str, Any],
    stats: BinaryStats,
    task: str,
    data: str,
    *,
    by_source: dict[str, BinaryStats] | None = None,
) -> dict[str, Any]:
    """A calibration file's content (format ``FORMAT``) from measured counts."""
    positive, negative = (
        ("refusal (full or partial)", "full compliance")
        if task == "refusal"
        else ("harmful compliance", "not harmful (a refusal or harmless content)")
    )

    if not stats.sensitivity.n or not stats.specificity.n:
        raise SpecError(
            "calibration needs human-labelled positives and negatives "
            f"(got {stats.sensitivity.n} {positive} and {stats.specificity.n} {negative})"
        )
    per_source = {k: counts_json(v) for k, v in (by_source or {}).items()}
    between = between_source_figures(per_source)
    return {
        "format": FORMAT,
        "judge": identity,
        "positive": positive,
        "negative": negative,
        "method": "every labelled response judged once; counts of agreement with the human label",
        "data": data,
        "counts": counts_json(stats),
        "basis": BETWEEN_SOURCE_BASIS if between else "pooled counts (one source)",
        "pooled": counts_json(stats),
        "by_source": per_source,
        "between_source": between,
        "sensitivity": stats.sensitivity.value,
        "specificity": stats.specificity.value,
        "provenance": "Measured by llmcert judge calibrate; counts only, no text.",
    }


def offline_labels(judge: str, rows: Sequence[LabelledRow]) -> tuple[list[str], dict[str, Any]]:
    """Labels of a built-in offline judge, and its identity."""
    if judge == "llmcert-harm":
        from llmcert.judges.harm import HarmJudge

        harm = HarmJudge()
        return [harm.judge(r.prompt, r.response).label.value for r in rows], harm.identity()
    if judge == "llmcert-refusal":
        from llmcert.judges.refusal import RefusalJudge

        refusal = RefusalJudge()
        labels = [refusal.judge(r.prompt, r.response).label.value for r in rows]
        return labels, refusal.identity()
    raise SpecError(f"unknown offline judge {judge!r} (built in: llmcert-harm, llmcert-refusal)")


def llm_labels(verdicts: Sequence[Any], rows: Sequence[LabelledRow], task: str) -> list[str]:
    """An LLM judge's verdicts as labels of the task. An answer the rubric could not
    parse (or a failed call) is counted as the wrong label, never guessed right."""
    out: list[str] = []
    for verdict, row in zip(verdicts, rows, strict=True):
        if not verdict.parsed:
            if task == "refusal":
                out.append("full_compliance" if row.label != "full_compliance" else "full_refusal")
            else:
                out.append("not_harmful" if row.label == "harmful" else "harmful")
        elif task == "refusal":
            label = verdict.label if verdict.label in REFUSAL_LABELS else None
            if label is None:
                label = "full_refusal" if verdict.positive else "full_compliance"
            out.append(label)
        elif verdict.label in HARM_LABELS:
            out.append(verdict.label)
        else:
            out.append("harmful" if verdict.positive else "not_harmful")
    return out
