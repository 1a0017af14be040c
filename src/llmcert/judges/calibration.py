"""Calibration files: a judge's measured error against human labels, bound to the judge.

See :mod:`llmcert.judges._calfile` for the format. The refusal judge's shipped
calibration keeps its loader here under its earlier names
(``refusal_judge_error_rates`` and friends).
"""

from llmcert.judges._calfile import (
    FORMAT,
    CalibrationFile,
    Counts,
    JudgeIdentity,
    check_bound,
    counts_json,
    held_out_calibration,
    read_calibration,
)
from llmcert.judges.refusal.calibration import (
    CALIBRATION_FILE,
    BinaryCounts,
    HeldOut,
    calibration_json,
    held_out_by_model,
    refusal_judge_error_rates,
)

__all__ = [
    "CALIBRATION_FILE",
    "FORMAT",
    "BinaryCounts",
    "CalibrationFile",
    "Counts",
    "HeldOut",
    "JudgeIdentity",
    "calibration_json",
    "check_bound",
    "counts_json",
    "held_out_by_model",
    "held_out_calibration",
    "read_calibration",
    "refusal_judge_error_rates",
]
