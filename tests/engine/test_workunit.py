from pathlib import Path

from llmcert.engine import plan_requests, plan_units, render_prompts
from llmcert.models import GenerateRequest, ModelIdentity
from llmcert.suites import load_suite
from tests.conftest import write_suite

IDENT = ModelIdentity(kind="synthetic", ref="mock:echo", engine="mock/echo")


def test_repeats_are_distinct_units_with_distinct_seeds(tiny_suite: Path) -> None:
    suite = load_suite(tiny_suite)
    units = plan_units(suite, IDENT, kind="generate", seed=0, repeats=3)
    assert len(units) == 3 * len(suite.items)
    assert len({u.key for u in units}) == len(units)
    first = [u for u in units if u.item.id == "q1"]
    seeds = {u.request.seed for u in first if isinstance(u.request, GenerateRequest)}
    assert len(seeds) == 3


def test_keys_are_stable_and_depend_on_every_condition(tiny_suite: Path, tmp_path: Path) -> None:
    suite = load_suite(tiny_suite)
    base = {u.key for u in plan_units(suite, IDENT, kind="generate", seed=0, repeats=1)}
    assert base == {
        u.key for u in plan_units(load_suite(tiny_suite), IDENT, kind="generate", seed=0, repeats=1)
    }
    other_model = ModelIdentity(kind="synthetic", ref="mock:echo", engine="mock/other")
    assert base.isdisjoint(
        u.key for u in plan_units(suite, other_model, kind="generate", seed=0, repeats=1)
    )
    assert base.isdisjoint(
        u.key for u in plan_units(suite, IDENT, kind="generate", seed=1, repeats=1)
    )
    changed = tiny_suite.read_text().replace("max_tokens: 16", "max_tokens: 17")
    other = tmp_path / "other"
    other.mkdir()
    (other / "items.jsonl").write_bytes((tiny_suite.parent / "items.jsonl").read_bytes())
    (other / "suite.yaml").write_text(changed)
    assert base.isdisjoint(
        u.key
        for u in plan_units(
            load_suite(other / "suite.yaml"), IDENT, kind="generate", seed=0, repeats=1
        )
    )


def test_request_keys_are_known_before_the_identity_and_follow_the_nonce(
    tiny_suite: Path,
) -> None:
    suite = load_suite(tiny_suite)
    units = plan_units(suite, IDENT, kind="generate", seed=0, repeats=2, nonce="n1")
    planned = plan_requests(
        suite, kind="generate", seed=0, repeats=2, prompts=render_prompts(suite, kind="generate"),
        nonce="n1",
    )  # fmt: skip
    keys = [u.request_key for u in units]
    assert keys == [p.request_key for p in planned]
    assert [u.request for u in units] == [p.request for p in planned]
    assert len(set(keys)) == len(keys)
    assert all(k not in {u.key for u in units} for k in keys)
    other_model = ModelIdentity(kind="synthetic", ref="mock:echo", engine="mock/other")
    assert keys == [
        u.request_key
        for u in plan_units(suite, other_model, kind="generate", seed=0, repeats=2, nonce="n1")
    ]
    assert set(keys).isdisjoint(
        u.request_key for u in plan_units(suite, IDENT, kind="generate", seed=0, repeats=2)
    )


def test_plan_requests_stops_at_the_limit_in_run_order(tiny_suite: Path) -> None:
    suite = load_suite(tiny_suite)
    prompts = render_prompts(suite, kind="generate")
    every = plan_requests(suite, kind="generate", seed=0, repeats=3, prompts=prompts)
    first = plan_requests(suite, kind="generate", seed=0, repeats=3, prompts=prompts, limit=4)
    assert first == every[:4]
    assert [(p.item.id, p.repeat) for p in first[:4]] == [
        (every[0].item.id, 0), (every[0].item.id, 1), (every[0].item.id, 2), (every[3].item.id, 0)
    ]  # fmt: skip


def test_loglikelihood_units_hold_context_and_continuations(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path,
        [{"id": "m1", "input": "Sky colour?", "choices": ["blue", "green"], "answer_index": 0}],
        scorer="choice_loglikelihood",
        kind="completion",
    )
    (unit,) = plan_units(load_suite(path), IDENT, kind="loglikelihood", seed=0, repeats=1)
    assert unit.kind == "loglikelihood"
    assert unit.request.continuations == (" blue", " green")  # type: ignore[union-attr]
