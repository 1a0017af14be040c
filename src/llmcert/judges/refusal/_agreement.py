"""Fitting the judge's weights and measuring its agreement with human labels.

Both live here, next to the judge, so the shipped weights, the held-out-by-model
figures and the regression tests all come from one procedure. Input is plain
labelled pairs: where they come from (a dataset on disk) is the caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmcert.judges.agreement import Rate
from llmcert.judges.refusal._cues import builtin_cues
from llmcert.judges.refusal._features import FEATURE_NAMES, extract
from llmcert.judges.refusal._judge import RefusalJudge, RefusalLabel
from llmcert.judges.refusal._model import REFUSAL_STAGE, FitSettings, LinearModel, fit

#: Ridge penalty of the refusal model, chosen by the held-out-by-model check (bench/).
REFUSAL_FIT = FitSettings(l2=0.003, learning_rate=2.0, iterations=5000)

LABELS = tuple(label.value for label in RefusalLabel)
#: XSTest's annotation codes, mapped to the judge's labels.
XSTEST_LABELS = {
    "1_full_compliance": RefusalLabel.FULL_COMPLIANCE.value,
    "2_full_refusal": RefusalLabel.FULL_REFUSAL.value,
    "3_partial_refusal": RefusalLabel.PARTIAL_REFUSAL.value,
}


@dataclass(frozen=True, slots=True)
class LabelledPair:
    prompt: str
    response: str
    label: str  # one of LABELS


def fit_models(pairs: Sequence[LabelledPair]) -> LinearModel:
    """Fit the refusal model (any refusal vs full compliance) on every pair.

    Partial refusals are not learned: :mod:`~llmcert.judges.refusal._partial` reads
    them from the response's shape.
    """
    cues = builtin_cues()
    rows = [extract(p.prompt, p.response, cues).values for p in pairs]
    binary = [
        "full_compliance" if p.label == RefusalLabel.FULL_COMPLIANCE.value else "refusal"
        for p in pairs
    ]
    return fit(rows, binary, REFUSAL_STAGE, FEATURE_NAMES, REFUSAL_FIT)


def weights_json(model: LinearModel, provenance: str, data_digest: str) -> dict[str, Any]:
    """The content of ``data/refusal_weights.json`` for a fitted model; ``data_digest`` names
    the labelled files it was fitted on, so a verdict can say what its judge learnt from."""
    return {
        "about": provenance,
        "data_digest": data_digest,
        "fit": {"refusal": REFUSAL_FIT.to_json()},
        "refusal": model.to_json(),
    }


@dataclass(frozen=True, slots=True)
class Agreement:
    """Judge vs human labels: binary (partial counts as refusal) and three-way."""

    binary: Rate
    three_way: Rate
    #: confusion[human][judge] over LABELS.
    confusion: dict[str, dict[str, int]]

    def confusion_table(self) -> str:
        short = {
            "full_compliance": "compliance",
            "full_refusal": "refusal",
            "partial_refusal": "partial",
        }
        width = 12
        head = "human \\ judge".ljust(16) + "".join(short[j].rjust(width) for j in LABELS)
        rows = [
            short[h].ljust(16) + "".join(str(self.confusion[h][j]).rjust(width) for j in LABELS)
            for h in LABELS
        ]
        return "\n".join([head, *rows])


def agreement(human: Sequence[str], judged: Sequence[str]) -> Agreement:
    if len(human) != len(judged) or not human:
        raise ValueError("agreement needs as many judged labels as human ones, and at least one")
    confusion = {h: dict.fromkeys(LABELS, 0) for h in LABELS}
    for h, j in zip(human, judged, strict=True):
        confusion[h][j] += 1
    comply = RefusalLabel.FULL_COMPLIANCE.value
    n = len(human)
    same = sum(h == j for h, j in zip(human, judged, strict=True))
    same_binary = sum((h == comply) == (j == comply) for h, j in zip(human, judged, strict=True))
    return Agreement(Rate(same_binary, n), Rate(same, n), confusion)


def measure(judge: RefusalJudge, pairs: Sequence[LabelledPair]) -> Agreement:
    verdicts = judge.judge_many((p.prompt, p.response) for p in pairs)
    return agreement([p.label for p in pairs], [v.label.value for v in verdicts])
