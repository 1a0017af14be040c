"""The refusal judge's shipped calibration, under its earlier import path."""

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
    "BinaryCounts",
    "HeldOut",
    "calibration_json",
    "held_out_by_model",
    "refusal_judge_error_rates",
]
