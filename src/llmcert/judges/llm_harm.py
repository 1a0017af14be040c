"""An LLM on an endpoint (or the embedded model) as a harmfulness judge a requirement can name.

Named by ``llm:MODEL_REF[;rubric=RUBRIC][;calibration=FILE]``: the judge model,
the rubric it answers under (``harm-v1`` unless named) and the calibration file
``llmcert judge calibrate`` wrote for it. The calibration is bound by identity:
its rubric digest and decoding settings are checked when the reference is
resolved (before any model call), its judge model's identity digest as soon as
the judge model is identified, so an error rate is never applied to a judge it
was not measured on. Without a calibration the judge still labels, but a
decision resting on it can only inform.

The judge model is called asynchronously, so the responses a requirement counts
are judged ahead (:meth:`LlmHarmJudge.judge_pairs`) and :meth:`is_harmful` then
reads those verdicts. An answer the rubric cannot parse is never credited as
harmless: it counts as harmful, as calibration counts it as an error. A failed
call stops the work with the error, since a guess would bias the counted rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from llmcert.errors import ModelError, SpecError
from llmcert.judges._calfile import CalibrationFile, check_bound, read_calibration_file
from llmcert.judges.llm_judge import (
    DEFAULT_SETTINGS,
    LlmJudge,
    LlmVerdict,
    Rubric,
    calibration_identity,
    judge_identity,
    load_rubric,
)

PREFIX = "llm:"
DEFAULT_RUBRIC = "harm-v1"
_KEYS = ("rubric", "calibration")


def parse_llm_ref(ref: str) -> tuple[str, str, str | None]:
    """``(model reference, rubric, calibration path or None)`` of an ``llm:`` judge reference."""
    if not ref.startswith(PREFIX):
        raise SpecError(f"not an LLM judge reference: {ref!r} (expected {PREFIX}MODEL_REF)")
    model, *options = ref[len(PREFIX) :].split(";")
    if not model.strip():
        raise SpecError(f"{ref!r} names no judge model: use {PREFIX}MODEL_REF[;calibration=FILE]")
    found: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        key = key.strip()
        if not sep or key not in _KEYS or not value.strip():
            raise SpecError(
                f"judge option {option!r} in an {PREFIX} reference: expected "
                f"{' or '.join(k + '=...' for k in _KEYS)}"
            )
        if key in found:
            raise SpecError(f"judge option {key!r} is given twice")
        found[key] = value.strip()
    return model.strip(), found.get("rubric", DEFAULT_RUBRIC), found.get("calibration")


def _rubric_task_is_harm(rubric: Rubric, where: str) -> None:
    if "harmful" not in rubric.positive:
        raise SpecError(
            f"rubric {rubric.ident} does not count 'harmful' as its outcome, so it cannot "
            "judge harmful content",
            path=where,
        )


class LlmHarmJudge:
    """A judge model under a harm rubric, with the calibration bound to it (or none)."""

    def __init__(
        self, model_ref: str, rubric: Rubric, calibration: CalibrationFile | None, where: str = ""
    ) -> None:
        from llmcert.models import ModelRef

        self.model_ref = ModelRef.parse(model_ref)
        self.rubric = rubric
        self.calibration = calibration
        self._where = where
        self._judge: LlmJudge | None = None
        self._backend: Any = None
        self._verdicts: dict[tuple[str, str], LlmVerdict] = {}
        if calibration is not None:
            # Everything known before the judge model answers is checked now.
            check_bound(calibration, self._static_identity(), where)

    def _static_identity(self) -> dict[str, Any]:
        """The identity fields known without the judge model: name, rubric, decoding."""
        ident = calibration_identity(judge_identity(self.rubric, DEFAULT_SETTINGS, 0, None))
        return {k: ident[k] for k in ("name", "version", "rubric_digest", "decoding")}

    async def open(self) -> None:
        """Open the judge model, identify it and check the calibration's model digest."""
        if self._judge is not None:
            return
        from llmcert.models import open_backend

        backend = open_backend(self.model_ref)
        try:
            judge = LlmJudge(backend, self.rubric)
            await judge.identify()
            if self.calibration is not None:
                check_bound(self.calibration, judge.calibration_identity(), self._where)
        except BaseException:
            await backend.aclose()
            raise
        self._backend, self._judge = backend, judge

    async def aclose(self) -> None:
        if self._backend is not None:
            backend, self._backend = self._backend, None
            await backend.aclose()

    async def judge_pairs(self, pairs: Iterable[tuple[str, str]], concurrency: int = 4) -> None:
        """Judge the pairs not judged yet; a failed judge call raises ``ModelError``."""
        await self.open()
        assert self._judge is not None
        todo = list(dict.fromkeys(p for p in pairs if p not in self._verdicts))
        verdicts = await self._judge.judge_many(todo, concurrency=concurrency)
        for pair, verdict in zip(todo, verdicts, strict=True):
            if verdict.failed_call:
                raise ModelError(
                    f"judge {self.model_ref.text}: {verdict.problem}; re-run to resume"
                )
            self._verdicts[pair] = verdict

    def identity(self) -> dict[str, Any]:
        """As the calibration records it; the model digest is known once :meth:`open` ran."""
        if self._judge is None:
            return self._static_identity()
        return self._judge.calibration_identity()

    def is_harmful(self, prompt: str, response: str) -> bool:
        verdict = self._verdicts.get((prompt, response))
        if verdict is None:
            raise RuntimeError("the LLM judge reads verdicts judged ahead with judge_pairs()")
        return not verdict.parsed or bool(verdict.positive)

    def unparsed(self) -> int:
        return sum(not v.parsed for v in self._verdicts.values())


def resolve_llm_judge(ref: str) -> tuple[LlmHarmJudge, str, str]:
    """The judge of an ``llm:`` reference, its calibration digest and source ('' if none)."""
    model, rubric_name, cal_path = parse_llm_ref(ref)
    rubric = load_rubric(rubric_name)
    _rubric_task_is_harm(rubric, rubric_name)
    if cal_path is None:
        return LlmHarmJudge(model, rubric, None), "", ""
    path = Path(cal_path)
    cal, digest = read_calibration_file(path)
    return LlmHarmJudge(model, rubric, cal, str(path)), digest, str(path)


__all__ = ["DEFAULT_RUBRIC", "PREFIX", "LlmHarmJudge", "parse_llm_ref", "resolve_llm_judge"]
