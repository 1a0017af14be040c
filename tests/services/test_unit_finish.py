"""Units scored and rendered while the last calls are in flight give the very same report."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmcert.engine import RetryPolicy
from llmcert.report import UnitSections, load_result, render_html
from llmcert.services._results import UnitResult
from llmcert.services._unit_finish import UnitFinisher
from llmcert.services.evaluate import EvalRequest, evaluate
from llmcert.testing import FakeOpenAIServer


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLMCERT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


async def test_the_report_rendered_ahead_equals_one_rendered_afresh(
    tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[int] = []
    original = UnitSections.render

    def counting(self: UnitSections, index: int, unit: object) -> None:
        rendered.append(index)
        original(self, index, unit)  # type: ignore[arg-type]

    monkeypatch.setattr(UnitSections, "render", counting)
    ahead: list[int] = []
    complete = UnitFinisher.complete

    def at_the_end(self: UnitFinisher) -> list[UnitResult]:
        ahead.append(len(rendered))
        return complete(self)

    monkeypatch.setattr(UnitFinisher, "complete", at_the_end)
    async with FakeOpenAIServer(latency=0.2) as srv:
        ref = f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}"
        request = EvalRequest(
            model=ref, suite=str(tiny_suite), output=tmp_path / "out", concurrency=5, repeats=2
        )
        outcome = await evaluate(request, retry=RetryPolicy(base_delay=0.001))
    assert len(rendered) == 24
    # The last wave was still in flight while the units answered before it were rendered.
    assert ahead[0] >= 15
    assert len(set(rendered)) == 24  # each unit once: none rendered ahead was rendered again
    result = load_result(outcome.result_path)
    assert outcome.report_path.read_text(encoding="utf-8") == render_html(result)
