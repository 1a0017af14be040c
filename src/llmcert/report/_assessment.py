"""Assessment: the machine-readable record of one standard assessed on one model.

It is what a certificate is signed over, so it names everything a reader needs
to re-check a verdict: the standard (id, version, digest), the model identity,
every requirement's counts, interval, rule and verdict, the judge that scored
the responses, and links to the evaluation results holding each response.
Bump ``ASSESSMENT_SCHEMA`` on any incompatible change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmcert.report._schema import Environment

ASSESSMENT_SCHEMA = "llmcert.assessment/1"

RequirementVerdict = Literal["pass", "fail", "inconclusive", "info", "not_applicable"]
OverallVerdict = Literal["pass", "fail", "inconclusive"]
ClauseStatus = Literal["conforms", "does_not_conform", "not_applicable", "undetermined"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JudgeInfo(_Model):
    """The judge behind a rate, and what is known of its error."""

    name: str
    version: str
    digest: str = ""
    sensitivity: float | None = Field(
        None, description="P(judge says positive | truly positive), measured against human labels"
    )
    specificity: float | None = Field(
        None, description="P(judge says negative | truly negative), measured against human labels"
    )
    calibration: str = Field("", description="where sensitivity and specificity were measured")
    data_digest: str = Field(
        "",
        description="digest of the data the judge was trained on (an LLM judge: the judge "
        "model's identity digest)",
    )
    calibration_digest: str = Field("", description="digest of the calibration file used")
    correction: Literal["none", "rogan-gladen", "any-of-k"] = "none"

    @classmethod
    def named(cls, identity: Mapping[str, Any], **fields: Any) -> JudgeInfo:
        """The judge as its own ``identity()`` names it; an LLM judge's data is its model."""
        data = identity.get("data_digest") or identity.get("model_digest") or ""
        return cls(
            name=str(identity.get("name", "")),
            version=str(identity.get("version", "")),
            digest=str(identity.get("digest", "")),
            data_digest=str(data),
            **fields,
        )


class EvidenceLink(_Model):
    """Where the responses behind a figure are: an evaluation result and the units used."""

    suite: str
    result: str = Field(
        description="path of the evaluation's result.json, relative to the assessment"
    )
    report: str = Field(
        description="path of the evaluation's report.html, relative to the assessment"
    )
    run_id: str
    unit_keys: list[str] = Field(default_factory=list, description="the units counted")
    failing_unit_keys: list[str] = Field(
        default_factory=list, description="units counted against the requirement (errors included)"
    )


class RequirementResult(_Model):
    """One requirement's figure and verdict, with the reasons for both."""

    id: str
    clause: str
    description: str = ""
    measure: dict[str, Any] = Field(description="the requirement's measure, as in the standard")
    threshold: float | None = None
    direction: Literal["at_least", "at_most"] = "at_least"
    min_n: int = 1
    rule: str
    confidence: float | None = None
    error_policy: str = "as_failure"
    verdict: RequirementVerdict
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n_planned: int = 0
    n_scored: int = 0
    n_error: int = 0
    n_unscored: int = 0
    n_used: int = 0
    more_items_needed: int | None = None
    explanation: str
    grade: str | None = Field(None, description="for graded requirements, e.g. 'very_good'")
    decision: dict[str, Any] | None = Field(None, description="the decision rule's full output")
    judge: JudgeInfo | None = None
    evidence: EvidenceLink | None = None
    check: dict[str, Any] | None = Field(None, description="details of a non-test evidence check")
    perf: dict[str, Any] | None = Field(
        None,
        description="serving performance: load profile, client self-test, meter provenance, "
        "and the perf.json/perf.html holding every request",
        # Left out when absent, so assessments without a perf measure keep their digests.
        exclude_if=lambda value: value is None,
    )


class ClauseResult(_Model):
    """The clause ledger entry: conforms, does not conform, or not applicable, and why."""

    id: str
    title: str
    text: str = ""
    reference: str = ""
    status: ClauseStatus
    requirements: list[str] = Field(default_factory=list)
    justification: str


class StandardInfo(_Model):
    id: str
    version: str
    title: str
    status: str
    digest: str = Field(description="sha256 of the canonical standard spec")
    source: str = Field(description="built-in name or file path")


class VerdictCounts(_Model):
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    info: int = 0
    not_applicable: int = 0


class Assessment(_Model):
    schema_: str = Field(ASSESSMENT_SCHEMA, alias="schema")
    assessment_id: str
    started_at: str = Field(description="ISO-8601 UTC")
    finished_at: str
    command: list[str] = Field(default_factory=list, description="argv, secrets never included")
    standard: StandardInfo
    model: dict[str, Any] = Field(description="ModelIdentity.to_dict()")
    verdict: OverallVerdict
    summary: VerdictCounts
    explanation: str
    requirements: list[RequirementResult]
    clauses: list[ClauseResult]
    environment: Environment
    seed: int = 0

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def assessment_judges(assessment: Assessment) -> list[dict[str, Any]]:
    """Each judge behind the assessment's verdicts, once, with the requirements it decided.

    A certificate carries this list, so a reader sees which judge (name, version,
    data digest, calibration digest) every judged verdict rests on.
    """
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for req in assessment.requirements:
        j = req.judge
        if j is None:
            continue
        key = (j.name, j.version, j.digest, j.calibration_digest)
        entry = found.setdefault(
            key,
            {
                "name": j.name,
                "version": j.version,
                "digest": j.digest,
                "data_digest": j.data_digest,
                "calibration_digest": j.calibration_digest,
                "requirements": [],
            },
        )
        entry["requirements"].append(req.id)
    return list(found.values())
