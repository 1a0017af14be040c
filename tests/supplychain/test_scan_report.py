"""Report outputs (JSON, SARIF 2.1.0), the public API, the CLI command, the embedded models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import llmcert.supplychain.scan as scan_module
from llmcert.cli._scan import scan_command
from llmcert.supplychain.scan import ScanReport, scan_path
from llmcert.supplychain.scan._findings import rules
from tests.supplychain import corpus


@pytest.fixture
def mixed_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    corpus.torch_zip(root / "good.pt", corpus.state_dict_pickle())
    (root / "weights.bin").write_bytes(corpus.payload_after_valid())
    (root / "chat.gguf").write_bytes(corpus.gguf_with_template(corpus.SSTI_TEMPLATE))
    (root / "model.safetensors").write_bytes(corpus.benign_safetensors())
    return root


def test_public_api() -> None:
    assert set(scan_module.__all__) == {
        "Finding",
        "ScanReport",
        "ScanSummary",
        "ScannedFile",
        "Severity",
        "SupplyChainError",
        "scan_path",
    }
    for name in scan_module.__all__:
        assert hasattr(scan_module, name)


def test_findings_carry_ids_controls_and_short_evidence(mixed_dir: Path) -> None:
    report = scan_path(mixed_dir)
    catalogue = rules()
    assert report.findings
    for f in report.findings:
        assert f.id in catalogue
        assert f.title == catalogue[f.id].title
        assert "OWASP-LLM03" in f.controls
        assert any(c.startswith("AI-STR-03:") for c in f.controls)
        assert len(f.evidence) <= 240
        assert f.file in {p.path for p in report.files} | {"."}


def test_json_round_trip(mixed_dir: Path) -> None:
    report = scan_path(mixed_dir)
    data = json.loads(report.to_json())
    assert data["summary"]["blocking"] == report.summary.blocking > 0
    assert {f["path"] for f in data["files"]} == {
        "chat.gguf",
        "good.pt",
        "model.safetensors",
        "weights.bin",
    }
    assert ScanReport.model_validate(data) == report
    assert data["tools"]["fickling"] != "not installed"


def test_sarif_has_the_essentials(mixed_dir: Path) -> None:
    report = scan_path(mixed_dir)
    sarif = report.to_sarif()
    check_sarif(sarif)
    run = sarif["runs"][0]
    assert {r["ruleId"] for r in run["results"]} == {f.id for f in report.findings}
    assert len(run["results"]) == len(report.findings)
    offsets = [
        r["locations"][0]["physicalLocation"].get("region", {}).get("byteOffset")
        for r in run["results"]
        if r["ruleId"] == "LLMC-PKL-001"
    ]
    assert any(isinstance(o, int) for o in offsets)


def check_sarif(sarif: dict[str, Any]) -> None:
    """The parts of SARIF 2.1.0 that consumers rely on (no schema offline)."""
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"]
    assert isinstance(driver["rules"], list)
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note", "none"}
    for result in run["results"]:
        assert result["ruleId"] in rule_ids
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note", "none"}
        assert result["message"]["text"]
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact["uri"]
        assert artifact["uriBaseId"] in run["originalUriBaseIds"]
    for artifact in run["artifacts"]:
        assert len(artifact["hashes"]["sha-256"]) == 64


def _app() -> typer.Typer:
    from llmcert.cli._errors import handle_errors

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test harness."""

    app.command("scan")(handle_errors(scan_command))
    return app


def test_cli_exit_codes_and_outputs(tmp_path: Path, mixed_dir: Path) -> None:
    runner = CliRunner()
    app = _app()
    out_json, out_sarif = tmp_path / "r.json", tmp_path / "r.sarif"
    result = runner.invoke(
        app, ["scan", str(mixed_dir), "--json", str(out_json), "--sarif", str(out_sarif)]
    )
    assert result.exit_code == 1, result.output
    assert "LLMC-PKL-001" in result.output
    assert "BLOCKED" in result.output
    assert json.loads(out_json.read_text())["summary"]["blocking"] > 0
    check_sarif(json.loads(out_sarif.read_text()))

    clean = tmp_path / "clean.pt"
    corpus.torch_zip(clean, corpus.state_dict_pickle())
    result = runner.invoke(app, ["scan", str(clean)])
    assert result.exit_code == 0, result.output
    assert "no blocking findings" in result.output


def test_cli_fail_on_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    app = _app()
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)))
    assert runner.invoke(app, ["scan", str(blob)]).exit_code == 0
    assert runner.invoke(app, ["scan", str(blob), "--fail-on", "low"]).exit_code == 1
    missing = runner.invoke(app, ["scan", str(tmp_path / "missing")])
    assert missing.exit_code == 3
    assert "no such file" in missing.output
    assert runner.invoke(app, ["scan", str(blob), "--fail-on", "severe"]).exit_code == 3


@pytest.mark.embedded
@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2", "gemma3-270m"])
def test_embedded_models_scan_without_blocking_findings(name: str) -> None:
    from llmcert.models.embedded import embedded_model_path

    report = scan_path(embedded_model_path(name))
    (entry,) = report.files
    assert entry.format == "gguf"
    assert not report.blocking, [f.evidence for f in report.findings]
    assert {f.severity.value for f in report.findings} <= {"info", "low"}
    if name == "smollm2":
        assert entry.provenance["license"] == "apache-2.0"
        assert entry.chat_templates["tokenizer.chat_template"].endswith("(SmolLM2-135M-Instruct)")
        assert report.findings == []
    else:
        assert entry.provenance["license"] == "gemma"
        assert entry.chat_templates == {}  # a base model ships no chat template
