"""The human-readable report: one self-contained HTML file, usable offline.

Everything is inline (CSS, JS, SVG charts), and a Content-Security-Policy with
hashes of our own style and script forbids anything else from loading or
running. Model responses are untrusted text, so Jinja autoescaping is always on
and no untrusted value is marked safe. Python computes the layout (chart
geometry, which prompt text is shared); the template only places it.

Prompts repeat a lot (system message, few-shot examples, repeats of one item).
Each distinct long text is written once and referenced, which keeps a
2000-unit report to a few megabytes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import shlex
from collections import Counter
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcert._fileio import write_atomic
from llmcert.report._schema import EvalResult, MetricResult, UnitRecord

if TYPE_CHECKING:
    from jinja2 import Template

#: A text at least this long that occurs in two or more prompts is written once.
SHARE_MIN_CHARS = 160
_PREVIEW_CHARS = 90
_LABEL_CHARS = 34

# Chart geometry, in SVG user units.
_LABEL_W = 230
_PLOT_W = 420
_VALUE_W = 150
_ROW_H = 24
_TOP = 28


@dataclass(frozen=True)
class Shared:
    ident: str
    label: str
    text: str
    uses: int

    @property
    def preview(self) -> str:
        head = " ".join(self.text[:_PREVIEW_CHARS].split())
        return head + ("…" if len(self.text) > _PREVIEW_CHARS else "")


@dataclass(frozen=True)
class Part:
    """One piece of a prompt: inline ``text``, or a reference to shared text."""

    label: str
    text: str | None = None
    shared: Shared | None = None


@dataclass
class UnitView:
    index: int
    unit: UnitRecord
    state: str
    extracted: str
    value: str
    latency: str
    parts: list[Part] = field(default_factory=list)
    continuations: list[str] = field(default_factory=list)
    extra_request: str | None = None
    same_as: UnitView | None = None
    response_text: str | None = None
    response_fields: list[tuple[str, str]] = field(default_factory=list)
    explanation: str | None = None


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


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def show(value: Any) -> str:
    """A value as a person reads it: strings as they are, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"  # timings and rates: enough digits, no float noise
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def group_label(group: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(group.items())) or "overall"


def unit_state(unit: UnitRecord) -> str:
    """error | unscored | wrong | correct: what the filters select on."""
    score = unit.score or {}
    status = score.get("status")
    if unit.status == "error" or status == "error":
        return "error"
    value = score.get("value")
    if status != "scored" or not isinstance(value, int | float):
        return "unscored"
    return "correct" if value >= 1.0 else "wrong"


