"""Calibration files: a judge's measured error against human labels, bound to the judge.

A calibration file names the judge it was measured for (name, version, digest —
for an LLM judge also the model identity digest, the rubric digest and the
decoding settings) and holds counts, never text: the human-labelled positives
and negatives, and how many of each the judge got right. It is validated on
reading, and its rates are refused for any judge whose identity differs, so an
error rate is never applied to a judge it was not measured on. The file's own
digest is what an assessment records as the judge's calibration.

Shared by every judge's calibration; :mod:`llmcert.judges.calibration` is the
public face.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmcert._hashing import digest_bytes
from llmcert.errors import SpecError
from llmcert.judges.agreement import BinaryStats
from llmcert.stats import JudgeErrorRates

FORMAT = 1


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    true_positives: int = Field(ge=0)
    n_positive: int = Field(ge=0)
    true_negatives: int = Field(ge=0)
    n_negative: int = Field(ge=0)

    @model_validator(mode="after")
    def _within(self) -> Counts:
        if self.true_positives > self.n_positive or self.true_negatives > self.n_negative:
            raise ValueError("correct counts cannot exceed the number of items")
        return self


class JudgeIdentity(BaseModel):
    """Who was calibrated; every field present must match the judge in use."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    version: str = ""
    digest: str = Field(min_length=1, description="digest of the judge's data or configuration")
    data_digest: str = ""
    model_digest: str = Field("", description="for an LLM judge: the model identity digest")
    rubric_digest: str = ""
    decoding: dict[str, Any] = Field(default_factory=dict)


class CalibrationFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int
    judge: JudgeIdentity
    positive: str = Field(min_length=1)
    negative: str = Field(min_length=1)
    method: str = Field(min_length=1)
    data: str = Field(min_length=1, description="what the human labels were")
    counts: Counts = Field(description="the counts the correction uses")
    basis: str = Field("", description="how ``counts`` were chosen among the sources")
    pooled: Counts | None = None
    by_source: dict[str, Counts] = Field(default_factory=dict)
    sensitivity: float | None = None
    specificity: float | None = None
    provenance: str = ""

    @model_validator(mode="after")
    def _format(self) -> CalibrationFile:
        if self.format != FORMAT:
            raise ValueError(f"expected format {FORMAT}, got {self.format}")
        if not self.counts.n_positive or not self.counts.n_negative:
            raise ValueError("counts need at least one labelled positive and one negative")
        rates = self.counts
        if rates.true_positives / rates.n_positive + rates.true_negatives / rates.n_negative <= 1:
            raise ValueError("sensitivity + specificity ≤ 1: the judge says nothing")
        return self

    def error_rates(self) -> JudgeErrorRates:
        c = self.counts
        source = f"{self.judge.name}@{self.judge.version}: {self.method}, on {self.data}"
        return JudgeErrorRates.from_counts(
            c.true_positives, c.n_positive, c.true_negatives, c.n_negative, source
        )


def read_calibration(raw: bytes, where: str | Path) -> tuple[CalibrationFile, str]:
    """Validate a calibration file; returns it with the digest of its bytes."""
    try:
        data = json.loads(raw.decode("utf-8"))
        parsed = CalibrationFile.model_validate(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"not a JSON calibration file: {exc}", path=where) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise SpecError(f"invalid calibration: {first['msg']}", path=where, field=field) from exc
    return parsed, digest_bytes(raw)


_IDENTITY_PARTS = {
    "model_digest": "model identity digest (model_digest)",
    "rubric_digest": "rubric digest (rubric_digest)",
    "decoding": "decoding settings (decoding)",
}


def check_bound(cal: CalibrationFile, identity: Mapping[str, Any], where: str | Path) -> None:
    """Refuse a calibration measured for another judge (any identity field that differs).

    The overall ``digest`` is compared last, so the error names the part that differs.
    """
    stored = cal.judge.model_dump()
    for key in sorted(identity, key=lambda k: k == "digest"):
        value = identity[key]
        if key in stored and stored[key] != value:
            what = _IDENTITY_PARTS.get(key, key)
            raise SpecError(
                f"the calibration was measured for a judge with {what} {stored[key]!r}, "
                f"but this judge has {value!r}; re-measure it",
                path=where,
                field=f"judge.{key}",
            )


def counts_json(stats: BinaryStats) -> dict[str, int]:
    return {
        "true_positives": stats.sensitivity.k,
        "n_positive": stats.sensitivity.n,
        "true_negatives": stats.specificity.k,
        "n_negative": stats.specificity.n,
    }


def _informative(counts: Mapping[str, int]) -> bool:
    return (
        counts["true_positives"] / counts["n_positive"]
        + counts["true_negatives"] / counts["n_negative"]
        > 1.0
    )


def held_out_calibration(
    identity: Mapping[str, Any],
    by_source: Mapping[str, BinaryStats],
    *,
    positive: str,
    negative: str,
    method: str,
    provenance: str,
    min_class: int = 50,
) -> dict[str, Any]:
    """A calibration from held-out counts per source.

    Judges do worse on a style they have not seen, and a pooled interval is narrow
    exactly where that variation hides; so the counts the correction uses are the
    worst held-out source's, for sensitivity and specificity separately (among
    sources with at least ``min_class`` items of the class). When even that pair
    says nothing (sensitivity + specificity ≤ 1: on some source the judge is no
    better than chance), the pooled counts over every source are used instead,
    and ``basis`` says so. Pooled and per-source counts are always kept.
    """
    sens = [s.sensitivity for s in by_source.values() if s.sensitivity.n >= min_class]
    spec = [s.specificity for s in by_source.values() if s.specificity.n >= min_class]
    if not sens or not spec:
        raise ValueError(f"no source has {min_class} positives and another {min_class} negatives")
    worst_se = min(sens, key=lambda r: (r.k / r.n, -r.n))
    worst_sp = min(spec, key=lambda r: (r.k / r.n, -r.n))
    worst = {
        "true_positives": worst_se.k,
        "n_positive": worst_se.n,
        "true_negatives": worst_sp.k,
        "n_negative": worst_sp.n,
    }
    pooled = {key: sum(counts_json(s)[key] for s in by_source.values()) for key in worst}
    if _informative(worst):
        counts = worst
        basis = (
            "worst held-out source, sensitivity and specificity taken separately among "
            f"sources with at least {min_class} items of the class"
        )
    else:
        counts = pooled
        basis = (
            "pooled over every held-out source: the worst sources' sensitivity and specificity "
            f"({worst_se.k}/{worst_se.n}, {worst_sp.k}/{worst_sp.n}) sum to at most 1, so on "
            "some source the judge is no better than chance"
        )
    return {
        "format": FORMAT,
        "judge": dict(identity),
        "positive": positive,
        "negative": negative,
        "method": method,
        "data": ", ".join(by_source),
        "counts": counts,
        "basis": basis,
        "pooled": pooled,
        "by_source": {k: counts_json(v) for k, v in by_source.items()},
        "sensitivity": counts["true_positives"] / counts["n_positive"],
        "specificity": counts["true_negatives"] / counts["n_negative"],
        "provenance": provenance,
    }
