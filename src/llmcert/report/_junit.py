"""JUnit XML of an assessment, so a CI system shows each requirement as a test.

One testcase per requirement, classed by its clause. A failed requirement is a
failure; an inconclusive one is an error of type ``inconclusive``, so a pipeline
never passes on a verdict that was not reached. Requirements given for
information or declared not applicable are skipped. The tree is built with
ElementTree, which escapes every value; characters XML cannot hold at all are
replaced first, since a model's text may contain them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from llmcert._fileio import write_atomic
from llmcert.report._assessment import Assessment, RequirementResult

# Anything outside the XML 1.0 Char production (control characters, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MESSAGE_CHARS = 500
_SKIP_LABELS = {"info": "for information", "not_applicable": "not applicable"}


def xml_text(value: object) -> str:
    """``value`` as text XML 1.0 can carry: forbidden characters become U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(value))


def _message(text: str) -> str:
    """A one-line summary for a ``message`` attribute; the full text goes in the body."""
    line = " ".join(text.split())
    return line if len(line) <= _MESSAGE_CHARS else line[: _MESSAGE_CHARS - 1] + "…"


def _seconds(started: str, finished: str) -> str | None:
    try:
        span = datetime.fromisoformat(finished) - datetime.fromisoformat(started)
    except (TypeError, ValueError):
        return None
    return f"{max(span.total_seconds(), 0.0):.3f}"


def _details(r: RequirementResult) -> str:
    """What a CI reader needs to judge the verdict without opening the report."""
    lines = [f"verdict: {r.verdict}", f"rule: {r.rule}"]
    if r.confidence is not None:
        lines.append(f"confidence: {r.confidence:g}")
    if r.threshold is not None:
        lines.append(f"threshold: {r.direction} {r.threshold:g}")
    if r.estimate is not None:
        interval = (
            "" if r.ci_low is None or r.ci_high is None else f" [{r.ci_low:.4f}, {r.ci_high:.4f}]"
        )
        lines.append(f"estimate: {r.estimate:.4f}{interval}")
    lines.append(f"units: {r.n_scored} scored, {r.n_error} errors, {r.n_unscored} unscored")
    if r.grade is not None:
        lines.append(f"grade: {r.grade}")
    if r.more_items_needed is not None:
        lines.append(f"more items needed: {r.more_items_needed}")
    if r.evidence is not None:
        lines.append(f"evidence: {r.evidence.report} (run {r.evidence.run_id})")
    lines.append(f"explanation: {r.explanation}")
    return "\n".join(lines)


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})


def _testcase(suite: ET.Element, r: RequirementResult) -> str:
    """Add the requirement's testcase; return its outcome (passed/failure/error/skipped)."""
    case = _sub(suite, "testcase", name=r.id, classname=r.clause, time="0")
    details = _details(r)
    message = _message(r.explanation)
    if r.verdict == "fail":
        _sub(case, "failure", message=message, type="fail").text = xml_text(details)
        return "failure"
    if r.verdict == "inconclusive":
        _sub(case, "error", message=message, type="inconclusive").text = xml_text(details)
        return "error"
    outcome = "passed"
    if r.verdict in _SKIP_LABELS:
        label = _SKIP_LABELS[r.verdict]
        said = r.explanation.lower().startswith(label)
        _sub(case, "skipped", message=message if said else _message(f"{label}: {r.explanation}"))
        outcome = "skipped"
    _sub(case, "system-out").text = xml_text(details)
    return outcome


def build_junit(assessment: Assessment) -> ET.Element:
    standard = assessment.standard
    root = ET.Element("testsuites", {"name": xml_text(f"llmcert assessment {standard.id}")})
    suite = _sub(
        root,
        "testsuite",
        name=f"{standard.id}@{standard.version}",
        timestamp=assessment.started_at,
    )
    properties = _sub(suite, "properties")
    model_digest = assessment.model.get("digest")
    for name, value in (
        ("assessment.id", assessment.assessment_id),
        ("assessment.verdict", assessment.verdict),
        ("model.ref", assessment.model.get("ref", "")),
        ("model.digest", "" if model_digest is None else model_digest),
        ("standard.id", standard.id),
        ("standard.version", standard.version),
        ("standard.status", standard.status),
        ("standard.digest", standard.digest),
        ("llmcert.version", assessment.environment.llmcert),
        ("seed", str(assessment.seed)),
        *_hardware_properties(assessment),
    ):
        _sub(properties, "property", name=name, value=str(value))
    tally = {"failure": 0, "error": 0, "skipped": 0, "passed": 0}
    for r in assessment.requirements:
        tally[_testcase(suite, r)] += 1
    counts = {
        "tests": str(len(assessment.requirements)),
        "failures": str(tally["failure"]),
        "errors": str(tally["error"]),
        "skipped": str(tally["skipped"]),
    }
    elapsed = _seconds(assessment.started_at, assessment.finished_at)
    for element in (root, suite):
        element.attrib.update(counts)
        if elapsed is not None:
            element.set("time", elapsed)
    return root


def render_junit(assessment: Assessment) -> str:
    """The JUnit XML document as text, with an XML declaration."""
    root = build_junit(assessment)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(assessment: Assessment, path: Path) -> None:
    """Write the JUnit XML atomically."""
    write_atomic(Path(path), render_junit(assessment).encode("utf-8"))


__all__ = ["render_junit", "write_junit"]


def _hardware_properties(assessment: Assessment) -> list[tuple[str, str]]:
    """The in-process backend's hardware class, when there was one (results hold for it)."""
    hc = assessment.environment.hardware_class
    if hc is None:
        return []
    return [("hardware.class", hc.label), ("hardware.key", hc.key)]
