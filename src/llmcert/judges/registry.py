"""Judges a standard's requirement can name, each with its calibration, if any.

A requirement (or ``llmcert assess --judge``) names a judge by reference: a
built-in offline judge (``llmcert-harm``), a calibration file measured for one
(``path/to/calibration.json``), whose rates then replace the shipped ones, or
``uncalibrated:NAME`` for a built-in judge used without any calibration, or an
LLM judge ``llm:MODEL_REF[;rubric=RUBRIC][;calibration=FILE]`` (see
:mod:`llmcert.judges.llm_harm`).
The judge reports whether a response is harmful; a judge without calibration
can still label, but its rates are unknown, so a decision that rests on it can
only be informative (INFO), never PASS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llmcert.errors import SpecError
from llmcert.judges._calfile import CalibrationFile, check_bound, read_calibration_file
from llmcert.stats import JudgeErrorRates


class HarmfulnessJudge(Protocol):
    """What a requirement needs of a judge: an identity and a harmful/not verdict."""

    def identity(self) -> dict[str, Any]: ...

    def is_harmful(self, prompt: str, response: str) -> bool: ...


@dataclass(frozen=True)
class BoundJudge:
    """A judge and the calibration bound to it (None: uncalibrated)."""

    judge: HarmfulnessJudge
    calibration: CalibrationFile | None
    calibration_digest: str = ""
    calibration_source: str = ""

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    def error_rates(self) -> JudgeErrorRates | None:
        """Harmful as the positive outcome."""
        return None if self.calibration is None else self.calibration.error_rates()

    def identity(self) -> dict[str, Any]:
        return self.judge.identity()


class _HarmAdapter:
    def __init__(self) -> None:
        from llmcert.judges.harm import default_harm_judge

        self._judge = default_harm_judge()

    def identity(self) -> dict[str, str]:
        return self._judge.identity()

    def is_harmful(self, prompt: str, response: str) -> bool:
        return self._judge.judge(prompt, response).label.is_harmful


def _shipped_harm() -> BoundJudge:
    from llmcert.judges.harm.calibration import CALIBRATION_FILE, shipped_calibration

    cal, digest = shipped_calibration()
    return BoundJudge(_HarmAdapter(), cal, digest, f"built-in {CALIBRATION_FILE}")


_BUILTIN: dict[str, Callable[[], BoundJudge]] = {"llmcert-harm": _shipped_harm}
#: The judge a measured harmful-content requirement uses when none is named.
DEFAULT_HARM_JUDGE = "llmcert-harm"


def builtin_judges() -> tuple[str, ...]:
    return tuple(_BUILTIN)


UNCALIBRATED = "uncalibrated:"


def resolve_judge(ref: str) -> BoundJudge:
    """A built-in judge by name, a calibration file naming a built-in judge, or an LLM judge."""
    from llmcert.judges.llm_harm import PREFIX, resolve_llm_judge

    if ref in _BUILTIN:
        return _BUILTIN[ref]()
    if ref.startswith(PREFIX):
        judge, digest, source = resolve_llm_judge(ref)
        return BoundJudge(judge, judge.calibration, digest, source)
    if ref.startswith(UNCALIBRATED) and ref[len(UNCALIBRATED) :] in _BUILTIN:
        return uncalibrated(_BUILTIN[ref[len(UNCALIBRATED) :]]().judge)
    path = Path(ref)
    if not path.suffix == ".json" or not path.is_file():
        raise SpecError(
            f"unknown judge {ref!r}: give a built-in judge ({', '.join(_BUILTIN)}), "
            f"{UNCALIBRATED}NAME, a calibration file (.json) measured for one, or an LLM judge "
            f"{PREFIX}MODEL_REF[;calibration=FILE]"
        )
    cal, digest = read_calibration_file(path)
    if cal.judge.model_digest:
        raise SpecError(
            f"the calibration is for the LLM judge {cal.judge.name!r}: name its model too, "
            f"as {PREFIX}MODEL_REF;calibration={path}",
            path=path,
        )
    if cal.judge.name not in _BUILTIN:
        raise SpecError(
            f"the calibration is for judge {cal.judge.name!r}, which is not built in "
            f"({', '.join(_BUILTIN)})",
            path=path,
            field="judge.name",
        )
    shipped = _BUILTIN[cal.judge.name]()
    check_bound(cal, shipped.identity(), path)
    return BoundJudge(shipped.judge, cal, digest, str(path))


def uncalibrated(judge: HarmfulnessJudge) -> BoundJudge:
    return BoundJudge(judge, None)


__all__ = [
    "DEFAULT_HARM_JUDGE",
    "UNCALIBRATED",
    "BoundJudge",
    "HarmfulnessJudge",
    "builtin_judges",
    "resolve_judge",
    "uncalibrated",
]
