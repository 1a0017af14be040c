"""A hand-built EvalResult with the awkward cases a report must survive."""

from __future__ import annotations

from typing import Any

import pytest

from llmcert.report import (
    SCHEMA,
    Environment,
    EvalResult,
    MetricResult,
    RunInfo,
    Timings,
    UnitRecord,
)

SYSTEM = (
    "You are a careful assistant taking a graded test. Answer the question, then give the final "
    "answer on its own line as 'Answer: <value>'. Do not add commentary after the answer line."
)
FEW_SHOT_PREFIX = "".join(
    f"Question: What is {i} plus {i}?\nAnswer: {2 * i}\n\n" for i in range(1, 9)
)
SCRIPT = '<script>alert("pwned")</script><img src=x onerror="alert(1)">'
ZH_QUESTION = "小明有三个苹果，又买了两个。他现在有几个苹果？"
ZH_ANSWER = "答案是五个。"


def chat_request(question: str) -> dict[str, Any]:
    return {
        "kind": "generate",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
        ],
        "settings": {"max_tokens": 64, "temperature": 0.0, "top_p": 1.0, "stop": []},
    }


def unit(
    item_id: str,
    *,
    repeat: int = 0,
    request: dict[str, Any],
    text: str | None,
    score: dict[str, Any] | None,
    target: str | None = "42",
    error: str | None = None,
    error_kind: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> UnitRecord:
    return UnitRecord(
        key=f"sha256:{item_id}-{repeat}",
        item_id=item_id,
        item_hash=f"sha256:hash-{item_id}",
        repeat=repeat,
        status="error" if error else "ok",
        request=request,
        response=None
        if text is None
        else {"text": text, "finish_reason": "stop", "completion_tokens": 7},
        score=score,
        error=error,
        error_kind=error_kind,
        attempts=3 if error else 1,
        latency_s=None if error else 0.25 + repeat,
        from_journal=repeat == 1,
        target=target,
        metadata=metadata or {"language": "en"},
    )


def scored(value: float, extracted: str) -> dict[str, Any]:
    return {"status": "scored", "value": value, "extracted": extracted, "explanation": None}


def metric(
    name: str, estimate: float | None, group: dict[str, str] | None = None, **counts: int
) -> MetricResult:
    return MetricResult(
        name=name,
        group=group or {},
        estimate=estimate,
        ci_low=None if estimate is None else max(0.0, estimate - 0.2),
        ci_high=None if estimate is None else min(1.0, estimate + 0.15),
        confidence=0.95,
        method="none" if estimate is None else "wilson",
        n_items=counts.get("n_items", 4),
        n_planned=counts.get("n_planned", 7),
        n_scored=counts.get("n_scored", 5),
        n_error=counts.get("n_error", 1),
        n_unscored=counts.get("n_unscored", 1),
    )


def build_result() -> EvalResult:
    units = [
        unit(
            "q1",
            request=chat_request("What is 6 times 7?"),
            text="6*7=42\nAnswer: 42",
            score=scored(1.0, "42"),
        ),
        unit(
            "q1",
            repeat=1,
            request=chat_request("What is 6 times 7?"),
            text="Answer: 42",
            score=scored(1.0, "42"),
        ),
        unit(
            "q2",
            request=chat_request("Print a script tag."),
            text=SCRIPT,
            score=scored(0.0, SCRIPT),
            target="<b>bold</b>",
        ),
        unit(
            "zh-1",
            request=chat_request(ZH_QUESTION),
            text=ZH_ANSWER,
            score=scored(1.0, "5"),
            target="5",
            metadata={"language": "zh"},
        ),
        unit(
            "q3",
            request=chat_request("What is 1 plus 1?"),
            text=None,
            score={"status": "error", "value": None, "extracted": None, "explanation": None},
            error="connection refused by 127.0.0.1:9",
            error_kind="BackendUnavailable",
        ),
        unit(
            "q4",
            request=chat_request("No reference for this one."),
            text="I do not know.",
            score={
                "status": "unscored",
                "value": None,
                "extracted": None,
                "explanation": "item has no target",
            },
            target=None,
        ),
        unit(
            "c1",
            request={
                "kind": "generate",
                "prompt": FEW_SHOT_PREFIX + "Question: What is 20 plus 22?\nAnswer:",
            },
            text=" 42",
            score=scored(1.0, "42"),
        ),
        unit(
            "c2",
            request={
                "kind": "generate",
                "prompt": FEW_SHOT_PREFIX + "Question: What is 2 plus 3?\nAnswer:",
            },
            text=" 6",
            score=scored(0.0, "6"),
            target="5",
        ),
    ]
    metrics = [
        metric("accuracy", 0.8, n_items=6, n_planned=8, n_scored=6),
        metric("accuracy", 0.75, {"language": "en"}),
        metric(
            "accuracy",
            1.0,
            {"language": "zh"},
            n_items=1,
            n_planned=1,
            n_scored=1,
            n_error=0,
            n_unscored=0,
        ),
        metric("partial_credit", 0.55, {"language": "en"}),
        metric("judge_agreement", None, n_scored=0, n_items=0),
    ]
    return EvalResult(
        schema_=SCHEMA,
        run=RunInfo(
            run_id="run-0001",
            started_at="2026-11-02T10:00:00Z",
            finished_at="2026-11-02T10:01:00Z",
            seed=1234,
            repeats=2,
            limit=None,
            concurrency=4,
            command=["llmcert", "eval", "--suite", "default", "--model", "embedded"],
        ),
        model={
            "ref": "llamacpp:models/smollm2.gguf",
            "digest": "sha256:modelidentity",
            "kind": "artefact",
            "artefact_digest": "sha256:artefact",
            "details": {"quant": "Q4_1"},
        },
        suite={
            "name": "default",
            "version": "1.2.0",
            "digest": "sha256:suitedigest",
            "n_items": 7,
            "repeats": 2,
            "prompt": {
                "kind": "chat",
                "system": SYSTEM,
                "template": "{{ input }}",
                "few_shot": [{"input": "1+1?", "target": "2"}],
            },
            "generation": {"max_tokens": 64, "temperature": 0.0, "top_p": 1.0, "stop": []},
            "scorer": {"name": "numeric", "args": {}},
        },
        environment=Environment(
            llmcert="0.1.0",
            python="3.11.7",
            platform="Linux-x86_64",
            packages={"numpy": "2.4.6", "jinja2": "3.1.6"},
            hardware={"cpu": "x86_64", "cores": 2},
        ),
        metrics=metrics,
        timings=Timings(
            wall_s=60.0,
            first_request_to_last_response_s=58.5,
            units_total=8,
            units_sent=7,
            units_from_journal=1,
            latency_p50_s=0.25,
            latency_p95_s=1.25,
            cpu_s=3.5,
        ),
        errors={"BackendUnavailable": 1},
        units=units,
    )


@pytest.fixture
def result() -> EvalResult:
    return build_result()
