"""Insecure code found by bandit, mapped to CWE, as a rate over problems."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from llmcert.codeexec import code_estimate, scan_programs

SHELL = "import subprocess\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
SAFE = "def add(a, b):\n    return a + b\n"
WEAK_HASH = "import hashlib\ndef h(x):\n    return hashlib.md5(x).hexdigest()\n"


@dataclass
class Rec:
    item_id: str
    status: str
    score: dict[str, Any] | None


def test_findings_carry_cwe_ids() -> None:
    scans = scan_programs({"a": SHELL, "b": SAFE, "c": "def broken(:\n"})
    assert scans["a"].insecure()
    assert "CWE-78" in {f.cwe_id for f in scans["a"].findings}
    assert not scans["b"].insecure()
    assert not scans["c"].scannable


def _rec(item: str, program: str) -> Rec:
    return Rec(
        item,
        "ok",
        {
            "status": "scored",
            "value": 0.0,
            "extracted": program,
            "explanation": json.dumps({"base": "passed"}),
        },
    )


def test_insecure_rate_over_problems_with_per_cwe_breakdown() -> None:
    records = [_rec(f"p{i}", SHELL if i < 3 else WEAK_HASH if i < 5 else SAFE) for i in range(20)]
    records.append(Rec("p20", "error", None))
    est = code_estimate("insecure_rate", records, level=0.9)
    assert est.estimate == 5 / 20
    assert est.n_items == 20
    assert est.counts.n_error == 1
    per_cwe = est.details["per_cwe"]
    assert per_cwe["CWE-78"]["rate"] == 3 / 20
    assert per_cwe["CWE-327"]["rate"] == 2 / 20
    assert est.details["analyser"].startswith("bandit ")
