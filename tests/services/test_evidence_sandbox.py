"""The sandbox self-test as evidence: it fails when model-written code ran without the sandbox."""

from __future__ import annotations

import pytest

from llmcert.sandbox import OPT_OUT_ENV
from llmcert.services._evidence import EvidenceContext, run_check
from llmcert.stats import Verdict


def test_opt_out_makes_the_self_test_fail_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OPT_OUT_ENV, "debugging on a laptop")
    result = run_check("sandbox-self-test", {}, EvidenceContext())
    assert result.verdict is Verdict.FAIL
    assert "WITHOUT the sandbox" in result.explanation
    assert result.details["opt_out"] == "debugging on a laptop"
    assert len(result.details["probes"]) >= 16
