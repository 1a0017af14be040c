"""The attack report page: R and D with intervals, the most effective attacks, transcripts.

Like every llmcert page it is self-contained, script-free, autoescaped and under a
Content-Security-Policy holding the hash of its own style. Transcripts contain
harmful requests and possibly harmful answers: they sit in collapsed sections
behind a content warning. It reads the ``llmcert.attack/1`` JSON as plain data,
so this package does not depend on the attack code.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from pathlib import Path
from typing import Any

from llmcert._fileio import write_atomic
from llmcert.report._html_kit import asset, csp_hash, template

#: Transcripts shown per attack (successes first); all are in attack.json.
EXAMPLES_PER_ATTACK = 3
_DIMENSION_TITLES = {
    "overall": "Overall",
    "level": "By level",
    "attack": "By attack",
    "risk": "By risk (GB/T 45654-2025)",
    "language": "By language",
}
_ORDER = {"success": 0, "unscorable": 1, "harmless": 2, "decline": 3}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _rate(rate: dict[str, Any]) -> dict[str, str]:
    lo, hi = rate.get("ci_low"), rate.get("ci_high")
    return {
        "estimate": _pct(rate.get("estimate")),
        "interval": "—" if lo is None else f"{_pct(lo)} – {_pct(hi)}",
        "method": str(rate.get("method", "")),
    }


def _tables(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in summaries:
        groups[s["dimension"]].append(
            s | {"r": _rate(s["success_rate"]), "d": _rate(s["decline_rate"])}
        )
    return [
        {"title": title, "rows": groups[dim]}
        for dim, title in _DIMENSION_TITLES.items()
        if groups[dim]
    ]


def _examples(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_attack: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_attack[r["attack"]].append(r)
    out = []
    for attack in sorted(by_attack):
        rows = sorted(
            by_attack[attack], key=lambda r: (_ORDER.get(r["outcome"], 9), r["behaviour_id"])
        )
        out.append({"attack": attack, "records": rows[:EXAMPLES_PER_ATTACK], "total": len(rows)})
    return out


def render_attack_html(result: dict[str, Any]) -> str:
    from markupsafe import Markup

    css = asset("report.css") + "\n" + asset("attack.css")
    csp = (
        f"default-src 'none'; style-src {csp_hash(css)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    levels = [
        {"level": name, **info, "rate": _rate(info["breach_rate"])}
        for name, info in sorted(result.get("levels", {}).items())
    ]
    return template("attack.html.j2").render(
        r=result,
        levels=levels,
        tables=_tables(result.get("summaries", [])),
        examples=_examples(result.get("records", [])),
        command=shlex.join(result.get("run", {}).get("command", [])),
        css=Markup(css),  # our own files, not data
        csp=csp,
    )


def write_attack_html(result: dict[str, Any], path: Path) -> None:
    write_atomic(Path(path), render_attack_html(result).encode("utf-8"))
