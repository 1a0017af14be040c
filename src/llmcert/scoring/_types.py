"""Score and the Scorer protocol.

A scorer is pure: given an item and the model's output it returns a Score, with
no I/O. Scores are recomputed from the journaled outputs on every report, so a
scorer fix never needs the model to be called again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from llmcert.items._item import Item
from llmcert.models._types import ModelOutput

RequestKind = Literal["generate", "loglikelihood"]


class ScoreStatus(StrEnum):
    SCORED = "scored"  # value is meaningful (a wrong answer is scored, value 0)
    UNSCORED = "unscored"  # the scorer declined (e.g. item lacks a reference)
    ERROR = "error"  # the model call failed; never counted as wrong


@dataclass(frozen=True, slots=True)
class Score:
    status: ScoreStatus
    value: float | None = None
    extracted: str | None = None
    explanation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "value": self.value,
            "extracted": self.extracted,
            "explanation": self.explanation,
        }


@runtime_checkable
class Scorer(Protocol):
    """Turns one model output into a Score in [0, 1]."""

    #: Which request the suite must send for this scorer.
    request_kind: ClassVar[RequestKind]
    #: Registered name, recorded in results with :meth:`config`.
    name: ClassVar[str]

    def score(self, item: Item, output: ModelOutput) -> Score: ...

    def config(self) -> dict[str, Any]:
        """Name and arguments: part of the suite digest, so changes are visible."""
        ...
