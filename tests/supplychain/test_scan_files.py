"""Whole-file scans: formats from bytes, containers, safetensors, GGUF, NumPy, HF files."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from llmcert.supplychain.scan import ScanReport, SupplyChainError, scan_path
from tests.supplychain import corpus


def scan_bytes(tmp_path: Path, name: str, data: bytes) -> ScanReport:
    path = tmp_path / name
    path.write_bytes(data)
    return scan_path(path)


def ids(report: ScanReport) -> set[str]:
    return {f.id for f in report.findings}


def content_findings(report: ScanReport) -> list[str]:
    """Findings about the file's content, leaving out licence/provenance notes."""
    return [f"{f.id}: {f.evidence}" for f in report.findings if not f.id.startswith("LLMC-PRV")]


@pytest.mark.parametrize("name", ["payload", "model.safetensors", "pytorch_model.bin", "x.json"])
def test_renamed_pickle_is_judged_by_its_bytes(tmp_path: Path, name: str) -> None:
    report = scan_bytes(tmp_path, name, corpus.os_system_reduce())
    assert report.files[0].format == "pickle"
    assert "LLMC-PKL-001" in ids(report)
    assert report.blocking


def test_pickle_renamed_as_text_is_still_a_pickle(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "README.txt", corpus.protocol0_inst())
    assert report.files[0].format == "pickle"
    assert report.blocking


def test_malicious_torch_zip_is_blocked(tmp_path: Path) -> None:
    path = corpus.torch_zip(tmp_path / "model.bin", corpus.os_system_reduce())
    report = scan_path(path)
    assert report.files[0].format == "pytorch-zip"
    findings = [f for f in report.findings if f.id == "LLMC-PKL-001"]
    assert {f.member for f in findings} == {"archive/data.pkl"}
    assert {f.engine for f in findings} == {"opcode-reader", "fickling"}
    assert report.blocking


def test_pickle_hidden_under_another_member_name_is_found(tmp_path: Path) -> None:
    path = corpus.torch_zip(tmp_path / "model.pt", corpus.state_dict_pickle())
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("archive/extra/notes", corpus.fork_exec_chain())
    report = scan_path(path)
    assert {f.member for f in report.findings if f.id == "LLMC-PKL-001"} == {"archive/extra/notes"}


@pytest.mark.parametrize("kind", ["zip", "legacy", "plain"])
def test_benign_state_dicts_are_not_flagged(tmp_path: Path, kind: str) -> None:
    if kind == "zip":
        path = corpus.torch_zip(tmp_path / "model.pt", corpus.state_dict_pickle())
    else:
        path = tmp_path / "model.pt"
        path.write_bytes(corpus.legacy_torch() if kind == "legacy" else corpus.state_dict_pickle())
    report = scan_path(path)
    assert [f for f in report.findings if f.id.startswith(("LLMC-PKL", "LLMC-ZIP"))] == []
    assert not report.blocking
    engines = [v.engines for v in report.files[0].pickles]
    assert engines == [{"opcode-reader": "clean", "fickling": "clean"}]


def test_object_dtype_npy_is_blocked_and_its_pickle_judged(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "arr.npy", corpus.object_npy())
    assert report.files[0].format == "numpy-npy"
    assert {"LLMC-NPY-001", "LLMC-PKL-001"} <= ids(report)
    assert any("os.system" in f.evidence for f in report.findings if f.id == "LLMC-PKL-001")


def test_plain_npy_and_npz_are_clean(tmp_path: Path) -> None:
    assert content_findings(scan_bytes(tmp_path, "a.npy", corpus.float_npy())) == []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.npy", corpus.float_npy())
        zf.writestr("b.npy", corpus.float_npy(8))
    report = scan_bytes(tmp_path, "arrays.npz", buf.getvalue())
    assert report.files[0].format == "numpy-npz"
    assert content_findings(report) == []


def test_npz_with_object_member_is_blocked(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.npy", corpus.float_npy())
        zf.writestr("evil.npy", corpus.object_npy())
    report = scan_bytes(tmp_path, "arrays.npz", buf.getvalue())
    assert {f.member for f in report.findings if f.id == "LLMC-NPY-001"} == {"evil.npy"}
    assert report.blocking


def test_npy_with_wrong_data_size(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "a.npy", corpus.npy("<f4", (4,), b"\x00" * 20))
    assert content_findings(report) == ["LLMC-NPY-002: data has 20 bytes, <f4(4,) needs 16"]


def test_benign_safetensors(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "model.safetensors", corpus.benign_safetensors())
    assert report.files[0].format == "safetensors"
    assert report.files[0].provenance["license"] == "apache-2.0"
    assert [f for f in report.findings if f.id.startswith("LLMC-ST")] == []


def test_overlapping_safetensors(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "m.safetensors", corpus.overlapping_safetensors())
    (finding,) = [f for f in report.findings if f.id == "LLMC-ST-002"]
    assert "overlaps" in finding.evidence
    assert report.blocking


def test_polyglot_safetensors_is_flagged_and_its_zip_scanned(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "m.safetensors", corpus.polyglot_safetensors())
    assert report.files[0].format == "safetensors"
    assert {"LLMC-ST-003", "LLMC-PKL-001"} <= ids(report)


@pytest.mark.parametrize(
    ("tensors", "data", "needle"),
    [
        ({"a": ("F32", [2], (0, 8))}, b"\x00" * 12, "trailing"),  # bytes after the last tensor
        ({"a": ("F32", [2], (4, 12))}, b"\x00" * 12, "belong to no tensor"),  # gap
        ({"a": ("F32", [3], (0, 8))}, b"\x00" * 8, "needs 12 bytes"),  # shape/offset mismatch
        ({"a": ("F32", [2], (0, 16))}, b"\x00" * 8, "ends at 16"),  # beyond the data
    ],
)
def test_safetensors_offsets_must_tile_the_data(
    tmp_path: Path,
    tensors: dict[str, tuple[str, list[int], tuple[int, int]]],
    data: bytes,
    needle: str,
) -> None:
    report = scan_bytes(tmp_path, "m.safetensors", corpus.safetensors(tensors, data))
    evidence = " | ".join(f.evidence for f in report.findings if f.id == "LLMC-ST-002")
    assert needle in evidence


@pytest.mark.parametrize(
    "header",
    [
        b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}',
        b'{"a": {"dtype": "X99", "shape": [1], "data_offsets": [0, 4]}}',
        b'{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}',
        b'{"__metadata__": {"k": 1}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}',
        b'{"a": [1, 2, 3 ',
    ],
)
def test_safetensors_header_is_validated(tmp_path: Path, header: bytes) -> None:
    data = corpus.safetensors({}, b"\x00" * 4, raw_header=header)
    report = scan_bytes(tmp_path, "m.safetensors", data)
    assert "LLMC-ST-001" in ids(report)


