"""The self-assessment page: one self-contained HTML file fit to attach to a filing.

It follows the evaluation report: inline CSS, no script, a Content-Security-Policy
holding the hash of our own style, Jinja autoescaping always on. Requirement text,
explanations, paths and model fields are data and never marked safe. Evidence
paths become links only when they are relative paths, so a crafted assessment
cannot make the page point anywhere else. Python computes the layout; the
template only places it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from llmcert._fileio import write_atomic
from llmcert.errors import LlmcertError
from llmcert.report._assessment import (
    Assessment,
    ClauseResult,
    EvidenceLink,
    RequirementResult,
)
from llmcert.report._assessment_io import assessment_digest
from llmcert.report._html_kit import asset, csp_hash, fmt, show, template

if TYPE_CHECKING:
    from jinja2 import Template

VERDICT_LABELS = {
    "pass": "PASS",
    "fail": "FAIL",
    "inconclusive": "INCONCLUSIVE",
    "info": "INFO",
    "not_applicable": "NOT APPLICABLE",
}
STATUS_LABELS = {
    "conforms": "conforms",
    "does_not_conform": "does not conform",
    "not_applicable": "not applicable",
    "undetermined": "undetermined",
}
_SHOWN_FAILING_KEYS = 25
_LABEL_CHARS = 30

# Chart geometry, in SVG user units.
_LABEL_W = 210
_PLOT_W = 400
_VALUE_W = 330
_ROW_H = 24
_TOP = 28


@dataclass(frozen=True)
class Link:
    """An evidence file: ``href`` is None when the path is not safe to link."""

    label: str
    path: str
    href: str | None
    exists: bool | None


@dataclass(frozen=True)
class Evidence:
    link: EvidenceLink
    files: list[Link]
    failing_shown: list[str]
    failing_more: int


@dataclass(frozen=True)
class RequirementView:
    anchor: str
    r: RequirementResult
    measure: str
    is_rate: bool
    estimate: str
    interval: str
    threshold: str
    rule: str
    verdict_label: str
    evidence: Evidence | None
    check: list[tuple[str, str]]
    decision: str | None
    #: For a serving-performance requirement: its perf.json and perf.html.
    perf_files: list[Link] = field(default_factory=list)


@dataclass(frozen=True)
class ClauseView:
    anchor: str
    c: ClauseResult
    status_label: str
    requirements: list[RequirementView]
    missing: list[str]


@dataclass(frozen=True)
class ChartRow:
    label: str
    full_label: str
    y: float
    verdict: str
    bar_x: float
    bar_w: float
    low_x: float | None
    high_x: float | None
    threshold_x: float | None
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    rows: list[ChartRow]
    ticks: list[tuple[float, str]]
    plot_x: int
    value_x: int
    plot_bottom: float


def describe_measure(measure: dict[str, Any]) -> str:
    """The measure in one line: suite and metric (and group), or the evidence check."""
    kind = measure.get("kind")
    if kind == "suite":
        text = f"{show(measure.get('suite', '?'))} · {show(measure.get('metric', 'accuracy'))}"
        group = measure.get("group")
        if isinstance(group, dict) and group:
            text += " · " + ", ".join(f"{k}={show(v)}" for k, v in sorted(group.items()))
        return text
    if kind == "attack":
        levels = ",".join(str(v) for v in measure.get("levels", []))
        budget = measure.get("budget")
        text = f"attacks {levels} on {show(measure.get('bank', '?'))} · breach rate"
        return text + (f" · budget {budget} calls" if budget is not None else "")
    if kind == "perf":
        return describe_perf(measure)
    if kind == "evidence":
        text = f"check {show(measure.get('check', '?'))}"
        params = measure.get("params")
        if isinstance(params, dict) and params:
            text += " " + show(params)
        return text
    return show(measure)


def describe_perf(measure: dict[str, Any]) -> str:
    """e.g. 'perf · ttft ≤ 2000 ms (quantile = threshold) · open loop at 10 req/s'."""
    metric, limit = show(measure.get("metric", "?")), measure.get("limit")
    load = measure.get("load") or {}
    where = (
        f"open loop at {show(load.get('rate'))} req/s"
        if load.get("mode") == "open"
        else f"closed loop at {show(load.get('concurrency'))} in flight"
    )
    if metric == "energy_per_output_token":
        return f"perf · energy per output token ≤ {show(limit)} J · {where}"
    if metric == "slo_attainment":
        return f"perf · share meeting SLOs {show(measure.get('slo'))} · {where}"
    return f"perf · {metric} ≤ {show(limit)} ms at the threshold quantile · {where}"


def describe_threshold(r: RequirementResult) -> str:
    if r.threshold is None:
        return "—"
    sign = "≥" if r.direction == "at_least" else "≤"
    return f"{sign} {r.threshold:g}"


def describe_rule(r: RequirementResult) -> str:
    if r.confidence is None:
        return r.rule
    return f"{r.rule} at {r.confidence * 100:g}%"


def describe_interval(r: RequirementResult) -> str:
    if r.ci_low is None or r.ci_high is None:
        return "—"
    return f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}]"


def safe_href(path: str) -> str | None:
    """A relative URL for ``path``, or None when it names a scheme, host or absolute path."""
    posix = path.replace("\\", "/").strip()
    if not posix or posix.startswith("/") or ":" in posix.split("/", 1)[0]:
        return None
    parts = urlsplit(posix)
    if parts.scheme or parts.netloc:
        return None
    return quote(posix, safe="/")


def _file(label: str, path: str, base: Path | None) -> Link:
    href = safe_href(path)
    exists = None if base is None or href is None else (base / path).is_file()
    return Link(label, path, href, exists)


def _evidence(link: EvidenceLink | None, base: Path | None) -> Evidence | None:
    if link is None:
        return None
    failing = link.failing_unit_keys
    return Evidence(
        link=link,
        files=[_file("report", link.report, base), _file("result", link.result, base)],
        failing_shown=failing[:_SHOWN_FAILING_KEYS],
        failing_more=max(0, len(failing) - _SHOWN_FAILING_KEYS),
    )


def build_requirement(r: RequirementResult, index: int, base: Path | None) -> RequirementView:
    return RequirementView(
        anchor=f"r{index}",
        r=r,
        measure=describe_measure(r.measure),
        is_rate=r.measure.get("kind") != "evidence",
        estimate=fmt(r.estimate),
        interval=describe_interval(r),
        threshold=describe_threshold(r),
        rule=describe_rule(r),
        verdict_label=VERDICT_LABELS.get(r.verdict, r.verdict),
        evidence=_evidence(r.evidence, base),
        check=[(k, show(v)) for k, v in sorted((r.check or {}).items())],
        decision=None if r.decision is None else show(r.decision),
        perf_files=[
            _file(label, str(r.perf[key]), base)
            for label, key in (("report", "report"), ("requests", "result"))
            if r.perf and key in r.perf
        ],
    )


def build_ledger(
    clauses: list[ClauseResult], views: list[RequirementView]
) -> tuple[list[ClauseView], list[RequirementView]]:
    """Each clause with its requirements; the requirements no clause claims come back apart."""
    by_id = {v.r.id: v for v in views}
    claimed: set[str] = set()
    ledger = []
    for index, clause in enumerate(clauses, 1):
        listed = [by_id[i] for i in clause.requirements if i in by_id]
        extra = [v for v in views if v.r.clause == clause.id and v.r.id not in clause.requirements]
        claimed.update(v.r.id for v in listed + extra)
        ledger.append(
            ClauseView(
                anchor=f"c{index}",
                c=clause,
                status_label=STATUS_LABELS.get(clause.status, clause.status),
                requirements=listed + extra,
                missing=[i for i in clause.requirements if i not in by_id],
            )
        )
    return ledger, [v for v in views if v.r.id not in claimed]


def build_chart(requirements: list[RequirementResult]) -> Chart | None:
    """Estimates with interval whiskers against each threshold; None when nothing is a rate."""
    rows = [r for r in requirements if r.estimate is not None or r.threshold is not None]
    if not rows:
        return None
    numbers = [
        v for r in rows for v in (r.estimate, r.ci_low, r.ci_high, r.threshold) if v is not None
    ]
    lo = min([0.0, *numbers])
    hi = max([1.0, *numbers])
    span = hi - lo

    def x(value: float) -> float:
        return round(_LABEL_W + (value - lo) / span * _PLOT_W, 1)

    out = []
    for i, r in enumerate(rows):
        label = r.id if len(r.id) <= _LABEL_CHARS else r.id[: _LABEL_CHARS - 1] + "…"
        y = _TOP + i * _ROW_H
        threshold_x = None if r.threshold is None else x(r.threshold)
        verdict = VERDICT_LABELS.get(r.verdict, r.verdict)
        if r.estimate is None:
            text = f"no estimate; needs {describe_threshold(r)} → {verdict}"
            out.append(
                ChartRow(label, r.id, y, r.verdict, x(lo), 0.0, None, None, threshold_x, text)
            )
            continue
        start, end = sorted((x(max(lo, 0.0)), x(r.estimate)))
        text = f"{fmt(r.estimate)} {describe_interval(r)} vs {describe_threshold(r)} → {verdict}"
        out.append(
            ChartRow(
                label,
                r.id,
                y,
                r.verdict,
                start,
                round(end - start, 1),
                None if r.ci_low is None else x(r.ci_low),
                None if r.ci_high is None else x(r.ci_high),
                threshold_x,
                text,
            )
        )
    bottom = _TOP + len(rows) * _ROW_H
    return Chart(
        width=_LABEL_W + _PLOT_W + _VALUE_W + 20,
        height=int(bottom) + 24,
        rows=out,
        ticks=[(x(lo + span * f), f"{lo + span * f:g}") for f in (0, 0.25, 0.5, 0.75, 1)],
        plot_x=_LABEL_W,
        value_x=_LABEL_W + _PLOT_W + 10,
        plot_bottom=bottom,
    )


def _template() -> Template:
    return template("assessment.html.j2")


def _css() -> str:
    return asset("report.css") + "\n" + asset("assessment.css")


def render_assessment_html(assessment: Assessment, *, base: Path | None = None) -> str:
    """The page as text; nothing is written.

    ``base`` is the directory the page will sit in, beside the assessment JSON
    whose evidence paths are relative to it. When given, each linked evidence
    file is checked and a missing one is flagged on the page.
    """
    from markupsafe import Markup

    css = _css()
    csp = (
        f"default-src 'none'; style-src {csp_hash(css)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    views = [build_requirement(r, i, base) for i, r in enumerate(assessment.requirements, 1)]
    ledger, unassigned = build_ledger(assessment.clauses, views)
    try:
        digest = assessment_digest(assessment)
    except LlmcertError as exc:
        digest = f"not computable: {exc}"
    grades = any(r.grade is not None for r in assessment.requirements)
    statuses = {key: 0 for key in STATUS_LABELS}
    for clause in assessment.clauses:
        statuses[clause.status] = statuses.get(clause.status, 0) + 1
    return _template().render(
        a=assessment,
        standard=assessment.standard,
        model=assessment.model,
        verdict_label=VERDICT_LABELS[assessment.verdict],
        requirements=views,
        grades=grades,
        chart=build_chart(assessment.requirements),
        ledger=ledger,
        clause_anchor={v.c.id: v.anchor for v in ledger},
        unassigned=unassigned,
        statuses=[(STATUS_LABELS[k], n) for k, n in statuses.items() if k in STATUS_LABELS],
        command=shlex.join(assessment.command),
        digest=digest,
        css=Markup(css),  # our own files, not data
        csp=csp,
    )


def write_assessment_html(assessment: Assessment, path: Path) -> None:
    """Render, then replace ``path`` atomically; evidence is checked beside ``path``."""
    path = Path(path)
    text = render_assessment_html(assessment, base=path.parent)
    write_atomic(path, text.encode("utf-8"))


__all__ = ["render_assessment_html", "write_assessment_html"]
