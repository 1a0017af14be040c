"""The scan report: per-file facts, findings, summary; rendered as JSON and SARIF 2.1.0."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from llmcert.supplychain.scan._findings import Finding, Severity, rules
from llmcert.supplychain.scan._pickle_judge import PickleVerdict

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
#: GitHub code scanning reads this property as a 0-10 score.
_SECURITY_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


class ScannedFile(BaseModel):
    path: str
    """Relative to the scanned root (the file name when a single file was scanned)."""
    format: str
    """Decided from the bytes, never from the name."""
    size: int
    sha256: str
    pickles: list[PickleVerdict] = []
    provenance: dict[str, str] = {}
    """Licence, name, organisation, source and base model as declared by this file."""
    chat_templates: dict[str, str] = {}
    """Where a template was found -> its sha256 (and the known name, if reviewed)."""


class ScanSummary(BaseModel):
    files: int
    findings: int
    blocking: int
    by_severity: dict[str, int]
    by_format: dict[str, int]


class ScanReport(BaseModel):
    root: str
    """The directory every file path is relative to."""
    fail_on: Severity
    files: list[ScannedFile]
    findings: list[Finding]
    summary: ScanSummary
    tools: dict[str, str]

    @property
    def blocking(self) -> bool:
        return any(f.blocking for f in self.findings)

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=indent, ensure_ascii=False)

    def to_sarif(self) -> dict[str, Any]:
        """A SARIF 2.1.0 log with one run; rules are the finding ids present."""
        used = sorted({f.id for f in self.findings})
        catalogue = rules()
        rule_index = {rid: i for i, rid in enumerate(used)}
        driver = {
            "name": "llmcert-scan",
            "version": self.tools.get("llmcert", "unknown"),
            "rules": [
                {
                    "id": rid,
                    "name": rid.replace("-", ""),
                    "shortDescription": {"text": catalogue[rid].title},
                    "defaultConfiguration": {"level": _SARIF_LEVEL[catalogue[rid].severity]},
                    "properties": {
                        "tags": ["security", "supply-chain", *catalogue[rid].controls],
                        "security-severity": _SECURITY_SCORE[catalogue[rid].severity],
                    },
                }
                for rid in used
            ],
        }
        results = [_sarif_result(f, rule_index[f.id]) for f in self.findings]
        return {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": driver},
                    "originalUriBaseIds": {"SCANROOT": {"uri": _root_uri(self.root)}},
                    "artifacts": [
                        {
                            "location": {"uri": f.path, "uriBaseId": "SCANROOT"},
                            "length": f.size,
                            "hashes": {"sha-256": f.sha256.removeprefix("sha256:")},
                        }
                        for f in self.files
                    ],
                    "results": results,
                }
            ],
        }


def _sarif_result(finding: Finding, index: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": finding.file, "uriBaseId": "SCANROOT"}}
    if finding.offset is not None:
        physical["region"] = {"byteOffset": finding.offset}
    where = f" (archive member {finding.member})" if finding.member else ""
    return {
        "ruleId": finding.id,
        "ruleIndex": index,
        "level": _SARIF_LEVEL[finding.severity],
        "message": {"text": f"{finding.title}{where}: {finding.evidence}"},
        "locations": [{"physicalLocation": physical}],
        "properties": {
            "severity": finding.severity.value,
            "blocking": finding.blocking,
            "engine": finding.engine,
            "controls": list(finding.controls),
            **({"member": finding.member} if finding.member else {}),
        },
    }


def _root_uri(root: str) -> str:
    from pathlib import Path

    uri = Path(root).resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"