def _texts(request: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of the parts of a request a person reads as the prompt."""
    out: list[tuple[str, str]] = []
    messages = request.get("messages")
    if isinstance(messages, list):
        for msg in messages:
            if isinstance(msg, dict):
                out.append((str(msg.get("role", "message")), show(msg.get("content", ""))))
            else:
                out.append(("message", show(msg)))
    for key in ("prompt", "context"):
        if isinstance(request.get(key), str):
            out.append((key, request[key]))
    return out


_PROMPT_KEYS = {"messages", "prompt", "context", "continuations"}


def _key(value: Any) -> str:
    """Equality key for JSON-like data (key order does not matter)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _common_prefix(texts: list[str]) -> str:
    if len(texts) < 2:
        return ""
    lo, hi = min(texts), max(texts)
    n = 0
    while n < len(lo) and lo[n] == hi[n]:
        n += 1
    prefix = lo[:n]
    cut = prefix.rfind("\n")
    return prefix[: cut + 1] if cut >= SHARE_MIN_CHARS else prefix


def _plan_sharing(requests: list[dict[str, Any]]) -> tuple[dict[str, Shared], Shared | None]:
    """Which texts to write once: repeated long parts, and a long common prefix."""
    counts: Counter[str] = Counter()
    labels: dict[str, str] = {}
    flat_prompts: list[str] = []
    for request in requests:
        for label, text in _texts(request):
            counts[text] += 1
            labels.setdefault(text, label)
            if label in ("prompt", "context"):
                flat_prompts.append(text)
    shared: dict[str, Shared] = {}
    for text, uses in counts.items():
        if uses >= 2 and len(text) >= SHARE_MIN_CHARS:
            shared[text] = Shared(f"s{len(shared) + 1}", labels[text], text, uses)
    prefix_text = _common_prefix([t for t in flat_prompts if t not in shared])
    prefix = None
    if len(prefix_text) >= SHARE_MIN_CHARS:
        uses = sum(1 for t in flat_prompts if t.startswith(prefix_text))
        prefix = Shared(f"s{len(shared) + 1}", "common prefix", prefix_text, uses)
    return shared, prefix


def _common_request_fields(units: list[UnitRecord]) -> dict[str, Any]:
    """Request fields other than the prompt with one value across all units (settings…)."""
    if not units:
        return {}
    first = {k: v for k, v in units[0].request.items() if k not in _PROMPT_KEYS}
    common: dict[str, Any] = {}
    for key, value in first.items():
        encoded = _key(value)
        if all(key in u.request and _key(u.request[key]) == encoded for u in units[1:]):
            common[key] = value
    return common


def build_units(
    units: list[UnitRecord], common: dict[str, Any]
) -> tuple[list[UnitView], list[Shared]]:
    keys = [_key(unit.request) for unit in units]
    distinct: dict[str, dict[str, Any]] = {}
    for key, unit in zip(keys, units, strict=True):
        distinct.setdefault(key, unit.request)
    shared, prefix = _plan_sharing(list(distinct.values()))
    seen: dict[str, UnitView] = {}
    views: list[UnitView] = []
    for index, (key, unit) in enumerate(zip(keys, units, strict=True)):
        score = unit.score or {}
        view = UnitView(
            index=index,
            unit=unit,
            state=unit_state(unit),
            extracted="" if score.get("extracted") is None else show(score["extracted"]),
            value=fmt(score["value"], 2) if isinstance(score.get("value"), int | float) else "—",
            latency="—" if unit.latency_s is None else f"{unit.latency_s:.2f} s",
            explanation=None if score.get("explanation") is None else show(score["explanation"]),
        )
        if key in seen:
            view.same_as = seen[key]
        else:
            seen[key] = view
            view.parts = _parts(unit.request, shared, prefix)
            conts = unit.request.get("continuations")
            if isinstance(conts, list):
                view.continuations = [show(c) for c in conts]
            extra = {
                k: v for k, v in unit.request.items() if k not in _PROMPT_KEYS and k not in common
            }
            view.extra_request = show(extra) if extra else None
        response = unit.response or {}
        if isinstance(response.get("text"), str):
            view.response_text = response["text"]
        view.response_fields = [(k, show(v)) for k, v in response.items() if k != "text"]
        views.append(view)
    pool = list(shared.values()) + ([prefix] if prefix else [])
    return views, pool


def _parts(request: dict[str, Any], shared: dict[str, Shared], prefix: Shared | None) -> list[Part]:
    parts: list[Part] = []
    for label, text in _texts(request):
        if text in shared:
            parts.append(Part(label, shared=shared[text]))
        elif prefix is not None and label in ("prompt", "context") and text.startswith(prefix.text):
            parts.append(Part(label, shared=prefix))
            parts.append(Part(label + " (continued)", text=text[len(prefix.text) :]))
        else:
            parts.append(Part(label, text=text))
    return parts


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


def _error_examples(views: list[UnitView]) -> dict[str, list[UnitView]]:
    examples: dict[str, list[UnitView]] = {}
    for view in views:
        if view.state == "error":
            kind = view.unit.error_kind or "unknown"
            bucket = examples.setdefault(kind, [])
            if len(bucket) < 5:
                bucket.append(view)
    return examples


def _asset(name: str) -> str:
    return (files("llmcert.report") / "templates" / name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


@functools.lru_cache(maxsize=4)
def template(name: str) -> Template:
    """A packaged template, always autoescaped and strict about undefined names."""
    from jinja2 import Environment, StrictUndefined

    env = Environment(
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["show"] = show
    env.filters["fmt"] = fmt
    env.globals["group_label"] = group_label
    return env.from_string(_asset(name))


def _template() -> Template:
    return template("report.html.j2")


def preload_html() -> None:
    """Compile the page template ahead of time (e.g. while waiting on the network)."""
    _template()


def render_html(result: EvalResult) -> str:
    """The report page as text; nothing is written."""
    from markupsafe import Markup

    css, js = _asset("report.css"), _asset("report.js")
    common = _common_request_fields(result.units)
    views, pool = build_units(result.units, common)
    states = Counter(v.state for v in views)
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    prompt = result.suite.get("prompt")
    prompt_rest = (
        {k: v for k, v in prompt.items() if k not in ("system", "template", "few_shot")}
        if isinstance(prompt, dict)
        else {}
    )
    return _template().render(
        r=result,
        suite_rest={k: v for k, v in result.suite.items() if k not in ("prompt", "generation")},
        prompt_rest=prompt_rest,
        suite=result.suite,
        model=result.model,
        charts=build_charts(result.metrics),
        metrics=sorted(result.metrics, key=lambda m: (m.name, bool(m.group), group_label(m.group))),
        units=views,
        pool=pool,
        states=states,
        common_request=common,
        error_examples=_error_examples(views),
        command=shlex.join(result.run.command),
        css=Markup(css),  # our own file, not data
        js=Markup(js),  # our own file, not data
        csp=csp,
    )


def write_html(result: EvalResult, path: Path) -> None:
    """Render, then replace ``path`` atomically: a failed render leaves the old file."""
    text = render_html(result)
    write_atomic(Path(path), text.encode("utf-8"))
