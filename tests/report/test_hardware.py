"""The hardware class: parsed from the engine's report, keyed by what decides the arithmetic."""

from __future__ import annotations

import pytest

from llmcert.report import Environment, HardwareClass, hardware_difference
from llmcert.report._hardware import parse_system_info

NATIVE = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 | "
)
REFERENCE = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)


def make(system_info: str, **fields: object) -> HardwareClass:
    values: dict[str, object] = {
        "engine": "llama.cpp",
        "machine": "x86_64",
        "system_info": system_info,
        "cpu": "AMD EPYC",
        "cpu_flags": ["avx2", "fma", "avx512f", "sse4_2", "smep", "ht"],
    }
    values.update(fields)
    return HardwareClass.build_from(**values)  # type: ignore[arg-type]


def test_system_info_is_parsed_per_backend() -> None:
    text = NATIVE + "CUDA : ARCHS = 890 | USE_GRAPHS = 1 | FORCE_MMQ = 0 | "
    features = parse_system_info(text)
    assert "CPU:AVX512_VNNI" in features
    assert "CPU:AVX2" in features
    assert "CUDA:ARCHS=890" in features
    assert "CUDA:USE_GRAPHS" in features
    assert not any("FORCE_MMQ" in f for f in features)  # switched off
    assert features == sorted(features)
    assert parse_system_info("") == []


def test_class_changes_with_the_kernels_not_with_the_cpu() -> None:
    native, reference = make(NATIVE), make(REFERENCE)
    assert native.key != reference.key
    assert "AVX512" in native.label
    assert "(no AVX-512)" in reference.label
    # The same build on another CPU model, with other flags: the same class.
    elsewhere = make(REFERENCE, cpu="Intel Xeon", cpu_flags=["avx2", "fma"])
    assert elsewhere.key == reference.key
    assert hardware_difference(reference, elsewhere) is None
    # Only flags that bear on kernels are kept ("smep" is not Arm's SME).
    assert native.cpu_flags == ["avx2", "avx512f", "fma", "sse4_2"]


def test_gpus_decide_the_class_only_when_the_build_offloads() -> None:
    cpu_only = make(REFERENCE, gpus=["NVIDIA L4"])
    assert cpu_only.key == make(REFERENCE).key
    offloading = make(REFERENCE, gpus=["NVIDIA L4"], gpu_offload=True)
    other_gpu = make(REFERENCE, gpus=["NVIDIA A100"], gpu_offload=True)
    assert len({offloading.key, other_gpu.key, cpu_only.key}) == 3
    assert "GPU NVIDIA L4" in offloading.label


def test_difference_names_what_changed() -> None:
    text = hardware_difference(make(NATIVE), make(REFERENCE))
    assert text is not None
    assert "without CPU:AVX512, CPU:AVX512_BF16" in text
    assert make(NATIVE).short_key in text
    arm = make("CPU : NEON = 1 | ARM_FMA = 1 | ", machine="aarch64")
    text = hardware_difference(make(REFERENCE), arm)
    assert text is not None
    assert "machine x86_64 → aarch64" in text
    assert "with CPU:ARM_FMA, CPU:NEON" in text


def test_remote_results_compare_as_before_and_one_sided_is_a_difference() -> None:
    assert hardware_difference(None, None) is None
    one = hardware_difference(None, make(REFERENCE))
    assert one is not None
    assert "only one result records its hardware class" in one


def test_environment_round_trips_and_older_results_still_load() -> None:
    base = {"llmcert": "0", "python": "3.11", "platform": "linux", "packages": {}, "hardware": {}}
    assert Environment.model_validate(base).hardware_class is None
    env = Environment.model_validate({**base, "hardware_class": make(NATIVE).model_dump()})
    assert env.hardware_class == make(NATIVE)
    with pytest.raises(ValueError, match="hardware_class"):
        Environment.model_validate({**base, "hardware_class": {"key": "x"}})


def test_assessment_page_shows_the_class_and_says_when_there_is_none() -> None:
    from llmcert.report import render_assessment_html

    from .assessment_fixtures import assessment

    plain = assessment()
    assert "Not recorded: the model ran outside this process" in render_assessment_html(plain)
    hc = make(REFERENCE)
    env = plain.environment.model_copy(update={"hardware_class": hc})
    page = render_assessment_html(assessment(environment=env))
    assert 'id="hardware-class"' in page
    assert hc.label in page
    assert hc.key in page
    assert "AVX2" in page


def test_an_absent_class_leaves_the_serialised_form_as_before() -> None:
    """Assessments filed before the class was recorded keep the digest they were certified by."""
    from llmcert.report import assessment_digest
    from llmcert.report._assessment_io import assessment_data

    from .assessment_fixtures import assessment

    old = assessment()
    data = assessment_data(old)
    assert "hardware_class" not in data["environment"]
    assert data["environment"]["hardware"] == {"cpus": 2, "memory_gb": 8}
    env = old.environment.model_copy(update={"hardware_class": make(NATIVE)})
    recorded = assessment(environment=env)
    assert assessment_data(recorded)["environment"]["hardware_class"]["key"] == make(NATIVE).key
    assert assessment_digest(recorded) != assessment_digest(old)


def test_junit_properties_name_the_class_when_there_is_one() -> None:
    from llmcert.report import render_junit

    from .assessment_fixtures import assessment

    assert "hardware.class" not in render_junit(assessment())
    env = assessment().environment.model_copy(update={"hardware_class": make(REFERENCE)})
    text = render_junit(assessment(environment=env))
    assert 'name="hardware.key" value="' + make(REFERENCE).key in text
    assert "(no AVX-512)" in text
