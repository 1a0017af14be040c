"""Unit sections rendered ahead, one at a time, make the same page as rendering all at once."""

from __future__ import annotations

import pytest

from llmcert.report import EvalResult, UnitSections, render_html


def test_sections_rendered_ahead_are_placed_as_they_are(result: EvalResult) -> None:
    sections = UnitSections.of(result.units)
    for index, unit in enumerate(result.units):
        if index % 2 == 0:
            sections.render(index, unit)
    assert render_html(result, sections) == render_html(result)


def test_a_section_rendered_for_another_unit_is_rendered_again(result: EvalResult) -> None:
    sections = UnitSections.of(result.units)
    first, second = result.units[0], result.units[1]
    sections.render(0, second)  # wrong record for this place
    assert render_html(result, sections) == render_html(result)
    assert first.key != second.key


def test_sections_planned_for_other_units_are_refused(result: EvalResult) -> None:
    sections = UnitSections.of(result.units[:-1])
    with pytest.raises(ValueError, match="planned"):
        render_html(result, sections)
