from pathlib import Path

from llmcert.engine import plan_units
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


def test_requests_carry_the_unit_key_as_idempotency_key(tiny_suite: Path) -> None:
    units = plan_units(load_suite(tiny_suite), IDENT, kind="generate", seed=0, repeats=1)
    assert all(u.request.idempotency_key == u.key for u in units)


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
