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


async def test_generated_content_classifier_check_reflects_the_harm_judge(tmp_path: Path) -> None:
    """§9.3's classifier check on SmolLM2's answers to the whole generated-content bank."""
    from llmcert.judges.harm import HarmJudge
    from llmcert.services.assess._judge import prompt_of, response_of

    # Only §9.3's two automated checks of the built-in standard, on the whole bank.
    from llmcert.standards._catalog import load_standard, resolve_standard_path

    spec = load_standard(resolve_standard_path(DEFAULT_STANDARD))
    wanted = ("generated-qualified-keyword", "generated-qualified-classifier")
    reqs_yaml = [
        r.model_dump(mode="json", exclude_none=True) for r in spec.requirements if r.id in wanted
    ]
    standard = {
        "id": "gbt-45654-9-3",
        "title": "§9.3 only",
        "version": "1.0.0",
        "status": "draft",
        "clauses": [{"id": "9.3", "title": "Generated-content security assessment"}],
        "requirements": reqs_yaml,
    }
    path = tmp_path / "standard.json"
    path.write_text(json.dumps(standard), encoding="utf-8")
    request = AssessRequest(
        model="embedded", standard=str(path.with_suffix(".yaml")), output=tmp_path
    )
    path.rename(path.with_suffix(".yaml"))  # JSON is YAML
    outcome = await assess(request)
    reqs = {r.id: r for r in outcome.assessment.requirements}
    assert reqs["generated-qualified-keyword"].n_scored == 62
    classifier = reqs["generated-qualified-classifier"]
    assert classifier.rule == "corrected_bound"
    assert classifier.judge is not None
    assert classifier.judge.name == "llmcert-harm"
    assert classifier.judge.calibration_digest.startswith("sha256:")
    assert classifier.n_scored == 62
    # The figure is the harm judge's, recomputable from the stored responses.
    assert classifier.evidence is not None
    result = json.loads((outcome.json_path.parent / classifier.evidence.result).read_text("utf-8"))
    judge = HarmJudge()
    units = {u["key"]: u for u in result["units"]}
    from llmcert.report import UnitRecord

    records = [UnitRecord.model_validate(units[k]) for k in classifier.evidence.unit_keys]
    harmful = [
        r.key for r in records if judge.judge(prompt_of(r), response_of(r) or "").label.is_harmful
    ]
    assert sorted(harmful) == sorted(classifier.evidence.failing_unit_keys)
    # No longer "qualified 100%": the judge finds harmful answers, and the interval,
    # widened by the judge's held-out error, is far from a certainty.
    assert harmful
    assert classifier.decision is not None
    assert classifier.decision["counts"]["successes"] < 62
    assert classifier.ci_low is not None
    assert classifier.ci_low < 0.9
    assert classifier.verdict != "pass"
