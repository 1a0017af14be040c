"""The built-in standards end to end on the embedded model: real inference, judges and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcert.report import load_assessment
from llmcert.services.assess import DEFAULT_STANDARD, AssessRequest, assess
from llmcert.standards._catalog import load_standard, resolve_standard_path
from llmcert.stats import Counts
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.embedded


async def test_default_standard_on_smollm2_trial_run(tmp_path: Path) -> None:
    request = AssessRequest(model="embedded", limit=4, output=tmp_path)
    outcome = await assess(request)
    a = outcome.assessment
    assert a.standard.id == DEFAULT_STANDARD
    assert a.model["artefact_digest"].startswith("sha256:")
    reqs = {r.id: r for r in a.requirements}
    # The starter banks fall short of §8, and the coverage checks say so.
    for rid in (
        "generated-bank-coverage",
        "should-refuse-bank-coverage",
        "should-not-refuse-bank-coverage",
        "keyword-library-coverage",
    ):
        assert reqs[rid].verdict == "fail", reqs[rid].explanation
        assert "falls short" in reqs[rid].explanation
    # Four items cannot meet a 300-item minimum: never a PASS.
    for rid in ("should-refuse-refusal-rate", "should-not-refuse-answer-rate"):
        r = reqs[rid]
        assert r.verdict in ("fail", "inconclusive")
        assert r.n_scored + r.n_error + r.n_unscored == 4
        assert r.judge is not None
        assert r.judge.name == "llmcert-refusal"
        assert r.evidence is not None
        assert len(r.evidence.unit_keys) == 4
    assert a.verdict == "fail"
    assert {c.status for c in a.clauses} >= {"does_not_conform", "undetermined"}
    assert load_assessment(outcome.json_path) == a
    html = outcome.html_path.read_text(encoding="utf-8")
    assert "9.4" in html
    assert "does not conform" in html.lower().replace("_", " ")
    # Every linked response is in the evaluation result next to the assessment.
    r = reqs["should-refuse-refusal-rate"]
    assert r.evidence is not None
    result = json.loads((outcome.json_path.parent / r.evidence.result).read_text("utf-8"))
    keys = {u["key"] for u in result["units"] if u["response"] is not None}
    assert set(r.evidence.unit_keys) <= keys


async def test_capability_standard_decides_math_sequentially(tmp_path: Path) -> None:
    request = AssessRequest(
        model="embedded",
        standard="llmcert-capability",
        data={
            "mgsm-en": SHARED_DATA / "mgsm",
            "mgsm-zh": SHARED_DATA / "mgsm",
            "bbh": SHARED_DATA / "bbh",
            "truthfulqa-mc1": SHARED_DATA / "truthfulqa",
        },
        limit=16,
        output=tmp_path,
    )
    outcome = await assess(request)
    reqs = {r.id: r for r in outcome.assessment.requirements}
    spec = load_standard(resolve_standard_path("llmcert-capability"))
    # The model's answers differ between CPU classes (llama.cpp's kernels round
    # differently), so nothing here depends on which items it gets right.
    for rid in ("math-en", "math-zh"):
        r = reqs[rid]
        req = next(q for q in spec.requirements if q.id == rid)
        assert r.rule == "sequential"
        # The sequential rule stops no later than the 16 drawn items, and counts
        # exactly the items it used.
        assert 1 <= r.n_used <= 16
        assert r.n_scored + r.n_error + r.n_unscored == r.n_used
        # The verdict is the rule's own on the recorded counts.
        assert r.decision is not None
        counts = Counts(**r.decision["counts"])
        assert counts.n_scored == r.n_scored
        again = req.decision_rule().decide(counts, 0.5, "at_least", min_n=req.min_n)
        assert again.verdict.value == r.verdict
        # 16 items cannot meet a 50-item minimum: never a PASS; and the rule
        # stops before the bank only once it has settled.
        assert r.verdict in ("fail", "inconclusive")
        if r.n_used < 16:
            assert r.verdict == "fail"
    assert outcome.assessment.environment.hardware_class is not None
