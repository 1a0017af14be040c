"""One regression test per class of evasion the second adversarial corpus found.

Numbers follow the issue: 1 format detection, 2 missing checkers, 3 structural
anomalies, 4 parser differentials, 7 bounded cost, 8 severity. Templates (5) and
false positives (6) have their own files.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zlib
from pathlib import Path

import lz4.frame
import pytest

from llmcert.supplychain.scan import ScanReport, Severity, _pickle_judge, scan_path
from tests.supplychain import adversarial, corpus


def scan_bytes(tmp_path: Path, name: str, data: bytes) -> ScanReport:
    path = tmp_path / name
    path.write_bytes(data)
    return scan_path(path)


def by_id(report: ScanReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        out.setdefault(f.id, []).append(f"{f.member or ''}: {f.evidence}")
    return out


def critical_call(report: ScanReport) -> bool:
    return any(
        f.id == "LLMC-PKL-001" and f.severity == Severity.CRITICAL and "system" in f.evidence
        for f in report.findings
    )


# --- 1. formats decided by what the loaders accept ----------------------------------------


@pytest.mark.parametrize(
    "data",
    [adversarial.hex_int_pickle(), adversarial.long_string_pickle()],
    ids=["hex-int", "long-first-string"],
)
def test_protocol0_pickles_the_loader_accepts_are_pickles(tmp_path: Path, data: bytes) -> None:
    report = scan_bytes(tmp_path, "notes.txt", data)
    assert report.files[0].format == "pickle"
    assert critical_call(report)
    assert report.blocking


@pytest.mark.parametrize(
    "prefix",
    ["---\n", "{# " + "padding " * 9000 + "#}\n"],
    ids=["front-matter", "64KiB-of-comments"],
)
def test_templates_are_found_anywhere_in_the_text(tmp_path: Path, prefix: str) -> None:
    report = scan_bytes(tmp_path, "chat_template.jinja", adversarial.ssti(prefix).encode())
    assert report.files[0].format == "jinja"
    assert "LLMC-TPL-001" in by_id(report)
    assert report.blocking


def test_model_card_with_a_code_sample_is_not_a_template(tmp_path: Path) -> None:
    card = "---\nlicense: mit\n---\nUse `{{ messages }}` in a template, see the docs.\n{%"
    report = scan_bytes(tmp_path, "README.md", card.encode())
    assert report.files[0].format == "model-card"
    assert not any(f.id.startswith("LLMC-TPL") for f in report.findings)


def test_safetensors_header_running_past_eof_is_judged_as_safetensors(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "m.bin", adversarial.safetensors_header_past_eof())
    assert report.files[0].format == "safetensors"
    assert any("exceeds the file" in e for e in by_id(report)["LLMC-ST-001"])
    assert report.blocking


def test_every_view_of_a_polyglot_is_judged(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "model.pt", adversarial.pickle_with_zip_tail())
    assert report.files[0].format == "pickle"
    assert "LLMC-FMT-003" in by_id(report)
    assert critical_call(report)


def test_unknown_binary_is_reported(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "blob", b"\x00\x01\x02" * 100)
    assert report.files[0].format == "unknown"
    assert "LLMC-FMT-001" in by_id(report)


# --- 3. anomalies NumPy tolerates do not end the check ------------------------------------


@pytest.mark.parametrize(
    ("header", "major"),
    [
        ("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }" + " " * 20_000, 1),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (-1,), }", 1),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (1L,), }", 1),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (2L, 3L), }", 2),
    ],
    ids=["over-long-header", "negative-dim", "python2-long", "python2-long-v2"],
)
def test_object_npy_anomalies_still_judge_the_pickle(
    tmp_path: Path, header: str, major: int
) -> None:
    report = scan_bytes(tmp_path, "a.npy", adversarial.object_npy(header, major=major))
    found = by_id(report)
    assert "LLMC-NPY-001" in found
    assert critical_call(report)


# --- 4. parser differentials --------------------------------------------------------------


def test_zip_with_two_central_directories_is_critical(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "model.pt", adversarial.two_central_directories())
    findings = by_id(report)
    assert any("only miniz sees" in e for e in findings["LLMC-ZIP-002"])
    assert {f.severity for f in report.findings if f.id == "LLMC-ZIP-002"} == {Severity.CRITICAL}
    assert critical_call(report)  # the member only miniz (torch.load) reads is judged too


def test_duplicate_member_names_are_a_differential(tmp_path: Path) -> None:
    data = io.BytesIO()
    import warnings
    import zipfile

    with warnings.catch_warnings(), zipfile.ZipFile(data, "w") as zf:
        warnings.simplefilter("ignore")
        zf.writestr("archive/data.pkl", corpus.state_dict_pickle())
        zf.writestr("archive/data.pkl", corpus.os_system_reduce())
    report = scan_bytes(tmp_path, "model.pt", data.getvalue())
    assert any("duplicate member names" in e for e in by_id(report)["LLMC-ZIP-002"])
    assert critical_call(report)


# --- 2. checkers for every loadable format ------------------------------------------------


@pytest.mark.parametrize(
    "compress",
    [
        zlib.compress,
        gzip.compress,
        bz2.compress,
        lzma.compress,
        lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
        lambda d: lz4.frame.compress(d),
    ],
    ids=["zlib", "gzip", "bz2", "xz", "lzma", "lz4"],
)
def test_compressed_joblib_pickles_are_decompressed_and_judged(
    tmp_path: Path, compress: object
) -> None:
    data = compress(corpus.os_system_reduce())  # type: ignore[operator]
    report = scan_bytes(tmp_path, "model.joblib", data)
    assert report.files[0].format == "compressed-pickle"
    assert critical_call(report)


def test_stream_that_cannot_be_decompressed_blocks(tmp_path: Path) -> None:
    lz4_frame_garbage = b"\x04\x22\x4d\x18" + b"\xff" * 64
    report = scan_bytes(tmp_path, "model.joblib", lz4_frame_garbage)
    assert "LLMC-FMT-002" in by_id(report)
    assert report.blocking


def test_legacy_tar_checkpoint_pickles_are_judged(tmp_path: Path) -> None:
    evil = scan_bytes(
        tmp_path, "evil.pt", adversarial.legacy_tar_checkpoint(corpus.os_system_reduce())
    )
    assert evil.files[0].format == "pytorch-legacy-tar"
    assert critical_call(evil)
    good = scan_bytes(
        tmp_path, "good.pt", adversarial.legacy_tar_checkpoint(corpus.state_dict_pickle())
    )
    assert [f for f in good.findings if f.severity.rank >= Severity.MEDIUM.rank] == []
    assert len(good.files[0].pickles) >= 4  # sys_info, pickle, and every storages/tensors record


@pytest.mark.parametrize(
    ("location", "domain", "expected"),
    [
        ("../../etc/passwd", "", {"LLMC-ONNX-001"}),
        ("/etc/shadow", "", {"LLMC-ONNX-001"}),
        ("C:\\secrets.bin", "", {"LLMC-ONNX-001"}),
        ("weights.bin", "ai.onnx.contrib", {"LLMC-ONNX-002"}),
        ("weights.bin", "", set()),
        ("weights/w.bin", "com.microsoft", set()),
    ],
)
def test_onnx_external_data_and_custom_domains(
    tmp_path: Path, location: str, domain: str, expected: set[str]
) -> None:
    report = scan_bytes(
        tmp_path, "model.onnx", adversarial.onnx_model(location=location, domain=domain)
    )
    assert report.files[0].format == "onnx"
    assert {i for i in by_id(report) if i.startswith("LLMC-ONNX")} == expected


@pytest.mark.parametrize("layer", [adversarial.LAMBDA_LAYER, adversarial.FOREIGN_FUNCTION])
def test_keras_configs_that_run_code_are_critical(tmp_path: Path, layer: dict[str, object]) -> None:
    v3 = scan_bytes(tmp_path, "model.keras", adversarial.keras_v3(layer))
    assert v3.files[0].format == "keras-v3"
    h5 = scan_bytes(tmp_path, "model.h5", adversarial.keras_h5(layer))
    assert h5.files[0].format == "hdf5"
    for report in (v3, h5):
        severities = {f.severity for f in report.findings if f.id == "LLMC-KERAS-001"}
        assert Severity.CRITICAL in severities
        assert report.blocking


def test_plain_keras_model_is_quiet(tmp_path: Path) -> None:
    dense = {"module": "keras.layers", "class_name": "Dense", "config": {"units": 2}}
    report = scan_bytes(tmp_path, "model.keras", adversarial.keras_v3(dense))
    assert "LLMC-KERAS-001" not in by_id(report)


def test_nested_archives_are_scanned_within_bounds(tmp_path: Path) -> None:
    inner = adversarial.zip_of("archive/data.pkl", corpus.os_system_reduce())
    report = scan_bytes(tmp_path, "bundle.zip", adversarial.zip_of("inner.zip", inner))
    assert any(f.member == "inner.zip/archive/data.pkl" for f in report.findings)
    assert critical_call(report)
    deep = inner
    for level in range(8):
        deep = adversarial.zip_of(f"level{level}.zip", deep)
    report = scan_bytes(tmp_path, "deep.zip", deep)
    assert any("nested more than" in e for e in by_id(report)["LLMC-FMT-002"])
    assert report.blocking


# --- 8. severity: whatever reaches code execution is critical ----------------------------


@pytest.mark.parametrize(
    "data",
    [corpus.discarded_call(), corpus.dunder_import_chain(), corpus.vars_dict_get_chain()],
    ids=["discarded-call", "dunder-import", "dict-get"],
)
def test_code_execution_findings_are_critical_from_every_engine(
    tmp_path: Path, data: bytes
) -> None:
    report = scan_bytes(tmp_path, "x.pkl", data)
    execution = [f for f in report.findings if f.id in ("LLMC-PKL-001", "LLMC-PKL-005")]
    assert execution
    assert {f.severity for f in execution} == {Severity.CRITICAL}
    assert {f.engine for f in execution} == {"opcode-reader", "fickling"}


def test_unresolved_callable_is_critical(tmp_path: Path) -> None:
    data = corpus.Ops(4).raw(b"N").ustr("system").stack_global().empty_tuple().reduce().stop()
    report = scan_bytes(tmp_path, "x.pkl", data)
    assert {f.severity for f in report.findings if f.id == "LLMC-PKL-004"} == {Severity.CRITICAL}


# --- 7. bounded cost ---------------------------------------------------------------------


def test_pickle_over_the_second_engine_budget_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pickle_judge, "MAX_FICKLING_OPCODES", 100)
    data = corpus.Ops(2).raw(b"]" + b"(" + b"N" * 500 + b"e").stop()
    report = scan_bytes(tmp_path, "big.pkl", data)
    assert any("not fully scanned" in e for e in by_id(report)["LLMC-PKL-006"])
    assert report.files[0].pickles[0].engines["fickling"] == "skipped"
    assert report.blocking


def test_large_gguf_metadata_is_read_by_our_streaming_reader_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gguf

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reference reader must not run on large metadata")

    monkeypatch.setattr(gguf, "GGUFReader", refuse)
    count = 200_000  # 1.6 MB of metadata: above the cross-check bound
    array_of_strings = struct.pack("<IIQ", 9, 8, count)  # ARRAY of STRING, count
    kv = corpus._gguf_str("tokenizer.ggml.tokens") + array_of_strings
    kv += struct.pack("<Q", 0) * count
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv
    data += b"\x00" * (-len(data) % 32)
    report = scan_bytes(tmp_path, "big.gguf", data)
    assert report.files[0].format == "gguf"
    assert [f for f in report.findings if f.id.startswith("LLMC-GGUF")] == []


def test_template_file_without_messages_is_still_a_template(tmp_path: Path) -> None:
    source = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
    report = scan_bytes(tmp_path, "chat_template.jinja", source.encode())
    assert report.files[0].format == "jinja"
    assert "LLMC-TPL-001" in by_id(report)


def test_member_zipfile_refuses_is_read_as_miniz_reads_it(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "model.pt", adversarial.header_name_mismatch())
    assert critical_call(report)
    assert report.blocking


def test_keras_h5_config_with_reordered_keys_and_escapes_is_judged(tmp_path: Path) -> None:
    config = (
        '{"config": {"layers": [{"config": {"name": "l"}, "class_\\u006eame": "\\u004cambda"}]},'
        ' "class_name": "Sequential"}'
    )
    data = b"\x89HDF\r\n\x1a\n" + b"\x00" * 100 + config.encode() + b"\x00" * 100
    report = scan_bytes(tmp_path, "model.h5", data)
    assert any("Lambda" in e for e in by_id(report)["LLMC-KERAS-001"])


def test_json_too_large_to_parse_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmcert.supplychain.scan import _formats

    monkeypatch.setattr(_formats, "MAX_TEXT_BYTES", 1000)
    padded = '{"auto_map": {"AutoModel": "evil.Model"}, "pad": "' + "x" * 2000 + '"}'
    report = scan_bytes(tmp_path, "config.json", padded.encode())
    assert report.files[0].format == "json"
    assert "LLMC-FMT-002" in by_id(report)
    assert report.blocking


def test_magic_header_that_also_runs_as_a_pickle_is_judged_as_one(tmp_path: Path) -> None:
    # 'G' (BINFLOAT) eats the rest of the GGUF magic and version; torch.load would run the rest
    data = b"GGUF" + b"\x03\x00\x00\x00\x00" + adversarial.SYSTEM_CALL
    report = scan_bytes(tmp_path, "model.gguf", data)
    assert report.files[0].format == "gguf"
    assert critical_call(report)
