"""The human-readable report: one self-contained HTML file, usable offline.

Everything is inline (CSS, JS, SVG charts), and a Content-Security-Policy with
hashes of our own style and script forbids anything else from loading or
running. Model responses are untrusted text, so Jinja autoescaping is always on
and no untrusted value is marked safe. Python computes the layout (chart
geometry, which prompt text is shared); the templates only place it. Each
unit's section comes from :mod:`llmcert.report._html_units`.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from llmcert._fileio import write_atomic
from llmcert.report._html_kit import asset, csp_hash, fmt, group_label, template
from llmcert.report._html_units import UnitSections, unit_state
from llmcert.report._schema import EvalResult, MetricResult, UnitRecord

_LABEL_CHARS = 34

# Chart geometry, in SVG user units.
_LABEL_W = 230
_PLOT_W = 420
_VALUE_W = 150
_ROW_H = 24
_TOP = 28


@dataclass(frozen=True)
class ChartRow:
    label: str
    full_label: str
    y: float
    bar_x: float
    bar_w: float
    low_x: float | None
    high_x: float | None
    text: str


@dataclass(frozen=True)
class Chart:
    name: str
    width: int
    height: int
    rows: list[ChartRow]
    ticks: list[tuple[float, str]]
    plot_x: int
    value_x: int
    plot_bottom: float


def build_charts(metrics: list[MetricResult]) -> list[Chart]:
    """One horizontal bar chart per metric: a bar per group, whiskers for the interval."""
    by_name: dict[str, list[MetricResult]] = {}
    for metric in metrics:
        by_name.setdefault(metric.name, []).append(metric)
    charts = []
    for name, rows in by_name.items():
        rows.sort(key=lambda m: (bool(m.group), group_label(m.group)))
        numbers = [v for m in rows for v in (m.estimate, m.ci_low, m.ci_high) if v is not None]
        lo = min([0.0, *numbers])
        hi = max([1.0, *numbers])
        span = hi - lo

        def x(value: float, lo: float = lo, span: float = span) -> float:
            return round(_LABEL_W + (value - lo) / span * _PLOT_W, 1)

        out = []
        for i, m in enumerate(rows):
            label = group_label(m.group)
            short = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
            y = _TOP + i * _ROW_H
            if m.estimate is None:
                out.append(ChartRow(short, label, y, x(lo), 0.0, None, None, "nothing scored"))
                continue
            start, end = sorted((x(max(lo, 0.0)), x(m.estimate)))
            out.append(
                ChartRow(
                    short,
                    label,
                    y,
                    start,
                    round(end - start, 1),
                    None if m.ci_low is None else x(m.ci_low),
                    None if m.ci_high is None else x(m.ci_high),
                    f"{fmt(m.estimate)} [{fmt(m.ci_low)}, {fmt(m.ci_high)}] n={m.n_scored}",
                )
            )
        ticks = [(x(lo + span * f), f"{lo + span * f:g}") for f in (0, 0.25, 0.5, 0.75, 1)]
        bottom = _TOP + len(rows) * _ROW_H
        charts.append(
            Chart(
                name=name,
                width=_LABEL_W + _PLOT_W + _VALUE_W + 20,
                height=int(bottom) + 24,
                rows=out,
                ticks=ticks,
                plot_x=_LABEL_W,
                value_x=_LABEL_W + _PLOT_W + 10,
                plot_bottom=bottom,
            )
        )
    return charts


@dataclass(frozen=True)
class ErrorExample:
    index: int
    unit: UnitRecord


def _error_examples(units: list[UnitRecord]) -> dict[str, list[ErrorExample]]:
    examples: dict[str, list[ErrorExample]] = {}
    for index, unit in enumerate(units):
        if unit_state(unit) == "error":
            bucket = examples.setdefault(unit.error_kind or "unknown", [])
            if len(bucket) < 5:
                bucket.append(ErrorExample(index, unit))
    return examples


def preload_html() -> None:
    """Compile the templates ahead of time (e.g. while waiting on the network)."""
    template("report.html.j2")
    template("report_unit.html.j2")


def render_html(result: EvalResult, sections: UnitSections | None = None) -> str:
    """The report page as text; nothing is written.

    ``sections`` may hold units already rendered while the run was finishing; any
    unit it lacks is rendered now.
    """
    from markupsafe import Markup

    css, js = asset("report.css"), asset("report.js")
    if sections is None:
        sections = UnitSections.of(result.units)
    units_html = sections.html(result.units)
    states = Counter(unit_state(u) for u in result.units)
    csp = (
        f"default-src 'none'; style-src {csp_hash(css)}; script-src {csp_hash(js)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    prompt = result.suite.get("prompt")
    prompt_rest = (
        {k: v for k, v in prompt.items() if k not in ("system", "template", "few_shot")}
        if isinstance(prompt, dict)
        else {}
    )
    return template("report.html.j2").render(
        r=result,
        suite_rest={k: v for k, v in result.suite.items() if k not in ("prompt", "generation")},
        prompt_rest=prompt_rest,
        suite=result.suite,
        model=result.model,
        charts=build_charts(result.metrics),
        metrics=sorted(result.metrics, key=lambda m: (m.name, bool(m.group), group_label(m.group))),
        units_html=units_html,
        pool=sections.pool,
        states=states,
        common_request=sections.common_request,
        error_examples=_error_examples(result.units),
        command=shlex.join(result.run.command),
        css=Markup(css),  # our own file, not data
        js=Markup(js),  # our own file, not data
        csp=csp,
    )


def write_html(result: EvalResult, path: Path, sections: UnitSections | None = None) -> None:
    """Render, then replace ``path`` atomically: a failed render leaves the old file."""
    text = render_html(result, sections)
    write_atomic(Path(path), text.encode("utf-8"))
