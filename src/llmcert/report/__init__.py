"""Reports of an evaluation: the JSON record for machines, an HTML page for people.

Both are written from one :class:`EvalResult`. The HTML writer imports Jinja2
only when called, so importing this package (and the schema) stays cheap.
"""

from llmcert.report._html import preload_html, render_html, write_html
from llmcert.report._json import load_result, write_json
from llmcert.report._schema import (
    SCHEMA,
    Environment,
    EvalResult,
    MetricResult,
    RunInfo,
    Timings,
    UnitRecord,
)

__all__ = [
    "SCHEMA",
    "Environment",
    "EvalResult",
    "MetricResult",
    "RunInfo",
    "Timings",
    "UnitRecord",
    "load_result",
    "preload_html",
    "render_html",
    "write_html",
    "write_json",
]
