"""NVIDIA GPUs through NVML: the total-energy counter (millijoules since driver load).

``nvidia-ml-py`` (module ``pynvml``) is optional and imported only when this meter is
chosen; without it, or without a GPU, the meter cannot be built and says why.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from llmcert.perf._errors import MeterError
from llmcert.perf.meters._base import EnergyReading


def _import_nvml() -> Any:
    try:
        return importlib.import_module("pynvml")
    except ImportError as exc:
        raise MeterError("the NVML meter needs nvidia-ml-py: pip install nvidia-ml-py") from exc


class NvmlMeter:
    name = "nvml"

    def __init__(self, nvml: Any = None) -> None:
        self._nvml = nvml if nvml is not None else _import_nvml()
        try:
            self._nvml.nvmlInit()
            count = self._nvml.nvmlDeviceGetCount()
            self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:  # NVMLError and its many subclasses
            raise MeterError(f"NVML cannot be initialised: {exc}") from exc
        if not self._handles:
            raise MeterError("NVML reports no GPU")
        self._start: list[int] = []
        self._t0 = 0.0

    def _read(self) -> list[int]:
        try:
            return [self._nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self._handles]
        except Exception as exc:
            raise MeterError(f"NVML total energy counter unavailable: {exc}") from exc

    def start(self) -> None:
        self._start = self._read()
        self._t0 = time.perf_counter()

    def stop(self) -> EnergyReading:
        after = self._read()
        seconds = time.perf_counter() - self._t0
        parts = {
            f"gpu{i}": (b - a) / 1000.0
            for i, (a, b) in enumerate(zip(self._start, after, strict=True))
        }
        return EnergyReading(
            meter=self.name,
            provenance="measured",
            joules=sum(parts.values()),
            seconds=seconds,
            parts=parts,
            detail=f"NVML total energy counter of {len(parts)} GPU(s) (GPU only, not wall power)",
        )
