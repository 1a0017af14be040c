"""AI-BOM: CycloneDX 1.6 ML-BOMs of real GGUFs and model folders, checked by the official schema."""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from llmcert.cli._bom import bom_command
from llmcert.cli._errors import handle_errors
from llmcert.errors import LlmcertError
from llmcert.models.embedded import embedded_model_path
from llmcert.supplychain import bom as bom_mod
from llmcert.supplychain.bom import BomInvalid, build_bom, schema_errors, validate_bom
from llmcert.supplychain.identity import digest_file


def _model(bom: dict[str, Any]) -> dict[str, Any]:
    (model,) = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    assert isinstance(model, dict)
    return model


def _props(model: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in model["properties"]}


@pytest.fixture(scope="module")
def smollm2_bom() -> dict[str, Any]:
    return build_bom(embedded_model_path("smollm2"))


@pytest.fixture(scope="module")
def gemma_bom() -> dict[str, Any]:
    return build_bom(embedded_model_path("gemma3-270m"))


def test_smollm2_bom_validates_and_says_what_the_file_says(smollm2_bom: dict[str, Any]) -> None:
    assert schema_errors(smollm2_bom) == []
    assert smollm2_bom["specVersion"] == "1.6"
    model = _model(smollm2_bom)
    digest = digest_file(embedded_model_path("smollm2")).removeprefix("sha256:")
    assert model["hashes"] == [{"alg": "SHA-256", "content": digest}]
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    props = _props(model)
    assert props["llmcert:root-digest"] == f"sha256:{digest}"
    assert props["llmcert:format"] == "gguf"
    assert props["llmcert:quantisation"] == "Q4_1"
    assert props["llmcert:chat-template"] == "present"
    assert 100_000_000 < int(props["llmcert:parameter-count"]) < 200_000_000
    params = model["modelCard"]["modelParameters"]
    assert params == {"architectureFamily": "transformer", "modelArchitecture": "llama"}


def test_gemma_bom_validates_with_a_non_spdx_licence(gemma_bom: dict[str, Any]) -> None:
    validate_bom(gemma_bom)
    model = _model(gemma_bom)
    assert model["licenses"] == [{"license": {"name": "gemma"}}]
    props = _props(model)
    assert props["llmcert:quantisation"] == "Q4_K_M"
    assert props["llmcert:chat-template"] == "absent"
    assert model["modelCard"]["modelParameters"]["task"] == "text-generation"
    limits = model["modelCard"]["considerations"]["technicalLimitations"]
    assert any("No chat template" in line for line in limits)


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (lambda b: b.__setitem__("specVersion", "9.9"), "specVersion"),
        (lambda b: _model(b).__setitem__("type", "ai-model"), "type"),
        (lambda b: _model(b)["hashes"][0].__setitem__("alg", "SHA-257"), "alg"),
        (lambda b: _model(b)["modelCard"].__setitem__("verdict", "safe"), "modelCard"),
        (
            lambda b: _model(b)["modelCard"]["modelParameters"].__setitem__(
                "datasets", [{"type": "weights"}]
            ),
            "datasets",
        ),
        (
            lambda b: _model(b).__setitem__("licenses", [{"license": {"id": "Not-A-Licence"}}]),
            "licenses",
        ),
    ],
)
def test_broken_bom_fails_validation(
    smollm2_bom: dict[str, Any], breakage: Any, where: str
) -> None:
    broken = copy.deepcopy(smollm2_bom)
    breakage(broken)
    errors = schema_errors(broken)
    assert any(where in e for e in errors), errors
    with pytest.raises(BomInvalid) as info:
        validate_bom(broken)
    assert info.value.errors == errors


def _safetensors(
    path: Path, tensors: dict[str, tuple[str, list[int]]], meta: dict[str, str]
) -> None:
    header: dict[str, Any] = {"__metadata__": meta}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = 2
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def _hf_folder(root: Path) -> Path:
    root.mkdir()
    _safetensors(
        root / "model.safetensors", {"a": ("F16", [4, 8]), "b": ("F16", [8])}, {"format": "pt"}
    )
    (root / "config.json").write_text(
        json.dumps({"architectures": ["LlamaForCausalLM"], "max_position_embeddings": 2048})
    )
    (root / "README.md").write_text(
        "---\nlicense: mit\ndatasets:\n  - HuggingFaceTB/smollm-corpus\nlanguage: [en, zh]\n"
        "pipeline_tag: text-generation\n---\n# Tiny\n"
    )
    return root


