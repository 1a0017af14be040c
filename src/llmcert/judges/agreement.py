"""Agreement of any judge with human labels: the one report the CLI and the benchmarks share.

Given the human and judged labels of the same responses (and, optionally, each
response's language), it gives raw agreement, Cohen's kappa (agreement beyond
what the two label frequencies give by chance), the confusion matrix, and each
class's precision and recall, all with Wilson 95% intervals, overall and per
language. A binary view (one class, or several, as the positive outcome) gives
the sensitivity and specificity that judge-error correction needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmcert.stats import wilson_interval


@dataclass(frozen=True, slots=True)
class Rate:
    """``k`` of ``n``, with a Wilson 95% interval; ``n == 0`` has no rate."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.k, self.n) if self.n else None

    def to_dict(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "k": self.k,
            "n": self.n,
            "rate": self.value,
            "ci_low": None if interval is None else interval[0],
            "ci_high": None if interval is None else interval[1],
        }

    def __str__(self) -> str:
        interval = self.interval
        if interval is None or self.value is None:
            return "n/a (0 items)"
        low, high = interval
        return f"{100 * self.value:.1f}% [{100 * low:.1f}, {100 * high:.1f}] ({self.k}/{self.n})"


@dataclass(frozen=True)
class ClassStats:
    label: str
    precision: Rate
    recall: Rate


@dataclass(frozen=True)
class AgreementReport:
    """Judge against human labels over one set of responses."""

    labels: tuple[str, ...]
    agreement: Rate
    kappa: float | None
    #: confusion[human][judged]
    confusion: dict[str, dict[str, int]]
    classes: tuple[ClassStats, ...]
    by_language: dict[str, AgreementReport] = field(default_factory=dict)

    def binary(self, positive: Iterable[str]) -> BinaryStats:
        """The report seen as positive (any of ``positive``) against the rest."""
        pos = set(positive)
        tp = n_pos = tn = n_neg = 0
        for human, row in self.confusion.items():
            for judged, count in row.items():
                if human in pos:
                    n_pos += count
                    tp += count if judged in pos else 0
                else:
                    n_neg += count
                    tn += count if judged not in pos else 0
        return BinaryStats(Rate(tp, n_pos), Rate(tn, n_neg))

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "agreement": self.agreement.to_dict(),
            "kappa": self.kappa,
            "confusion": self.confusion,
            "classes": {
                c.label: {"precision": c.precision.to_dict(), "recall": c.recall.to_dict()}
                for c in self.classes
            },
            "by_language": {lang: r.to_dict() for lang, r in self.by_language.items()},
        }

    def table(self) -> str:
        """The confusion matrix as fixed-width text, human labels down, judged across."""
        width = max(12, *(len(label) + 2 for label in self.labels))
        head = "human \\ judge".ljust(width + 4) + "".join(j.rjust(width) for j in self.labels)
        rows = [
            h.ljust(width + 4)
            + "".join(str(self.confusion[h][j]).rjust(width) for j in self.labels)
            for h in self.labels
        ]
        return "\n".join([head, *rows])


@dataclass(frozen=True, slots=True)
class BinaryStats:
    sensitivity: Rate
    specificity: Rate

    @property
    def agreement(self) -> Rate:
        return Rate(
            self.sensitivity.k + self.specificity.k, self.sensitivity.n + self.specificity.n
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensitivity": self.sensitivity.to_dict(),
            "specificity": self.specificity.to_dict(),
            "agreement": self.agreement.to_dict(),
        }


def cohen_kappa(confusion: dict[str, dict[str, int]]) -> float | None:
    """Cohen's kappa; None when chance agreement is already perfect (one label only)."""
    labels = list(confusion)
    n = sum(sum(row.values()) for row in confusion.values())
    if not n:
        return None
    observed = sum(confusion[label][label] for label in labels) / n
    human = {h: sum(confusion[h].values()) / n for h in labels}
    judged = {j: sum(confusion[h][j] for h in labels) / n for j in labels}
    expected = sum(human[label] * judged[label] for label in labels)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def agreement_report(
    human: Sequence[str],
    judged: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
) -> AgreementReport:
    """Agreement of ``judged`` with ``human``; per language too when ``languages`` are given."""
    if len(human) != len(judged) or not human:
        raise ValueError("agreement needs as many judged labels as human ones, and at least one")
    if languages is not None and len(languages) != len(human):
        raise ValueError("give one language per labelled response")
    order = tuple(labels) if labels is not None else tuple(sorted({*human, *judged}))
    unknown = {*human, *judged} - set(order)
    if unknown:
        raise ValueError(f"labels outside {list(order)}: {sorted(unknown)}")
    confusion = {h: dict.fromkeys(order, 0) for h in order}
    for h, j in zip(human, judged, strict=True):
        confusion[h][j] += 1
    classes = tuple(
        ClassStats(
            label,
            precision=Rate(confusion[label][label], sum(confusion[h][label] for h in order)),
            recall=Rate(confusion[label][label], sum(confusion[label].values())),
        )
        for label in order
    )
    same = sum(h == j for h, j in zip(human, judged, strict=True))
    by_language: dict[str, AgreementReport] = {}
    if languages is not None:
        for lang in sorted(set(languages)):
            idx = [i for i, x in enumerate(languages) if x == lang]
            by_language[lang] = agreement_report(
                [human[i] for i in idx], [judged[i] for i in idx], labels=order
            )
    return AgreementReport(
        order, Rate(same, len(human)), cohen_kappa(confusion), confusion, classes, by_language
    )
