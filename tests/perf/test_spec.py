"""Loads and workloads as data: validation, seeded schedules, lengths and the floor."""

from __future__ import annotations

import itertools
import statistics

import pytest
from pydantic import ValidationError

from llmcert.perf import LoadSpec, WorkloadSpec, arrival_times, build_requests, profile_digest


def test_an_open_loop_needs_a_rate_and_a_closed_loop_a_concurrency() -> None:
    with pytest.raises(ValidationError, match="needs a rate"):
        LoadSpec(mode="open")
    with pytest.raises(ValidationError, match="needs a concurrency"):
        LoadSpec(mode="closed")


@pytest.mark.parametrize(("arrival", "shape"), [("poisson", 1.0), ("gamma", 0.5), ("gamma", 4.0)])
def test_arrivals_have_the_set_mean_rate_and_shape(arrival: str, shape: float) -> None:
    load = LoadSpec(rate=20, arrival=arrival, burstiness=shape, requests=4000, seed=1)
    times = arrival_times(load, 4000)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.mean(gaps) == pytest.approx(1 / 20, rel=0.06)
    # The squared coefficient of variation of gamma gaps is 1/shape (1 for Poisson).
    cv2 = statistics.pvariance(gaps) / statistics.mean(gaps) ** 2
    assert cv2 == pytest.approx(1 / shape, rel=0.15)
    assert arrival_times(load, 4000) == times  # seeded


def test_constant_arrivals_are_evenly_spaced() -> None:
    assert arrival_times(LoadSpec(rate=4, arrival="constant"), 3) == [0.0, 0.25, 0.5]


def test_lengths_from_a_distribution_and_the_floor() -> None:
    w = WorkloadSpec.model_validate(
        {
            "input_tokens": {"distribution": "uniform", "low": 5, "high": 9},
            "output_tokens": {"distribution": "normal", "value": 100, "std": 10},
        }
    )
    reqs = build_requests(w, 300, seed=2)
    assert {len(r.prompt.split()) for r in reqs} <= set(range(5, 10))
    outs = [r.max_tokens for r in reqs]
    assert statistics.mean(outs) == pytest.approx(100, abs=3)
    assert all(r.min_tokens == -(-9 * r.max_tokens // 10) for r in reqs)  # ceil(0.9 * max)
    assert build_requests(w, 300, seed=2) == reqs


def test_no_floor_when_the_server_may_stop_early() -> None:
    w = WorkloadSpec(ignore_eos=False)
    assert all(r.min_tokens == 0 for r in build_requests(w, 5, 0))


def test_suite_prompts_are_cycled_in_a_seeded_order() -> None:
    reqs = build_requests(WorkloadSpec(), 6, 0, prompts=["a", "b", "c"])
    assert sorted(r.prompt for r in reqs[:3]) == ["a", "b", "c"]
    assert [r.prompt for r in reqs[3:]] == [r.prompt for r in reqs[:3]]


def test_a_uniform_length_needs_its_bounds() -> None:
    with pytest.raises(ValidationError, match="low <= high"):
        WorkloadSpec.model_validate(
            {"input_tokens": {"distribution": "uniform", "low": 9, "high": 5}}
        )


def test_the_profile_digest_changes_with_the_load() -> None:
    w = WorkloadSpec()
    assert profile_digest(LoadSpec(rate=1), w) != profile_digest(LoadSpec(rate=2), w)
    assert profile_digest(LoadSpec(rate=1), w) == profile_digest(LoadSpec(rate=1), w)
