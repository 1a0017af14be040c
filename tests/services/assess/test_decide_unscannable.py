"""The insecure-code verdict says how many programs could not be scanned and what they counted as."""

from __future__ import annotations

from llmcert.codeexec import code_estimate
from llmcert.services.assess._decide import _with_unscannable
from llmcert.stats import ErrorPolicy, EstimateBound, Verdict
from tests.codeexec.test_insecure import _mixed

RULE = EstimateBound(confidence=0.95)


def test_the_count_of_unscannable_programs_is_stated_beside_the_rate() -> None:
    est = code_estimate("insecure_rate", _mixed(100, insecure=0, broken=2), level=RULE.level)
    decision = _with_unscannable(RULE.decide(est, 0.1, "at_most", min_n=100), est, "exclude")
    assert decision.verdict is Verdict.PASS
    assert "2 of 100 programs could not be scanned" in decision.explanation
    assert "whatever they contain" in decision.explanation


def test_inconclusive_if_any_leaves_the_verdict_open_and_keeps_the_rule_s_word() -> None:
    policy: ErrorPolicy = "inconclusive_if_any"
    est = code_estimate(
        "insecure_rate", _mixed(100, insecure=0, broken=2), level=RULE.level, unscannable=policy
    )
    decision = _with_unscannable(RULE.decide(est, 0.1, "at_most", min_n=90), est, policy)
    assert decision.verdict is Verdict.INCONCLUSIVE
    assert "By the rule alone: pass." in decision.explanation
