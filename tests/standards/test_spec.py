"""The standard format: a valid file loads, and each malformed one names file, line and field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.standards._catalog import BUILTIN_STANDARDS, load_standard
from llmcert.standards._diff import diff_standards
from llmcert.standards._spec import StandardSpec, Status, load_standard_file
from llmcert.stats import ConfidenceBound, PointEstimate, Sequential

VALID = """\
id: demo
title: Demo standard
version: 1.2.0
status: published
published: 2026-01-01
effective: 2026-02-01
renew_by: 2027-02-01
supersedes: [demo@1.1.0]
clauses:
  - id: "9.3"
    title: Refusal
    text: Refuse what must be refused.
    reference: demo §9.3
  - id: A.1
    title: Risks
requirements:
  - id: refuse
    clause: "9.3"
    measure: {kind: suite, suite: default, metric: accuracy, group: {risk: A.1}}
    threshold: 0.95
    direction: at_least
    min_n: 300
    rule: confidence_bound
    confidence: 0.95
    errors: as_failure
  - id: bank
    clause: A.1
    measure: {kind: evidence, check: bank-coverage, params: {min_per_risk: 20}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "std.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_valid_standard_loads(tmp_path: Path) -> None:
    spec = load_standard_file(write(tmp_path, VALID))
    assert spec.ref == "demo@1.2.0"
    assert spec.status is Status.PUBLISHED
    assert spec.effective == dt.date(2026, 2, 1)
    assert [c.id for c in spec.clauses] == ["9.3", "A.1"]
    refuse, bank = spec.requirements
    assert refuse.measure.kind == "suite"
    assert refuse.measure.group == {"risk": "A.1"}
    assert bank.measure.kind == "evidence"
    assert bank.measure.params == {"min_per_risk": 20}
    assert spec.requirements_for("9.3") == (refuse,)


def test_rules_map_to_stats(tmp_path: Path) -> None:
    spec = load_standard_file(write(tmp_path, VALID))
    rule = spec.requirements[0].decision_rule()
    assert isinstance(rule, ConfidenceBound)
    assert rule.confidence == 0.95
    seq = spec.requirements[0].model_copy(update={"rule": "sequential", "errors": "exclude"})
    made = seq.decision_rule()
    assert isinstance(made, Sequential)
    assert made.error_policy == "exclude"
    point = spec.requirements[0].model_copy(update={"rule": "point_estimate"})
    assert isinstance(point.decision_rule(), PointEstimate)


def test_models_are_frozen(tmp_path: Path) -> None:
    spec = load_standard_file(write(tmp_path, VALID))
    with pytest.raises(ValueError, match="frozen"):
        spec.title = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("old", "new", "field", "needle"),
    [
        ("title: Demo standard", "title: Demo standard\nauthor: x", "author", "author:"),
        ("version: 1.2.0", "version: 1.2", "version", "version:"),
        ("status: published", "status: final", "status", "status:"),
        ("effective: 2026-02-01", "effective: 2025-12-01", "effective", "effective:"),
        ("renew_by: 2027-02-01", "renew_by: 2026-01-15", "renew_by", "renew_by:"),
        ("published: 2026-01-01\n", "", "status", "status:"),
        ("supersedes: [demo@1.1.0]", "supersedes: [demo-1.1.0]", "supersedes", "supersedes:"),
        ('clause: "9.3"', 'clause: "9.9"', "requirements.0.clause", 'clause: "9.9"'),
        ("id: A.1", 'id: "9.3"', "clauses.1.id", '  - id: "9.3"\n    title: Risks'),
        ("id: bank", "id: refuse", "requirements.1.id", "id: refuse\n    clause: A.1"),
        ("threshold: 0.95", "threshold: 1.5", "requirements.0.threshold", "threshold:"),
        ("rule: confidence_bound", "rule: majority", "requirements.0.rule", "rule:"),
        ("confidence: 0.95", "confidence: 0.9999", "requirements.0.confidence", "confidence:"),
        ("min_n: 300", "min_n: 0", "requirements.0.min_n", "min_n:"),
        ("kind: evidence", "kind: survey", "requirements.1.measure", "measure: {kind: survey"),
    ],
)
def test_malformed_names_field_and_line(
    tmp_path: Path, old: str, new: str, field: str, needle: str
) -> None:
    assert old in VALID
    text = VALID.replace(old, new, 1)
    with pytest.raises(SpecError) as info:
        load_standard_file(write(tmp_path, text))
    err = info.value
    assert err.path == tmp_path / "std.yaml"
    assert err.field is not None
    assert err.field.startswith(field)
    # Multi-line needles pick out one of several identical lines by what follows it.
    first = needle.split("\n")[0]
    start = text.index(needle) if "\n" in needle else text.index(first)
    assert err.line == text[:start].count("\n") + 1
    assert first.strip() in text.splitlines()[err.line - 1]
    assert f"std.yaml:{err.line}: {err.field}" in str(err)


