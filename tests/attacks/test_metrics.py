"""R and D: unscorable outcomes counted both ways, judge error folded in, breaches per level."""

from __future__ import annotations

from dataclasses import replace

from llmcert.attacks import (
    AttackRecord,
    Calibration,
    Outcome,
    breach_counts,
    breach_items,
    breach_rate,
    most_effective,
    summarise,
    summarise_group,
)
from llmcert.stats import JudgeErrorRates, clopper_pearson_interval

NONE = Calibration(success=None, decline=None)


def record(attack: str, behaviour: int, outcome: Outcome, level: str = "L2") -> AttackRecord:
    return AttackRecord(
        key=f"{attack}-{behaviour}",
        attack=attack,
        level=level,
        family="template",
        behaviour_id=f"b{behaviour}",
        behaviour_hash=f"h{behaviour}",
        language="en" if behaviour % 2 else "zh",
        risks=("A.1.4",) if behaviour % 3 == 0 else (),
        outcome=outcome,
        explanation="",
        prompt="p",
        response=None if outcome is Outcome.UNSCORABLE else "r",
        error="boom" if outcome is Outcome.UNSCORABLE else None,
    )


def test_one_attack_gets_exact_bounds_with_unscorable_both_ways() -> None:
    outcomes = [Outcome.SUCCESS] * 3 + [Outcome.DECLINE] * 5 + [Outcome.UNSCORABLE] * 2
    records = [record("a", i, o) for i, o in enumerate(outcomes)]
    s = summarise_group("attack", "a", records, NONE)
    assert (s.n_success, s.n_decline, s.n_unscorable, s.n_error, s.n_scored) == (3, 5, 2, 2, 8)
    assert s.success_rate.estimate == 3 / 8
    assert s.success_rate.ci_low == clopper_pearson_interval(3, 10)[0]
    assert s.success_rate.ci_high == clopper_pearson_interval(5, 10)[1]
    assert "both ways" in s.success_rate.method
    assert s.decline_rate.estimate == 5 / 8


def test_judge_error_widens_never_narrows() -> None:
    records = [record("a", i, Outcome.SUCCESS if i < 20 else Outcome.DECLINE) for i in range(100)]
    plain = summarise_group("attack", "a", records, NONE).success_rate
    rates = JudgeErrorRates.from_counts(90, 100, 95, 100, "test calibration")
    corrected = summarise_group(
        "attack", "a", records, Calibration(success=rates, decline=rates.swapped())
    ).success_rate
    assert corrected.ci_low is not None
    assert plain.ci_low is not None
    assert corrected.ci_high is not None
    assert plain.ci_high is not None
    assert corrected.ci_low <= plain.ci_low
    assert corrected.ci_high >= plain.ci_high
    assert corrected.ci_high > plain.ci_high  # the calibration's uncertainty shows
    assert "judge-corrected" in corrected.method


def test_pooled_groups_are_never_zero_width() -> None:
    # every behaviour broken by exactly one of two attacks: the bootstrap alone has zero width
    records = [record("a", i, Outcome.SUCCESS) for i in range(30)]
    records += [record("b", i, Outcome.DECLINE) for i in range(30)]
    overall = summarise(records, NONE)[0]
    assert overall.dimension == "overall"
    assert overall.n_behaviours == 30
    assert overall.success_rate.estimate == 0.5
    assert overall.success_rate.ci_low is not None
    assert overall.success_rate.ci_high is not None
    assert overall.success_rate.ci_low < 0.5 < overall.success_rate.ci_high


def test_pooled_rows_fold_the_judge_error_in_at_one_observation_per_behaviour() -> None:
    # two attacks on 60 behaviours: 24 broken by "a" only, 6 by both, the rest held
    records = [record("a", i, Outcome.SUCCESS if i < 30 else Outcome.DECLINE) for i in range(60)]
    records += [record("b", i, Outcome.SUCCESS if i < 6 else Outcome.DECLINE) for i in range(60)]
    rates = JudgeErrorRates.from_counts(90, 100, 95, 100, "test calibration")
    calibration = Calibration(success=rates, decline=rates.swapped())
    rows = {(s.dimension, s.value): s for s in summarise(records, calibration)}
    plain = {(s.dimension, s.value): s for s in summarise(records, NONE)}
    for key in (("overall", "all"), ("level", "L2"), ("language", "en"), ("risk", "A.1.4")):
        got, exact = rows[key].success_rate, plain[key].success_rate
        assert got.estimate == exact.estimate
        assert got.ci_low is not None
        assert got.ci_high is not None
        assert exact.ci_low is not None
        assert exact.ci_high is not None
        assert "judge-corrected" in got.method
        assert "one observation per behaviour" in got.method
        assert got.ci_low <= exact.ci_low
        assert got.ci_high > exact.ci_high
    # the level's bound is the corrected interval at the clustered count, the sum of the
    # behaviours' shares of successes ((30 + 6) / 2 = 18 of 60), not at the 36 of 120 prompts
    from llmcert.stats import corrected_interval

    level = rows[("level", "L2")]
    share = sum((i < 30) + (i < 6) for i in range(60)) / 2
    assert level.success_rate.ci_high == max(
        clopper_pearson_interval(int(share), 60)[1], corrected_interval(int(share), 60, rates)[1]
    )
    assert level.n_behaviours == 60
    assert level.decline_rate.method.startswith("judge-corrected")


def test_groups_by_every_dimension_and_ranking() -> None:
    records = [record("a", i, Outcome.SUCCESS) for i in range(6)]
    records += [record("b", i, Outcome.DECLINE, level="L1") for i in range(6)]
    summaries = summarise(records, NONE)
    dims = {(s.dimension, s.value) for s in summaries}
    assert {("level", "L1"), ("level", "L2"), ("attack", "a"), ("attack", "b")} <= dims
    assert {
        ("language", "en"),
        ("language", "zh"),
        ("risk", "A.1.4"),
        ("risk", "(unmapped)"),
    } <= dims
    assert [s.value for s in most_effective(summaries)] == ["a", "b"]


def test_breach_counts_per_behaviour() -> None:
    records = [
        record("a", 0, Outcome.SUCCESS),
        record("b", 0, Outcome.DECLINE),
        record("a", 1, Outcome.DECLINE),
        record("b", 1, Outcome.HARMLESS),
        record("a", 2, Outcome.DECLINE),
        record("b", 2, Outcome.UNSCORABLE),
    ]
    counts = breach_counts(records)
    assert (counts.successes, counts.n_scored, counts.n_unscored) == (1, 2, 1)


def test_the_breach_rate_is_widened_for_the_judges_error_on_any_answer() -> None:
    records = [record(a, i, Outcome.SUCCESS if i < 3 and a == "a" else Outcome.DECLINE)
               for i in range(40) for a in ("a", "b", "c")]  # fmt: skip
    records.append(replace(record("pair", 5, Outcome.DECLINE, level="L2"), queries=4))
    assert breach_items(records) == 3 + 4  # an adaptive record counts its queries
    counts = breach_counts(records)
    plain = breach_rate(counts)
    rates = JudgeErrorRates.from_counts(90, 100, 198, 200, "labels")
    widened = breach_rate(counts, rates=rates, items=breach_items(records))
    assert plain.method == "clopper-pearson"
    assert "any of 7 answers" in widened.method
    assert widened.estimate == plain.estimate == 3 / 40
    assert plain.ci_low is not None
    assert plain.ci_high is not None
    assert widened.ci_low is not None
    assert widened.ci_high is not None
    assert widened.ci_low <= plain.ci_low
    assert widened.ci_high > plain.ci_high
