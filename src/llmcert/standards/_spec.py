"""StandardSpec: the YAML format of a standard (clauses → requirements → measure →
threshold → decision rule), validated with pydantic.

Checks that span several fields (unique ids, a requirement citing a clause that
exists, dates in order) must still point at the line to fix, so they raise a
:class:`CrossCheckError` carrying the field's location; :func:`load_standard_file`
turns that into a :class:`SpecError` with file, line and field.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmcert._yamlspec import _line_of, load_yaml_spec
from llmcert.errors import SpecError
from llmcert.perf._spec import LoadSpec, SLOSpec, WorkloadSpec
from llmcert.stats import (
    ConfidenceBound,
    DecisionRule,
    Direction,
    ErrorPolicy,
    Grade,
    Graded,
    PointEstimate,
)
from llmcert.stats import Sequential as SequentialRule

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_CLAUSE_ID = re.compile(r"^[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*$")

RuleName = Literal["point_estimate", "confidence_bound", "sequential", "graded"]
GradeName = Literal["poor", "fair", "good", "very_good", "excellent"]


class CrossCheckError(SpecError):
    """A check across fields failed; ``loc`` is the path of the offending field.

    Not a ``ValueError``, so pydantic lets it through unchanged and the loader
    can map ``loc`` to a line.
    """

    def __init__(self, message: str, loc: tuple[int | str, ...]) -> None:
        self.loc = loc
        super().__init__(message, field=".".join(str(p) for p in loc) or None)


class Status(StrEnum):
    """Where a standard is in its lifecycle."""

    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    DEPRECATED = "deprecated"
    ABOLISHED = "abolished"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _slug(value: str, what: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{what} must be a lower-case slug (a-z, 0-9, '.', '_', '-'), got {value!r}"
        )
    return value


class Clause(_Strict):
    """One clause of the standard's text, so each verdict traces back to it."""

    id: str = Field(description="clause number as printed, e.g. '9.3' or 'A.1'")
    title: str
    text: str = ""
    reference: str = Field("", description="where the text comes from, e.g. a document and page")

    @field_validator("id")
    @classmethod
    def _clause_id(cls, value: str) -> str:
        if not _CLAUSE_ID.match(value):
            raise ValueError(f"clause id must look like '9.3' or 'A.1', got {value!r}")
        return value


_ESTIMATED_METRIC = re.compile(r"^(pass@[1-9][0-9]*(/plus)?|insecure_rate)$")


