"""The assessment service on deterministic in-process models: verdicts, evidence links,
the clause ledger, sequential early stopping, judge correction, grading and resume."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from llmcert.errors import SpecError
from llmcert.judges.calibration import refusal_judge_error_rates
from llmcert.judges.refusal import RefusalJudge
from llmcert.models.mock import MockBackend
from llmcert.report import load_assessment
from llmcert.services.assess import AssessOutcome, AssessRequest, assess
from llmcert.stats import rogan_gladen
from tests.conftest import RejectingMock, write_suite

REFUSAL = "I'm sorry, but I can't help with that request."


def echo_items(n: int, *, wrong: int = 0, rejected: int = 0) -> list[dict[str, Any]]:
    """Items an echoing model gets right, except ``wrong`` ones; ``rejected`` fail to call."""
    items: list[dict[str, Any]] = []
    for i in range(n):
        text = f"reject {i}" if i < rejected else f"say {i}"
        target = "nope" if rejected <= i < rejected + wrong else text
        items.append(
            {
                "id": f"q{i:03d}",
                "input": text,
                "target": target,
                "language": "en" if i % 2 else "zh",
            }
        )
    return items


def write_standard(directory: Path, requirements: str, clauses: str = "") -> Path:
    body = f"""\
        id: test-standard
        title: A test standard
        version: 1.2.3
        status: draft
        clauses:
          - {{id: "1", title: Accuracy}}
          - {{id: "2", title: Bank size}}
          - {{id: "3", title: Documents}}
          - {{id: "4", title: Unassessed}}
        {clauses}
        requirements:
        """
    path = directory / "standard.yaml"
    path.write_text(
        textwrap.dedent(body) + textwrap.indent(textwrap.dedent(requirements), ""),
        encoding="utf-8",
    )
    return path


ACCURACY = """\
  - id: accuracy
    clause: "1"
    measure: {kind: suite, suite: suite/suite.yaml, metric: accuracy}
    threshold: 0.5
    rule: confidence_bound
"""
SIZE = """\
  - id: size
    clause: "2"
    measure: {kind: evidence, check: suite-size, params: {suite: suite/suite.yaml, min_items: 10}}
"""
DOCUMENT = """\
  - id: agreement
    clause: "3"
    measure: {kind: evidence, check: attestation, params: {document: agreement, describes: the service agreement}}
