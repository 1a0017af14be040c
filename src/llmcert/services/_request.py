"""What an evaluation is asked to do and what it gives back (import-light on purpose)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcert.engine import ExecutionStats
    from llmcert.report import EvalResult


@dataclass(frozen=True)
class EvalRequest:
    model: str = "embedded"
    suite: str = "default"
    data: Path | None = None
    limit: int | None = None
    concurrency: int = 8
    repeats: int | None = None
    seed: int = 0
    output: Path = Path("llmcert-output")
    command: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class EvalOutcome:
    result: EvalResult
    result_path: Path
    report_path: Path
    stats: ExecutionStats
