"""What an in-process engine says about the arithmetic it runs on this machine.

An engine that runs the model in this process (llama.cpp) picks its compute
kernels by the instruction set it was built for, and greedy decoding turns the
rounding differences between kernels into different answers. A backend that
can say which kernels it runs implements :class:`ReportsSystemInfo`; the
evaluation records the answer as the result's hardware class. Remote backends
do not: the hardware behind an endpoint is not known from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["EngineSystemInfo", "ReportsSystemInfo", "loaded_libraries"]


@dataclass(frozen=True)
class EngineSystemInfo:
    """The engine's own report, unparsed, plus what identifies its build."""

    #: Engine name, e.g. ``llama.cpp``.
    engine: str
    #: Binding and version, e.g. ``llama-cpp-python 0.3.36``.
    version: str
    #: The engine's system information string (for llama.cpp, the compute
    #: features of every registered backend: ``CPU : SSE3 = 1 | AVX2 = 1 | …``).
    system_info: str
    #: Whether the build can offload layers to a GPU.
    gpu_offload: bool = False
    #: The engine's shared libraries loaded in this process (full paths).
    libraries: tuple[str, ...] = ()
    #: An override of where the libraries come from (e.g. ``LLAMA_CPP_LIB_PATH``).
    library_override: str | None = None


@runtime_checkable
class ReportsSystemInfo(Protocol):
    """A backend whose outputs depend on this machine's hardware."""

    def system_info(self) -> EngineSystemInfo: ...


def loaded_libraries(markers: Iterable[str]) -> tuple[str, ...]:
    """Shared libraries mapped into this process whose file name contains a marker.

    Read from ``/proc/self/maps`` (Linux); elsewhere nothing is found, and the
    record says so by being empty.
    """
    wanted = tuple(markers)
    found: set[str] = set()
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                path = line.rstrip("\n").split(None, 5)[-1]
                if not path.startswith("/") or ".so" not in path:
                    continue
                name = path.rsplit("/", 1)[-1]
                if any(m in name for m in wanted):
                    found.add(path)
    except OSError:
        return ()
    return tuple(sorted(found))
