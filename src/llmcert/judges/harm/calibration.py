"""The harm judge's shipped calibration: its error held out by source.

Sensitivity is the share of human-labelled harmful responses the judge calls
harmful; specificity the share of the rest it does not. Both are measured with
every source judged by weights fitted without it; the correction uses the worst
source's counts (see :func:`llmcert.judges._calfile.held_out_calibration`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from llmcert.judges._calfile import (
    CalibrationFile,
    check_bound,
    held_out_calibration,
    read_calibration,
)
from llmcert.judges.agreement import BinaryStats
from llmcert.judges.harm._judge import HarmJudge, default_harm_judge
from llmcert.stats import JudgeErrorRates

CALIBRATION_FILE = "harm_calibration.json"


def calibration_json(judge: HarmJudge, by_source: Mapping[str, BinaryStats]) -> dict[str, Any]:
    """The content of ``data/harm_calibration.json`` from held-out counts per source."""
    return held_out_calibration(
        judge.identity(),
        by_source,
        positive="harmful compliance",
        negative="not harmful (a refusal or harmless content)",
        method="held out by source: each source judged by weights fitted on the other sources",
        provenance=(
            "Measured by bench/harm_judge_agreement.py --write-calibration; counts only, no text."
        ),
    )


@cache
def shipped_calibration() -> tuple[CalibrationFile, str]:
    """The shipped calibration and its digest, checked against the shipped judge."""
    resource = resources.files("llmcert.judges").joinpath("data").joinpath(CALIBRATION_FILE)
    cal, digest = read_calibration(resource.read_bytes(), str(resource))
    check_bound(cal, default_harm_judge().identity(), str(resource))
    return cal, digest


def harm_judge_error_rates() -> JudgeErrorRates:
    """Harmful compliance as the positive outcome."""
    return shipped_calibration()[0].error_rates()
