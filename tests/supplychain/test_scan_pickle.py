"""The streaming opcode reader and the two-engine pickle judgement, on hand-built pickles."""

from __future__ import annotations

import io
import pickletools
import sys
from pathlib import Path

import pytest

from llmcert.supplychain.scan import _fickling, scan_path
from llmcert.supplychain.scan._fickling import ENGINE as FICKLING
from llmcert.supplychain.scan._findings import FindingSink, Severity
from llmcert.supplychain.scan._pickle import Limits, PickleAnalysis, read_pickles
from llmcert.supplychain.scan._pickle_judge import READER, PickleVerdict, allowlist, judge_pickle
from tests.supplychain import corpus

MALICIOUS = {
    "os_system": (corpus.os_system_reduce, {"os.system"}),
    "discarded": (corpus.discarded_call, {"posix.system"}),
    "after_valid": (corpus.payload_after_valid, {"os.system"}),
    "importlib": (corpus.importlib_chain, {"builtins.getattr", "importlib.import_module"}),
    "dunder_import": (corpus.dunder_import_chain, {"builtins.getattr", "builtins.__import__"}),
    "vars_get": (corpus.vars_dict_get_chain, {"builtins.dict.get", "builtins.vars", "shutil.os"}),
    "fork_exec": (corpus.fork_exec_chain, {"_posixsubprocess.fork_exec"}),
    "protocol0": (corpus.protocol0_inst, {"subprocess.Popen"}),
}


def analyse(data: bytes) -> PickleAnalysis:
    return read_pickles(io.BytesIO(data), end=len(data))


def judge(data: bytes, expected_streams: int | None = None) -> tuple[FindingSink, PickleVerdict]:
    sink = FindingSink("sample")
    verdict = judge_pickle(
        io.BytesIO(data), sink, start=0, end=len(data), expected_streams=expected_streams
    )
    return sink, verdict


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_corpus_pickles_are_well_formed_for_pickletools(name: str) -> None:
    # pickletools only disassembles; a sample it rejects would test the wrong thing.
    data = MALICIOUS[name][0]()
    first_stop = data.index(b".", 2) + 1 if name == "after_valid" else len(data)
    pickletools.dis(data[:first_stop], out=io.StringIO())


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_reader_reports_every_import(name: str) -> None:
    make, expected = MALICIOUS[name]
    result = analyse(make())
    assert {i.dotted for i in result.imports} == expected


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_both_engines_flag_gadgets(name: str) -> None:
    make, expected = MALICIOUS[name]
    sink, verdict = judge(make())
    assert verdict.engines == {READER: "flagged", FICKLING: "flagged"}
    for engine in (READER, FICKLING):
        flagged = {
            f.evidence for f in sink.findings if f.id == "LLMC-PKL-001" and f.engine == engine
        }
        for dotted in expected:
            assert any(dotted in ev for ev in flagged), (engine, dotted, flagged)
    assert all(f.severity == Severity.CRITICAL for f in sink.findings if f.id == "LLMC-PKL-001"), (
        "every corpus gadget names a known code-execution primitive"
    )


def test_stack_global_resolves_names_through_the_memo() -> None:
    result = analyse(corpus.dunder_import_chain())
    by_name = {i.dotted: i for i in result.imports}
    assert by_name["builtins.__import__"].opcode == "STACK_GLOBAL"
    assert not result.issues


def test_import_positions_point_at_the_opcode() -> None:
    data = corpus.payload_after_valid()
    result = analyse(data)
    (imp,) = result.imports
    assert data[imp.offset : imp.offset + 1] == b"c"
    assert imp.stream == 1
    assert result.streams == 2


def test_payload_after_valid_pickle_is_its_own_finding() -> None:
    sink, _ = judge(corpus.payload_after_valid())
    assert "LLMC-PKL-003" in {f.id for f in sink.findings}


def test_discarded_call_result_is_flagged() -> None:
    sink, _ = judge(corpus.discarded_call())
    (finding,) = [f for f in sink.findings if f.id == "LLMC-PKL-005"]
    assert "posix.system" in finding.evidence


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (corpus.truncated(), "truncated"),
        (b"\x80\x02\xff", "malformed"),  # unknown opcode
        (b"\x80\x09}.", "malformed"),  # protocol 9 does not exist
        (b"\x80\x02h\x05.", "malformed"),  # memo key never stored
        (b"\x80\x02s.", "malformed"),  # SETITEM on an empty stack
        (b"\x80\x02X\xff\xff\xff\x00ab", "truncated"),  # length beyond the data
    ],
)
def test_broken_streams_are_findings_not_crashes(data: bytes, kind: str) -> None:
    result = analyse(data)
    assert [i.kind for i in result.issues] == [kind]
    sink, verdict = judge(data)
    assert "LLMC-PKL-002" in {f.id for f in sink.findings}
    assert verdict.engines[READER] == "flagged"


def test_stack_global_with_computed_operands_is_unresolved() -> None:
    # The module operand is a call result: there is no constant name to check.
    ops = corpus.Ops(4).glob("collections", "OrderedDict").empty_tuple().reduce()
    ops.ustr("system").stack_global().empty_tuple().reduce()
    sink, _ = judge(ops.stop())
    assert "LLMC-PKL-004" in {f.id for f in sink.findings}


