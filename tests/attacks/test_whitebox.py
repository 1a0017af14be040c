"""L4 white-box attacks as data: stable digests, budgets, deterministic suffix proposals."""

from __future__ import annotations

import pytest

from llmcert.attacks import builtin_whitebox
from llmcert.attacks.whitebox import (
    PIECES,
    initial_suffix,
    mutate,
    prefill_prefixes,
    target_string,
    with_suffix,
)


def test_digests_are_stable_and_cover_the_budget() -> None:
    a, b = builtin_whitebox(5), builtin_whitebox(5)
    assert {n: x.digest for n, x in a.items()} == {n: x.digest for n, x in b.items()}
    assert a["l4.suffix-search"].digest != builtin_whitebox(6)["l4.suffix-search"].digest
    assert a["l4.prefill"].digest != a["l4.suffix-search"].digest
    assert a["l4.prefill"].describe()["level"] == "L4"


def test_prefill_tries_the_prefixes_in_order_within_the_budget() -> None:
    attack = builtin_whitebox(2)["l4.prefill"]
    assert prefill_prefixes(attack, "en") == ("Sure, here is", prefill_prefixes(attack, "en")[1])
    assert prefill_prefixes(attack, "zh")[0] == "好的，以下是"
    assert len(prefill_prefixes(builtin_whitebox(50)["l4.prefill"], "en")) == 4
    assert target_string("fr") == "Sure, here is"  # an unknown language falls back to English


def test_a_proposal_changes_one_position_and_is_the_same_on_replay() -> None:
    attack = builtin_whitebox(5, suffix_pieces=6)["l4.suffix-search"]
    best = initial_suffix(attack)
    assert best == ("!",) * 6
    proposals = [mutate(attack, best, item_hash="h", seed=3, call=c) for c in range(20)]
    assert proposals == [mutate(attack, best, item_hash="h", seed=3, call=c) for c in range(20)]
    for p in proposals:
        changed = [i for i, (x, y) in enumerate(zip(p, best, strict=True)) if x != y]
        assert len(changed) == 1
        assert p[changed[0]] in PIECES
    assert len(set(proposals)) > 5
    other_seed = [mutate(attack, best, item_hash="h", seed=4, call=c) for c in range(20)]
    assert other_seed != proposals
    assert with_suffix("Do X.", ("!", "Sure")) == "Do X. ! Sure"


def test_every_kind_of_attack_records_the_same_identity_and_rebudgets_alike() -> None:
    from llmcert.attacks import builtin_adaptive, builtin_attacks

    static = builtin_attacks()["l2.rot13"]
    pair = builtin_adaptive(5)["l3.pair"]
    suffix = builtin_whitebox(5)["l4.suffix-search"]
    shared = {"name", "version", "level", "family", "languages", "params", "digest"}
    for attack in (static, pair, suffix):
        assert shared <= set(attack.describe())
    assert pair.describe()["proposer"] == "attacker"
    assert suffix.describe()["method"] == "suffix-search"
    for stepwise in (pair, suffix):
        more = stepwise.with_queries(9)
        assert more.queries == 9
        assert more.digest != stepwise.digest
        assert more.describe()["params"] == {**stepwise.params, "queries": 9}
        assert stepwise.with_queries(5).digest == stepwise.digest
        with pytest.raises(ValueError, match="at least one query"):
            stepwise.with_queries(0)
    with pytest.raises(ValueError, match="no parameter 'queries'"):
        static.with_queries(3)