def test_gguf_structure_checks(tmp_path: Path) -> None:
    clean = corpus.gguf({"general.license": "mit", "general.author": "me"})
    assert content_findings(scan_bytes(tmp_path, "ok.gguf", clean)) == []

    beyond = corpus.gguf({"general.license": "mit"}, tensors=[("w", (4,), 0)], data_size=8)
    assert "beyond file end" in _evidence(scan_bytes(tmp_path, "b.gguf", beyond), "LLMC-GGUF-002")

    overlap = corpus.gguf({}, tensors=[("a", (16,), 0), ("b", (16,), 32)])
    assert "overlaps" in _evidence(scan_bytes(tmp_path, "o.gguf", overlap), "LLMC-GGUF-002")

    unaligned = corpus.gguf({}, tensors=[("a", (4,), 8)])
    assert "not aligned" in _evidence(scan_bytes(tmp_path, "u.gguf", unaligned), "LLMC-GGUF-002")

    padded = clean + b"\x00" * 4096
    assert "after the last tensor" in _evidence(
        scan_bytes(tmp_path, "p.gguf", padded), "LLMC-GGUF-003"
    )


def test_gguf_header_lies_are_findings(tmp_path: Path) -> None:
    huge = b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 1)
    assert "implausible counts" in _evidence(scan_bytes(tmp_path, "h.gguf", huge), "LLMC-GGUF-001")
    cut = corpus.gguf_with_template(corpus.BENIGN_TEMPLATE)[:60]
    assert "LLMC-GGUF-001" in ids(scan_bytes(tmp_path, "c.gguf", cut))


def test_hf_directory_remote_code_and_licence_disagreement(tmp_path: Path) -> None:
    root = corpus.hf_directory(tmp_path / "repo")
    report = scan_path(root)
    formats = {f.path: f.format for f in report.files}
    assert formats == {
        "README.md": "model-card",
        "config.json": "json",
        "model.gguf": "gguf",
        "modeling_evil.py": "python",
        "tokenizer_config.json": "json",
    }
    by_id = {f.id: f for f in report.findings}
    assert by_id["LLMC-RC-001"].file == "config.json"
    assert "modeling_evil.EvilForCausalLM" in by_id["LLMC-RC-001"].evidence
    assert by_id["LLMC-RC-002"].file == "modeling_evil.py"
    assert "apache-2.0" in by_id["LLMC-PRV-001"].evidence
    assert "mit" in by_id["LLMC-PRV-001"].evidence
    card = next(f for f in report.files if f.path == "README.md")
    assert card.provenance["base_model"] == "HuggingFaceTB/SmolLM2-135M"


def test_agreeing_licences_spelled_differently_are_not_a_disagreement(tmp_path: Path) -> None:
    root = corpus.hf_directory(tmp_path / "repo", card_license="MIT")
    assert "LLMC-PRV-001" not in ids(scan_path(root))


def test_missing_licence_and_unknown_binary(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "blob", bytes(range(256)) * 4)
    assert report.files[0].format == "unknown"
    assert {"LLMC-FMT-001", "LLMC-PRV-002"} <= ids(report)
    assert not report.blocking  # info and low findings do not block at --fail-on high


def test_fail_on_threshold_decides_blocking(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)))
    assert not scan_path(path, fail_on="high").blocking
    assert scan_path(path, fail_on="info").blocking


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SupplyChainError, match="no such file"):
        scan_path(tmp_path / "nope")


def test_digests_are_streamed_sha256(tmp_path: Path) -> None:
    import hashlib

    data = corpus.benign_safetensors()
    report = scan_bytes(tmp_path, "m.safetensors", data)
    assert report.files[0].sha256 == "sha256:" + hashlib.sha256(data).hexdigest()
    assert report.files[0].size == len(data)


def _evidence(report: ScanReport, rule: str) -> str:
    return " | ".join(f.evidence for f in report.findings if f.id == rule)
