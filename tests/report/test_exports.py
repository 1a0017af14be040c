"""The public namespace of llmcert.report is exactly its __all__."""

from __future__ import annotations

import sys

import llmcert.report as report
import llmcert.stats as stats


def _public(module: object) -> set[str]:
    return {
        name
        for name in vars(module)
        if not name.startswith("_") and type(getattr(module, name)).__name__ != "module"
    }


def test_report_all_matches_exports() -> None:
    eager = _public(report) - {"TYPE_CHECKING", "Any"}
    assert set(report.__all__) == eager | set(report._LAZY)
    for name in report._LAZY:  # every lazy name resolves
        assert getattr(report, name) is not None
    assert {
        "EvalResult",
        "MetricResult",
        "UnitRecord",
        "Timings",
        "write_json",
        "write_html",
        "load_result",
    } <= set(report.__all__)


def test_stats_all_matches_exports() -> None:
    assert set(stats.__all__) == _public(stats)


def test_importing_is_light() -> None:
    # Jinja, numpy and scipy load when used, not when the schema is imported.
    import subprocess

    code = (
        "import sys, llmcert.report, llmcert.stats; "
        "print(*(m in sys.modules for m in ('jinja2', 'scipy', 'numpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]
