"""summarize: denominators, method choice and the result record."""

from __future__ import annotations

import pytest

from llmcert.report import MetricResult
from llmcert.stats import cluster_bootstrap_interval, summarize, wilson_interval


def _binary(correct: int, wrong: int) -> dict[str, list[float]]:
    values = {f"c{i}": [1.0] for i in range(correct)}
    values.update({f"w{i}": [0.0] for i in range(wrong)})
    return values


def test_errors_are_reported_but_not_in_denominator() -> None:
    # 100 planned: 80 right, 10 wrong, 10 failed calls.
    result = summarize("accuracy", _binary(80, 10), n_error=10, n_unscored=0, n_planned=100)
    assert isinstance(result, MetricResult)
    assert result.estimate == pytest.approx(80 / 90)
    assert result.n_scored == 90
    assert result.n_error == 10
    assert result.n_planned == 100
    assert result.n_items == 90
    assert (result.ci_low, result.ci_high) == pytest.approx(wilson_interval(80, 90))
    assert result.method == "wilson"


def test_unscored_units_are_not_wrong() -> None:
    values = _binary(6, 2)
    values["declined"] = []
    result = summarize("accuracy", values, n_error=0, n_unscored=2, n_planned=10)
    assert result.estimate == pytest.approx(0.75)
    assert result.n_unscored == 2
    assert result.n_items == 8


def test_nothing_scored_gives_no_estimate() -> None:
    result = summarize("accuracy", {"a": [], "b": []}, n_error=2, n_unscored=0, n_planned=2)
    assert result.estimate is None
    assert result.ci_low is None
    assert result.ci_high is None
    assert result.method == "none"
    assert result.n_scored == 0
    assert result.n_items == 0
    assert result.n_error == 2


def test_clopper_pearson_on_request() -> None:
    result = summarize(
        "accuracy", _binary(9, 1), n_error=0, n_unscored=0, n_planned=10, method="clopper-pearson"
    )
    assert result.method == "clopper-pearson"
    assert result.ci_high is not None
    assert result.ci_low is not None
    wl, _wh = wilson_interval(9, 10)
    assert result.ci_low < wl  # the exact interval is the more conservative one here


def test_repeats_use_cluster_bootstrap() -> None:
    values = {f"i{i}": [1.0, 0.0, 1.0] if i % 3 else [0.0, 0.0, 1.0] for i in range(60)}
    result = summarize("accuracy", values, n_error=0, n_unscored=0, n_planned=180, seed=5)
    flat = [v for vs in values.values() for v in vs]
    assert result.method == "cluster-bootstrap"
    assert result.estimate == pytest.approx(sum(flat) / len(flat))
    assert (result.ci_low, result.ci_high) == pytest.approx(
        cluster_bootstrap_interval(list(values.values()), seed=5)
    )
    assert result.n_items == 60
    assert result.n_scored == 180


@pytest.mark.parametrize("method", ["auto", "wilson", "clopper-pearson"])
def test_fractional_scores_use_cluster_bootstrap(method: str) -> None:
    values = {f"i{i}": [(i % 5) / 4] for i in range(50)}
    result = summarize(
        "mean",
        values,
        n_error=0,
        n_unscored=0,
        n_planned=50,
        method=method,  # type: ignore[arg-type]
    )
    assert result.method == "cluster-bootstrap"
    assert result.estimate == pytest.approx(0.5)


def test_identical_repeats_reduce_to_items() -> None:
    # Deterministic decoding repeats each answer: 20 items, not 100 observations.
    values = {f"i{i}": [1.0] * 5 if i < 15 else [0.0] * 5 for i in range(20)}
    result = summarize("accuracy", values, n_error=0, n_unscored=0, n_planned=100)
    assert result.method == "wilson"
    assert (result.ci_low, result.ci_high) == pytest.approx(wilson_interval(15, 20))
    assert result.n_scored == 100


def test_all_correct_repeats_do_not_claim_certainty() -> None:
    values = {f"i{i}": [1.0] * (3 if i % 2 else 2) for i in range(30)}
    result = summarize("accuracy", values, n_error=5, n_unscored=0, n_planned=90)
    assert result.estimate == 1.0
    assert result.ci_high == 1.0
    assert result.ci_low is not None
    assert result.ci_low < 0.95


def test_forced_bootstrap_and_group() -> None:
    result = summarize(
        "accuracy",
        _binary(30, 10),
        n_error=0,
        n_unscored=0,
        n_planned=40,
        method="cluster-bootstrap",
        group={"language": "zh"},
    )
    assert result.method == "cluster-bootstrap"
    assert result.group == {"language": "zh"}
    assert result.confidence == 0.95


def test_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        summarize("accuracy", _binary(5, 5), n_error=1, n_unscored=0, n_planned=10)
    with pytest.raises(ValueError, match="unknown interval method"):
        summarize("accuracy", _binary(1, 1), n_error=0, n_unscored=0, n_planned=2, method="wald")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        summarize("mean", {"a": [float("inf")]}, n_error=0, n_unscored=0, n_planned=1)
    with pytest.raises(ValueError, match="negative"):
        summarize("accuracy", {}, n_error=-1, n_unscored=0, n_planned=0)
