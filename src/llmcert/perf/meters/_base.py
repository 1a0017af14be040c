"""The energy-meter protocol and the reading every meter returns.

A reading is labelled ``measured`` (a hardware counter or an external meter over the
run), ``estimated`` (a model of power, e.g. from a nominal rating: never evidence) or
``unavailable`` (with the reason). A meter that cannot measure says ``unavailable``;
it never substitutes an estimate for a measurement.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from llmcert.stats import Provenance


class EnergyReading(BaseModel):
    """Energy over one measured interval, and where the figure comes from."""

    model_config = ConfigDict(extra="forbid")

    meter: str
    provenance: Provenance
    joules: float | None = None
    seconds: float | None = None
    #: Per counter (e.g. ``package-0``, ``dram``), for the report.
    parts: dict[str, float] = {}
    detail: str = ""

    @property
    def average_watts(self) -> float | None:
        if self.joules is None or not self.seconds:
            return None
        return self.joules / self.seconds

    def per_token(self, tokens: int) -> float | None:
        return None if self.joules is None or tokens <= 0 else self.joules / tokens


class EnergyMeter(Protocol):
    """Started before a load and stopped after it, in the same run as the latencies."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> EnergyReading: ...


class Unavailable:
    """The meter used when none can measure: it says why, and gives no figure."""

    def __init__(self, reason: str, name: str = "none") -> None:
        self.name = name
        self.reason = reason

    def start(self) -> None:
        return None

    def stop(self) -> EnergyReading:
        return EnergyReading(meter=self.name, provenance="unavailable", detail=self.reason)