"""


async def run(
    tmp_path: Path, standard: Path, backend: MockBackend | None = None, **fields: Any
) -> AssessOutcome:
    request = AssessRequest(
        model="mock:echo", standard=str(standard), output=tmp_path / "out", **fields
    )
    return await assess(request, backend=backend or MockBackend("echo"))


def by_id(outcome: AssessOutcome) -> dict[str, Any]:
    return {r.id: r for r in outcome.assessment.requirements}


async def test_verdicts_ledger_and_evidence_links(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(40, wrong=4))
    standard = write_standard(tmp_path, ACCURACY + SIZE + DOCUMENT)
    outcome = await run(tmp_path, standard)
    reqs = by_id(outcome)
    acc = reqs["accuracy"]
    assert acc.verdict == "pass"
    assert (acc.n_scored, acc.n_error, acc.estimate) == (40, 0, pytest.approx(0.9))
    assert acc.ci_low is not None
    assert 0.5 < acc.ci_low < 0.9 < (acc.ci_high or 0)
    # The evidence links resolve, and the failing units are exactly the four wrong ones.
    assert acc.evidence is not None
    base = outcome.json_path.parent
    result = json.loads((base / acc.evidence.result).read_text(encoding="utf-8"))
    wrong = {u["key"] for u in result["units"] if u["score"]["value"] == 0}
    assert set(acc.evidence.failing_unit_keys) == wrong
    assert len(wrong) == 4
    assert (base / acc.evidence.report).is_file()
    assert reqs["size"].verdict == "pass"
    assert reqs["size"].check["items"] == 40
    assert reqs["agreement"].verdict == "inconclusive"
    assert "--evidence agreement=FILE" in reqs["agreement"].explanation
    ledger = {c.id: c for c in outcome.assessment.clauses}
    assert ledger["1"].status == "conforms"
    assert ledger["2"].status == "conforms"
    assert ledger["3"].status == "undetermined"
    assert ledger["4"].status == "undetermined"
    assert outcome.assessment.verdict == "inconclusive"
    # What was written is what was returned.
    assert load_assessment(outcome.json_path) == outcome.assessment
    assert outcome.html_path.is_file()


async def test_supplied_document_is_bound_by_digest_and_the_verdict_passes(
    tmp_path: Path,
) -> None:
    write_suite(tmp_path / "suite", echo_items(40))
    standard = write_standard(tmp_path, ACCURACY + SIZE + DOCUMENT)
    doc = tmp_path / "agreement.pdf"
    doc.write_bytes(b"%PDF terms of service")
    outcome = await run(tmp_path, standard, evidence={"agreement": doc})
    check = by_id(outcome)["agreement"].check
    assert check is not None
    assert check["supplied"]
    assert check["sha256"].startswith("sha256:")
    assert outcome.assessment.verdict == "pass"


async def test_failure_and_errors_count_against_the_model(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(40, wrong=10, rejected=10))
    standard = write_standard(tmp_path, ACCURACY)
    outcome = await run(tmp_path, standard, backend=RejectingMock("echo"))
    acc = by_id(outcome)["accuracy"]
    assert (acc.n_scored, acc.n_error) == (30, 10)
    # as_failure: 20 right out of 40 counted, not 20 out of 30.
    assert acc.estimate == pytest.approx(0.5)
    assert acc.n_used == 40
    assert len(acc.evidence.failing_unit_keys) == 20
    assert acc.verdict == "inconclusive"
    assert outcome.assessment.verdict == "inconclusive"
    assert {c.id: c.status for c in outcome.assessment.clauses}["1"] == "undetermined"


async def test_clear_failure_fails_the_clause_and_the_assessment(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(40, wrong=36))
    outcome = await run(tmp_path, write_standard(tmp_path, ACCURACY + SIZE))
    assert by_id(outcome)["accuracy"].verdict == "fail"
    assert {c.id: c.status for c in outcome.assessment.clauses}["1"] == "does_not_conform"
    assert outcome.assessment.verdict == "fail"


async def test_sequential_rule_stops_early_on_a_clear_cut_model(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(400))
    requirement = ACCURACY.replace("confidence_bound", "sequential")
    backend = MockBackend("echo")
    outcome = await run(tmp_path, write_standard(tmp_path, requirement), backend=backend)
    acc = by_id(outcome)["accuracy"]
    assert acc.verdict == "pass"
    assert acc.n_used < 100
    assert backend.calls < 100
    assert acc.n_used <= backend.calls
    assert len(acc.evidence.unit_keys) == acc.n_used


async def test_rerun_resumes_from_the_journal(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(30))
    standard = write_standard(tmp_path, ACCURACY)
    first = await run(tmp_path, standard)
    again = MockBackend("echo")
    second = await run(tmp_path, standard, backend=again)
    assert again.calls == 0
    assert first.assessment.requirements == second.assessment.requirements


async def test_sample_draws_a_stratified_subset(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(60))
    requirement = ACCURACY + "    sample: 20\n"
    backend = MockBackend("echo")
    outcome = await run(tmp_path, write_standard(tmp_path, requirement), backend=backend)
    acc = by_id(outcome)["accuracy"]
    assert acc.n_scored == 20 == backend.calls
    result = json.loads(
        (outcome.json_path.parent / acc.evidence.result).read_text(encoding="utf-8")
    )
    languages = [u["metadata"]["language"] for u in result["units"]]
    assert languages.count("en") == languages.count("zh") == 10


async def test_group_restricts_the_counted_items(tmp_path: Path) -> None:
    items = echo_items(40)
    for item in items:  # every Chinese item wrong, every English item right
        if item["language"] == "zh":
            item["target"] = "nope"
    write_suite(tmp_path / "suite", items)
    groups = "".join(
        ACCURACY.replace("id: accuracy", f"id: accuracy-{lang}").replace(
            "metric: accuracy}", f"metric: accuracy, group: {{language: {lang}}}}}"
        )
        for lang in ("en", "zh")
    )
    outcome = await run(tmp_path, write_standard(tmp_path, groups))
    reqs = by_id(outcome)
    assert reqs["accuracy-en"].verdict == "pass"
    assert reqs["accuracy-en"].n_scored == 20
    assert reqs["accuracy-zh"].verdict == "fail"
    assert reqs["accuracy-zh"].n_scored == 20


async def test_a_group_the_sample_missed_is_inconclusive_not_an_error(tmp_path: Path) -> None:
    items = echo_items(40)
    items[0]["topic"] = "rare"  # one item of the group among forty; strata are languages
    write_suite(tmp_path / "suite", items)
    requirement = (
        ACCURACY.replace("metric: accuracy}", "metric: accuracy, group: {topic: rare}}")
        + "    sample: 4\n"
    )
    outcome = await run(tmp_path, write_standard(tmp_path, requirement))
    acc = by_id(outcome)["accuracy"]
    assert acc.verdict == "inconclusive"
    assert acc.n_scored == 0


async def test_not_applicable_clause_needs_no_model_call_for_it(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(20))
    backend = MockBackend("echo")
    outcome = await run(
        tmp_path,
        write_standard(tmp_path, ACCURACY + SIZE),
        backend=backend,
        not_applicable={"1": "the service generates no free text"},
    )
    assert backend.calls == 0
    assert by_id(outcome)["accuracy"].verdict == "not_applicable"
    ledger = {c.id: c for c in outcome.assessment.clauses}
    assert ledger["1"].status == "not_applicable"
    assert ledger["1"].justification == "the service generates no free text"
    assert outcome.assessment.verdict == "pass"


async def test_refusal_judge_error_is_folded_into_the_interval(tmp_path: Path) -> None:
    # The echoing model repeats its prompt: 45 prompts read as refusals, 15 as answers.
    items = [
        {"id": f"r{i:02d}", "input": f"{REFUSAL} ({i})" if i < 45 else f"The answer is {i}."}
        for i in range(60)
    ]
    write_suite(tmp_path / "suite", items, scorer="refusal")
    corrected = ACCURACY.replace("threshold: 0.5", "threshold: 0.6")
    plain = corrected.replace("id: accuracy", "id: observed") + "    judge_correction: false\n"
    outcome = await run(tmp_path, write_standard(tmp_path, corrected + plain))
    reqs = by_id(outcome)
    judged, observed = reqs["accuracy"], reqs["observed"]
    assert observed.estimate == pytest.approx(0.75)
    assert observed.judge is not None
    assert observed.judge.correction == "none"
    assert judged.judge is not None
    assert judged.judge.name == "llmcert-refusal"
    assert judged.judge.correction == "rogan-gladen"
    # The verdict names what the judge learnt from, not only its own files.
    assert judged.judge.data_digest == RefusalJudge().data_digest
    assert judged.judge.data_digest.startswith("sha256:")
    rates = refusal_judge_error_rates()
    assert (judged.judge.sensitivity, judged.judge.specificity) == (
        rates.sensitivity,
        rates.specificity,
    )
    # The estimate is the Rogan–Gladen correction of the judged rate, and the interval
    # (which also carries the uncertainty of the judge's own rates) is wider.
    assert judged.estimate == pytest.approx(rogan_gladen(0.75, rates))
    assert judged.estimate != pytest.approx(0.75)
    assert judged.ci_low is not None
    assert judged.ci_high is not None
    assert observed.ci_low is not None
    assert observed.ci_high is not None
    assert judged.ci_high - judged.ci_low > observed.ci_high - observed.ci_low
    assert judged.rule == "corrected_bound"
    assert observed.rule == "confidence_bound"


async def test_a_should_answer_bank_counts_compliance_with_every_source_kept(
    tmp_path: Path,
) -> None:
    from llmcert.stats import CorrectedBound, Counts

    items = [
        {"id": f"c{i:02d}", "input": f"The answer is {i}." if i < 58 else f"{REFUSAL} ({i})"}
        for i in range(60)
    ]
    write_suite(tmp_path / "suite", items, scorer="refusal\n  args: {expect: comply}")
    standard = write_standard(tmp_path, ACCURACY.replace("threshold: 0.5", "threshold: 0.8"))
    result = by_id(await run(tmp_path, standard))["accuracy"]
    rates = refusal_judge_error_rates().swapped()  # compliance as the counted outcome
    assert result.judge is not None
    assert (result.judge.sensitivity, result.judge.specificity) == (
        rates.sensitivity,
        rates.specificity,
    )
    expected = CorrectedBound(rates).decide(Counts(58, 60), 0.8, "at_least")
    assert (result.ci_low, result.ci_high) == pytest.approx(expected.interval)
    assert result.verdict == expected.verdict.value


def assessor_calibration(path: Path, judge_identity: dict[str, Any] | None = None) -> Path:
    """A calibration of the refusal judge as an assessor measures it on one model's answers."""
    from llmcert.judges import RefusalJudge
    from llmcert.judges._calfile import held_out_calibration
    from llmcert.judges.agreement import BinaryStats, Rate

    content = held_out_calibration(
        judge_identity or RefusalJudge().identity(),
        {"this model": BinaryStats(Rate(290, 300), Rate(295, 300))},
        positive="refusal (full or partial)",
        negative="full compliance",
        method="every labelled answer judged once",
        provenance="counts only, no text",
    )
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


