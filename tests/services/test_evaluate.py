"""The evaluation service end to end against the fake server: faults, errors, repeats, resume."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmcert.engine import RetryPolicy
from llmcert.errors import AuthenticationError
from llmcert.report import EvalResult, MetricResult
from llmcert.services.evaluate import EvalOutcome, EvalRequest, evaluate
from llmcert.testing import FakeOpenAIServer, RequestRecord
from tests.conftest import write_suite

FAST = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.005)
SERVER_KEY = "sk-fake-eval-key-31f9aa"


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLMCERT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def model_ref(srv: FakeOpenAIServer) -> str:
    return f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}"


async def run(
    srv: FakeOpenAIServer,
    suite: Path,
    out: Path,
    *,
    retry: RetryPolicy = FAST,
    before_execute: Callable[[], None] | None = None,
    **fields: Any,
) -> EvalOutcome:
    request = EvalRequest(model=model_ref(srv), suite=str(suite), output=out, **fields)
    return await evaluate(request, retry=retry, before_execute=before_execute)


def unit_requests(records: list[RequestRecord]) -> list[RequestRecord]:
    """Requests that carry a work unit (identification sends none with a key)."""
    return [r for r in records if r.idempotency_key is not None]


def metrics(result: EvalResult) -> list[dict[str, Any]]:
    return [m.model_dump() for m in result.metrics]


def answers(result: EvalResult) -> dict[tuple[str, int], Any]:
    return {(u.item_id, u.repeat): (u.response, u.score) for u in result.units}


def in_group(metadata: dict[str, Any], group: dict[str, str]) -> bool:
    return all(str(metadata.get(k)) == v for k, v in group.items())


def overall(result: EvalResult) -> MetricResult:
    (metric,) = [m for m in result.metrics if not m.group]
    return metric


async def baseline(suite: Path, out: Path, **fields: Any) -> EvalResult:
    async with FakeOpenAIServer() as clean:
        return (await run(clean, suite, out, **fields)).result


# -- transient faults -----------------------------------------------------------------------

TRANSIENT = [
    ["status:429:first_attempt:retry_after=0"],
    ["status:500:every=5"],
    ["drop:prob=0.1:seed=3"],
    ["malformed:first_attempt"],
    ["malformed:first_attempt:variant=no_choices"],
    [
        "status:429:first_attempt:retry_after=0",
        "status:500:every=5",
        "drop:prob=0.1:seed=3",
        "malformed:first_attempt",
    ],
]


@pytest.mark.parametrize("faults", TRANSIENT, ids=lambda f: "+".join(f))
async def test_transient_faults_end_ok_with_one_generation_per_unit(
    faults: list[str], tiny_suite: Path, tmp_path: Path
) -> None:
    clean = await baseline(tiny_suite, tmp_path / "clean")
    # The faults hit the units' calls. Identification (each call retried on its own) is not
    # what this test is about, and whichever call a counted fault hits is a race.
    scoped = [f"{fault}:scope=unit" for fault in faults]
    async with FakeOpenAIServer(faults=scoped) as srv:
        outcome = await run(srv, tiny_suite, tmp_path / "out")
        records = srv.requests
        generations = srv.generations_by_key()
    result = outcome.result
    keys = {u.request_key for u in result.units}
    assert len(keys) == 12
    assert result.errors == {}
    assert all(u.status == "ok" for u in result.units)
    assert any(r.fault is not None for r in unit_requests(records)), "no fault fired"
    assert any(u.attempts > 1 for u in result.units)
    # Every Idempotency-Key the server saw is a unit's request key; each unit generated once.
    assert {r.idempotency_key for r in unit_requests(records)} == keys
    assert generations == dict.fromkeys(keys, 1)
    assert metrics(result) == metrics(clean)
    assert answers(result) == answers(clean)
    assert outcome.result_path.is_file()
    assert outcome.report_path.is_file()


async def test_an_answer_lost_after_generation_is_replayed_not_regenerated(
    tiny_suite: Path, tmp_path: Path
) -> None:
    clean = await baseline(tiny_suite, tmp_path / "clean")
    async with FakeOpenAIServer(faults=["status:500:first_attempt:after"]) as srv:
        result = (await run(srv, tiny_suite, tmp_path / "out")).result
        generations = srv.generations_by_key()
        replays = srv.count(replay=True)
    keys = {u.request_key for u in result.units}
    assert generations == dict.fromkeys(keys, 1)
    assert replays == len(keys)
    assert all(u.attempts == 2 for u in result.units)
    assert metrics(result) == metrics(clean)


# -- faults that do not clear ---------------------------------------------------------------


async def test_persistent_errors_are_counted_apart_then_retried_on_rerun(
    tiny_suite: Path, tmp_path: Path
) -> None:
    clean = await baseline(tiny_suite, tmp_path / "clean")
    out = tmp_path / "out"
    two_tries = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
    async with FakeOpenAIServer() as srv:
        # Faults hit work units only (not the identification canaries); one worker makes
        # the order fixed, so the first three units (q0, q1, q2) use up the six failures.
        first = await run(
            srv,
            tiny_suite,
            out,
            retry=two_tries,
            concurrency=1,
            before_execute=lambda: srv.set_faults(["status:500:first=6:scope=unit"]),
        )
        result = first.result
        failed = {u.request_key for u in result.units if u.status == "error"}
        assert {u.item_id for u in result.units if u.status == "error"} == {"q0", "q1", "q2"}
        assert result.errors == {"ServerError": 3}
        for unit in result.units:
            if unit.request_key in failed:
                assert unit.error_kind == "ServerError"
                assert unit.attempts == 2
                assert unit.response is None
                assert unit.score is not None
                assert unit.score["status"] == "error"

        whole = overall(result)
        correct = sum(
            1 for u in result.units if u.status == "ok" and u.score and u.score["value"] == 1.0
        )
        assert (whole.n_planned, whole.n_error, whole.n_scored, whole.n_unscored) == (12, 3, 9, 0)
        assert whole.n_scored + whole.n_error + whole.n_unscored == whole.n_planned
        assert correct == 6
        assert whole.estimate == pytest.approx(correct / whole.n_scored)
        for m in result.metrics:
            members = [u for u in result.units if in_group(u.metadata, m.group)]
            assert m.n_error == sum(1 for u in members if u.status == "error")
            assert m.n_scored + m.n_error + m.n_unscored == m.n_planned == len(members)
        assert {m.group.get("language"): m.n_error for m in result.metrics} == {
            None: 3,
            "en": 1,
            "zh": 2,
        }

        # Still failing: only the failed units are asked again, and they stay errors.
        seen = len(srv.requests)
        second = await run(
            srv,
            tiny_suite,
            out,
            retry=two_tries,
            before_execute=lambda: srv.set_faults(["status:500:always"]),
        )
        resent = {r.idempotency_key for r in unit_requests(srv.requests[seen:])}
        assert resent == failed
        assert second.result.errors == {"ServerError": 3}
        assert second.result.timings.units_sent == 3
        assert second.result.timings.units_from_journal == 9

        # Fault cleared: the same request asks only for those units, and they succeed.
        srv.clear_faults()
        seen = len(srv.requests)
        third = await run(srv, tiny_suite, out, retry=two_tries)
        resent = {r.idempotency_key for r in unit_requests(srv.requests[seen:])}
        assert resent == failed
        assert srv.generations_by_key() == dict.fromkeys({u.request_key for u in result.units}, 1)
    assert third.result.errors == {}
    assert all(u.status == "ok" for u in third.result.units)
    assert metrics(third.result) == metrics(clean)
    assert overall(third.result).estimate == pytest.approx(8 / 12)


# -- repeats and resume ---------------------------------------------------------------------


async def test_repeats_are_separate_units_never_collapsed(tiny_suite: Path, tmp_path: Path) -> None:
    async with FakeOpenAIServer(policy="hash") as srv:
        result = (await run(srv, tiny_suite, tmp_path / "out", repeats=3)).result
        generations = srv.generations_by_key()
    item_of = {u.request_key: u.item_id for u in result.units}
    keys_per_item: dict[str, set[str]] = defaultdict(set)
    texts_per_item: dict[str, set[str]] = defaultdict(set)
    for key in generations:
        keys_per_item[item_of[key]].add(key)
    for u in result.units:
        assert u.response is not None
        texts_per_item[u.item_id].add(u.response["text"])
    assert len(result.units) == 36
    assert set(generations.values()) == {1}
    assert {item: len(keys) for item, keys in keys_per_item.items()} == {
        f"q{i}": 3 for i in range(12)
    }
    # Distinct per-repeat seeds reach the server, so sampled answers differ per repeat.
    assert all(len(texts) == 3 for texts in texts_per_item.values())
    assert sorted({u.repeat for u in result.units}) == [0, 1, 2]
    assert overall(result).n_planned == 36
    assert result.run.repeats == 3


async def test_rerun_is_served_from_the_journal_and_changes_resend_everything(
    tmp_path: Path,
) -> None:
    items: list[dict[str, object]] = [
        {"id": f"q{i}", "input": f"say {i}", "target": f"say {i}", "language": "en"}
        for i in range(6)
    ]
    suite = write_suite(tmp_path / "suite", items)
    out = tmp_path / "out"
    async with FakeOpenAIServer() as srv:
        first = (await run(srv, suite, out)).result
        seen = len(srv.requests)
        again = (await run(srv, suite, out)).result
        assert unit_requests(srv.requests[seen:]) == []
        assert again.timings.units_sent == 0
        assert again.timings.units_from_journal == 6
        assert all(u.from_journal for u in again.units)
        assert metrics(again) == metrics(first)
        assert answers(again) == answers(first)

        seen = len(srv.requests)
        reseeded = (await run(srv, suite, out, seed=1)).result
        sent = {r.idempotency_key for r in unit_requests(srv.requests[seen:])}
        assert sent == {u.request_key for u in reseeded.units}
        assert not sent & {u.request_key for u in first.units}

        items[2]["target"] = "changed"
        write_suite(tmp_path / "suite", items)
        seen = len(srv.requests)
        changed = (await run(srv, suite, out)).result
        sent = {r.idempotency_key for r in unit_requests(srv.requests[seen:])}
        assert len(sent) == 6
        assert sent == {u.request_key for u in changed.units}
        assert not sent & {u.request_key for u in first.units}
    assert overall(changed).estimate == pytest.approx(5 / 6)


async def test_limit_evaluates_the_first_items(tiny_suite: Path, tmp_path: Path) -> None:
    async with FakeOpenAIServer() as srv:
        result = (await run(srv, tiny_suite, tmp_path / "out", limit=3)).result
        sent = unit_requests(srv.requests)
    assert [u.item_id for u in result.units] == ["q0", "q1", "q2"]
    assert len(sent) == 3


async def test_loglikelihood_suite_end_to_end(tmp_path: Path) -> None:
    items: list[dict[str, object]] = [
        {
            "id": "c1",
            "input": "Capital of France?",
            "choices": ["Paris", "Lyon"],
            "answer_index": 0,
        },
        {"id": "c2", "input": "2 + 2 =", "choices": ["four", "five", "six"], "answer_index": 1},
    ]
    suite = write_suite(tmp_path / "suite", items, scorer="choice_loglikelihood", kind="completion")
    async with FakeOpenAIServer() as srv:
        result = (await run(srv, suite, tmp_path / "out")).result
        sent = unit_requests(srv.requests)
    assert result.errors == {}
    assert len(sent) == 5  # one echo request per choice
    for unit in result.units:
        assert unit.response is not None
        assert unit.response["type"] == "loglikelihoods"
        assert len(unit.response["logprobs"]) == len(unit.request["continuations"])
    assert overall(result).n_scored == 2


# -- authentication and secrets -------------------------------------------------------------


@pytest.mark.parametrize("env_key", [None, "sk-wrong-eval-key"])
async def test_authentication_failure_raises_and_writes_no_result(
    env_key: str | None, tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env_key is not None:
        monkeypatch.setenv("LLMCERT_API_KEY", env_key)
    out = tmp_path / "out"
    async with FakeOpenAIServer(api_key=SERVER_KEY) as srv:
        with pytest.raises(AuthenticationError) as info:
            await run(srv, tiny_suite, out)
        # The first wave may go out while the model is identified; none is answered.
        assert all(r.outcome == 401 for r in unit_requests(srv.requests))
    assert SERVER_KEY not in str(info.value)
    assert not out.exists(), "a model that cannot be identified leaves nothing behind"


async def test_the_api_key_is_in_no_file_written(
    tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMCERT_API_KEY", SERVER_KEY)
    out, log = tmp_path / "out", tmp_path / "server.jsonl"
    async with FakeOpenAIServer(api_key=SERVER_KEY, log_path=log) as srv:
        outcome = await run(srv, tiny_suite, out)
    assert outcome.result.errors == {}
    written = [p for p in out.rglob("*") if p.is_file()]
    assert outcome.result_path in written
    assert outcome.report_path in written
    for path in [*written, log]:
        assert SERVER_KEY.encode() not in path.read_bytes(), path
    data = json.loads(outcome.result_path.read_text(encoding="utf-8"))
    assert data["model"]["reported_model"] == "fake-model"
