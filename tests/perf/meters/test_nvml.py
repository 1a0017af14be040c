"""The NVML meter with a fake NVML module."""

from __future__ import annotations

from typing import Any

import pytest

from llmcert.perf import MeterError
from llmcert.perf.meters import NvmlMeter


class FakeNvml:
    """The four NVML calls the meter makes; energy in millijoules per device."""

    def __init__(self, energies_mj: list[int], fail_energy: bool = False) -> None:
        self.energies = energies_mj
        self.fail_energy = fail_energy
        self.initialised = False

    def nvmlInit(self) -> None:
        self.initialised = True

    def nvmlDeviceGetCount(self) -> int:
        return len(self.energies)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> Any:
        return i

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        if self.fail_energy:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        return self.energies[handle]


def test_energy_is_the_counter_difference_over_all_gpus() -> None:
    nvml = FakeNvml([1_000, 5_000])
    meter = NvmlMeter(nvml)
    meter.start()
    nvml.energies = [4_000, 5_500]
    reading = meter.stop()
    assert nvml.initialised
    assert reading.provenance == "measured"
    assert reading.joules == pytest.approx(3.5)
    assert reading.parts == {"gpu0": 3.0, "gpu1": 0.5}


def test_a_gpu_without_the_energy_counter_is_a_meter_error() -> None:
    meter = NvmlMeter(FakeNvml([0], fail_energy=True))
    with pytest.raises(MeterError, match="total energy counter unavailable"):
        meter.start()


def test_no_gpu_is_a_meter_error() -> None:
    with pytest.raises(MeterError, match="no GPU"):
        NvmlMeter(FakeNvml([]))


def test_without_nvidia_ml_py_the_meter_names_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    real = importlib.import_module

    def no_pynvml(name: str, package: str | None = None) -> Any:
        if name == "pynvml":
            raise ImportError("No module named 'pynvml'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_pynvml)
    with pytest.raises(MeterError, match="nvidia-ml-py"):
        NvmlMeter()
