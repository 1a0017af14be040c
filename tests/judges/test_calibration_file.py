"""Calibration files are validated, bound to their judge and identified by digest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmcert._hashing import digest_bytes
from llmcert.errors import SpecError
from llmcert.judges.agreement import BinaryStats, Rate
from llmcert.judges.calibration import check_bound, held_out_calibration, read_calibration

IDENTITY = {"name": "llmcert-harm", "version": "1.0.0", "digest": "sha256:" + "a" * 64}


def content(**changes: Any) -> dict[str, Any]:
    by_source = {
        "one": BinaryStats(Rate(90, 100), Rate(95, 100)),
        "two": BinaryStats(Rate(60, 80), Rate(199, 200)),
        "tiny": BinaryStats(Rate(1, 10), Rate(0, 3)),  # too small to be the worst
    }
    data = held_out_calibration(
        IDENTITY, by_source, positive="harmful", negative="not", method="m", provenance="p"
    )
    return data | changes


def test_pooled_point_rates_and_every_source_kept() -> None:
    data = content()
    assert (
        data["counts"]
        == data["pooled"]
        == {
            "true_positives": 151,
            "n_positive": 190,
            "true_negatives": 294,
            "n_negative": 303,
        }
    )
    assert data["by_source"]["two"] == {
        "true_positives": 60,
        "n_positive": 80,
        "true_negatives": 199,
        "n_negative": 200,
    }
    assert data["between_source"]["sensitivity"]["sources"] == 3
    cal, digest = read_calibration(json.dumps(data).encode(), "cal.json")
    rates = cal.error_rates()
    assert (rates.sensitivity, rates.specificity) == (151 / 190, 294 / 303)
    assert rates.sensitivity_sources == ((90, 100), (60, 80), (1, 10))
    assert rates.specificity_sources == ((95, 100), (199, 200), (0, 3))
    assert digest == digest_bytes(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": 2}, ""),
        (
            {
                "counts": {
                    "true_positives": 5,
                    "n_positive": 4,
                    "true_negatives": 1,
                    "n_negative": 1,
                }
            },
            "counts",
        ),
        (
            {
                "counts": {
                    "true_positives": 1,
                    "n_positive": 10,
                    "true_negatives": 1,
                    "n_negative": 10,
                }
            },
            "",
        ),
        ({"judge": {"name": "x"}}, "judge"),
        ({"tau_floor": 1.0}, ""),  # a floor needs its basis
        ({"tau_floor": -1.0, "tau_floor_basis": "b"}, "tau_floor"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_files_are_refused_with_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match="invalid calibration") as info:
        read_calibration(json.dumps(content(**change)).encode(), "cal.json")
    assert (info.value.field or "").startswith(field)


def test_a_floor_on_the_spread_reaches_the_correction() -> None:
    plain, _ = read_calibration(json.dumps(content()).encode(), "cal.json")
    assert plain.error_rates().tau_floor == 0.0
    floored, _ = read_calibration(
        json.dumps(content(tau_floor=1.2, tau_floor_basis="out-of-family check")).encode(),
        "cal.json",
    )
    assert floored.error_rates().tau_floor == 1.2


def test_not_json_is_refused() -> None:
    with pytest.raises(SpecError, match="not a JSON"):
        read_calibration(b"\xff\x00", "cal.json")


def test_a_calibration_for_another_judge_is_refused() -> None:
    cal, _ = read_calibration(json.dumps(content()).encode(), "cal.json")
    check_bound(cal, IDENTITY, "cal.json")
    with pytest.raises(SpecError, match="re-measure") as info:
        check_bound(cal, IDENTITY | {"digest": "sha256:" + "b" * 64}, "cal.json")
    assert info.value.field == "judge.digest"


def test_a_judge_no_better_than_chance_overall_cannot_be_calibrated() -> None:
    by_source = {
        "blind": BinaryStats(Rate(10, 100), Rate(60, 100)),
        "lax": BinaryStats(Rate(50, 100), Rate(20, 100)),
    }
    with pytest.raises(ValueError, match="at most 1"):
        held_out_calibration(
            IDENTITY, by_source, positive="harmful", negative="not", method="m", provenance="p"
        )
