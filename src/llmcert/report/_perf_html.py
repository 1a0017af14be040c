"""The performance page: figures with their bounds, a latency CDF, latency against load
from a sweep, and token timelines, as inline SVG in one self-contained file.

It reads the JSON form of a perf result (a plain mapping) so this package does not
depend on the load generator. Python computes every coordinate; the template places
them. Autoescaping is on and no value from the result is marked safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmcert._fileio import write_atomic
from llmcert.report._html_kit import asset, csp_hash, template

_W, _H, _PAD = 560, 240, 40
_TIMELINE_ROWS = 40


def _scale(lo: float, hi: float, a: float, b: float) -> Any:
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


def cdf_chart(series: Mapping[str, Sequence[float]]) -> dict[str, Any] | None:
    """Empirical CDFs (ms on x, share on y), one polyline per series."""
    values = [v for vs in series.values() for v in vs]
    if not values:
        return None
    hi = max(values)
    sx = _scale(0.0, hi, _PAD, _W - 10)
    sy = _scale(0.0, 1.0, _H - _PAD, 10)
    lines = []
    for name, vs in series.items():
        xs = sorted(vs)
        if not xs:
            continue
        pts = [(sx(x), sy((i + 1) / len(xs))) for i, x in enumerate(xs)]
        lines.append({"name": name, "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)})
    return {
        "w": _W, "h": _H, "lines": lines,
        "xticks": [(sx(t), f"{t:.0f}") for t in _ticks(0.0, hi)],
        "yticks": [(sy(t), f"{t:.2f}") for t in _ticks(0.0, 1.0)],
    }  # fmt: skip


def load_chart(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """P99 TTFT and SLO attainment against the offered rate."""
    pts = []
    for s in steps:
        m = s["metrics"]
        q = next((q for q in m["ttft_ms"]["quantiles"] if q["p"] == 0.99), None)
        pts.append((s["rate"], None if q is None else q["value"], m["attainment"]["share"]))
    if not pts:
        return None
    rates = [p[0] for p in pts]
    ttfts = [p[1] for p in pts if p[1] is not None] or [1.0]
    sx = _scale(0.0, max(rates), _PAD, _W - 40)
    top = max(ttfts) * 1.15  # headroom: the highest point is not drawn on the frame
    sy = _scale(0.0, top, _H - _PAD, 10)
    sa = _scale(0.0, 1.0, _H - _PAD, 10)
    ttft_pts = " ".join(f"{sx(r):.1f},{sy(t):.1f}" for r, t, _ in pts if t is not None)
    att_pts = " ".join(f"{sx(r):.1f},{sa(a):.1f}" for r, _, a in pts if a is not None)
    return {
        "w": _W, "h": _H, "ttft": ttft_pts, "attainment": att_pts,
        "dots": [(sx(r), sy(t)) for r, t, _ in pts if t is not None],
        "xticks": [(sx(t), f"{t:g}") for t in sorted(set(rates))],
        "yticks": [(sy(t), f"{t:.0f}") for t in _ticks(0.0, top)],
        "ayticks": [(sa(t), f"{t:.2f}") for t in _ticks(0.0, 1.0)],
    }  # fmt: skip


def timeline_chart(traces: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """One row per request (the first 40): scheduled → sent → tokens → end."""
    rows = list(traces)[:_TIMELINE_ROWS]
    if not rows:
        return None
    ends = [t["end"] or t["scheduled"] for t in rows]
    hi = max(ends + [t["scheduled"] for t in rows]) or 1.0
    lo = min(t["scheduled"] for t in rows)
    sx = _scale(lo, hi, _PAD, _W - 10)
    row_h = 8
    out = []
    for i, t in enumerate(rows):
        y = 10 + i * row_h
        end = t["end"] if t["end"] is not None else t["scheduled"]
        out.append({
            "y": y,
            "x0": sx(t["scheduled"]),
            "x1": sx(end),
            "sent": sx(t["sent"]) if t["sent"] is not None else None,
            "ticks": [sx(v) for v in t["token_times"]],
            "ok": t["status"] == "ok",
        })  # fmt: skip
    return {
        "w": _W, "h": 20 + len(rows) * row_h + 20, "rows": out,
        "xticks": [(sx(v), f"{v:.2f}") for v in _ticks(lo, hi)],
        "axis_y": 14 + len(rows) * row_h,
    }  # fmt: skip


def render_perf_html(data: Mapping[str, Any]) -> str:
    from markupsafe import Markup

    traces = data.get("traces", [])
    ok = [t for t in traces if t["status"] == "ok" and t["token_times"]]
    ttft = [(t["token_times"][0] - t["scheduled"]) * 1000 for t in ok]
    e2e = [(t["end"] - t["scheduled"]) * 1000 for t in ok if t["end"] is not None]
    css = asset("report.css") + "\n" + asset("perf.css")
    csp = f"default-src 'none'; style-src {csp_hash(css)}; img-src data:"
    sweep = data.get("sweep")
    return template("perf.html.j2").render(
        r=data,
        m=data["metrics"],
        cdf=cdf_chart({"TTFT": ttft, "end-to-end": e2e}),
        load=load_chart(sweep["steps"]) if sweep else None,
        timeline=timeline_chart(traces),
        css=Markup(css),  # our own files, not data
        csp=csp,
    )


def write_perf_html(data: Mapping[str, Any], path: Path) -> None:
    write_atomic(path, render_perf_html(data).encode("utf-8"))


__all__ = ["render_perf_html", "write_perf_html"]
