"""End to end on the embedded models with a few items: real inference, real journal, real reports."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from llmcert.models.embedded import embedded_model_path
from llmcert.services.evaluate import EvalRequest, evaluate
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.embedded


async def test_default_suite_on_smollm2_small_n(tmp_path: Path) -> None:
    request = EvalRequest(model="embedded", suite="default", limit=4, output=tmp_path)
    first = await evaluate(request)
    result = first.result
    assert result.timings.units_total == 4
    assert result.timings.units_sent == 4
    assert all(u.status == "ok" for u in result.units)
    overall = result.metrics[0]
    assert overall.group == {}
    assert overall.n_scored + overall.n_error + overall.n_unscored == overall.n_planned == 4
    assert overall.ci_low is not None
    assert overall.ci_high is not None
    assert overall.ci_low <= (overall.estimate or 0.0) <= overall.ci_high
    expected = "sha256:" + hashlib.sha256(embedded_model_path("smollm2").read_bytes()).hexdigest()
    assert result.model["artefact_digest"] == expected
    assert result.model["chat_template_digest"] is not None
    assert first.report_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    again = await evaluate(request)
    assert again.result.timings.units_sent == 0
    assert again.result.timings.units_from_journal == 4
    assert [u.response for u in again.result.units] == [u.response for u in result.units]

    # Answered afresh (another journal), the same machine gives the same answers:
    # outputs differ between CPU classes, never between runs on one.
    fresh = await evaluate(dataclasses.replace(request, output=tmp_path / "fresh"))
    assert fresh.result.timings.units_sent == 4
    assert [u.response for u in fresh.result.units] == [u.response for u in result.units]
    hardware = result.environment.hardware_class
    assert hardware is not None
    assert hardware.engine == "llama.cpp"
    assert fresh.result.environment.hardware_class == hardware


async def test_loglikelihood_suite_on_gemma_small_n(tmp_path: Path) -> None:
    data = SHARED_DATA / "truthfulqa"
    if not data.is_dir():
        pytest.skip(f"the public datasets are not beside the repository ({data})")
    request = EvalRequest(
        model="embedded:gemma3-270m", suite="truthfulqa-mc1", data=data, limit=3, output=tmp_path
    )
    outcome = await evaluate(request)
    units = outcome.result.units
    assert len(units) == 3
    for u in units:
        assert u.status == "ok"
        assert u.response is not None
        logprobs = u.response["logprobs"]
        assert len(logprobs) == len(u.request["continuations"])
        assert all(lp < 0 for lp in logprobs)
        assert u.score is not None
        assert u.score["status"] == "scored"
