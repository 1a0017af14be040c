"""What an attack run is asked and what it gives back (import-light on purpose)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from llmcert.attacks import (
        AttackRecord,
        HarmJudge,
    )
    from llmcert.engine import (
        ExecutionStats,
    )


@dataclass(frozen=True)
class AttackRequest:
    model: str = "embedded"
    bank: str = "harmbench"
    data: Path | None = None
    #: A local copy of JailBench: its jailbreak templates join the L2 attacks.
    templates: Path | None = None
    levels: str = "L1,L2"
    attacks: Sequence[str] | None = None
    budget: int | None = None
    seed: int = 0
    concurrency: int = 8
    max_tokens: int = 256
    languages: Literal["match", "all"] = "match"
    harm_judge: str | HarmJudge | None = None
    #: L3: target queries per behaviour, and the attacker model (any backend).
    queries: int = 5
    attacker: str = "embedded"
    output: Path = Path("llmcert-output")
    command: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class AttackOutcome:
    result: dict[str, Any]
    result_path: Path
    report_path: Path
    stats: ExecutionStats
    records: list[AttackRecord]
