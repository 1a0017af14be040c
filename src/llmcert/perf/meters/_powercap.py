"""Linux powercap (Intel RAPL / AMD) energy counters from sysfs.

Each zone ``/sys/class/powercap/intel-rapl:N`` (package) and its sub-zones (``dram``,
``core``…) has ``energy_uj``, a counter that wraps at ``max_energy_range_uj``. Package
and DRAM zones are summed (core and uncore are inside the package and would count
twice). Reading ``energy_uj`` needs root on kernels since 5.10 (CVE-2020-8694); a
meter without permission says so and measures nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from llmcert.perf._errors import MeterError
from llmcert.perf.meters._base import EnergyReading

DEFAULT_ROOT = Path("/sys/class/powercap")
#: Zones counted: whole packages (top-level) and DRAM sub-zones.
_COUNTED = ("package", "dram")


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except PermissionError as exc:
        raise MeterError(
            f"no permission to read {path} (RAPL counters need root since Linux 5.10)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise MeterError(f"cannot read {path}: {exc}") from exc


def _zones(root: Path) -> list[tuple[str, Path]]:
    zones = []
    for zone in sorted(root.glob("*rapl:*")):
        name_file = zone / "name"
        if not (zone / "energy_uj").exists() or not name_file.exists():
            continue
        name = name_file.read_text().strip()
        if name.startswith("package") or name == "dram":
            zones.append((f"{zone.name}/{name}", zone))
    return zones


def wrapped_delta(before: int, after: int, max_range: int) -> int:
    """Counter increase, allowing for one wrap past ``max_range``."""
    return after - before if after >= before else after + (max_range + 1) - before


class PowercapMeter:
    name = "powercap"

    def __init__(self, root: Path = DEFAULT_ROOT) -> None:
        self.root = root
        self._zones = _zones(root) if root.is_dir() else []
        if not self._zones:
            raise MeterError(f"no RAPL package or DRAM zone under {root}")
        self._start: dict[str, int] = {}
        self._t0 = 0.0

    def start(self) -> None:
        self._start = {key: _read_int(z / "energy_uj") for key, z in self._zones}
        self._t0 = time.perf_counter()

    def stop(self) -> EnergyReading:
        seconds = time.perf_counter() - self._t0
        parts: dict[str, float] = {}
        for key, zone in self._zones:
            after = _read_int(zone / "energy_uj")
            max_range = _read_int(zone / "max_energy_range_uj")
            parts[key] = wrapped_delta(self._start[key], after, max_range) / 1e6
        return EnergyReading(
            meter=self.name,
            provenance="measured",
            joules=sum(parts.values()),
            seconds=seconds,
            parts=parts,
            detail=f"RAPL counters under {self.root} (package + DRAM; not wall power)",
        )
