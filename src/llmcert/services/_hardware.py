"""The hardware class of the backend a result was measured with (see ``report._hardware``).

The engine says which kernels it runs; this machine's CPU flags and GPUs are
read beside it, so that a reader can see why a native build landed in its class.
"""

from __future__ import annotations

import functools
import glob
import platform
from pathlib import Path

from llmcert._hashing import digest_file
from llmcert.models._system import EngineSystemInfo, ReportsSystemInfo
from llmcert.report import Environment, HardwareClass

__all__ = ["environment_with", "hardware_class", "hardware_class_of"]


def hardware_class(backend: object) -> HardwareClass | None:
    """The class of an in-process backend; None for one whose hardware is not here."""
    if not isinstance(backend, ReportsSystemInfo):
        return None
    return hardware_class_of(backend.system_info())


def hardware_class_of(info: EngineSystemInfo) -> HardwareClass:
    cpu, flags = cpu_description()
    return HardwareClass.build_from(
        engine=info.engine,
        machine=platform.machine(),
        system_info=info.system_info,
        cpu=cpu,
        cpu_flags=flags,
        gpus=gpu_models(),
        gpu_offload=info.gpu_offload,
        build=_build_record(info),
    )


def environment_with(environment: Environment, hardware: HardwareClass | None) -> Environment:
    return environment.model_copy(update={"hardware_class": hardware})


def _build_record(info: EngineSystemInfo) -> dict[str, str]:
    record = {"version": info.version}
    if info.libraries:
        record["library_dir"] = str(Path(info.libraries[0]).parent)
        record["libraries"] = " ".join(Path(p).name for p in info.libraries)
        # The CPU kernels: one library in a plain build, the chosen variant when
        # the build carries several (GGML_CPU_ALL_VARIANTS).
        cpu_libs = [p for p in info.libraries if Path(p).name.startswith("libggml-cpu")]
        for path in cpu_libs[:1] or [p for p in info.libraries if "ggml" in Path(p).name][:1]:
            record["kernels_library"] = Path(path).name
            record["kernels_sha256"] = _digest(path)
    record["library_override"] = info.library_override or "none"
    return record


@functools.cache
def _digest(path: str) -> str:
    try:
        return digest_file(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


@functools.cache
def cpu_description() -> tuple[str, tuple[str, ...]]:
    """CPU model and flags, from /proc/cpuinfo (x86 ``flags``, Arm ``Features``)."""
    model = ""
    flags: tuple[str, ...] = ()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                name = name.strip()
                if not model and name in ("model name", "Hardware", "cpu model"):
                    model = value.strip()
                elif not flags and name in ("flags", "Features"):
                    flags = tuple(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


@functools.cache
def gpu_models() -> tuple[str, ...]:
    """GPU models the kernel reports (NVIDIA's driver file, else DRM product names)."""
    found: list[str] = []
    for info in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        try:
            with open(info, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.startswith("Model:"):
                        found.append(line.split(":", 1)[1].strip())
        except OSError:
            continue
    if not found:
        for product in sorted(glob.glob("/sys/class/drm/card[0-9]*/device/product_name")):
            try:
                found.append(Path(product).read_text(encoding="utf-8").strip())
            except OSError:
                continue
    return tuple(f for f in found if f)