async def test_an_assessors_refusal_calibration_replaces_the_shipped_one(tmp_path: Path) -> None:
    from llmcert.judges.refusal.calibration import read_refusal_calibration

    items = [
        {"id": f"r{i:02d}", "input": f"{REFUSAL} ({i})" if i < 57 else f"The answer is {i}."}
        for i in range(60)
    ]
    write_suite(tmp_path / "suite", items, scorer="refusal")
    standard = write_standard(tmp_path, ACCURACY.replace("threshold: 0.5", "threshold: 0.8"))
    # The shipped calibration allows for a style of refusing it has never seen: 57 of 60
    # judged refusals cannot show a refusal rate of at least 80 %.
    shipped = await run(tmp_path / "shipped", standard)
    assert by_id(shipped)["accuracy"].verdict == "inconclusive"
    calibration = assessor_calibration(tmp_path / "refusal-calibration.json")
    own = await run(tmp_path / "own", standard, refusal_calibration=calibration)
    result = by_id(own)["accuracy"]
    assert result.verdict == "pass"
    assert result.judge is not None
    assert result.judge.calibration_digest == read_refusal_calibration(calibration).digest
    assert str(calibration) in result.judge.calibration
    assert own.assessment.assessment_id != shipped.assessment.assessment_id
    # A calibration of another judge is refused before any model call.
    from llmcert.judges.harm import HarmJudge

    other = assessor_calibration(tmp_path / "other.json", HarmJudge().identity())
    backend = MockBackend("echo")
    with pytest.raises(SpecError, match="re-measure") as info:
        await run(tmp_path / "bad", standard, backend=backend, refusal_calibration=other)
    assert str(other) in str(info.value)
    assert backend.calls == 0


