"""How often the shipped refusal judge errs, as rates a decision rule can correct for.

The binary task is refusal (full or partial) against full compliance. Sensitivity
is the share of human-labelled refusals the judge calls a refusal; specificity the
share of human-labelled compliances it calls compliance. They are measured held
out by model: for each model in the labelled set, weights fitted on the other
models' responses judge this one's, and the counts are pooled. The shipped judge
was fitted on every model, so these rates describe how it does on a model it has
not seen, which is the case in use.

``data/refusal_calibration.json`` holds the counts, written by
``bench/refusal_judge_agreement.py --write-calibration``. It names the judge's
digest: rates measured for other weights or another lexicon are refused, never
applied to the wrong judge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from llmcert.errors import SpecError
from llmcert.judges.refusal._agreement import (
    Agreement,
    LabelledPair,
    agreement,
    fit_models,
)
from llmcert.judges.refusal._judge import RefusalJudge, RefusalLabel
from llmcert.stats import JudgeErrorRates

CALIBRATION_FILE = "refusal_calibration.json"
#: Bump when the layout of the calibration file changes.
FORMAT = 1
_COMPLY = RefusalLabel.FULL_COMPLIANCE.value


@dataclass(frozen=True, slots=True)
class BinaryCounts:
    """Judge against human labels, refusal counted as the positive outcome."""

    true_positives: int
    n_positive: int
    true_negatives: int
    n_negative: int

    @classmethod
    def from_agreement(cls, result: Agreement) -> BinaryCounts:
        tp = n_pos = tn = n_neg = 0
        for human, row in result.confusion.items():
            for judged, count in row.items():
                if human == _COMPLY:
                    n_neg += count
                    tn += count if judged == _COMPLY else 0
                else:
                    n_pos += count
                    tp += count if judged != _COMPLY else 0
        return cls(tp, n_pos, tn, n_neg)

    def to_json(self) -> dict[str, int]:
        return {
            "true_positives": self.true_positives,
            "n_positive": self.n_positive,
            "true_negatives": self.true_negatives,
            "n_negative": self.n_negative,
        }


@dataclass(frozen=True, slots=True)
class HeldOut:
    """Agreement per judged model (weights fitted on the other models), and pooled."""

    by_model: dict[str, Agreement]
    pooled: Agreement


def held_out_by_model(pairs: Mapping[str, Sequence[LabelledPair]]) -> HeldOut:
    """Judge each model's pairs with weights fitted on all the other models' pairs."""
    if len(pairs) < 2:
        raise ValueError("holding out by model needs labelled pairs from at least two models")
    by_model: dict[str, Agreement] = {}
    human: list[str] = []
    judged: list[str] = []
    for model, test in pairs.items():
        train = [p for other, ps in pairs.items() if other != model for p in ps]
        judge = RefusalJudge(fit_models(train))
        truth = [p.label for p in test]
        labels = [v.label.value for v in judge.judge_many((p.prompt, p.response) for p in test)]
        by_model[model] = agreement(truth, labels)
        human += truth
        judged += labels
    return HeldOut(by_model, agreement(human, judged))


def calibration_json(held_out: HeldOut, data: str) -> dict[str, Any]:
    """The content of ``data/refusal_calibration.json`` for the shipped judge."""
    judge = RefusalJudge()
    counts = BinaryCounts.from_agreement(held_out.pooled)
    models = ", ".join(held_out.by_model)
    return {
        "format": FORMAT,
        "judge": judge.identity(),
        "positive": "refusal (full or partial)",
        "negative": "full compliance",
        "method": (
            "held out by model: each model's responses judged by weights fitted on the other "
            "models' responses, counts pooled"
        ),
        "data": data,
        "counts": counts.to_json(),
        "sensitivity": counts.true_positives / counts.n_positive,
        "specificity": counts.true_negatives / counts.n_negative,
        "by_model": {
            model: BinaryCounts.from_agreement(result).to_json()
            for model, result in held_out.by_model.items()
        },
        "provenance": (
            f"Measured by bench/refusal_judge_agreement.py --write-calibration on the human "
            f"labels of {data} (models: {models}) for {judge.ident}; counts only, no text."
        ),
    }


def _load() -> tuple[str, dict[str, Any]]:
    resource = resources.files("llmcert.judges").joinpath("data").joinpath(CALIBRATION_FILE)
    where = str(resource)
    try:
        raw = json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(f"cannot read the refusal judge's calibration: {exc}", path=where) from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise SpecError(f"expected a calibration file of format {FORMAT}", path=where)
    return where, raw


def refusal_judge_error_rates() -> JudgeErrorRates:
    """The shipped refusal judge's held-out rates (refusal as the positive outcome).

    Raises SpecError when the file was measured for a judge other than the shipped
    one (its digest differs): re-run the bench with ``--write-calibration``.
    """
    where, raw = _load()
    judge = RefusalJudge()
    stored = raw.get("judge", {})
    if not isinstance(stored, dict) or stored.get("digest") != judge.digest:
        found = stored.get("digest") if isinstance(stored, dict) else None
        raise SpecError(
            f"the calibration was measured for judge data {found!r}, but the shipped judge "
            f"{judge.ident} has {judge.digest!r}; re-measure it with "
            "bench/refusal_judge_agreement.py --write-calibration",
            path=where,
            field="judge.digest",
        )
    try:
        c = raw["counts"]
        source = f"{judge.ident}: {raw['method']}, on {raw['data']}"
        return JudgeErrorRates.from_counts(
            int(c["true_positives"]),
            int(c["n_positive"]),
            int(c["true_negatives"]),
            int(c["n_negative"]),
            source,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"malformed calibration counts: {exc}", path=where, field="counts") from exc


__all__ = [
    "CALIBRATION_FILE",
    "BinaryCounts",
    "HeldOut",
    "calibration_json",
    "held_out_by_model",
    "refusal_judge_error_rates",
]
