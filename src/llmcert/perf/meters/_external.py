"""An external meter (a wall-power meter, a PDU, a BMC) read from a file or a command.

Either source gives a cumulative energy in joules as its first number (a file the
meter's logger keeps current, or a command's standard output). The command is run
without a shell, with its arguments as given, and must answer within 10 s. A source
that reports an estimate rather than a measurement is declared so with
``provenance="estimated"`` and is labelled that way throughout.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path

from llmcert.perf._errors import MeterError
from llmcert.perf.meters._base import EnergyReading
from llmcert.stats import Provenance

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _first_number(text: str, where: str) -> float:
    match = _NUMBER.search(text)
    if match is None:
        raise MeterError(f"{where} gave no number of joules: {text[:80]!r}")
    return float(match.group())


class ExternalMeter:
    def __init__(
        self,
        *,
        file: Path | None = None,
        command: str | None = None,
        provenance: Provenance = "measured",
    ) -> None:
        if (file is None) == (command is None):
            raise MeterError("an external meter reads either a file or a command")
        if provenance == "unavailable":
            raise MeterError("an external meter is 'measured' or 'estimated'")
        self.file = file
        self.argv = shlex.split(command) if command is not None else None
        self.provenance: Provenance = provenance
        self.name = f"file:{file}" if file is not None else f"command:{self.argv[0]}"  # type: ignore[index]
        self._start = 0.0
        self._t0 = 0.0

    def _read(self) -> float:
        if self.file is not None:
            try:
                return _first_number(self.file.read_text(), str(self.file))
            except OSError as exc:
                raise MeterError(f"cannot read the meter file {self.file}: {exc}") from exc
        assert self.argv is not None
        try:
            done = subprocess.run(
                self.argv, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MeterError(f"the meter command {self.argv[0]} failed: {exc}") from exc
        if done.returncode != 0:
            raise MeterError(
                f"the meter command {self.argv[0]} exited with {done.returncode}: "
                f"{done.stderr.strip()[:200]}"
            )
        return _first_number(done.stdout, f"the meter command {self.argv[0]}")

    def start(self) -> None:
        self._start = self._read()
        self._t0 = time.perf_counter()

    def stop(self) -> EnergyReading:
        joules = self._read() - self._start
        seconds = time.perf_counter() - self._t0
        if joules < 0:
            raise MeterError(f"{self.name}: the energy counter went backwards ({joules:g} J)")
        return EnergyReading(
            meter=self.name,
            provenance=self.provenance,
            joules=joules,
            seconds=seconds,
            detail=f"external meter ({self.name}), cumulative joules",
        )