def test_suite_measure_needs_threshold(tmp_path: Path) -> None:
    text = VALID.replace("    threshold: 0.95\n", "", 1)
    with pytest.raises(SpecError, match="needs a threshold") as info:
        load_standard_file(write(tmp_path, text))
    assert info.value.field == "requirements.0"
    assert info.value.line == line_of(text, "- id: refuse")


def test_missing_file_is_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_standard(tmp_path / "absent.yaml")


def test_unknown_builtin_name_lists_known() -> None:
    with pytest.raises(SpecError, match="example-capability"):
        load_standard("no-such-standard")


@pytest.mark.parametrize("name", sorted(BUILTIN_STANDARDS))
def test_builtin_standards_load(name: str) -> None:
    spec = load_standard(name)
    assert isinstance(spec, StandardSpec)
    assert spec.id == name
    assert spec.requirements


def test_example_capability_uses_default_suite() -> None:
    spec = load_standard("example-capability")
    req = next(r for r in spec.requirements if r.measure.kind == "suite")
    assert req.measure.kind == "suite"
    assert (req.measure.suite, req.measure.metric) == ("default", "accuracy")
    assert req.threshold == 0.25
    assert req.direction == "at_least"


def test_diff_threshold_rule_and_added_requirement(tmp_path: Path) -> None:
    old = load_standard_file(write(tmp_path, VALID))
    new_text = (
        VALID.replace("version: 1.2.0", "version: 1.3.0")
        .replace("threshold: 0.95", "threshold: 0.97")
        .replace("rule: confidence_bound", "rule: sequential")
        + "  - id: extra\n    clause: A.1\n"
        "    measure: {kind: evidence, check: ai-bom-present}\n"
    )
    (tmp_path / "new").mkdir()
    new = load_standard_file(write(tmp_path / "new", new_text))
    d = diff_standards(old, new)
    assert not d.empty
    assert d.requirements_added == ("extra",)
    assert d.requirements_removed == ()
    change = d.requirement("refuse")
    assert change is not None
    fields = {c.field: (c.old, c.new) for c in change.changes}
    assert fields == {"threshold": ("0.95", "0.97"), "rule": ("confidence_bound", "sequential")}
    assert [(c.field, c.old, c.new) for c in d.header] == [("version", "1.2.0", "1.3.0")]
    assert d.clauses_changed == ()


def test_diff_of_identical_standards_is_empty(tmp_path: Path) -> None:
    spec = load_standard_file(write(tmp_path, VALID))
    assert diff_standards(spec, spec).empty


def test_diff_reports_clause_and_measure_changes(tmp_path: Path) -> None:
    old = load_standard_file(write(tmp_path, VALID))
    new = old.model_copy(
        update={
            "clauses": old.clauses[:1],
            "requirements": old.requirements[:1],
            "status": Status.DEPRECATED,
        }
    )
    d = diff_standards(old, new)
    assert d.clauses_removed == ("A.1",)
    assert d.requirements_removed == ("bank",)
    assert [(c.field, c.old, c.new) for c in d.header] == [("status", "published", "deprecated")]


def test_unscannable_policy_is_for_insecure_code_only(tmp_path: Path) -> None:
    text = VALID.replace("metric: accuracy,", "metric: accuracy, unscannable: exclude,", 1)
    with pytest.raises(SpecError, match="insecure_rate metric only") as info:
        load_standard_file(write(tmp_path, text))
    assert info.value.field is not None
    assert info.value.field.startswith("requirements.0.measure")
    code = load_standard("code-generation")
    insecure = next(r for r in code.requirements if r.id == "insecure-code")
    assert insecure.measure.unscannable == "exclude"  # type: ignore[union-attr]
