"""Findings of the artefact scanner and the catalogue that gives each one its meaning.

A finding's id, title, default severity and controls come from
``data/scan_rules.json`` so that the mapping to OWASP LLM03 and AI-STR-03 is
data, reviewable without reading code, and ids stay stable across releases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

_EVIDENCE_MAX = 240


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Finding(BaseModel):
    """One problem found in one file; ``blocking`` follows the report's fail-on policy."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    severity: Severity
    blocking: bool = False
    file: str
    member: str | None = None
    """Path inside an archive, when the problem is in an archive member."""
    offset: int | None = None
    """Byte offset of the evidence, where one exists."""
    evidence: str
    engine: str
    controls: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    controls: tuple[str, ...]


@cache
def _data(name: str) -> Any:
    text = resources.files("llmcert.supplychain").joinpath("data", name).read_text("utf-8")
    return json.loads(text)


def load_data(name: str) -> Any:
    """A JSON data file shipped in ``llmcert/supplychain/data`` (parsed once)."""
    return _data(name)


@cache
def rules() -> dict[str, Rule]:
    raw = load_data("scan_rules.json")["rules"]
    return {
        rid: Rule(rid, spec["title"], Severity(spec["severity"]), tuple(spec["controls"]))
        for rid, spec in raw.items()
    }


def clip(text: str, limit: int = _EVIDENCE_MAX) -> str:
    """Evidence stays short and printable: never a whole payload."""
    printable = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text[: limit * 2])
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


@dataclass
class FindingSink:
    """Collects findings for one scanned file (and its archive members)."""

    file: str
    findings: list[Finding] = field(default_factory=list)

    def add(
        self,
        rule_id: str,
        evidence: str,
        *,
        engine: str,
        severity: Severity | None = None,
        member: str | None = None,
        offset: int | None = None,
    ) -> Finding:
        rule = rules()[rule_id]
        finding = Finding(
            id=rule.id,
            title=rule.title,
            severity=severity or rule.severity,
            file=self.file,
            member=member,
            offset=offset,
            evidence=clip(evidence),
            engine=engine,
            controls=rule.controls,
        )
        self.findings.append(finding)
        return finding
