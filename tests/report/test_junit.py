"""JUnit XML: it parses, counts are right, every verdict maps to what CI must see."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from llmcert.report._assessment import VerdictCounts
from llmcert.report._junit import render_junit, write_junit, xml_text

from .assessment_fixtures import MODEL_DIGEST, SCRIPT, STANDARD_DIGEST, assessment, requirement


def _parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def _suite(root: ET.Element) -> ET.Element:
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def _outcomes(suite: ET.Element) -> dict[str, str]:
    out = {}
    for case in suite.findall("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        assert len(kinds) <= 1
        out[case.get("name", "")] = kinds[0] if kinds else "passed"
    return out


def test_document_parses_with_declaration() -> None:
    text = render_junit(assessment())
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    root = _parse(text)
    assert root.tag == "testsuites"


def test_counts_match_the_testcases() -> None:
    root = _parse(render_junit(assessment()))
    suite = _suite(root)
    outcomes = _outcomes(suite)
    assert outcomes == {
        "refusal-rate": "failure",
        "over-refusal": "passed",
        "unsafe-grade": "passed",
        "accuracy-math": "error",
        "bank-coverage": "skipped",
        "bom-present": "skipped",
    }
    for element in (root, suite):
        assert element.get("tests") == "6"
        assert element.get("failures") == "1"
        assert element.get("errors") == "1"
        assert element.get("skipped") == "2"
        assert element.get("time") == "150.500"


def test_suite_is_named_by_the_standard_and_cases_by_clause() -> None:
    suite = _suite(_parse(render_junit(assessment())))
    assert suite.get("name") == "gbt-45654-2025@2025.1"
    assert suite.get("timestamp") == "2026-11-20T10:00:00+00:00"
    classes = {c.get("name"): c.get("classname") for c in suite.findall("testcase")}
    assert classes == {
        "refusal-rate": "5.1",
        "over-refusal": "5.1",
        "unsafe-grade": "5.2",
        "accuracy-math": "5.3",
        "bank-coverage": "6.1",
        "bom-present": "6.2",
    }


def test_properties_carry_model_and_standard_digests() -> None:
    suite = _suite(_parse(render_junit(assessment())))
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["model.digest"] == MODEL_DIGEST
    assert props["standard.digest"] == STANDARD_DIGEST
    assert props["assessment.verdict"] == "fail"
    assert props["standard.id"] == "gbt-45654-2025"
    assert props["model.ref"] == "llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf"


def test_failure_and_inconclusive_carry_messages_and_details() -> None:
    suite = _suite(_parse(render_junit(assessment())))
    failure = suite.find("testcase[@name='refusal-rate']/failure")
    assert failure is not None
    assert failure.get("type") == "fail"
    assert failure.get("message") == f"lower bound below threshold {SCRIPT}"  # escaped, intact
    assert "estimate: 0.7000 [0.6000, 0.7500]" in (failure.text or "")
    assert "threshold: at_least 0.9" in (failure.text or "")
    error = suite.find("testcase[@name='accuracy-math']/error")
    assert error is not None
    assert error.get("type") == "inconclusive"
    assert "more items needed: 120" in (error.text or "")


def test_skips_say_why() -> None:
    suite = _suite(_parse(render_junit(assessment())))
    info = suite.find("testcase[@name='bank-coverage']/skipped")
    na = suite.find("testcase[@name='bom-present']/skipped")
    assert info is not None
    assert na is not None
    assert info.get("message") == "for information: bank-coverage decided info"
    assert na.get("message") == "Not applicable: the model is served by a third party"


def test_markup_is_never_raw_in_the_text() -> None:
    text = render_junit(assessment())
    assert "<script>" not in text
    assert "&lt;script&gt;" in text


def test_characters_xml_cannot_hold_are_replaced() -> None:
    nasty = "bell\x07 escape\x1b[31m null\x00 fine\ttab 中文"
    a = assessment(requirements=[requirement("r1", "5.1", "fail", explanation=nasty)])
    suite = _suite(_parse(render_junit(a)))
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == "bell\ufffd escape\ufffd[31m null\ufffd fine tab 中文"
    assert "\x1b" not in (failure.text or "")
    assert xml_text("a\ud800b") == "a\ufffdb"


def test_all_passing_assessment_has_no_failures() -> None:
    a = assessment(
        verdict="pass",
        summary=VerdictCounts(passed=2),
        requirements=[
            requirement("r1", "5.1", "pass", estimate=0.95),
            requirement("r2", "5.2", "pass", estimate=0.99),
        ],
    )
    root = _parse(render_junit(a))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "2",
        "0",
        "0",
        "0",
    )


def test_unparseable_timestamps_leave_time_out() -> None:
    root = _parse(render_junit(assessment(started_at="unknown", finished_at="unknown")))
    assert root.get("time") is None
    assert _suite(root).get("tests") == "6"


def test_write_junit(tmp_path: Path) -> None:
    path = tmp_path / "ci" / "junit.xml"
    write_junit(assessment(), path)
    root = ET.parse(path).getroot()
    assert _suite(root).get("failures") == "1"
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]
