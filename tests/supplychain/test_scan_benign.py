"""The benign corpus: real-world-shaped files must give no finding above info."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmcert.supplychain.scan import Finding, Severity, scan_path
from llmcert.supplychain.scan._findings import FindingSink
from llmcert.supplychain.scan._pickle_judge import judge_pickle
from tests.supplychain import benign


def loud(findings: list[Finding]) -> list[str]:
    return [
        f"{f.id} {f.file} {f.member}: {f.evidence}" for f in findings if f.severity != Severity.INFO
    ]


def test_benign_model_directory_has_no_finding_above_info(tmp_path: Path) -> None:
    report = scan_path(benign.write_corpus(tmp_path / "model"))
    assert loud(report.findings) == []
    formats = {f.path: f.format for f in report.files}
    assert formats["pytorch_model.bin"] == "pytorch-zip"
    assert formats["legacy.pt"] == "pytorch-legacy"
    assert formats["training_state.pkl"] == "pickle"
    assert formats["arrays.npz"] == "numpy-npz"
    assert formats["templates/gemma/chat_template.jinja"] == "jinja"
    assert all(
        engines == {"opcode-reader": "clean", "fickling": "clean"}
        for f in report.files
        for engines in (v.engines for v in f.pickles)
    )


@pytest.mark.parametrize("family", sorted(benign.TEMPLATES))
def test_family_templates_are_quiet(tmp_path: Path, family: str) -> None:
    path = tmp_path / "chat_template.jinja"
    path.write_text(benign.TEMPLATES[family], encoding="utf-8")
    report = scan_path(path)
    assert report.files[0].format == "jinja"
    content = [f for f in report.findings if not f.id.startswith("LLMC-PRV")]
    assert loud(content) == []
    assert {f.id for f in content} == {"LLMC-TPL-005"}  # analysed, merely not a reviewed digest


def test_protocol2_builtins_are_allowlisted_in_both_engines() -> None:
    import io

    data = benign.training_state_pickle()
    assert b"c__builtin__\nset\n" in data  # Python 3 writes the Python 2 module name
    sink = FindingSink("state.pkl")
    verdict = judge_pickle(io.BytesIO(data), sink, start=0, end=len(data))
    assert sink.findings == []
    assert verdict.engines == {"opcode-reader": "clean", "fickling": "clean"}
