"""The hardware class of an in-process backend: what makes its outputs machine-dependent.

llama.cpp chooses its compute kernels by the instruction set it was built for
(AVX2, AVX-512, …), and the kernels round differently. Greedy decoding turns
those differences into different answers, so the same GGUF file and the same
suite score differently on two CPUs. A number measured in-process therefore
holds for its hardware class, and two results are comparable only within one.

The class is decided by what the engine *runs*, not by the CPU it runs on:
the machine architecture, the engine, the compute features its backends report
(llama.cpp's system information) and, when the build can offload, the GPUs.
The CPU model and its flags are recorded beside it: they explain the class
(a native build follows the CPU) but do not decide it (one reference build
gives the same class, and the same outputs, on every CPU that can run it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from llmcert._hashing import digest_json

__all__ = ["HardwareClass", "hardware_difference", "parse_system_info"]

#: CPU flags that change which kernels an engine can use (from /proc/cpuinfo).
RELEVANT_CPU_FLAGS = re.compile(
    r"^(sse3|ssse3|sse4_1|sse4_2|avx|avx2|avx512\w*|avx_vnni\w*|fma|f16c|bmi2|amx\w*"
    r"|neon|asimd\w*|sve\w*|sme(?!p)\w*|vsx|dotprod|i8mm|bf16)$"
)


def parse_system_info(text: str) -> list[str]:
    """llama.cpp's ``llama_print_system_info()`` as sorted ``BACKEND:FEATURE[=VALUE]`` strings.

    The string reads ``CPU : SSE3 = 1 | AVX2 = 1 | … | CUDA : ARCHS = 890 | …``:
    features switched off (``= 0``) are dropped, flags (``= 1``) keep their name
    only, anything else keeps its value.
    """
    features: list[str] = []
    backend = ""
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        head = re.match(r"^([A-Za-z0-9_.\-]+)\s*:\s*(.*)$", part)
        if head is not None and "=" not in head.group(1):
            backend, part = head.group(1), head.group(2).strip()
            if not part:
                continue
        name, sep, value = (p.strip() for p in part.partition("="))
        if not sep:
            continue
        if value == "0":
            continue
        prefix = f"{backend}:" if backend else ""
        features.append(f"{prefix}{name}" if value == "1" else f"{prefix}{name}={value}")
    return sorted(set(features))


class HardwareClass(BaseModel):
    """What an in-process backend computes with; results compare only within one class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(
        description="sha256 over machine, engine, compute features and (when the build "
        "offloads) GPUs: equal keys mean the same kernels, hence the same outputs"
    )
    label: str = Field(description="the class in words, e.g. 'x86_64 llama.cpp CPU AVX2 FMA F16C'")
    engine: str = Field(description="the in-process engine, e.g. llama.cpp")
    machine: str = Field(description="machine architecture, e.g. x86_64")
    system_info: str = Field(description="the engine's system information string, verbatim")
    features: list[str] = Field(description="compute features in use, parsed from system_info")
    build: dict[str, str] = Field(
        default_factory=dict,
        description="how the engine was built and loaded: version, library directory and "
        "override, the libraries in use and the digest of the CPU kernels' library",
    )
    cpu: str = Field(description="CPU model")
    cpu_flags: list[str] = Field(
        default_factory=list, description="the CPU's flags that bear on kernels"
    )
    gpus: list[str] = Field(default_factory=list, description="GPU models seen on the machine")
    gpu_offload: bool = False

    @classmethod
    def build_from(
        cls,
        *,
        engine: str,
        machine: str,
        system_info: str,
        cpu: str,
        cpu_flags: Sequence[str] = (),
        gpus: Sequence[str] = (),
        gpu_offload: bool = False,
        build: dict[str, str] | None = None,
    ) -> HardwareClass:
        features = parse_system_info(system_info)
        deciding_gpus = sorted(gpus) if gpu_offload else []
        key = digest_json(
            {"machine": machine, "engine": engine, "features": features, "gpus": deciding_gpus}
        )
        return cls(
            key=key,
            label=_label(engine, machine, features, deciding_gpus),
            engine=engine,
            machine=machine,
            system_info=system_info.strip(),
            features=features,
            build=dict(build or {}),
            cpu=cpu,
            cpu_flags=sorted({f for f in cpu_flags if RELEVANT_CPU_FLAGS.match(f)}),
            gpus=list(gpus),
            gpu_offload=gpu_offload,
        )

    @property
    def short_key(self) -> str:
        return self.key.split(":", 1)[-1][:12]


#: Features every x86 build reports that say nothing about the class in a label.
_QUIET = {"SSE3", "SSSE3", "LLAMAFILE", "OPENMP", "REPACK", "KLEIDIAI", "ACCELERATE"}


def _label(engine: str, machine: str, features: list[str], gpus: list[str]) -> str:
    shown = []
    for feature in features:
        backend, _, name = feature.rpartition(":")
        if backend == "CPU" and name.split("=")[0] in _QUIET:
            continue
        shown.append(name if backend == "CPU" else feature)
    isa = " ".join(shown) or "no SIMD features"
    if machine in ("x86_64", "AMD64") and not any(f.startswith("AVX512") for f in shown):
        isa += " (no AVX-512)"
    tail = f" · GPU {', '.join(gpus)}" if gpus else ""
    return f"{machine} {engine} CPU {isa}{tail}"


def hardware_difference(
    certified: HardwareClass | None, observed: HardwareClass | None
) -> str | None:
    """Why two results' hardware classes differ, or None when they may be compared.

    Two remote results (no class) compare as before. A class recorded on one
    side only, or two different keys, is a difference: the arithmetic may not be
    the same, so a change between the results may be the machine's, not the model's.
    """
    if certified is None and observed is None:
        return None
    if certified is None or observed is None:
        known = certified or observed
        assert known is not None
        return f"only one result records its hardware class ({known.label}); the other's is unknown"
    if certified.key == observed.key:
        return None
    gone = sorted(set(certified.features) - set(observed.features))
    new = sorted(set(observed.features) - set(certified.features))
    parts = []
    if certified.machine != observed.machine:
        parts.append(f"machine {certified.machine} → {observed.machine}")
    if gone:
        parts.append("without " + ", ".join(gone))
    if new:
        parts.append("with " + ", ".join(new))
    if certified.engine != observed.engine:
        parts.append(f"engine {certified.engine} → {observed.engine}")
    if not parts:
        parts.append("GPUs " + (", ".join(observed.gpus) or "none"))
    return (
        f"hardware class differs: {certified.label} [{certified.short_key}] vs "
        f"{observed.label} [{observed.short_key}] ({'; '.join(parts)})"
    )
