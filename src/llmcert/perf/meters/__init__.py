"""Energy meters: powercap/RAPL, NVML, an external meter; each labels its figures.

``open_meter(spec)`` picks one: ``auto`` (powercap, then NVML, else unavailable, with
the reasons), ``none``, ``powercap[:ROOT]``, ``nvml``, ``file:PATH`` or ``command:CMD``
(append ``@estimated`` for a source that estimates). Choosing a meter explicitly that
cannot measure is an error; ``auto`` instead reports why energy is unavailable.
"""

from __future__ import annotations

from pathlib import Path

from llmcert.perf._errors import MeterError
from llmcert.perf.meters._base import EnergyMeter, EnergyReading, Unavailable
from llmcert.perf.meters._external import ExternalMeter
from llmcert.perf.meters._nvml import NvmlMeter
from llmcert.perf.meters._powercap import DEFAULT_ROOT, PowercapMeter, wrapped_delta


def open_meter(spec: str = "auto") -> EnergyMeter:
    provenance = "measured"
    if spec.endswith("@estimated"):
        spec, provenance = spec[: -len("@estimated")], "estimated"
    kind, _, arg = spec.partition(":")
    if kind == "none":
        return Unavailable("no meter was asked for (--meter none)")
    if kind == "auto":
        reasons = []
        for build in (lambda: PowercapMeter(DEFAULT_ROOT), NvmlMeter):
            try:
                meter: EnergyMeter = build()
                meter.start()  # a counter we cannot read is no meter
                return meter
            except MeterError as exc:
                reasons.append(str(exc))
        return Unavailable("no energy meter on this machine: " + "; ".join(reasons), "auto")
    if kind == "powercap":
        return PowercapMeter(Path(arg) if arg else DEFAULT_ROOT)
    if kind == "nvml":
        return NvmlMeter()
    if kind == "file" and arg:
        return ExternalMeter(file=Path(arg), provenance=provenance)  # type: ignore[arg-type]
    if kind == "command" and arg:
        return ExternalMeter(command=arg, provenance=provenance)  # type: ignore[arg-type]
    raise MeterError(
        f"unknown meter {spec!r}: use auto, none, powercap[:ROOT], nvml, file:PATH or command:CMD"
    )


__all__ = [
    "EnergyMeter",
    "EnergyReading",
    "ExternalMeter",
    "MeterError",
    "NvmlMeter",
    "PowercapMeter",
    "Unavailable",
    "open_meter",
    "wrapped_delta",
]
