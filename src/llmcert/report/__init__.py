"""Reports of an evaluation and of an assessment: JSON for machines, HTML for people.

An evaluation's are written from one :class:`EvalResult`; an assessment's (JSON,
a clause-by-clause HTML self-assessment and JUnit XML) from one
:class:`Assessment`. Jinja2 loads only when a page is rendered and the assessment
writers only when first named, so importing this package stays cheap.
"""

from typing import TYPE_CHECKING

from llmcert._lazy import lazy_getattr as _lazy_getattr
from llmcert.report._hardware import HardwareClass, hardware_difference
from llmcert.report._html import preload_html, render_html, write_html
from llmcert.report._html_units import RequestRow, UnitSections
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

if TYPE_CHECKING:
    from llmcert.report._assessment import ASSESSMENT_SCHEMA, Assessment, assessment_judges
    from llmcert.report._assessment_html import render_assessment_html, write_assessment_html
    from llmcert.report._assessment_io import (
        assessment_digest,
        load_assessment,
        write_assessment_json,
    )
    from llmcert.report._attack_html import render_attack_html, write_attack_html
    from llmcert.report._junit import render_junit, write_junit
    from llmcert.report._perf_html import render_perf_html, write_perf_html

#: Assessment names load on first use (PEP 562): an evaluation never needs them.
_LAZY = {
    "ASSESSMENT_SCHEMA": "_assessment",
    "Assessment": "_assessment",
    "assessment_judges": "_assessment",
    "render_assessment_html": "_assessment_html",
    "write_assessment_html": "_assessment_html",
    "render_attack_html": "_attack_html",
    "write_attack_html": "_attack_html",
    "assessment_digest": "_assessment_io",
    "load_assessment": "_assessment_io",
    "write_assessment_json": "_assessment_io",
    "render_junit": "_junit",
    "write_junit": "_junit",
    "render_perf_html": "_perf_html",
    "write_perf_html": "_perf_html",
}


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "ASSESSMENT_SCHEMA",
    "SCHEMA",
    "Assessment",
    "Environment",
    "EvalResult",
    "HardwareClass",
    "MetricResult",
    "RequestRow",
    "RunInfo",
    "Timings",
    "UnitRecord",
    "UnitSections",
    "assessment_digest",
    "assessment_judges",
    "hardware_difference",
    "load_assessment",
    "load_result",
    "preload_html",
    "render_assessment_html",
    "render_attack_html",
    "render_html",
    "render_junit",
    "render_perf_html",
    "write_assessment_html",
    "write_assessment_json",
    "write_attack_html",
    "write_html",
    "write_json",
    "write_junit",
    "write_perf_html",
]