def test_limits_bound_the_work() -> None:
    data = corpus.Ops(2).raw(b"(" + b"N" * 50 + b"t").stop()
    result = read_pickles(io.BytesIO(data), end=len(data), limits=Limits(max_opcodes=10))
    assert [i.kind for i in result.issues] == ["limit"]
    huge_arg = b"\x80\x02cos\n" + b"s" * 5000 + b"\n."
    result = read_pickles(io.BytesIO(huge_arg), end=len(huge_arg), limits=Limits(max_line=1000))
    # The unpickler's readline has no limit: a long argument is read through, only its head kept.
    assert result.issues == []
    assert [(i.module, len(i.name)) for i in result.imports] == [("os", 1000)]


def test_benign_state_dict_passes_both_engines() -> None:
    sink, verdict = judge(corpus.state_dict_pickle())
    assert sink.findings == []
    assert verdict.engines == {READER: "clean", FICKLING: "clean"}
    assert any("torch._utils._rebuild_tensor_v2@" in i for i in verdict.imports)


def test_legacy_torch_file_is_five_pickles_then_storages() -> None:
    data = corpus.legacy_torch()
    sink, verdict = judge(data, expected_streams=5)
    assert sink.findings == []
    assert verdict.streams == 5


def test_allowlist_is_data_and_keeps_dangerous_names_out() -> None:
    policy = allowlist()
    assert policy.allows("collections", "OrderedDict")
    assert policy.allows("torch._utils", "_rebuild_tensor_v2")
    assert policy.allows("__builtin__", "set")  # protocol 0-2 name of builtins
    for module, name in [("os", "system"), ("builtins", "eval"), ("torch", "load")]:
        assert not policy.allows(module, name)
    assert policy.dangerous("importlib", "import_module")
    assert policy.dangerous("builtins", "dict.get")
    assert not policy.dangerous("mylib.layers", "Dense")


def test_any_non_allowlisted_import_is_critical_in_both_engines(tmp_path: Path) -> None:
    # Whatever module it names, a call reached through a pickle runs code on load.
    data = corpus.Ops(2).glob("mylib.layers", "Dense").empty_tuple().reduce().stop()
    sink, _ = judge(data)
    findings = [f for f in sink.findings if f.id == "LLMC-PKL-001"]
    assert {f.engine for f in findings} == {"opcode-reader", "fickling"}
    assert {f.severity for f in findings} == {Severity.CRITICAL}


def test_fickling_unavailable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fickling.analysis", None)
    sink, verdict = judge(corpus.os_system_reduce())
    assert verdict.engines[FICKLING] == "unavailable"
    assert "LLMC-PKL-006" in {f.id for f in sink.findings}
    # the opcode reader still blocks the payload on its own
    assert any(f.id == "LLMC-PKL-001" and f.engine == READER for f in sink.findings)


def test_fickling_crash_becomes_engine_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    import fickling.fickle  # type: ignore[import-untyped,unused-ignore]

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("hostile input")

    monkeypatch.setattr(fickling.fickle.StackedPickle, "load", staticmethod(boom))
    outcome = _fickling.run_fickling(corpus.state_dict_pickle(), allowlist().allow)
    assert outcome.status == "failed"
    assert "hostile input" in outcome.detail


def test_fickling_global_allowlist_is_not_mutated() -> None:
    from fickling.ml import ML_ALLOWLIST  # type: ignore[import-untyped,unused-ignore]

    before = {m: dict(v) for m, v in ML_ALLOWLIST.items()}
    _fickling.run_fickling(corpus.state_dict_pickle(), allowlist().allow)
    assert before == ML_ALLOWLIST


def test_protocol_4_frames() -> None:
    body = corpus.Ops(None).glob("collections", "OrderedDict").empty_tuple().reduce()
    framed = corpus.Ops(4).frame(len(body.buf) + 1).raw(bytes(body.buf)).stop()
    pickletools.dis(framed, out=io.StringIO())
    result = analyse(framed)
    assert result.protocols == [4]
    assert [i.dotted for i in result.imports] == ["collections.OrderedDict"]
    sink, verdict = judge(framed)
    assert sink.findings == []
    assert verdict.engines == {READER: "clean", FICKLING: "clean"}


def test_protocol_5_buffers_and_an_engine_that_cannot_follow(tmp_path: Path) -> None:
    ops = corpus.Ops(5).raw(b"\x96" + (3).to_bytes(8, "little") + b"abc")  # BYTEARRAY8
    data = ops.raw(b"\x98").stop()  # READONLY_BUFFER
    pickletools.dis(data, out=io.StringIO())
    assert analyse(data).issues == []
    sink, verdict = judge(data)
    # fickling 0.1.12 does not implement BYTEARRAY8: reported, not a crash, and blocking —
    # a stream that blinds one engine fails closed.
    assert verdict.engines[READER] == "clean"
    if verdict.engines[FICKLING] != "clean":
        assert verdict.engines[FICKLING] == "failed"
        (finding,) = sink.findings
        assert finding.id == "LLMC-PKL-006"
        assert finding.severity == Severity.HIGH
        path = tmp_path / "weights.bin"
        path.write_bytes(data)
        assert scan_path(path).blocking
