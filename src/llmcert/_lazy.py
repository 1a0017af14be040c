"""Names a package exports but imports only on first use (PEP 562).

A package whose modules are costly to import, but that must not slow down a
command that never uses them, maps each exported name to the private module
defining it and installs the returned function as its ``__getattr__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str, where: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` loading ``name`` from ``package.where[name]`` once, then caching it.

    A dotted entry in ``where`` names a module outside the package by its full name.
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if "." in module else f"{package}.{module}"
        value = getattr(importlib.import_module(full), name)
        namespace[name] = value
        return value

    return __getattr__
