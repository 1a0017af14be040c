"""Logistic models over the judge's features: prediction and fitting.

The judge's one learned decision is *refusal* (any refusal vs full compliance), a
small logistic model; whether a refusal is partial is read from the response's
shape by a rule (:mod:`~llmcert.judges.refusal._partial`), so the compliance/refusal
boundary, the one standards count, is not pulled around by the rare and noisily
labelled partial class, and partial refusals are not learned from two models' styles.

Prediction is plain Python over a few dozen numbers, so judging needs no numpy
and starts at once. Fitting (numpy, imported inside :func:`fit`) is ridge-
penalised multinomial logistic regression by full-batch gradient descent: small,
deterministic, and the same code fits the shipped weights and the held-out-by-model
checks, so the published agreement figures come from the procedure that is shipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Classes of the refusal model, in weight-vector order.
REFUSAL_STAGE = ("full_compliance", "refusal")


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Per-class bias and per-feature weights (one row per feature, one column per label)."""

    labels: tuple[str, ...]
    features: tuple[str, ...]
    bias: tuple[float, ...]
    weights: tuple[tuple[float, ...], ...]

    def probabilities(self, x: Sequence[float]) -> tuple[float, ...]:
        if len(x) != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {len(x)}")
        logits = list(self.bias)
        for value, row in zip(x, self.weights, strict=True):
            if value:
                for k, w in enumerate(row):
                    logits[k] += value * w
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return tuple(e / total for e in exps)

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "features": list(self.features),
            "bias": [round(b, 6) for b in self.bias],
            "weights": {
                name: [round(w, 6) for w in row]
                for name, row in zip(self.features, self.weights, strict=True)
            },
        }

    @classmethod
    def from_json(
        cls, raw: dict[str, Any], labels: Sequence[str], features: Sequence[str]
    ) -> LinearModel:
        """Read weights, checking they were fitted on exactly these features and labels."""
        if list(raw.get("labels", ())) != list(labels):
            raise ValueError(f"weights must be for labels {list(labels)}")
        if list(raw.get("features", ())) != list(features):
            raise ValueError("weights were fitted on other features than the judge computes")
        table = raw["weights"]
        rows = tuple(tuple(float(w) for w in table[name]) for name in features)
        bias = tuple(float(b) for b in raw["bias"])
        if len(bias) != len(labels) or any(len(r) != len(labels) for r in rows):
            raise ValueError("every weight vector must have one entry per label")
        return cls(tuple(labels), tuple(features), bias, rows)


@dataclass(frozen=True, slots=True)
class FitSettings:
    """How weights are fitted; recorded beside the weights they produced."""

    l2: float = 0.01
    learning_rate: float = 0.5
    iterations: int = 4000

    def to_json(self) -> dict[str, float | int]:
        return {"l2": self.l2, "learning_rate": self.learning_rate, "iterations": self.iterations}


def fit(
    rows: Sequence[Sequence[float]],
    labels: Sequence[str],
    classes: Sequence[str],
    features: Sequence[str],
    settings: FitSettings = FitSettings(),
) -> LinearModel:
    """Fit a model to feature rows and their human labels (each one of ``classes``)."""
    import numpy as np

    if not rows or len(rows) != len(labels):
        raise ValueError("fit needs as many labels as feature rows, and at least one")
    x = np.asarray(rows, dtype=np.float64)
    y = np.zeros((len(labels), len(classes)))
    for i, label in enumerate(labels):
        y[i, list(classes).index(label)] = 1.0
    n, d = x.shape
    w = np.zeros((d, len(classes)))
    b = np.zeros(len(classes))
    for _ in range(settings.iterations):
        logits = x @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        err = (p - y) / n
        w -= settings.learning_rate * (x.T @ err + settings.l2 * w)
        b -= settings.learning_rate * err.sum(axis=0)
    return LinearModel(
        tuple(classes),
        tuple(features),
        tuple(float(v) for v in b),
        tuple(tuple(float(v) for v in row) for row in w),
    )