def test_folder_bom_has_a_hash_per_file_and_card_facts(tmp_path: Path) -> None:
    root = _hf_folder(tmp_path / "tiny")
    bom = build_bom(root)
    validate_bom(bom)
    model = _model(bom)
    assert "hashes" not in model  # a folder has no single hash; its files do
    files = {c["name"]: c["hashes"][0]["content"] for c in model["components"]}
    assert set(files) == {"README.md", "config.json", "model.safetensors"}
    assert files["config.json"] == digest_file(root / "config.json").removeprefix("sha256:")
    props = _props(model)
    assert props["llmcert:parameter-count"] == "40"
    assert props["llmcert:format"] == "safetensors"
    assert model["licenses"] == [{"license": {"id": "MIT"}}]
    params = model["modelCard"]["modelParameters"]
    assert params["modelArchitecture"] == "LlamaForCausalLM"
    assert params["datasets"] == [{"type": "dataset", "name": "HuggingFaceTB/smollm-corpus"}]
    assert params["inputs"] == [{"format": "text"}]


def _eval_result(root_digest: str | None) -> dict[str, Any]:
    return {
        "schema": "llmcert.eval-result/1",
        "run": {"run_id": "run-1"},
        "model": {"artefact_digest": root_digest},
        "suite": {"name": "xstest", "version": "1.0.0"},
        "metrics": [
            {"name": "refusal_rate", "group": {}, "estimate": 0.25, "ci_low": 0.2, "ci_high": 0.31},
            {
                "name": "refusal_rate",
                "group": {"language": "zh"},
                "estimate": 0.5,
                "ci_low": 0.4,
                "ci_high": 0.6,
            },
            {"name": "unscored", "group": {}, "estimate": None, "ci_low": None, "ci_high": None},
        ],
    }


def test_assessments_fill_quantitative_analysis_and_are_linked_by_hash(tmp_path: Path) -> None:
    root = _hf_folder(tmp_path / "tiny")
    root_digest = build_bom(root)["components"][0]["properties"][0]["value"]
    scan = {"findings": [{"severity": "high"}, {"severity": "low"}]}
    bom = build_bom(root, scan_report=scan, assessments=[_eval_result(root_digest)])
    validate_bom(bom)
    model = _model(bom)
    metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    assert [m["type"] for m in metrics] == ["xstest/refusal_rate"] * 2
    assert metrics[0]["value"] == "0.25"
    assert metrics[0]["confidenceInterval"] == {"lowerBound": "0.2", "upperBound": "0.31"}
    assert metrics[1]["slice"].startswith("language=zh")
    refs = {r["type"]: r for r in model["externalReferences"]}
    assert "2 findings" in refs["static-analysis-report"]["comment"]
    ref_hex = refs["quality-metrics"]["hashes"][0]["content"]
    assert refs["quality-metrics"]["url"].endswith(ref_hex)
    assert f"sha256:{ref_hex[:16]}" in metrics[0]["slice"]


def test_assessment_of_another_model_is_refused(tmp_path: Path) -> None:
    root = _hf_folder(tmp_path / "tiny")
    with pytest.raises(LlmcertError, match="not of this model"):
        build_bom(root, assessments=[_eval_result("sha256:" + "0" * 64)])


def test_bad_safetensors_header_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "w.safetensors").write_bytes(struct.pack("<Q", 10) + b"{not json}")
    with pytest.raises(LlmcertError, match="not JSON"):
        build_bom(root)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("bom")(handle_errors(bom_command))
    app.command("noop")(lambda: None)
    return app


def test_cli_bom_writes_a_valid_file(tmp_path: Path) -> None:
    root = _hf_folder(tmp_path / "tiny")
    out = tmp_path / "bom.json"
    result = CliRunner().invoke(_app(), ["bom", str(root), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "sha256:" in result.output
    validate_bom(json.loads(out.read_text()))


def test_cli_bom_to_stdout_and_errors(tmp_path: Path) -> None:
    root = _hf_folder(tmp_path / "tiny")
    result = CliRunner().invoke(_app(), ["bom", str(root)])
    assert result.exit_code == 0
    validate_bom(json.loads(result.stdout))
    (tmp_path / "scan.json").write_text("[1, 2")
    result = CliRunner().invoke(_app(), ["bom", str(root), "--scan", str(tmp_path / "scan.json")])
    assert result.exit_code == 3
    assert "not JSON" in result.output
    result = CliRunner().invoke(_app(), ["bom", str(tmp_path / "absent")])
    assert result.exit_code == 3


def test_public_names_are_exported() -> None:
    for name in bom_mod.__all__:
        assert hasattr(bom_mod, name), name
