"""Errors of the load generator and the energy meters."""

from __future__ import annotations

from llmcert.errors import LlmcertError


class PerfError(LlmcertError):
    """A performance measurement cannot be made as asked (endpoint, load or meter)."""


class MeterError(PerfError):
    """An energy meter cannot be read (absent, no permission, malformed output)."""