class SuiteMeasure(_Strict):
    """A rate measured by running a test suite and reading one metric.

    ``accuracy`` is a count per item. Estimated metrics are means over items
    decided on their interval (``stats.Estimate``): ``pass@K`` and
    ``pass@K/plus`` (code suites; original or extended tests) and
    ``insecure_rate`` (the share of generated programs with insecure code).
    """

    kind: Literal["suite"]
    suite: str = Field(description="built-in suite name or suite file")
    metric: str = "accuracy"
    group: dict[str, str | int | bool] = Field(
        default_factory=dict, description="restrict to items whose metadata match these values"
    )
    judge: str | None = Field(
        None,
        description=(
            "judge the responses with this harmful-content judge (a built-in name such as "
            "llmcert-harm, or a calibration file) and count those it does not call harmful, "
            "instead of the suite's own scores"
        ),
    )

    unscannable: ErrorPolicy | None = Field(
        None,
        description=(
            "insecure_rate only: what a program the analyser cannot scan (one that does not "
            "parse) counts as, in the words of `errors`. exclude (the default): left out of "
            "the estimate, with the interval widened to span it, so a verdict holds whatever "
            "it contains; as_failure: insecure; inconclusive_if_any: no verdict while there "
            "is one"
        ),
    )

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value != "accuracy" and not _ESTIMATED_METRIC.match(value):
            raise ValueError(
                f"metric must be 'accuracy', 'pass@K', 'pass@K/plus' or 'insecure_rate', got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _unscannable_only_for_insecure_code(self) -> SuiteMeasure:
        if self.unscannable is not None and self.metric != "insecure_rate":
            raise ValueError(
                f"unscannable applies to the insecure_rate metric only, not {self.metric!r}"
            )
        return self

    @property
    def estimated(self) -> bool:
        """Decided on an interval over items rather than on counts."""
        return self.metric != "accuracy"


class EvidenceMeasure(_Strict):
    """A check on evidence other than model outputs (test-bank coverage, an AI-BOM, …)."""

    kind: Literal["evidence"]
    check: str = Field(description="name of the evidence check")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("check")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _slug(value, "check")


class AttackMeasure(_Strict):
    """Attacks of WDTA AI-STR-02 levels on a bank of harmful behaviours.

    The rate decided is the *breach rate*: the share of behaviours that at least one
    of the level's attacks broke (a judged harmful answer). Behaviours are
    independent, so exact bounds apply; the levels, attacks, bank and budget are
    part of the requirement, hence of the assessment digest a certificate binds.
    """

    kind: Literal["attack"]
    levels: tuple[Literal["L1", "L2", "L3", "L4"], ...] = Field(min_length=1)
    bank: str = Field(description="harmbench, advbench, jade-db, or a bank file")
    attacks: tuple[str, ...] = Field((), description="built-in attack names (default: all)")
    budget: int | None = Field(None, ge=1, description="most model calls")
    queries: int = Field(5, ge=1, description="L3, L4: model calls per behaviour")
    harm_judge: str | None = Field(
        None, description="harm judge (entry point or module:attr); none: success is undecidable"
    )
    metric: Literal["breach_rate"] = "breach_rate"


PerfMetric = Literal["ttft", "tpot", "e2e", "slo_attainment", "energy_per_output_token"]
#: Perf metrics decided as "the share of requests within ``limit`` ms is ≥ threshold",
#: i.e. "the threshold-quantile is ≤ limit" (threshold 0.99 reads "P99 ≤ limit").
LATENCY_METRICS = frozenset({"ttft", "tpot", "e2e"})


class PerfMeasure(_Strict):
    """Serving performance of the model's endpoint under a stated load.

    ``ttft``/``tpot``/``e2e``: with the requirement's ``threshold`` ``p``, "the p-quantile
    is ≤ ``limit`` ms", decided on order-statistic bounds. ``slo_attainment``: the share
    of requests meeting every ``slo`` is ≥ ``threshold`` at the load's rate (goodput in
    DistServe's sense: "goodput ≥ rate at threshold attainment"). ``energy_per_output_token``:
    ≤ ``limit`` joules, decided only on a measured figure.
    """

    kind: Literal["perf"]
    metric: PerfMetric
    limit: float | None = Field(None, gt=0, description="ms for latencies, J for energy")
    load: LoadSpec
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    slo: SLOSpec = Field(default_factory=SLOSpec, description="for slo_attainment")

    @model_validator(mode="after")
    def _parameters(self) -> PerfMeasure:
        if self.metric == "slo_attainment":
            if not any(v is not None for v in self.slo.model_dump().values()):
                raise ValueError("slo_attainment needs at least one limit in 'slo'")
        elif self.limit is None:
            raise ValueError(f"the {self.metric} metric needs a 'limit'")
        return self

    def describe(self) -> str:
        """One line for people, e.g. 'ttft ≤ 2000 ms, open loop, poisson arrivals at 10 req/s…'."""
        if self.metric == "slo_attainment":
            slo = {k: v for k, v in self.slo.model_dump().items() if v is not None}
            what = f"share meeting SLOs {slo}"
        elif self.metric == "energy_per_output_token":
            what = f"energy per output token ≤ {self.limit:g} J (measured only)"
        else:
            what = f"{self.metric} ≤ {self.limit:g} ms at the threshold quantile"
        return f"{what}; {self.load.describe()}"


Measure = Annotated[
    SuiteMeasure | EvidenceMeasure | AttackMeasure | PerfMeasure, Field(discriminator="kind")
]


class Grading(_Strict):
    """Grades relative to a reference model's unsafe rate, as AILuminate grades hazards."""

    reference_rate: float = Field(
        gt=0.0, le=1.0, description="the reference model's unsafe rate on the same items"
    )
    minimum_grade: GradeName = Field("good", description="the lowest grade that passes")


class Requirement(_Strict):
    """What must hold for a clause: a measure, a threshold and how to decide it."""

    id: str
    clause: str = Field(description="id of the clause this requirement implements")
    description: str = ""
    measure: Measure
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="the rate to meet; required for suite measures"
    )
    direction: Direction = "at_least"
    min_n: int = Field(1, ge=1, description="fewest counted items for a PASS")
    rule: RuleName = "confidence_bound"
    confidence: float = Field(0.95, ge=0.5, le=0.999)
    errors: ErrorPolicy = "as_failure"
    applicability: str = Field("", description="when the requirement applies")
    sample: int | None = Field(
        None, ge=1, description="items to draw from the suite, stratified by risk (default: all)"
    )
    grading: Grading | None = Field(None, description="for rule: graded")
    judge_correction: bool = Field(
        True, description="fold a judge's measured error rates into the interval when known"
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _slug(value, "requirement id")

    @model_validator(mode="after")
    def _threshold_for_rates(self) -> Requirement:
        rate = self.measure.kind in ("suite", "attack")
        if rate and self.threshold is None and self.rule != "graded":
            raise ValueError(f"a {self.measure.kind} measure needs a threshold")
        if (
            isinstance(self.measure, PerfMeasure)
            and self.measure.metric != "energy_per_output_token"
            and (self.threshold is None or not 0.0 < self.threshold < 1.0)
        ):
            raise ValueError(
                "a perf latency or attainment measure needs a threshold in (0, 1): the "
                "quantile (0.99 for P99) or the share of requests meeting the SLOs"
            )
        if (self.rule == "graded") != (self.grading is not None):
            raise ValueError("rule 'graded' and a 'grading' section go together")
        if self.rule == "graded" and self.measure.kind != "suite":
            raise ValueError("rule 'graded' grades a suite measure")
        if (
            isinstance(self.measure, SuiteMeasure)
            and self.measure.estimated
            and self.rule not in ("confidence_bound", "point_estimate")
        ):
            raise ValueError(
                f"metric {self.measure.metric!r} is decided by rule 'confidence_bound' or "
                f"'point_estimate', not {self.rule!r}"
            )
        return self

    def decision_rule(self) -> DecisionRule:
        """The llmcert.stats rule this requirement is judged by."""
        if self.rule == "point_estimate":
            return PointEstimate(error_policy=self.errors)
        if self.rule == "sequential":
            return SequentialRule(confidence=self.confidence, error_policy=self.errors)
        if self.rule == "graded":
            assert self.grading is not None  # checked when the requirement was validated
            return Graded(
                reference_rate=self.grading.reference_rate,
                minimum_grade=Grade(self.grading.minimum_grade),
                confidence=self.confidence,
                error_policy=self.errors,
            )
        return ConfidenceBound(confidence=self.confidence, error_policy=self.errors)


class StandardSpec(_Strict):
    """A versioned standard with its lifecycle, clauses and requirements."""

    id: str
    title: str
    version: str = Field(description="semantic version, e.g. 1.0.0")
    status: Status
    description: str = ""
    published: dt.date | None = None
    effective: dt.date | None = None
    renew_by: dt.date | None = None
    supersedes: tuple[str, ...] = Field((), description="earlier standards, as 'id@version'")
    clauses: tuple[Clause, ...] = Field(min_length=1)
    requirements: tuple[Requirement, ...] = ()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _slug(value, "id")

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not _SEMVER.match(value):
            raise ValueError(f"version must be semantic (MAJOR.MINOR.PATCH), got {value!r}")
        return value

    @field_validator("supersedes")
    @classmethod
    def _supersedes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ref in value:
            sid, sep, version = ref.partition("@")
            if not sep or not _SLUG.match(sid) or not _SEMVER.match(version):
                raise ValueError(f"each entry must be 'id@version' (e.g. 'x@1.0.0'), got {ref!r}")
        return value

    @model_validator(mode="after")
    def _cross_check(self) -> StandardSpec:
        if self.status is Status.PUBLISHED and self.published is None:
            raise CrossCheckError("a published standard needs a 'published' date", ("status",))
        if self.published and self.effective and self.effective < self.published:
            raise CrossCheckError(
                f"effective date {self.effective} is before the published date {self.published}",
                ("effective",),
            )
        if self.effective and self.renew_by and self.renew_by <= self.effective:
            raise CrossCheckError(
                f"renew_by {self.renew_by} must be after the effective date {self.effective}",
                ("renew_by",),
            )
        clause_ids: set[str] = set()
        for i, clause in enumerate(self.clauses):
            if clause.id in clause_ids:
                raise CrossCheckError(f"duplicate clause id {clause.id!r}", ("clauses", i, "id"))
            clause_ids.add(clause.id)
        req_ids: set[str] = set()
        for i, req in enumerate(self.requirements):
            if req.id in req_ids:
                raise CrossCheckError(
                    f"duplicate requirement id {req.id!r}", ("requirements", i, "id")
                )
            req_ids.add(req.id)
            if req.clause not in clause_ids:
                raise CrossCheckError(
                    f"requirement cites clause {req.clause!r}, which is not among the clauses",
                    ("requirements", i, "clause"),
                )
        return self

    @property
    def ref(self) -> str:
        """``id@version``, the form used by ``supersedes`` and certificates."""
        return f"{self.id}@{self.version}"

    def clause(self, clause_id: str) -> Clause:
        for clause in self.clauses:
            if clause.id == clause_id:
                return clause
        raise KeyError(clause_id)

    def requirements_for(self, clause_id: str) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.clause == clause_id)


def load_standard_file(path: Path) -> StandardSpec:
    """Parse and validate a standard file; raise :class:`SpecError` naming file, line and field."""
    try:
        return load_yaml_spec(path, StandardSpec)
    except CrossCheckError as exc:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        raise SpecError(
            exc.message, path=path, line=_line_of(node, exc.loc), field=exc.field
        ) from None
