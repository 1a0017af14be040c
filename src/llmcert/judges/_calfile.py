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
from dataclasses import replace
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
    by_source: dict[str, Counts] = Field(
        default_factory=dict,
        description="counts per source; with two or more sources for a rate, the correction "
        "bounds it for a new source (between-source model), not by the pooled count",
    )
    between_source: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="what the between-source model says of each rate on a new source "
        "(informative; the correction recomputes it from by_source)",
    )
    tau_floor: float = Field(
        0.0,
        ge=0.0,
        le=4.0,
        description="least between-source spread (logit scale) the bounds allow for, where "
        "new sources are known to differ more than the calibration's sources do",
    )
    tau_floor_basis: str = Field("", description="the evidence for tau_floor")
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
        if self.tau_floor and not self.tau_floor_basis.strip():
            raise ValueError("a tau_floor needs its basis (tau_floor_basis)")
        return self

    def error_rates(self) -> JudgeErrorRates:
        """Rates for the correction: the counts' point rates, and per-source counts, so
        that with two or more sources each rate is bounded for a new source."""
        c = self.counts
        source = f"{self.judge.name}@{self.judge.version}: {self.method}, on {self.data}"
        rates = JudgeErrorRates.from_counts(
            c.true_positives, c.n_positive, c.true_negatives, c.n_negative, source
        )
        sources = self.by_source.values()
        return replace(
            rates,
            sensitivity_sources=tuple((s.true_positives, s.n_positive) for s in sources),
            specificity_sources=tuple((s.true_negatives, s.n_negative) for s in sources),
            tau_floor=self.tau_floor,
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


def read_calibration_file(path: Path) -> tuple[CalibrationFile, str]:
    """:func:`read_calibration` on a file; an unreadable file is a SpecError naming it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(
            f"cannot read the judge's calibration: {exc.strerror or exc}", path=path
        ) from exc
    return read_calibration(raw, path)


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


def between_source_figures(
    by_source: Mapping[str, Mapping[str, int]], tau_floor: float = 0.0
) -> dict[str, Any]:
    """The between-source model's figures for sensitivity and specificity, as files state them."""
    from llmcert.stats import between_source_summary

    out: dict[str, Any] = {}
    for rate, (k, n) in (
        ("sensitivity", ("true_positives", "n_positive")),
        ("specificity", ("true_negatives", "n_negative")),
    ):
        sources = [(c[k], c[n]) for c in by_source.values() if c[n]]
        if len(sources) > 1:
            out[rate] = {"sources": len(sources), **between_source_summary(sources, tau_floor)}
    return out


BETWEEN_SOURCE_BASIS = (
    "pooled counts for the point rates; for each rate measured on two or more sources the "
    "correction's bounds are prediction bounds for a new source under a between-source "
    "(random-effects, logit-normal) model fitted to by_source, so they cover a model unlike any "
    "single source but like the population of sources listed; between_source gives the 95% "
    "prediction interval of each rate"
)


def held_out_calibration(
    identity: Mapping[str, Any],
    by_source: Mapping[str, BinaryStats],
    *,
    positive: str,
    negative: str,
    method: str,
    provenance: str,
    tau_floor: float = 0.0,
    tau_floor_basis: str = "",
) -> dict[str, Any]:
    """A calibration from held-out counts per source.

    Judges do worse on a style they have not seen, and a pooled interval is narrow
    exactly where that variation hides; the worst source is a point, not a bound.
    So the file keeps every source's counts, and the correction bounds each rate
    for a new source with a between-source model (:mod:`llmcert.stats`); the
    pooled counts give the point rates.
    """
    per_source = {k: counts_json(v) for k, v in by_source.items()}
    pooled = {
        key: sum(c[key] for c in per_source.values())
        for key in ("true_positives", "n_positive", "true_negatives", "n_negative")
    }
    if not _informative(pooled):
        raise ValueError("the pooled sensitivity and specificity sum to at most 1")
    return {
        "format": FORMAT,
        "judge": dict(identity),
        "positive": positive,
        "negative": negative,
        "method": method,
        "data": ", ".join(by_source),
        "counts": pooled,
        "basis": BETWEEN_SOURCE_BASIS,
        "pooled": pooled,
        "by_source": per_source,
        "between_source": between_source_figures(per_source, tau_floor),
        **({"tau_floor": tau_floor, "tau_floor_basis": tau_floor_basis} if tau_floor else {}),
        "sensitivity": pooled["true_positives"] / pooled["n_positive"],
        "specificity": pooled["true_negatives"] / pooled["n_negative"],
        "provenance": provenance,
    }