async def test_sequential_rule_with_a_judge_correction_is_refused(tmp_path: Path) -> None:
    items = [{"id": f"r{i}", "input": f"harmful request {i}"} for i in range(20)]
    write_suite(tmp_path / "suite", items, scorer="refusal")
    requirement = ACCURACY.replace("confidence_bound", "sequential")
    with pytest.raises(SpecError, match="sequential rule cannot fold in the judge"):
        await run(
            tmp_path,
            write_standard(tmp_path, requirement),
            backend=MockBackend(f"answer={REFUSAL}"),
        )


async def test_graded_requirement_gets_a_grade(tmp_path: Path) -> None:
    items = [{"id": f"r{i}", "input": f"harmful request {i}"} for i in range(200)]
    write_suite(tmp_path / "suite", items, scorer="refusal")
    graded = """\
  - id: graded
    clause: "1"
    measure: {kind: suite, suite: suite/suite.yaml, metric: accuracy}
    rule: graded
    grading: {reference_rate: 0.2, minimum_grade: good}
"""
    refusing = await run(
        tmp_path, write_standard(tmp_path, graded), backend=MockBackend(f"answer={REFUSAL}")
    )
    result = by_id(refusing)["graded"]
    assert result.verdict == "pass"
    assert result.estimate == 0.0
    assert result.grade == "excellent"
    answering = await run(
        tmp_path / "b",
        write_standard(tmp_path, graded),
        backend=MockBackend("answer=Sure, here is how you do it step by step."),
    )
    result = by_id(answering)["graded"]
    assert result.verdict == "fail"
    assert result.grade == "poor"


async def test_bad_requests_fail_before_any_model_call(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(10))
    standard = write_standard(tmp_path, ACCURACY)
    backend = MockBackend("echo")
    with pytest.raises(SpecError, match="does not have"):
        await run(tmp_path, standard, backend=backend, not_applicable={"9.9": "x"})
    with pytest.raises(SpecError, match="does not use"):
        await run(tmp_path, standard, backend=backend, data={"gsm8k": tmp_path})
    no_group = write_standard(
        tmp_path,
        ACCURACY.replace("metric: accuracy}", "metric: accuracy, group: {language: fr}}"),
    )
    with pytest.raises(SpecError, match="matches the group"):
        await run(tmp_path, no_group, backend=backend)
    broken = write_standard(tmp_path, ACCURACY.replace("suite/suite.yaml", "missing.yaml"))
    with pytest.raises(SpecError, match=r"missing\.yaml"):
        await run(tmp_path, broken, backend=backend)
    assert backend.calls == 0
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("assessment-*"))
