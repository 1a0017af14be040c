"""The cache, the calibration and the scorer's statuses."""

from __future__ import annotations

import json
from pathlib import Path

from llmcert.codeexec import CodeRunner, CodeTestsScorer, ExecutionCache, Job
from llmcert.codeexec import _scorer as scorer_module
from llmcert.items import Item
from llmcert.models._types import Generation
from llmcert.sandbox import Sandbox, SandboxPolicy
from llmcert.scoring import ScoreStatus

PROGRAM = "def inc(x):\n    return x + 1\n"
TESTS = "assert inc(1) == 2\n"


def test_rerunning_never_executes_twice(tmp_path: Path) -> None:
    first = CodeRunner(Sandbox(), cache=ExecutionCache(tmp_path / "x.sqlite"))
    a = first.run(PROGRAM, TESTS, cpu_seconds=4)
    assert first.executed == 1
    first.cache.close()
    second = CodeRunner(Sandbox(), cache=ExecutionCache(tmp_path / "x.sqlite"))
    b = second.run(PROGRAM, TESTS, cpu_seconds=4)
    assert second.executed == 0
    assert a == b
    # other limits are another execution
    second.run(PROGRAM, TESTS, cpu_seconds=5)
    assert second.executed == 1


def test_sandbox_failures_are_not_cached(tmp_path: Path) -> None:
    broken = SandboxPolicy(python="/usr/bin/python3")  # fine policy; break the call instead
    cache = ExecutionCache(tmp_path / "x.sqlite")
    runner = CodeRunner(Sandbox(broken), cache=cache)
    bad = broken.model_copy(update={"python": "/nonexistent/python3"})
    ex = runner.sandbox.run(PROGRAM, TESTS, policy=bad)
    cache.put("k", ex)
    assert cache.get("k") is None


def test_calibration_is_max_of_base_and_k_times_reference(runner: CodeRunner) -> None:
    slow = (
        "def inc(x):\n    s = 0\n    for i in range(3_000_000):\n        s += i\n    return x + 1\n"
    )
    cal = runner.calibrate(Job(slow, TESTS))
    assert cal.reference_outcome == "passed"
    assert cal.t_reference is not None
    assert cal.t_reference > 0
    assert cal.cpu_limit == round(max(4.0, 4.0 * cal.t_reference), 3)
    fast = runner.calibrate(Job(PROGRAM, TESTS))
    assert fast.cpu_limit == 4.0


def _item(canonical: str = PROGRAM) -> Item:
    return Item(
        id="t-1",
        input="x",
        metadata={"prompt": "", "entry_point": "inc", "canonical": canonical, "tests": TESTS},
    )


def _scorer(runner: CodeRunner) -> CodeTestsScorer:
    scorer_module._RUNNERS[(4.0, 4.0, None)] = runner
    return CodeTestsScorer(prompt="chat")


def test_scorer_records_outcome_and_calibration(runner: CodeRunner) -> None:
    scorer = _scorer(runner)
    good = scorer.score(_item(), Generation("```python\n" + PROGRAM + "```"))
    wrong = scorer.score(_item(), Generation("```python\ndef inc(x):\n    return x\n```"))
    assert (good.status, good.value) == (ScoreStatus.SCORED, 1.0)
    assert (wrong.status, wrong.value) == (ScoreStatus.SCORED, 0.0)
    record = json.loads(wrong.explanation or "{}")
    assert record["base"] == "failed_assertion"
    assert record["base_calibration"]["cpu_limit"] == 4.0
    assert record["policy"] == runner.policy.digest()
    assert record["isolation"] == "bubblewrap+seccomp"


def test_broken_reference_leaves_the_task_unscored(runner: CodeRunner) -> None:
    scorer = _scorer(runner)
    score = scorer.score(_item(canonical="def inc(x):\n    return 0\n"), Generation(PROGRAM))
    assert score.status is ScoreStatus.UNSCORED


def test_sandbox_failure_is_an_error_not_a_wrong_answer(runner: CodeRunner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    scorer = _scorer(runner)
    scorer.score(_item(), Generation(PROGRAM))  # calibrate first
    broken = runner.policy.model_copy(update={"python": "/nonexistent/python3"})
    monkeypatch.setattr(runner.sandbox, "policy", broken)
    score = scorer.score(_item(), Generation("```python\ndef inc(x):\n    return x + 2\n```"))
    assert score.status is ScoreStatus.ERROR


def test_a_humaneval_answer_cannot_replace_the_prompts_helper(runner: CodeRunner) -> None:
    """HumanEval/50: the tests call the prompt's ``encode_shift``; an answer that redefines it
    (and makes ``decode_shift`` the identity) fails, because the prompt runs on the tests' side."""
    from llmcert.items import import_dataset
    from tests.conftest import SHARED_DATA

    item = next(
        it
        for it in import_dataset("humaneval", SHARED_DATA / "humaneval", {})
        if it.metadata["task_id"] == "HumanEval/50"
    )
    scorer = _scorer(runner)
    forged = (
        "```python\ndef encode_shift(s):\n    return s\n\ndef decode_shift(s):\n    return s\n```"
    )
    honest = "```python\n" + item.metadata["canonical"] + "```"
    assert scorer.score(item, Generation(forged)).value == 0.0
    assert scorer.score(item, Generation(honest)).value == 1.0
