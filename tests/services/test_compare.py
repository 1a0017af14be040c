"""Comparing two results: paired agreement, differing conditions, and the hardware class."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcert.cli._app import app
from llmcert.errors import SpecError
from llmcert.models import GenerateRequest, Generation
from llmcert.services.compare import ConditionsDiffer, compare_results, mcnemar_exact
from llmcert.services.evaluate import EvalRequest, evaluate
from tests.conftest import write_suite
from tests.services.test_hardware import InProcess

AVX512 = "AVX2 = 1 | AVX512 = 1"
AVX2 = "AVX2 = 1"


class WrongOnSome(InProcess):
    """Answers items whose number is a multiple of three wrongly."""

    async def generate(self, request: GenerateRequest) -> Generation:
        right = await super().generate(request)
        if int(right.text.split()[-1]) % 3 == 0:
            return Generation("something else", "stop", 1, 2)
        return right


async def _result(tmp_path: Path, name: str, backend: InProcess, suite: str = "suite") -> Path:
    items = [{"id": f"q{i:02d}", "input": f"say {i}", "target": f"say {i}"} for i in range(30)]
    if not (tmp_path / suite).exists():
        write_suite(tmp_path / suite, items if suite == "suite" else items[:5])
    outcome = await evaluate(
        EvalRequest(model="mock:echo", suite=str(tmp_path / suite / "suite.yaml"),
                    output=tmp_path / name),
        backend=backend,
    )  # fmt: skip
    return outcome.result_path


async def test_same_class_compares_unit_by_unit(tmp_path: Path) -> None:
    a = await _result(tmp_path, "a", InProcess(AVX2))
    b = await _result(tmp_path, "b", WrongOnSome(AVX2))
    comparison = compare_results(a, b, same_hardware=True)
    assert comparison.hardware is None
    assert comparison.warnings == []
    u = comparison.units
    assert u.matched == 30
    assert u.identical_outputs == 20
    assert u.same_outcome == 20
    assert (u.only_a_right, u.only_b_right) == (10, 0)
    assert u.p_value == pytest.approx(2 * 0.5**10)
    assert u.differing_items[:2] == ("q00", "q03")
    overall = next(m for m in comparison.metrics if not m.group)
    assert overall.a == 1.0
    assert overall.b == pytest.approx(20 / 30)


async def test_another_class_warns_or_is_refused(tmp_path: Path) -> None:
    a = await _result(tmp_path, "a", InProcess(AVX512))
    b = await _result(tmp_path, "b", InProcess(AVX2))
    comparison = compare_results(a, b)
    assert comparison.hardware is not None
    assert "without CPU:AVX512" in comparison.hardware
    [warning] = comparison.warnings
    assert "may be the hardware's" in warning
    assert comparison.units.identical_outputs == 30  # still compared
    with pytest.raises(ConditionsDiffer, match="--same-hardware"):
        compare_results(a, b, same_hardware=True)

    runner = CliRunner()
    warned = runner.invoke(app, ["compare", str(a), str(b)])
    assert warned.exit_code == 0, warned.output
    assert "warning: hardware class differs" in warned.output
    assert "identical outputs 30" in warned.output
    refused = runner.invoke(app, ["compare", str(a), str(b), "--same-hardware"])
    assert refused.exit_code == 3
    assert "not compared (--same-hardware)" in refused.output


async def test_results_of_different_suites_are_not_compared(tmp_path: Path) -> None:
    a = await _result(tmp_path, "a", InProcess(AVX2))
    b = await _result(tmp_path, "b", InProcess(AVX2), suite="other")
    with pytest.raises(SpecError, match="different suites"):
        compare_results(a, b)


def test_mcnemar_exact() -> None:
    assert mcnemar_exact(0, 0) is None
    assert mcnemar_exact(3, 3) == pytest.approx(1.0)
    assert mcnemar_exact(0, 6) == pytest.approx(2 * 0.5**6)
