"""The ``code_tests`` scorer: extract the program, run the task's tests in the sandbox.

A sandbox failure is an ERROR score (the harness's fault, out of every
denominator); a task whose reference solution does not pass its own tests is
UNSCORED (the task is broken, not the model). Everything a reader needs to
check a score is in its explanation, as JSON: the outcome on the original tests
and on the extended ones, the calibrated CPU limit with the reference time it
came from, and the sandbox policy's digest and isolation.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from llmcert.codeexec._extract import PromptKind, extract_code
from llmcert.codeexec._runner import T_BASE, CodeRunner, K, task_job
from llmcert.errors import ScoringError
from llmcert.items._blobs import get_blob
from llmcert.items._item import Item
from llmcert.models._types import Generation, ModelOutput
from llmcert.sandbox import OPT_OUT_ENV, Execution, Outcome, Sandbox
from llmcert.scoring._types import RequestKind, Score, ScoreStatus

_RUNNERS: dict[tuple[float, float, str | None], CodeRunner] = {}


def shared_runner(t_base: float = T_BASE, k: float = K) -> CodeRunner:
    """One runner (sandbox + cache) per process and settings; the layers are checked here."""
    reason = os.environ.get(OPT_OUT_ENV) or None
    key = (t_base, k, reason)
    if key not in _RUNNERS:
        sandbox = Sandbox.unsandboxed(reason) if reason else Sandbox()
        _RUNNERS[key] = CodeRunner(sandbox, t_base=t_base, k=k)
    return _RUNNERS[key]


class CodeTestsScorer:
    """1 when the program passes the tests the suite decides on, else 0."""

    name: ClassVar[str] = "code_tests"
    request_kind: ClassVar[RequestKind] = "generate"

    def __init__(
        self,
        *,
        prompt: PromptKind = "chat",
        decide_on: str = "base",
        t_base: float = T_BASE,
        k: float = K,
    ) -> None:
        if prompt not in ("chat", "completion"):
            raise ValueError(f"prompt must be 'chat' or 'completion', not {prompt!r}")
        if decide_on not in ("base", "plus"):
            raise ValueError(f"decide_on must be 'base' or 'plus', not {decide_on!r}")
        if t_base <= 0 or k <= 0:
            raise ValueError("t_base and k must be positive")
        self.prompt, self.decide_on, self.t_base, self.k = prompt, decide_on, t_base, k
        self.runner = shared_runner(t_base, k)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "args": {
                "prompt": self.prompt,
                "decide_on": self.decide_on,
                "t_base": self.t_base,
                "k": self.k,
            },
        }

    def score(self, item: Item, output: ModelOutput) -> Score:
        meta = item.metadata
        if not isinstance(output, Generation):
            raise ScoringError("code_tests scores generated text, not log-likelihoods")
        program = extract_code(
            output.text,
            kind=self.prompt,
            prompt=str(meta.get("prompt", "")),
            entry_point=str(meta.get("entry_point", "")),
        )
        suites = {"base": str(meta.get("tests", ""))}
        if meta.get("tests_plus"):
            suites["plus"] = get_blob(str(meta["tests_plus"]))
        if self.decide_on not in suites:
            raise ScoringError(f"item {item.id} has no '{self.decide_on}' tests")
        record: dict[str, Any] = {
            "policy": self.runner.policy.digest(),
            "isolation": self.runner.policy.isolation,
        }
        decided: Execution | None = None
        for which, tests in suites.items():
            cal = self.runner.calibrate(task_job(meta, str(meta.get("canonical", "")), tests))
            record[f"{which}_calibration"] = cal.to_dict()
            if cal.reference_outcome == Outcome.SANDBOX_FAILURE.value:
                record[which] = Outcome.SANDBOX_FAILURE.value
                return Score(ScoreStatus.ERROR, extracted=program, explanation=json.dumps(record))
            if cal.reference_outcome != Outcome.PASSED.value:
                record[which] = "reference_failed"
                if which == self.decide_on:
                    return Score(
                        ScoreStatus.UNSCORED, extracted=program, explanation=json.dumps(record)
                    )
                continue
            ex = self.runner.run_job(task_job(meta, program, tests, cal.cpu_limit))
            record[which] = ex.outcome.value
            record[f"{which}_cpu_seconds"] = ex.cpu_seconds
            if ex.outcome is not Outcome.PASSED:
                record[f"{which}_detail"] = ex.detail[:300]
            if which == self.decide_on:
                decided = ex
            elif ex.outcome is Outcome.SANDBOX_FAILURE:
                record[which] = Outcome.SANDBOX_FAILURE.value
        assert decided is not None
        text = json.dumps(record)
        if decided.outcome is Outcome.SANDBOX_FAILURE:
            return Score(ScoreStatus.ERROR, extracted=program, explanation=text)
        return Score(
            ScoreStatus.SCORED,
            value=1.0 if decided.passed else 0.0,
            extracted=program,
            explanation=text,
        )
