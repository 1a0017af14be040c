"""The hardware class a result records follows what the backend reports, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcert.cli._eval import hardware_footer
from llmcert.models._system import EngineSystemInfo, loaded_libraries
from llmcert.models.mock import MockBackend
from llmcert.services._hardware import hardware_class, hardware_class_of
from llmcert.services.evaluate import EvalRequest, evaluate
from tests.conftest import write_suite


class InProcess(MockBackend):
    """A mock model that says which kernels it runs, as the llama.cpp backend does."""

    def __init__(self, features: str) -> None:
        super().__init__("echo")
        self.features = features

    def system_info(self) -> EngineSystemInfo:
        return EngineSystemInfo(
            "llama.cpp", "llama-cpp-python 0.0-test", f"CPU : {self.features} | ", False
        )


def test_recorded_class_changes_when_the_backend_reports_other_features() -> None:
    wide = hardware_class(InProcess("AVX2 = 1 | AVX512 = 1"))
    narrow = hardware_class(InProcess("AVX2 = 1 | AVX512 = 0"))
    assert wide is not None
    assert narrow is not None
    assert wide.key != narrow.key
    assert "CPU:AVX512" in wide.features
    assert "CPU:AVX512" not in narrow.features
    assert hardware_class(InProcess("AVX2 = 1 | AVX512 = 1")) == wide  # stable
    # The machine's side is read from the machine, whatever the engine says.
    assert wide.cpu
    assert wide.build["version"] == "llama-cpp-python 0.0-test"


def test_a_remote_backend_has_no_class() -> None:
    assert hardware_class(MockBackend("echo")) is None


def test_build_record_names_the_kernels_library(tmp_path: Path) -> None:
    lib = tmp_path / "libggml-cpu-haswell.so"
    lib.write_bytes(b"\x7fELF kernels")
    info = EngineSystemInfo(
        "llama.cpp", "v", "CPU : AVX2 = 1 | ", libraries=(str(tmp_path / "libllama.so"), str(lib))
    )
    build = hardware_class_of(info).build
    assert build["kernels_library"] == "libggml-cpu-haswell.so"
    assert build["kernels_sha256"].startswith("sha256:")
    assert build["library_dir"] == str(tmp_path)
    assert build["library_override"] == "none"


def test_loaded_libraries_are_read_from_this_process() -> None:
    found = loaded_libraries(("libc.so", "libc-"))
    assert any("libc" in Path(p).name for p in found)
    assert loaded_libraries(("no-such-library-name",)) == ()


@pytest.mark.parametrize("features", ["AVX2 = 1 | AVX512 = 1", "AVX2 = 1"])
async def test_result_report_and_footer_carry_the_class(tmp_path: Path, features: str) -> None:
    write_suite(tmp_path / "suite", [{"id": "a", "input": "x", "target": "x"}])
    outcome = await evaluate(
        EvalRequest(model="mock:echo", suite=str(tmp_path / "suite" / "suite.yaml"),
                    output=tmp_path / "out"),
        backend=InProcess(features),
    )  # fmt: skip
    recorded = outcome.result.environment.hardware_class
    assert recorded is not None
    assert recorded == hardware_class(InProcess(features))
    on_disk = json.loads(outcome.result_path.read_text(encoding="utf-8"))
    assert on_disk["environment"]["hardware_class"]["key"] == recorded.key
    html = outcome.report_path.read_text(encoding="utf-8")
    assert 'id="hardware-class"' in html
    assert recorded.label in html
    footer = hardware_footer(outcome.result)
    assert recorded.label in footer
    assert recorded.short_key in footer


async def test_a_remote_result_says_it_has_no_class(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", [{"id": "a", "input": "x", "target": "x"}])
    outcome = await evaluate(
        EvalRequest(model="mock:echo", suite=str(tmp_path / "suite" / "suite.yaml"),
                    output=tmp_path / "out"),
    )  # fmt: skip
    assert outcome.result.environment.hardware_class is None
    assert "not applicable" in hardware_footer(outcome.result)
    assert "Not recorded: the model ran outside this process" in outcome.report_path.read_text(
        encoding="utf-8"
    )
